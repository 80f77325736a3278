#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: queue_outputs
short_description: List where the outputs of jobs that ran at a site are, and where they belong at home
version_added: 0.1.0
description:
  - Reads the C(job_queue.log) of a site (the one M(hepcloud.lumberjack.queue_rewrite) wrote for the sandbox,
    or the one the site's schedd left) and lists, per job, each output's path at the site and its path at
    home, as HTCondor's own file transfer would have placed it. C(Out), C(Err); every C(TransferOutput)
    entry, under its base name in the C(Iwd) or at its C(TransferOutputRemaps) destination; and, for jobs
    without C(TransferOutput), their C(Iwd) to scan for what the job wrote.
  - User logs are listed per file with their jobs, to be appended at home with
    M(hepcloud.lumberjack.userlog_append).
  - Home paths come from the job's C(SUBMIT_Iwd) (written by M(hepcloud.lumberjack.queue_rewrite)) and from
    O(path_map), the same mappings that sent the jobs to the site. An output outside every mapping's C(to)
    cannot be placed and is a failure naming the job.
  - Never changes anything. Needs only the Python standard library.
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: It never changes anything.
  diff_mode:
    support: N/A
    details: It never changes anything.
  platform:
    support: full
    platforms: posix
options:
  path:
    description:
      - The site's C(job_queue.log).
    type: path
    required: true
  path_map:
    description:
      - The mappings the jobs were sent with (V(from) at home, V(to) at the site), as given to
        M(hepcloud.lumberjack.queue_rewrite).
    type: list
    elements: dict
    required: true
    suboptions:
      from:
        description: A directory at home.
        type: path
        required: true
      to:
        description: Where it is at the site.
        type: path
        required: true
seealso:
  - module: hepcloud.lumberjack.queue_rewrite
  - module: hepcloud.lumberjack.userlog_append
"""

EXAMPLES = r"""
- name: Find what the jobs left at the site
  hepcloud.lumberjack.queue_outputs:
    path: /scratch/alice/run7/local_dir/spool/job_queue.log
    path_map:
      - from: /home/alice
        to: /scratch/alice/run7/sandbox/home/alice
  register: outputs
"""

RETURN = r"""
jobs:
  description: Number of jobs in the log.
  returned: always
  type: int
  sample: 2
files:
  description: Output files, each with its job, owner, kind (stdout, stderr, output, remap), site and home path.
  returned: always
  type: list
  elements: dict
  sample: [{"job": "12.0", "owner": "alice", "kind": "stdout", "site": "/scratch/alice/run7/sandbox/home/alice/w/out",
            "home": "/home/alice/w/out"}]
userlogs:
  description: User logs, each with its site and home path, owner and the jobs writing to it.
  returned: always
  type: list
  elements: dict
  sample: [{"site": "/scratch/alice/run7/sandbox/home/alice/w/jobs.log", "home": "/home/alice/w/jobs.log",
            "owner": "alice", "jobs": ["12.0", "12.1"]}]
scan_dirs:
  description: For jobs without C(TransferOutput), the Iwd at the site and at home; what the job wrote there
    comes home.
  returned: always
  type: list
  elements: dict
  sample: [{"job": "12.0", "owner": "alice", "site": "/scratch/alice/run7/sandbox/home/alice/w", "home": "/home/alice/w"}]
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_log import QueueLogError
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_manifest import SCAN_NAMES
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_outputs import job_outputs
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_scan import QueueScanner
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._sandbox import PathMap, PathMapError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            path_map=dict(type='list', elements='dict', required=True, options=dict(
                **{'from': dict(type='path', required=True), 'to': dict(type='path', required=True)})),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not os.path.isfile(p['path']):
        module.fail_json(msg='%s does not exist or is not a file: give the site\'s job_queue.log' % p['path'])
    try:
        pathmap = PathMap([{'from': m['from'], 'to': m['to']} for m in p['path_map']])
    except PathMapError as e:
        module.fail_json(msg=to_native(e))
    try:
        state = QueueScanner(p['path'], SCAN_NAMES).run()
    except QueueLogError as e:
        module.fail_json(msg=to_native(e))
    for w in state.warnings:
        module.warn(w)
    result, problems = job_outputs(state, pathmap)
    if problems.count:
        module.fail_json(msg='%d problem(s) in %s: %s' % (problems.count, p['path'], problems.message()), **result)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
