#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: queue_merge
short_description: Merge several Lumberjack exports of one schedd into one HTCondor job_queue.log
version_added: 0.1.0
description:
  - A schedd exports the jobs of one owner per call (M(hepcloud.lumberjack.condor_export)), while an HPC site
    runs one personal pool with one queue. This module merges the exports of one schedd into the one
    C(job_queue.log) that pool starts with.
  - Every export is read and validated first. Cluster ids are unique within one schedd, so the ads simply
    follow each other; the header's C(NextClusterNum) ends as the highest of all exports. A cluster found in
    two exports is an error (two schedds, or one export made twice), as is a log that is not shaped like an
    export (transactions, user records, a cut-off end).
  - The exports are copied in big blocks, never line by line, and the result is written atomically.
  - Use M(hepcloud.lumberjack.queue_split) on the log that comes back to import it per owner.
  - Needs only the Python standard library on the host that holds the files.
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads and validates every export and tells whether O(dest) would change; writes nothing.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
options:
  srcs:
    description:
      - The exported C(job_queue.log) files, in the order their ads go into the merged log.
    type: list
    elements: path
    required: true
  dest:
    description:
      - Where to write the merged log. Its directory must exist.
      - An existing O(dest) with other content is only replaced with O(backup=true) or O(force=true).
    type: path
    required: true
  mode:
    description:
      - Mode of O(dest). A schedd reads its queue as the user it runs as; keep it private.
    type: raw
    default: '0600'
  backup:
    description:
      - Keep a timestamped copy of an existing O(dest) that is replaced.
    type: bool
    default: false
  force:
    description:
      - Replace an existing O(dest) with other content without a backup.
    type: bool
    default: false
seealso:
  - module: hepcloud.lumberjack.condor_export
  - module: hepcloud.lumberjack.queue_split
  - module: hepcloud.lumberjack.queue_rewrite
"""

EXAMPLES = r"""
- name: Merge the exports of two owners into the queue of one site
  hepcloud.lumberjack.queue_merge:
    srcs:
      - /var/lib/lumberjack/run7/alice/job_queue.log
      - /var/lib/lumberjack/run7/bob/job_queue.log
    dest: /var/lib/lumberjack/run7/site/job_queue.log
  register: merged

- name: Show what the site queue holds
  ansible.builtin.debug:
    msg: "{{ merged.jobs | length }} jobs of {{ merged.owners | join(', ') }}"
"""

RETURN = r"""
dest:
  description: The merged log.
  returned: always
  type: str
  sample: /var/lib/lumberjack/run7/site/job_queue.log
jobs:
  description: Ids of the jobs in the merged log, in log order.
  returned: always
  type: list
  elements: str
  sample: ["12.0", "12.1", "13.0"]
clusters:
  description: Cluster ids in the merged log.
  returned: always
  type: list
  elements: int
  sample: [12, 13]
owners:
  description: Owners of the merged jobs.
  returned: always
  type: list
  elements: str
  sample: [alice, bob]
next_cluster:
  description: C(NextClusterNum) of the merged header ad (the highest of the exports).
  returned: always
  type: int
  sample: 14
sources:
  description: Per export, its path, jobs, clusters, owners and C(NextClusterNum).
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/var/lib/lumberjack/run7/alice/job_queue.log", "jobs": ["12.0", "12.1"],
            "clusters": [12], "owners": ["alice"], "next_cluster": 13}]
backup_file:
  description: The copy of the replaced O(dest), with O(backup=true).
  returned: when a backup was made
  type: str
  sample: /var/lib/lumberjack/run7/site/job_queue.log.2026-11-22@10:00:00~
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._io import StagedFile
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_log import QueueLogError
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_merge import (
    MergeError,
    plan_merge,
    write_merge,
)


def parse_mode(module, value):
    try:
        mode = int(str(value), 8)
    except ValueError:
        module.fail_json(msg='mode must be an octal number such as 0600, got %r' % (value,))
    if mode & ~0o7777:
        module.fail_json(msg='mode %r is not a file mode' % (value,))
    return mode


class QueueMerge(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=msg, **kwargs)

    def run(self):
        p = self.params
        dest = p['dest']
        mode = parse_mode(self.module, p['mode'])
        for src in p['srcs']:
            if not os.path.isfile(src):
                self.fail('%s does not exist or is not a file: give the job_queue.log files condor_export wrote' % src)
            if os.path.abspath(src) == os.path.abspath(dest):
                self.fail('dest %s is also one of srcs: write the merged log to a new file' % dest)
        if os.path.isdir(dest):
            self.fail('dest %s is a directory: give the path of the job_queue.log to write' % dest)
        if not os.path.isdir(os.path.dirname(os.path.abspath(dest))):
            self.fail('the directory of dest %s does not exist' % dest)
        try:
            infos = plan_merge(p['srcs'])
        except (QueueLogError, MergeError) as e:
            self.fail(to_native(e))

        staged = StagedFile(dest, self.module.check_mode)
        try:
            with staged as out:
                next_cluster = write_merge(infos, out)
        except (IOError, OSError) as e:
            self.fail('cannot write beside %s: %s' % (dest, to_native(e)))
        result = dict(
            changed=staged.changed, dest=dest,
            jobs=[j for i in infos for j in i.jobs],
            clusters=sorted(c for i in infos for c in i.clusters),
            owners=sorted(set(o for i in infos for o in i.owners)),
            next_cluster=next_cluster,
            sources=[i.as_dict() for i in infos],
        )
        try:
            if staged.changed and os.path.exists(dest) and not (p['backup'] or p['force']):
                self.fail('dest %s exists with other content; set backup=true to keep a copy of it, or force=true '
                          'to replace it' % dest)
            if not staged.changed:
                mode_now = os.stat(dest).st_mode & 0o7777
                if mode_now != mode:
                    result['changed'] = True
                    if not self.module.check_mode:
                        os.chmod(dest, mode)
            elif not self.module.check_mode:
                if p['backup'] and os.path.exists(dest):
                    result['backup_file'] = self.module.backup_local(dest)
                staged.commit(mode=mode)
        finally:
            staged.discard()
        return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            srcs=dict(type='list', elements='path', required=True),
            dest=dict(type='path', required=True),
            mode=dict(type='raw', default='0600'),
            backup=dict(type='bool', default=False),
            force=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    module.exit_json(**QueueMerge(module).run())


if __name__ == '__main__':
    main()
