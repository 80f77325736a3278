#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: directories
short_description: Make many directories, with their modes and owners, in one step
version_added: 0.1.0
description:
  - Makes each directory of O(paths) exist with the mode (and, when given, the owner) it names, in the order
    given, in one task. A run's sandbox needs dozens of directories (one per job's working directory); one
    C(ansible.builtin.file) task per directory costs an ssh round trip each, this module one in all.
  - A missing directory is created with its missing parents (those with the same mode and owner), an existing
    one gets its mode and owner corrected. Nothing else is touched.
  - A path (or a parent of one) that exists and is not a directory fails the task, naming it, before anything
    is changed.
  - Needs only the Python standard library.
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports what would be created or corrected, changes nothing.
  diff_mode:
    support: full
    details: The directories created or corrected, with their mode and owner before and after.
  platform:
    support: full
    platforms: posix
options:
  paths:
    description:
      - The directories in the order to make them, each an absolute path, or a dictionary with the key C(path)
        and, to differ from O(mode) and O(owner), the keys C(mode) and C(owner).
    type: list
    elements: raw
    required: true
  mode:
    description:
      - The mode of each directory that does not name its own, as an octal string such as V('0755').
    type: str
    default: '0755'
  owner:
    description:
      - The user (a name) who owns each directory that does not name its own. Omit it to leave the owner as it
        is (a new directory belongs to the account that runs the module). Changing the owner needs root.
    type: str
  owners_can_write:
    description:
      - Check, as each directory's owner, that they can create files in it. A directory above it that they
        cannot search, an ACL or a read-only mount makes the task fail, naming the owner, the directory and
        why. Only directories with an owner are checked, each by a child process that switches to that user
        (this needs root, or to be that user).
      - In check mode, the directories that exist already are checked.
    type: bool
    default: false
    version_added: 0.2.0
notes:
  - The mode is set exactly, whatever the umask.
seealso:
  - module: ansible.builtin.file
    description: One path per task, with every other file attribute.
"""

EXAMPLES = r"""
- name: Lay out a run directory
  hepcloud.lumberjack.directories:
    paths:
      - /scratch/alice/run-42
      - /scratch/alice/run-42/local_dir
      - path: /scratch/alice/run-42/local_dir/passwords.d
        mode: '0700'

- name: Give each owner an export directory of their own
  hepcloud.lumberjack.directories:
    paths:
      - path: /var/lib/lumberjack/run-42/export/alice
        owner: alice
      - path: /var/lib/lumberjack/run-42/export/bob
        owner: bob
    mode: '0700'
    # the schedd writes the export as the owner: make sure they can
    owners_can_write: true
  become: true
"""

RETURN = r"""
changes:
  description: What was (or, in check mode, would be) done, one line per action, such as C(create /a/b 0755).
  returned: always
  type: list
  elements: str
  sample:
    - create /scratch/alice/run-42 0755
    - chmod /scratch/alice/run-42/local_dir/passwords.d 0700
"""

import os
import pwd
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._as_user import (
    Account, AsUserError, probe_dir, run_as,
)


class Directories(object):
    def __init__(self, module):
        self.module = module
        self.check = module.check_mode
        self.entries = [self._entry(i, e) for i, e in enumerate(module.params['paths'])]

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=msg, **kwargs)

    def _entry(self, index, entry):
        p = self.module.params
        path = mode = owner = None
        if isinstance(entry, dict):
            unknown = sorted(set(entry) - set(('path', 'mode', 'owner')))
            if unknown or not entry.get('path'):
                self.fail('paths[%d]: %s: give a path, or a dictionary with path and optionally mode and owner'
                          % (index, 'unknown keys %s' % ', '.join(unknown) if unknown else 'no path'))
            path, mode, owner = entry['path'], entry.get('mode', p['mode']), entry.get('owner', p['owner'])
        elif isinstance(entry, str) and entry:
            path, mode, owner = entry, p['mode'], p['owner']
        else:
            self.fail('paths[%d]: %r is neither a path nor a dictionary with a path' % (index, entry))
        path = str(path)
        if not os.path.isabs(path):
            self.fail('paths[%d]: %s is not an absolute path: give the full path' % (index, path))
        try:
            number = int(str(mode), 8)
        except ValueError:
            number = -1
        if not 0 <= number <= 0o7777:
            self.fail('paths[%d] (%s): mode %r is not an octal mode such as 0755' % (index, path, mode))
        uid = None
        if owner is not None:
            try:
                uid = pwd.getpwnam(str(owner)).pw_uid
            except KeyError:
                self.fail('paths[%d] (%s): there is no user %s on this host' % (index, path, owner))
        return os.path.normpath(path), number, uid, owner

    def run(self):
        # every path checked before the first change: a file in the way stops the task with nothing done
        for path, _mode, _uid, _owner in self.entries:
            existing = path
            while not os.path.lexists(existing):
                existing = os.path.dirname(existing)
            if not os.path.isdir(existing):
                self.fail('%s exists and is not a directory%s: move it away, or choose another path'
                          % (existing, '' if existing == path else ' (it is in the way of %s)' % path))
        changes, before, after = [], [], []
        for path, mode, uid, owner in self.entries:
            try:
                self._one(path, mode, uid, owner, changes, before, after)
            except OSError as e:
                self.fail('cannot make %s: %s' % (path, to_native(e)), changes=changes)
        if self.module.params['owners_can_write']:
            self._check_owners(changes)
        result = dict(changed=bool(changes), changes=changes)
        if self.module._diff and changes:
            result['diff'] = dict(before='\n'.join(before) + '\n' if before else '', after='\n'.join(after) + '\n')
        self.module.exit_json(**result)

    def _one(self, path, mode, uid, owner, changes, before, after):
        try:
            st = os.stat(path)
        except OSError:
            st = None
        if st is None:
            changes.append('create %s %04o' % (path, mode))
            after.append('%s %04o%s' % (path, mode, ' ' + owner if owner else ''))
            if not self.check:
                self._create(path, mode, uid)
            return
        now_mode = stat.S_IMODE(st.st_mode)
        done = []
        if now_mode != mode:
            done.append('chmod %s %04o' % (path, mode))
            if not self.check:
                os.chmod(path, mode)
        if uid is not None and st.st_uid != uid:
            done.append('chown %s %s' % (path, owner))
            if not self.check:
                os.chown(path, uid, -1)
        if done:
            changes.extend(done)
            before.append('%s %04o %s' % (path, now_mode, _user(st.st_uid)))
            after.append('%s %04o %s' % (path, mode, owner or _user(st.st_uid)))

    def _check_owners(self, changes):
        problems = []
        for path, _mode, _uid, owner in self.entries:
            if owner is None or not os.path.isdir(path):
                continue        # not there in check mode: it would be made for its owner
            try:
                probe = run_as(Account.by_name(str(owner)), probe_dir, path, False, 0o700, True)
                problem = probe['problem']
            except AsUserError as e:
                problem = to_native(e)
            if problem:
                problems.append('%s cannot write %s (%s)' % (owner, path, problem))
        if problems:
            self.fail('%s. Every directory above must be searchable by its owner (mode 0755, or an ACL); the '
                      'directories were made, nothing else was done' % '; '.join(problems), changes=changes)

    @staticmethod
    def _create(path, mode, uid):
        missing = []
        while path and not os.path.isdir(path):
            missing.append(path)
            path = os.path.dirname(path)
        for p in reversed(missing):
            try:
                os.mkdir(p, mode)
            except OSError:
                if not os.path.isdir(p):  # made meanwhile by someone else is fine
                    raise
            os.chmod(p, mode)  # exactly, whatever the umask
            if uid is not None:
                os.chown(p, uid, -1)


def _user(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type='list', elements='raw', required=True),
            mode=dict(type='str', default='0755'),
            owner=dict(type='str'),
            owners_can_write=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    Directories(module).run()


if __name__ == '__main__':
    main()
