#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: run_record_info
short_description: Find which recorded round trips hold jobs that are exported by Lumberjack
version_added: 0.1.0
description:
  - Every round trip keeps a run record (see M(hepcloud.lumberjack.run_record)) at C(DIR/RUN_ID/SITE/run.json)
    on the schedd host, with its exports under C(DIR/RUN_ID/SITE/export/OWNER/job_queue.log). For jobs the
    schedd shows exported by Lumberjack, this module tells which run holds each one now, so a new run can
    refuse jobs another run is still working on and take over jobs an earlier run left exported on purpose
    (C(lumberjack_unfinished=keep)).
  - A run holds a job it exported (the record's C(exported_jobs), or its export log when the run was cut off
    before recording the export). When several runs exported a job (a later run took it over), the latest one
    holds it now.
  - A job is C(kept) when the run holding it has imported its results (phase C(imported)) and listed the job as
    unfinished without un-exporting it.
  - Reads only; needs only the Python standard library.
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads only, in check mode too.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
options:
  dir:
    description:
      - The directory of the runs on the schedd host (the round trip's C(lumberjack_schedd_dir)).
    type: path
    required: true
  jobs:
    description:
      - The job ids (C(CLUSTER.PROC)) to look for.
    type: list
    elements: str
    required: true
  run_id:
    description:
      - The run asking. Jobs it holds itself are returned in RV(own).
    type: str
    required: true
seealso:
  - module: hepcloud.lumberjack.run_record
  - module: hepcloud.lumberjack.condor_export
"""

EXAMPLES = r"""
- name: Find the runs that hold the jobs already exported
  hepcloud.lumberjack.run_record_info:
    dir: /var/lib/lumberjack
    jobs: ["12.0", "12.1"]
    run_id: run-2026-11-23
  register: claims

- name: Refuse jobs another run is still working on
  ansible.builtin.assert:
    that: claims.busy == {} and claims.unclaimed == []
"""

RETURN = r"""
claims:
  description: For each job found in a record, the run that holds it now.
  returned: always
  type: dict
  sample: {"12.0": {"run_id": "run-2026-11-22", "site": "site-b", "phase": "reported", "kept": true}}
own:
  description: Jobs the run O(run_id) holds itself.
  returned: always
  type: list
  elements: str
kept:
  description: Jobs held by another run that finished and kept them exported for a later run to take over.
  returned: always
  type: list
  elements: str
busy:
  description: Jobs held by another run that has not finished with them, with that run, its site and its phase.
  returned: always
  type: dict
  sample: {"13.0": "run run-2026-11-22 at site-a, phase launched"}
unclaimed:
  description: Jobs no record under O(dir) holds (exported by hand, or by runs whose records were removed).
  returned: always
  type: list
  elements: str
"""

import glob
import json
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_log import QueueLogError, job_id, replay

PHASES = ('preflight', 'exported', 'staged_in', 'launched', 'finished', 'staged_out', 'imported', 'reported',
          'aborted')


def _stamp(seconds):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(seconds))


class RunClaims(object):
    def __init__(self, module):
        self.module = module
        p = module.params
        self.dir = p['dir']
        self.run_id = p['run_id']
        self.jobs = [str(j) for j in p['jobs']]

    def records(self):
        for path in sorted(glob.glob(os.path.join(glob.escape(self.dir), '*', '*', 'run.json'))):
            try:
                with open(path) as f:
                    record = json.load(f)
            except (IOError, OSError, ValueError) as e:
                self.module.warn('skipped %s: it cannot be read as a run record (%s)' % (path, to_native(e)))
                continue
            if isinstance(record, dict) and record.get('run_id') and record.get('site'):
                yield path, record

    def held(self, path, record):
        """(job, time) for every job this run holds, from its record and its export logs."""
        values = record.get('values') or {}
        phases = record.get('phases') or {}
        wanted = set(self.jobs)
        for job in values.get('exported_jobs') or []:
            if job in wanted:
                yield job, phases.get('exported') or record.get('created') or ''
        # a run cut off between its export and recording it holds what its export logs hold
        if 'exported' not in phases:
            for log in glob.glob(os.path.join(glob.escape(os.path.dirname(path)), 'export', '*', 'job_queue.log')):
                try:
                    keys = replay(log).job_keys()
                    stamp = _stamp(os.stat(log).st_mtime)
                except (QueueLogError, IOError, OSError) as e:
                    self.module.warn('skipped %s: %s' % (log, to_native(e)))
                    continue
                for key in keys:
                    job = job_id(key)
                    if job in wanted:
                        yield job, stamp

    def run(self):
        latest = {}
        for path, record in self.records():
            for job, stamp in self.held(path, record):
                if job not in latest or stamp >= latest[job][0]:
                    latest[job] = (stamp, record)
        claims, own, kept, busy = {}, [], [], {}
        for job in self.jobs:
            if job not in latest:
                continue
            record = latest[job][1]
            values = record.get('values') or {}
            phases = record.get('phases') or {}
            phase = max(phases, key=lambda p: PHASES.index(p) if p in PHASES else -1) if phases else 'none'
            is_kept = ('imported' in phases and job in (values.get('unfinished') or {})
                       and job not in (values.get('unexported') or []))
            claims[job] = dict(run_id=record['run_id'], site=record['site'], phase=phase, kept=is_kept)
            if record['run_id'] == self.run_id:
                own.append(job)
            elif is_kept:
                kept.append(job)
            else:
                busy[job] = 'run %s at site %s, phase %s' % (record['run_id'], record['site'], phase)
        unclaimed = [j for j in self.jobs if j not in latest]
        self.module.exit_json(changed=False, claims=claims, own=own, kept=kept, busy=busy, unclaimed=unclaimed)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dir=dict(type='path', required=True),
            jobs=dict(type='list', elements='str', required=True),
            run_id=dict(type='str', required=True),
        ),
        supports_check_mode=True,
    )
    RunClaims(module).run()


if __name__ == '__main__':
    main()
