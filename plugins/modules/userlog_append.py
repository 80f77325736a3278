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
      - Required unless O(logs) is given.
    type: path
  dest:
    description:
      - The job's user log at home.
      - Required unless O(logs) is given.
    type: path
  logs:
    description:
      - Several user logs in one task, each with its own O(src), O(dest), O(jobs), O(create) and O(owner)
        (O(skip_events) applies to all). A run with thousands of user logs then costs one task, not one per log.
      - Every entry is checked before anything is appended. Should an append fail midway, a second run appends
        only what is missing, as always.
    type: list
    elements: dict
    version_added: 0.2.0
    suboptions:
      src:
        description: The user log the site wrote.
        type: path
        required: true
      dest:
        description: The user log at home.
        type: path
        required: true
      jobs:
        description: Ids of the jobs whose events to append. By default every job's.
        type: list
        elements: str
      create:
        description: Create O(logs[].dest) when it does not exist.
        type: bool
        default: false
      owner:
        description: Owner of O(logs[].dest) when it is created (needs root).
        type: str
  logs_from:
    description:
      - A JSON file on this host whose key C(userlogs) lists the user logs, as
        M(hepcloud.lumberjack.queue_outputs) writes it with C(files_dest), each with its C(site) path, C(home)
        path, C(owner), C(jobs) and whether it C(exists) at the site. The site path is found under
        O(src_root); a log that did not exist at the site is skipped (listed in RV(not_at_site)); O(create)
        applies to all, each created log owned by its owner.
      - For queues with many user logs, whose list should not pass through Ansible.
    type: path
    version_added: 0.2.0
  src_root:
    description:
      - With O(logs_from), the directory the site's files were brought back into, keeping their site paths.
    type: path
    default: /
    version_added: 0.2.0
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
      - With O(logs), each entry's own V(create) counts instead.
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

- name: Every user log of a run in one task
  hepcloud.lumberjack.userlog_append:
    logs:
      - src: /var/lib/lumberjack/run7/returned/sandbox/home/alice/work/jobs.log
        dest: /home/alice/work/jobs.log
        jobs: ["12.0", "12.1"]
      - src: /var/lib/lumberjack/run7/returned/sandbox/home/bob/run/b.log
        dest: /home/bob/run/b.log
        create: true
        owner: bob
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
not_at_site:
  description: With O(logs_from), the site paths of the user logs that did not exist at the site.
  returned: with O(logs_from)
  type: list
  elements: str
  sample: []
logs:
  description: With O(logs) or O(logs_from), the result of each user log, in the order given.
  returned: with O(logs) or O(logs_from)
  type: list
  elements: dict
  sample: [{"dest": "/home/alice/work/jobs.log", "changed": true, "appended": 6, "already_there": 0}]
"""

import json
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
        not_at_site = None
        if p['logs_from']:
            entries, not_at_site = self.read_logs_from()
        elif p['logs'] is None:
            entries = [dict(src=p['src'], dest=p['dest'], jobs=p['jobs'], create=p['create'], owner=p['owner'])]
        else:
            entries = p['logs']
        # every entry is read and checked before anything is appended
        plans = [self.plan(e) for e in entries]
        results = []
        for plan in plans:
            if plan['changed'] and not self.module.check_mode:
                self.append(plan['dest'], plan['exists'], plan.pop('data'), plan['owner'])
            plan.pop('data', None)
            results.append(dict((k, plan[k]) for k in ('dest', 'changed', 'appended', 'per_job', 'already_there')))
        per_job = {}
        for r in results:
            for job, n in r['per_job'].items():
                per_job[job] = per_job.get(job, 0) + n
        result = dict(changed=any(r['changed'] for r in results), appended=sum(r['appended'] for r in results),
                      per_job=per_job, already_there=sum(r['already_there'] for r in results))
        if p['logs'] is not None or p['logs_from']:
            result['logs'] = results
        if not_at_site is not None:
            result['not_at_site'] = not_at_site
        return result

    def read_logs_from(self):
        p = self.params
        try:
            with open(p['logs_from'], 'rb') as f:
                listed = json.loads(f.read().decode('utf-8', 'surrogateescape'))['userlogs']
            entries, absent = [], []
            for log in listed:
                if not log.get('exists', True):
                    absent.append(log['site'])
                    continue
                entries.append(dict(src=os.path.join(p['src_root'], log['site'].lstrip('/')), dest=log['home'],
                                    jobs=log.get('jobs'), create=p['create'], owner=log.get('owner')))
        except (IOError, OSError) as e:
            self.fail('cannot read logs_from %s: %s' % (p['logs_from'], to_native(e)))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            self.fail('logs_from %s is not a list of user logs as queue_outputs writes it (an object whose key '
                      '"userlogs" holds entries with site, home, owner and jobs): %s' % (p['logs_from'], to_native(e)))
        return entries, absent

    def plan(self, entry):
        """What appending to one user log means: the events to add (read, not yet written)."""
        src, dest = entry['src'], entry['dest']
        if not os.path.isfile(src):
            self.fail('src %s does not exist or is not a file: give the user log the site wrote' % src)
        if os.path.isdir(dest):
            self.fail('dest %s is a directory: give the job\'s user log' % dest)
        exists = os.path.exists(dest)
        if not exists and not entry['create']:
            self.fail('dest %s does not exist: the job\'s user log at home holds its submit event. Check the path, '
                      'or set create=true' % dest)
        if not exists and not os.path.isdir(os.path.dirname(os.path.abspath(dest))):
            self.fail('the directory of dest %s does not exist' % dest)
        if not exists and entry['owner']:
            try:
                pwd.getpwnam(entry['owner'])
            except KeyError:
                self.fail('owner %s is not a local account' % entry['owner'])
        jobs = None if entry['jobs'] is None else set(_job_id(j, self.module) for j in entry['jobs'])
        skip = set(self.params['skip_events'])
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
        return dict(dest=dest, exists=exists, owner=entry['owner'], changed=bool(new) or not exists,
                    appended=len(new), per_job=per_job, already_there=already, data=b''.join(e.data for e in new))

    def append(self, dest, exists, data, owner):
        try:
            if not exists:
                fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                if owner:
                    pw = pwd.getpwnam(owner)
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
            src=dict(type='path'),
            dest=dict(type='path'),
            logs=dict(type='list', elements='dict', options=dict(
                src=dict(type='path', required=True),
                dest=dict(type='path', required=True),
                jobs=dict(type='list', elements='str'),
                create=dict(type='bool', default=False),
                owner=dict(type='str'),
            )),
            logs_from=dict(type='path'),
            src_root=dict(type='path', default='/'),
            jobs=dict(type='list', elements='str'),
            skip_events=dict(type='list', elements='int', default=[0]),
            create=dict(type='bool', default=False),
            owner=dict(type='str'),
        ),
        mutually_exclusive=[('logs', 'logs_from', 'src'), ('logs', 'logs_from', 'dest'), ('logs', 'logs_from', 'jobs'),
                            ('logs', 'logs_from', 'owner')],
        required_one_of=[('logs', 'logs_from', 'src')],
        required_together=[('src', 'dest')],
        supports_check_mode=True,
    )
    module.exit_json(**UserLogAppend(module).run())


if __name__ == '__main__':
    main()
