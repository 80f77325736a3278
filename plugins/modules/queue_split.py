#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: queue_split
short_description: Split an HTCondor job_queue.log into one log per job owner, for the import
version_added: 0.1.0
description:
  - The home schedd imports a C(job_queue.log) (M(hepcloud.lumberjack.condor_import)) only for a user allowed
    to edit every job in it; one cluster of somebody else aborts the whole import. When a site ran the jobs
    of several owners in one queue (M(hepcloud.lumberjack.queue_merge)), the log that comes back is split
    here first, into O(dest_dir)/OWNER/O(file_name).
  - Each owner's log holds the source's header and every record of that owner's clusters, in the order the
    schedd wrote them; replaying it gives exactly that owner's ads of the whole log. User records of the
    site schedd go to the log of the owner they describe, or are dropped (an import ignores them).
  - The log is validated first. A log that ends with a cut-off record or an unfinished transaction is refused,
    because the schedd that wrote it was still running (stop it with C(condor_off -schedd) first).
  - Compacted logs (what a schedd leaves when it is stopped) are routed ad by ad in big blocks.
  - Needs only the Python standard library on the host that holds the files.
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the log and tells which owner's log would change; writes nothing.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
options:
  path:
    description:
      - The C(job_queue.log) to split, typically the one the site's schedd left when it was stopped.
    type: path
    required: true
  dest_dir:
    description:
      - The directory that gets one subdirectory per owner (created mode 0700). It must exist.
    type: path
    required: true
  file_name:
    description:
      - Name of each owner's log. M(hepcloud.lumberjack.condor_import) reads C(job_queue.log).
    type: str
    default: job_queue.log
  owners:
    description:
      - Write the logs of these owners only. An owner without jobs in the log is an error.
      - By default every owner found gets a log.
    type: list
    elements: str
  exclude_jobs:
    description:
      - Jobs (C(cluster.proc)) to leave out of every log, for example those that did not finish at the site
        and stay exported. Their cluster ad is still written. An id not in the log is ignored.
    type: list
    elements: str
    default: []
  owned_by_owner:
    description:
      - Give each owner's directory and log to that owner (the import runs as the owner and may compact the
        log in place). Needs root, and each owner to be a local account.
    type: bool
    default: false
  backup:
    description:
      - Keep a timestamped copy of an existing owner's log that is replaced.
    type: bool
    default: false
  force:
    description:
      - Replace an existing owner's log with other content without a backup.
    type: bool
    default: false
seealso:
  - module: hepcloud.lumberjack.queue_merge
  - module: hepcloud.lumberjack.condor_import
"""

EXAMPLES = r"""
- name: Split the queue the site returned, one log per owner
  hepcloud.lumberjack.queue_split:
    path: /var/lib/lumberjack/run7/returned/job_queue.log
    dest_dir: /var/lib/lumberjack/run7/import
    owned_by_owner: true
  register: split

- name: Import each owner's jobs as that owner
  hepcloud.lumberjack.condor_import:
    import_dir: "{{ item.value.dir }}"
  become: true
  become_user: "{{ item.key }}"
  loop: "{{ split.owners | dict2items }}"
"""

RETURN = r"""
owners:
  description: Per owner, the directory and log written (or that would be), its jobs and clusters, and whether
    it changed.
  returned: always
  type: dict
  sample: {"alice": {"dir": "/var/lib/lumberjack/run7/import/alice",
                     "path": "/var/lib/lumberjack/run7/import/alice/job_queue.log",
                     "jobs": ["12.0", "12.1"], "clusters": [12], "changed": true}}
jobs:
  description: Number of jobs in the log.
  returned: always
  type: int
  sample: 3
backup_files:
  description: Per owner, the copy of a replaced log, with O(backup=true).
  returned: when a backup was made
  type: dict
  sample: {"alice": "/var/lib/lumberjack/run7/import/alice/job_queue.log.2026-11-22@10:00:00~"}
dropped_user_records:
  description: Keys of the site schedd's user records that describe no owner with jobs in the log.
  returned: always
  type: list
  elements: str
  sample: ["0.3"]
"""

import os
import pwd

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._io import StagedFile
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_log import QueueLogError
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_split import plan_split, write_split


class QueueSplit(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=msg, **kwargs)

    def owner_ids(self, owner):
        if not self.params['owned_by_owner']:
            return None, None
        try:
            pw = pwd.getpwnam(owner)
        except KeyError:
            self.fail('owned_by_owner is set, but the jobs\' owner %s is not a local account here: create it, or '
                      'leave owned_by_owner false' % owner)
        return pw.pw_uid, pw.pw_gid

    def run(self):
        p = self.params
        path, dest_dir, name = p['path'], p['dest_dir'], p['file_name']
        if not os.path.isfile(path):
            self.fail('%s does not exist or is not a file: give the job_queue.log to split' % path)
        if not os.path.isdir(dest_dir):
            self.fail('dest_dir %s does not exist: create it first' % dest_dir)
        if not name or '/' in name or name in ('.', '..'):
            self.fail('file_name must be a plain file name, got %r' % name)
        if p['owned_by_owner'] and os.geteuid() != 0:
            self.fail('owned_by_owner needs root: run the task with become, or leave it false')
        try:
            plan = plan_split(path, p['exclude_jobs'])
        except QueueLogError as e:
            self.fail(to_native(e))
        owners = plan.owners
        if p['owners'] is not None:
            missing = sorted(set(p['owners']) - set(owners))
            if missing:
                self.fail('%s has no jobs of %s (its owners: %s)' % (path, ', '.join(missing), ', '.join(owners) or 'none'))
            owners = sorted(set(p['owners']))
        for owner in owners:
            if not owner or '/' in owner or owner.startswith('.'):
                self.fail('owner %r of jobs %s cannot name a directory' % (owner, ', '.join(plan.jobs[owner][:5])))

        staged = {}
        outputs = {}
        created = set()
        try:
            for owner in owners:
                target = os.path.join(dest_dir, owner, name)
                if os.path.isdir(target):
                    self.fail('%s is a directory: remove it or choose another file_name' % target)
                directory = os.path.dirname(target)
                if not os.path.isdir(directory) and not self.module.check_mode:
                    # the log was validated above: from here on only writing can fail
                    os.mkdir(directory, 0o700)
                    created.add(owner)
                s = StagedFile(target, check_mode=self.module.check_mode)
                staged[owner] = s
                outputs[owner] = s.__enter__()
            try:
                write_split(plan, outputs)
            except QueueLogError as e:
                self.fail(to_native(e))
            for owner in owners:
                staged[owner].__exit__(None, None, None)
            result = dict(changed=False, owners={}, jobs=sum(len(j) for j in plan.jobs.values()),
                          dropped_user_records=sorted(plan.dropped))
            for owner in owners:
                s = staged[owner]
                directory = os.path.dirname(s.dest)
                if s.changed and os.path.exists(s.dest) and not (p['backup'] or p['force']):
                    self.fail('%s exists with other content; set backup=true to keep a copy of it, or force=true to '
                              'replace it' % s.dest)
                uid, gid = self.owner_ids(owner)
                changed = (bool(s.changed) or owner in created or not os.path.isdir(directory)
                           or self.wrong_owner(directory, uid, 0o700))
                if os.path.exists(s.dest) and not s.changed:
                    changed = changed or self.wrong_owner(s.dest, uid, 0o600)
                if changed and not self.module.check_mode:
                    self.place(s, owner, directory, uid, gid, result)
                result['owners'][owner] = dict(dir=directory, path=s.dest, jobs=plan.jobs[owner],
                                               clusters=plan.clusters[owner], changed=changed)
                result['changed'] = result['changed'] or changed
        except (IOError, OSError) as e:
            self.fail('cannot write the logs under %s: %s' % (dest_dir, to_native(e)))
        finally:
            for s in staged.values():
                s.discard()
        return result

    @staticmethod
    def wrong_owner(path, uid, mode):
        st = os.stat(path)
        return (st.st_mode & 0o7777) != mode or (uid is not None and st.st_uid != uid)

    def place(self, staged, owner, directory, uid, gid, result):
        if staged.changed:
            if self.params['backup'] and os.path.exists(staged.dest):
                result.setdefault('backup_files', {})[owner] = self.module.backup_local(staged.dest)
            staged.commit(mode=0o600, uid=uid, gid=gid)
        else:
            os.chmod(staged.dest, 0o600)
            if uid is not None:
                os.chown(staged.dest, uid, gid)
        os.chmod(directory, 0o700)
        if uid is not None:
            os.chown(directory, uid, gid)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            dest_dir=dict(type='path', required=True),
            file_name=dict(type='str', default='job_queue.log'),
            owners=dict(type='list', elements='str'),
            exclude_jobs=dict(type='list', elements='str', default=[]),
            owned_by_owner=dict(type='bool', default=False),
            backup=dict(type='bool', default=False),
            force=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    module.exit_json(**QueueSplit(module).run())


if __name__ == '__main__':
    main()
