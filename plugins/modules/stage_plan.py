#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: stage_plan
short_description: Turn a sandbox manifest into file lists that tar or rsync copy in a stream
version_added: 0.1.0
description:
  - Reads the files of a manifest (each V(src) on this host and its V(dest) at the other end, as
    M(hepcloud.lumberjack.queue_rewrite) writes it) and groups them by the directories their paths differ in
    (V(/home/alice/w/in.txt) to V(/scratch/run7/sandbox/home/alice/w/in.txt) is V(home/alice/w/in.txt) copied
    from V(/) into V(/scratch/run7/sandbox)).
  - Writes one list per group, NUL-separated relative paths, for C(tar --null -T LIST) or
    C(rsync --from0 --files-from=LIST), and returns the groups with their file counts and bytes. The files
    themselves are never read here; a copy of many GB streams from one host to the other without passing
    through Ansible.
  - Every source must exist on this host; a missing one fails the task, naming it.
  - Standard library only.
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Returns the groups, writes no list.
  diff_mode:
    support: none
    details: The lists are long and machine-made; RV(groups) says what they hold.
  platform:
    support: full
    platforms: posix
options:
  manifest:
    description:
      - A manifest (JSON with C(files), a list of V(src)/V(dest) pairs).
    type: path
  files:
    description:
      - More pairs to copy, each with V(src) and V(dest) (absolute file paths that end alike), for example the
        job_queue.log itself.
    type: list
    elements: dict
    default: []
  list_dir:
    description:
      - The directory the lists are written to (it must exist). Lists of groups that no longer exist are left
        alone.
    type: path
    required: true
  name:
    description:
      - The lists are named C(NAME-N.list), N counting the groups from 0.
    type: str
    default: stage
seealso:
  - module: hepcloud.lumberjack.queue_rewrite
  - module: hepcloud.lumberjack.stage_checksums
"""

EXAMPLES = r"""
- name: Plan the copy of the inputs and of the site queue
  hepcloud.lumberjack.stage_plan:
    manifest: /var/lib/lumberjack/run7/site-a/manifest.json
    files:
      - src: /var/lib/lumberjack/run7/site-a/site_queue.log
        dest: /scratch/hpcuser/lumberjack/run7/queue/site_queue.log
    list_dir: /var/lib/lumberjack/run7/site-a/stage
  register: plan

- name: Copy each group from the schedd host to the site in one stream
  ansible.builtin.shell:
    cmd: >-
      tar -C {{ item.src_dir | quote }} --null -T {{ item.list | quote }} -cf - |
      ssh hpcuser@login.example.org "mkdir -p {{ item.dest_dir | quote }} && tar -C {{ item.dest_dir | quote }} -xf -"
  loop: "{{ plan.groups }}"
  changed_when: true
"""

RETURN = r"""
groups:
  description: One entry per copy to make.
  returned: always
  type: list
  elements: dict
  contains:
    src_dir:
      description: The directory on this host the relative paths start from.
      type: str
    dest_dir:
      description: The directory at the other end they go to.
      type: str
    list:
      description: The list file (NUL-separated relative paths).
      type: str
    count:
      description: Number of files.
      type: int
    bytes:
      description: Their size in bytes.
      type: int
  sample: [{"src_dir": "/", "dest_dir": "/scratch/hpcuser/lumberjack/run7/sandbox",
            "list": "/var/lib/lumberjack/run7/site-a/stage/stage-0.list", "count": 12, "bytes": 4096}]
count:
  description: Number of files in all groups.
  returned: always
  type: int
bytes:
  description: Bytes in all groups.
  returned: always
  type: int
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._io import StagedFile
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._stage_plan import (
    StagePlanError,
    list_content,
    plan,
    sizes,
)


class StagePlan(object):

    def __init__(self, module):
        self.module = module
        self.params = module.params

    def pairs(self):
        pairs = []
        path = self.params['manifest']
        if path:
            try:
                with open(path, 'rb') as f:
                    entries = json.loads(f.read().decode('utf-8'))['files']
                pairs.extend((e['src'], e['dest']) for e in entries)
            except (IOError, OSError) as e:
                self.module.fail_json(msg='cannot read the manifest %s: %s' % (path, to_native(e)))
            except (ValueError, KeyError, TypeError) as e:
                self.module.fail_json(msg='%s is not a sandbox manifest (JSON with files: [{src, dest}]): %s'
                                      % (path, to_native(e)))
        for i, e in enumerate(self.params['files']):
            if not isinstance(e.get('src'), str) or not isinstance(e.get('dest'), str):
                self.module.fail_json(msg='files[%d] needs src and dest (strings), got %r' % (i, e))
            pairs.append((e['src'], e['dest']))
        return pairs

    def run(self):
        list_dir = self.params['list_dir']
        if not os.path.isdir(list_dir):
            self.module.fail_json(msg='list_dir %s is not a directory: create it first' % list_dir)
        try:
            groups = plan(self.pairs())
        except StagePlanError as e:
            self.module.fail_json(msg='cannot plan the copy: %s' % to_native(e))
        changed = False
        out = []
        missing = []
        total = count = 0
        for n, group in enumerate(groups):
            size, absent = sizes(group)
            missing.extend(absent)
            path = os.path.join(list_dir, '%s-%d.list' % (self.params['name'], n))
            staged = StagedFile(path, check_mode=self.module.check_mode)
            try:
                with staged as f:
                    f.write(list_content(group))
                if staged.changed:
                    changed = True
                    staged.commit(mode=0o644)
            except (IOError, OSError) as e:
                self.module.fail_json(msg='cannot write %s: %s' % (path, to_native(e)))
            finally:
                staged.discard()
            out.append(dict(src_dir=group['src_dir'], dest_dir=group['dest_dir'], list=path,
                            count=len(group['files']), bytes=size))
            total += size
            count += len(group['files'])
        if missing:
            self.module.fail_json(msg='%d files to copy do not exist on this host: %s. Restore them (or remove the '
                                      'jobs that need them) and run again.'
                                  % (len(missing), ', '.join(missing[:20]) + (' ...' if len(missing) > 20 else '')),
                                  groups=out, missing=missing)
        self.module.exit_json(changed=changed, groups=out, count=count, bytes=total)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            manifest=dict(type='path'),
            files=dict(type='list', elements='dict', default=[]),
            list_dir=dict(type='path', required=True),
            name=dict(type='str', default='stage'),
        ),
        supports_check_mode=True,
    )
    StagePlan(module).run()


if __name__ == '__main__':
    main()
