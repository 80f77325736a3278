#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: userlog_append
short_description: Append the events a site wrote to jobs' HTCondor user logs to their user logs at home
version_added: 0.1.0
description:
  - A job's user log (its C(log =) file) at home holds its submit event; while the job ran at an HPC site, the
    site's schedd wrote its execute, termination, hold and other events into the sandbox copy of that log.
    This module appends those events to the log at home, so tools that follow the user log
    (C(condor_wait), DAGMan, the user) see the whole story.
  - Takes the events of the jobs in O(jobs) (several jobs may share one log) from O(src), leaves out the
    event types in O(skip_events) (by default the submit event, which the home log already has), and leaves
    out every event already in O(dest) (by its exact text), so a second run appends nothing.
  - Events are copied byte for byte, in their order in O(src), with one append; O(dest) keeps its owner and
    mode. An incomplete last event in O(src) (the site was stopped while writing it) is left out with a
    warning.
  - Needs only the Python standard library.
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Counts the events that would be appended, writes nothing.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
options:
  src:
    description:
      - The user log the site wrote (brought back from the sandbox).
    type: path
    required: true
  dest:
    description:
      - The job's user log at home.
    type: path
    required: true
  jobs:
    description:
      - Ids (C(cluster.proc)) of the jobs whose events to append. By default every job's.
    type: list
    elements: str
  skip_events:
    description:
      - Event type numbers to leave out. C(0) is the submit event.
    type: list
    elements: int
    default: [0]
  create:
    description:
      - Create O(dest) when it does not exist (mode 0644, owned by O(owner) when given). Otherwise a missing
        O(dest) is an error.
    type: bool
    default: false
  owner:
    description:
      - Owner of O(dest) when it is created (needs root).
    type: str
seealso:
  - module: hepcloud.lumberjack.condor_import
"""

EXAMPLES = r"""
- name: Give alice's user log the events of her jobs at the site
  hepcloud.lumberjack.userlog_append:
    src: /var/lib/lumberjack/run7/returned/sandbox/home/alice/work/jobs.log
    dest: /home/alice/work/jobs.log
    jobs: ["12.0", "12.1"]
"""

RETURN = r"""
appended:
  description: Number of events appended (in check mode, that would be).
  returned: always
  type: int
  sample: 6
per_job:
  description: Events appended per job.
  returned: always
  type: dict
  sample: {"12.0": 3, "12.1": 3}
already_there:
  description: Events of the chosen jobs that O(dest) already held.
  returned: always
  type: int
  sample: 0
"""

import os
import pwd

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._userlog import UserLogError, iter_events


def _job_id(text, module):
    parts = text.split('.')
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        module.fail_json(msg='jobs: %r is not a job id (cluster.proc)' % text)
    return '%d.%d' % (int(parts[0]), int(parts[1]))


class UserLogAppend(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=msg, **kwargs)

    def run(self):
        p = self.params
        src, dest = p['src'], p['dest']
        if not os.path.isfile(src):
            self.fail('src %s does not exist or is not a file: give the user log the site wrote' % src)
        if os.path.isdir(dest):
            self.fail('dest %s is a directory: give the job\'s user log' % dest)
        exists = os.path.exists(dest)
        if not exists and not p['create']:
            self.fail('dest %s does not exist: the job\'s user log at home holds its submit event. Check the path, '
                      'or set create=true' % dest)
        if not exists and not os.path.isdir(os.path.dirname(os.path.abspath(dest))):
            self.fail('the directory of dest %s does not exist' % dest)
        jobs = None if p['jobs'] is None else set(_job_id(j, self.module) for j in p['jobs'])
        skip = set(p['skip_events'])
        warnings = []
        try:
            present = set(e.digest() for e in iter_events(dest)) if exists else set()
            new = []
            seen = set()
            already = 0
            for event in iter_events(src, warnings):
                if event.code in skip or (jobs is not None and event.job not in jobs):
                    continue
                digest = event.digest()
                if digest in present:
                    already += 1
                    continue
                if digest in seen:
                    continue        # the same event twice in src: once is enough
                seen.add(digest)
                new.append(event)
        except UserLogError as e:
            self.fail(to_native(e))
        except (IOError, OSError) as e:
            self.fail('cannot read the user logs: %s' % to_native(e))
        for w in warnings:
            self.module.warn(w)
        per_job = {}
        for e in new:
            per_job[e.job] = per_job.get(e.job, 0) + 1
        changed = bool(new) or not exists
        if changed and not self.module.check_mode:
            self.append(dest, exists, b''.join(e.data for e in new))
        return dict(changed=changed, appended=len(new), per_job=per_job, already_there=already)

    def append(self, dest, exists, data):
        try:
            if not exists:
                fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                if self.params['owner']:
                    try:
                        pw = pwd.getpwnam(self.params['owner'])
                    except KeyError:
                        os.close(fd)
                        os.unlink(dest)
                        self.fail('owner %s is not a local account' % self.params['owner'])
                    os.fchown(fd, pw.pw_uid, pw.pw_gid)
            else:
                fd = os.open(dest, os.O_WRONLY | os.O_APPEND)
            try:
                # the log may end without a newline after a cut-off write at home: start on a line of our own
                if exists and data and os.fstat(fd).st_size > 0:
                    with open(dest, 'rb') as f:
                        f.seek(-1, os.SEEK_END)
                        if f.read(1) != b'\n':
                            data = b'\n' + data
                view = memoryview(data)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
                os.fsync(fd)
            finally:
                os.close(fd)
        except (IOError, OSError) as e:
            self.fail('cannot append to %s: %s' % (dest, to_native(e)))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type='path', required=True),
            dest=dict(type='path', required=True),
            jobs=dict(type='list', elements='str'),
            skip_events=dict(type='list', elements='int', default=[0]),
            create=dict(type='bool', default=False),
            owner=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    module.exit_json(**UserLogAppend(module).run())


if __name__ == '__main__':
    main()
