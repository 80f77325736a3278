#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: run_report
short_description: Write the report of a Lumberjack round trip, as one HTML page and as JSON
version_added: 0.1.0
description:
  - Reads the run record of each site (written by M(hepcloud.lumberjack.run_record)) and writes
    C(report.json) and C(report.html) into O(dest_dir). Per site, the phases reached with their times and the
    time between consecutive phases, the bytes and files staged each way, the pilot's outcome and the
    failures with their reason; per job, its status at the site, exit code, wall time, owner, hold reason and
    what became of it at home (imported, unexported, or not imported and why). Totals across the sites.
  - Per-job rows come from the site's returned C(job_queue.log) (the record's value C(returned_log)) when that
    file exists, else from the record's C(exported_jobs) with status C(unknown). A job is C(failed) when it is
    held or exited with a nonzero code, C(completed) when it completed otherwise, else C(unfinished).
  - A record file that does not exist is reported as a site with the failure C(no run record). A record of
    another run, or a file that is not a run record, is an error naming the file.
  - The HTML page is self-contained (inline style, no script, nothing loaded from elsewhere). The JSON holds the
    same data with sorted keys. The report's time is the newest phase time of the records, so the same records
    give the same files and a second run reports no change.
  - Both files are written atomically, mode 0644. Standard library only (no HTCondor bindings needed).
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Builds the report and tells whether the files would change; writes nothing.
  diff_mode:
    support: N/A
    details: The report is derived data, rebuilt whole from the records; the files are not shown as a diff.
  platform:
    support: full
    platforms: posix
options:
  records:
    description:
      - The run records of the sites, one file per site, in the order the report lists them.
    type: list
    elements: path
    required: true
  dest_dir:
    description:
      - The directory to write C(report.json) and C(report.html) into. It must exist.
    type: path
    required: true
  run_id:
    description:
      - The run reported on. Every record must belong to it.
    type: str
    required: true
seealso:
  - module: hepcloud.lumberjack.run_record
"""

EXAMPLES = r"""
- name: Report on the round trip
  hepcloud.lumberjack.run_report:
    records:
      - /var/lib/lumberjack/run7/site-a/run.json
      - /var/lib/lumberjack/run7/site-b/run.json
    dest_dir: /var/lib/lumberjack/run7
    run_id: run7
  register: report

- name: Show the summary
  ansible.builtin.debug:
    msg: "{{ report.summary.splitlines() }}"
"""

RETURN = r"""
summary:
  description: One line per site (jobs, completed, unfinished, failed; bytes in and out; elapsed time; the first
    failure), and a total line when there are several sites.
  returned: always
  type: str
  sample: "site-a: 20 jobs, 19 completed, 1 unfinished, 0 failed; in 12.3 MB, out 210.0 MB; 1m52s"
sites:
  description:
    - The per-site data, in the order of O(records), as in C(report.json).
    - Each with C(site), C(record) (its file), C(found), C(scheduler), C(batch_job_id), C(staging), C(phases)
      (C(phase), C(time), C(duration) in seconds since the phase before), C(elapsed) (seconds from the first
      phase to the last), C(bytes_in), C(files_in), C(bytes_out), C(files_out), C(pilot), C(returned_log),
      C(returned_log_read), C(owners), C(failures) (C(phase), C(reason)), C(counts) and C(jobs).
    - Each job with C(job), C(owner), C(status), C(exit_code), C(wall_time) (seconds), C(hold_reason), C(home)
      (V(imported), V(unexported), C(not imported) followed by the reason, or null), C(result) (V(completed),
      V(failed) or V(unfinished)) and C(in_log).
    - A missing record gives a site named after its file, with C(found) false and the failure C(no run record).
  returned: always
  type: list
  elements: dict
  sample: [{"site": "site-a", "record": "/var/lib/lumberjack/run7/site-a/run.json", "found": true,
            "counts": {"jobs": 1, "completed": 1, "unfinished": 0, "failed": 0, "status_unknown": 0},
            "jobs": [{"job": "12.0", "owner": "alice", "status": "completed", "exit_code": 0, "wall_time": 112.0,
                      "hold_reason": null, "home": "imported", "result": "completed", "in_log": true}]}]
totals:
  description: Sums across the sites.
  returned: always
  type: dict
  sample: {"sites": 2, "sites_with_failures": 0, "jobs": 40, "completed": 39, "unfinished": 1, "failed": 0,
           "status_unknown": 0, "bytes_in": 12300000, "files_in": 8, "bytes_out": 210000000, "files_out": 14}
report_time:
  description: The newest phase time of the records (null when no phase was recorded).
  returned: always
  type: str
  sample: "2026-11-22T10:01:52Z"
json_path:
  description: The JSON report.
  returned: always
  type: str
  sample: /var/lib/lumberjack/run7/report.json
html_path:
  description: The HTML report.
  returned: always
  type: str
  sample: /var/lib/lumberjack/run7/report.html
"""

import os
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._io import StagedFile
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._report import (
    ReportError, build_report, render_html, render_json, summary)

MODE = 0o644


def write(path, content, check_mode):
    """Put content at path (mode 0644) unless it is there already; True when the file changes."""
    staged = StagedFile(path, check_mode)
    try:
        with staged as f:
            f.write(content)
        changed = staged.changed or stat.S_IMODE(os.stat(path).st_mode) != MODE
        if changed:
            staged.commit(mode=MODE)
    finally:
        staged.discard()
    return changed


def main():
    module = AnsibleModule(
        argument_spec=dict(
            records=dict(type='list', elements='path', required=True),
            dest_dir=dict(type='path', required=True),
            run_id=dict(type='str', required=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not os.path.isdir(p['dest_dir']):
        module.fail_json(msg='dest_dir %s is not a directory: create it first' % p['dest_dir'])
    try:
        report = build_report(p['records'], p['run_id'])
    except ReportError as e:
        module.fail_json(msg=to_native(e))
    json_path = os.path.join(p['dest_dir'], 'report.json')
    html_path = os.path.join(p['dest_dir'], 'report.html')
    changed = False
    for path, content in ((json_path, render_json(report)), (html_path, render_html(report))):
        try:
            changed = write(path, content, module.check_mode) or changed
        except (IOError, OSError) as e:
            module.fail_json(msg='cannot write the report %s: %s' % (path, to_native(e)))
    module.exit_json(changed=changed, summary=summary(report), sites=report['sites'], totals=report['totals'],
                     report_time=report['report_time'], json_path=json_path, html_path=html_path)


if __name__ == '__main__':
    main()
