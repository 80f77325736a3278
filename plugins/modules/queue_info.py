#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: queue_info
short_description: Summarise an HTCondor job_queue.log (jobs, directories, input and output files)
version_added: 0.1.0
description:
  - Reads an HTCondor C(job_queue.log), the ClassAd log a schedd keeps in its SPOOL and that
    C(Schedd.export_jobs) writes for HTCondor's Lumberjack export, and reports what it holds, the way the
    schedd would see it after replaying the log.
  - Reports every job (cluster.proc) with its owner and status, the distinct effective working directories
    (C(Iwd)), the input files (C(TransferInput), C(Cmd) when the executable is transferred, C(In)), the
    output targets (C(Out), C(Err), C(UserLog), C(TransferOutput), C(TransferOutputRemaps)), the
    directories a sandbox needs, and whether the jobs are exported Lumberjack jobs.
  - Relative paths are resolved against the job's effective C(Iwd); a proc ad inherits from its cluster ad.
  - Streams the log, so logs of a million jobs work; it needs only the Python standard library on the host
    that holds the file (HTCondor need not be installed there).
  - Never changes anything.
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module only reads.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
options:
  path:
    description:
      - The C(job_queue.log) to read.
    type: path
    required: true
  max_jobs:
    description:
      - At most this many jobs are listed in RV(jobs); the counts always cover every job.
      - V(0) lists none.
    type: int
    default: 10000
notes:
  - A last record without its newline, or a last transaction that was begun and never ended, is what a schedd
    that was killed or is still writing leaves behind. Like the schedd, the module ignores it and says so in
    RV(dropped) and as warnings.
  - A corrupt record anywhere else fails the module with the file, the line number and the record.
seealso:
  - module: hepcloud.lumberjack.queue_rewrite
  - name: HTCondor job ClassAd attributes
    description: What the attributes of a job mean.
    link: https://htcondor.readthedocs.io/en/latest/classad-attributes/job-classad-attributes.html
"""

EXAMPLES = r"""
- name: Read an exported queue
  hepcloud.lumberjack.queue_info:
    path: /var/lib/lumberjack/export/alice/job_queue.log
  register: queue

- name: Stop unless the log holds exported Lumberjack jobs
  ansible.builtin.assert:
    that:
      - queue.lumberjack_export
      - queue.total_jobs > 0
    fail_msg: "{{ queue.path }} does not hold exported jobs"

- name: Show what the jobs read and write
  ansible.builtin.debug:
    msg: "{{ queue.total_jobs }} jobs in {{ queue.iwds | length }} directories, {{ queue.inputs | length }} input files"
"""

RETURN = r"""
path:
  description: The log that was read.
  returned: always
  type: str
total_jobs:
  description: Number of jobs (proc ads) in the log.
  returned: always
  type: int
  sample: 5
jobs:
  description: The jobs, at most O(max_jobs) of them, in log order.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The job id, C(cluster.proc).
      type: str
      sample: "6.0"
    owner:
      description: The job's C(Owner).
      type: str
      sample: alice
    status:
      description: The job's status, from C(JobStatus).
      type: str
      sample: idle
      choices: [idle, running, removed, completed, held, transferring_output, suspended, unknown]
    iwd:
      description: The job's effective initial working directory.
      type: str
    exported:
      description: Whether the job is marked C(Managed = "External") by C(ManagedManager = "Lumberjack").
      type: bool
    managed:
      description: The job's C(Managed) attribute, when set.
      type: str
owners:
  description: Number of jobs per owner.
  returned: always
  type: dict
  sample: {"alice": 5}
uid_domains:
  description:
    - Number of jobs per domain of their C(User) attribute (the UID_DOMAIN of the schedd that queued them).
    - A pool that runs these jobs must use the same UID_DOMAIN, or its schedd renames the jobs' C(User) and
      cannot finish them.
  returned: always
  type: dict
  sample: {"example.org": 5}
statuses:
  description: Number of jobs per status.
  returned: always
  type: dict
  sample: {"completed": 4, "held": 1}
exported_jobs:
  description: Number of jobs exported by Lumberjack (C(Managed = "External"), C(ManagedManager = "Lumberjack")).
  returned: always
  type: int
lumberjack_export:
  description:
    - True when the log holds jobs exported by Lumberjack, either a schedd's own log where every job is
      flagged C(Managed = "External") by C(ManagedManager = "Lumberjack"), or a log with exactly the shape
      C(Schedd.export_jobs) writes (RV(export_shape)).
  returned: always
  type: bool
export_shape:
  description:
    - True when the log has the shape C(Schedd.export_jobs) writes, no transactions, no user records or
      ClusterPvt ads, and C(LeaveJobInQueue) set on every job. The exported file itself does not carry the
      C(Managed) flags, which stay in the exporting schedd's queue.
  returned: always
  type: bool
iwds:
  description: The distinct effective working directories.
  returned: always
  type: list
  elements: str
inputs:
  description: The input files (absolute), from C(TransferInput), C(Cmd) when transferred, and C(In).
  returned: always
  type: list
  elements: str
outputs:
  description: The output targets (absolute), from C(Out), C(Err), C(UserLog), C(TransferOutput) and
    C(TransferOutputRemaps).
  returned: always
  type: list
  elements: str
directories:
  description: The directories the jobs need to exist, their working directories and the directories of
    their output, log and remapped files.
  returned: always
  type: list
  elements: str
spool_placeholder_iwds:
  description:
    - Jobs whose C(Iwd) is the placeholder C(Schedd.export_jobs) writes for a proc ad with its own C(Iwd)
      (C(NEW_SPOOL/C/P/clusterC.procP.subproc0)). Their real working directory is only known to the
      schedd that exported them; M(hepcloud.lumberjack.queue_rewrite) takes it as O(hepcloud.lumberjack.queue_rewrite#module:original_iwds).
  returned: always
  type: list
  elements: str
dropped:
  description: What was dropped from the end of the log, if anything (also shown as warnings).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_log import QueueLogError
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_manifest import SCAN_NAMES, summarize
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_scan import QueueScanner


class QueueInfo(object):
    def __init__(self, module):
        self.module = module
        self.path = module.params['path']

    def run(self):
        try:
            state = QueueScanner(self.path, SCAN_NAMES).run()
        except QueueLogError as e:
            self.module.fail_json(msg=str(e))
        result = summarize(state, max_jobs=self.module.params['max_jobs'])
        for w in state.warnings:
            self.module.warn(w)
        result.update(changed=False, path=self.path, dropped=list(state.warnings))
        return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            max_jobs=dict(type='int', default=10000),
        ),
        supports_check_mode=True,
    )
    if module.params['max_jobs'] < 0:
        module.fail_json(msg='max_jobs must be 0 or more, got %d' % module.params['max_jobs'])
    module.exit_json(**QueueInfo(module).run())


if __name__ == '__main__':
    main()
