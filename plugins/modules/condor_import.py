#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: condor_import
short_description: Merge the results of exported HTCondor jobs back into their schedd (Lumberjack import)
version_added: 0.1.0
description:
  - Brings back jobs that M(hepcloud.lumberjack.condor_export) handed to another scheduler, from the
    C(job_queue.log) that scheduler's schedd left when it was stopped
    (C(htcondor2.Schedd.import_exported_job_results)).
  - The schedd merges the final ads of the jobs it still holds as exported (C(Managed = "External"),
    C(ManagedManager = "Lumberjack")) and neither held nor removed locally, then clears those flags. Status,
    exit code and accounting come back; C(Iwd), C(Owner) and C(User) stay local. No file is moved.
  - "Before the schedd is called the module checks: the log parses and holds jobs; it was not still being
    written (no unfinished transaction or cut-off record at its end, no schedd address file next to it, no
    process here holding it open); the module runs as the owner of the jobs and can write the directory
    (the schedd opens the log read-write as that user and may compact it in place); and how each job will
    fare."
  - Reports per job whether it is (or would be) imported, or skipped and why (held or removed locally
    meanwhile, not exported or already imported, missing from the local queue), and which imported jobs have
    not finished on the other side.
  - A second identical run finds nothing left to import, does not call the schedd and reports no change.
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
extends_documentation_fragment:
  - hepcloud.lumberjack._schedd
attributes:
  check_mode:
    support: full
    description: Reads the log and the local queue and reports what would be imported.
  diff_mode:
    support: none
    description: No diff is produced.
  platform:
    support: full
    platforms: posix
    description: Runs on the schedd's host (Linux).
options:
  import_dir:
    description:
      - Absolute path of the directory holding the C(job_queue.log) that came back from the other scheduler.
      - The log must be the one its schedd left after a clean stop (C(condor_off -schedd)), copied into a
        directory owned by (or writable for) the job owner, with the file readable and writable by the owner.
    type: path
    required: true
  unfinished:
    description:
      - What to do when jobs to import have not finished on the other side (idle there).
      - V(fail) refuses the import and lists them.
      - V(import) imports them as they are; they come back idle and unmanaged, so the local schedd can run
        them or they can be exported again.
      - Jobs the log shows running, transferring output or suspended are always refused, since their schedd
        was not stopped cleanly.
    type: str
    choices:
      - fail
      - import
    default: fail
notes:
  - The schedd acts as the calling user and refuses root (C(Failed to init user ids)), so run the task as
    the owner of the jobs, with C(become=true) and C(become_user=OWNER) on the task. The Python that runs the
    module as that user must import C(htcondor2) (set C(ansible_python_interpreter) to one that can).
  - Stop the other schedd before copying its log (C(condor_off -schedd)). That compacts the log, and a copy
    taken while it runs can end in the middle of a write.
seealso:
  - module: hepcloud.lumberjack.condor_export
'''

EXAMPLES = r'''
- name: Merge the results of alice's HPC run back into the local queue
  hepcloud.lumberjack.condor_import:
    import_dir: /var/lib/lumberjack/returns/alice-run7
  become: true
  become_user: alice
  register: imported

- name: Show what came back
  ansible.builtin.debug:
    msg: "{{ imported.imported | length }} imported, not imported: {{ imported.not_imported }}"

- name: Take back whatever the walltime allowed, the rest returns to the local queue idle
  hepcloud.lumberjack.condor_import:
    import_dir: /var/lib/lumberjack/returns/alice-run8
    unfinished: import
  become: true
  become_user: alice
'''

RETURN = r'''
imported:
  description: Jobs merged back by this run (in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: ["12.0", "12.1"]
not_imported:
  description: Jobs of the log not imported (skipped), with the reason.
  returned: always
  type: dict
  sample: {"12.2": "held locally", "13.0": "not in the local queue (removed, or imported and finished)"}
unfinished:
  description: Jobs to import that had not finished on the other side, with their status there.
  returned: always
  type: dict
  sample: {"12.3": "idle"}
jobs:
  description: One entry per job of the log.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The job id.
      type: str
    action:
      description: V(import) or V(skip).
      type: str
    reason:
      description: Why the job is skipped, else null.
      type: str
    remote_status:
      description: The job's status in the log.
      type: str
    local_status:
      description: The job's status in the local queue, or null when it is not there.
      type: str
  sample: [{"id": "12.0", "action": "import", "reason": null, "remote_status": "completed", "local_status": "idle"}]
owner:
  description: Owner of the jobs in the log.
  returned: always
  type: str
  sample: alice
log:
  description: Path of the imported C(job_queue.log).
  returned: always
  type: str
  sample: /var/lib/lumberjack/returns/alice-run7/job_queue.log
counts:
  description: Number of jobs in the log, imported, not imported and unfinished.
  returned: always
  type: dict
  sample: {"jobs": 3, "imported": 2, "not_imported": 1, "unfinished": 0}
result:
  description: The schedd's result ad (C(TotalJobAds), C(ActionResult)) as a dict; empty when it was not called.
  returned: always
  type: dict
  sample: {"ActionResult": 1, "TotalJobAds": 2}
'''

import os
import tempfile

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._as_user import Account
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_log import (
    QueueLogError,
    job_id,
    replay,
    unquote,
)
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._schedd import (
    MANAGED_MANAGER,
    ScheddClient,
    cluster_constraint,
    is_external,
    is_lumberjack,
    is_super_user,
    job_key,
    list_ids,
    status_name,
    user_name_part,
)

LOG_NAME = 'job_queue.log'
# Files a running schedd keeps in its SPOOL (SCHEDD_ADDRESS_FILE, SCHEDD_DAEMON_AD_FILE); a clean exit removes them.
SCHEDD_RUNNING_MARKERS = ('.schedd_address', '.schedd_address.super', '.schedd_classad')
UNFINISHED = (1,)                  # idle on the other side
NOT_STOPPED = (2, 6, 7)            # running, transferring output, suspended: that schedd was not stopped cleanly
STOP_HINT = ('stop the schedd that wrote it with "condor_off -schedd" (it compacts the log when it exits), then '
             'copy its SPOOL/job_queue.log here again')


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def processes_holding(path):
    """(pid, command) of the processes this user may inspect that have `path` open."""
    try:
        target = os.stat(path)
    except OSError:
        return []
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        fd_dir = '/proc/%s/fd' % entry
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                st = os.stat(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
                try:
                    with open('/proc/%s/comm' % entry) as f:
                        comm = f.read().strip()
                except (IOError, OSError):
                    comm = '?'
                found.append((int(entry), comm))
                break
    return found


class ImportManager(object):

    def __init__(self, client):
        self.client = client
        self.params = client.params
        self.check_mode = client.module.check_mode

    def fail(self, msg, **kwargs):
        self.client.fail(msg, **kwargs)

    # -- the log -----------------------------------------------------------------------------------
    def check_log(self, import_dir):
        log_path = os.path.join(import_dir, LOG_NAME)
        if not os.path.isdir(import_dir):
            self.fail('import_dir %s is not a directory' % import_dir)
        if not os.path.isfile(log_path):
            self.fail('%s has no job_queue.log: copy the log that the other schedd left in its SPOOL there' % import_dir)
        for marker in SCHEDD_RUNNING_MARKERS:
            if os.path.lexists(os.path.join(import_dir, marker)):
                self.fail('%s holds %s: a schedd is running with this directory as its SPOOL (or was killed). The log '
                          'is still being written: %s.' % (import_dir, marker, STOP_HINT))
        holders = processes_holding(log_path)
        if holders:
            self.fail('%s is open in %s: it is still being written. %s.' % (
                log_path, ', '.join('%s (pid %d)' % (c, p) for p, c in holders), STOP_HINT[0].upper() + STOP_HINT[1:]))
        if not os.access(log_path, os.R_OK):
            self.fail('%s is not readable by %s: copy it into a directory of the job owner, owned by the owner'
                      % (log_path, Account.current().name))
        try:
            state = replay(log_path)
        except QueueLogError as e:
            self.fail('%s cannot be imported: %s' % (log_path, e))
        if state.warnings:
            self.fail('%s ends in the middle of a write, so its schedd was still writing it (or was killed): %s. '
                      'Do not import it: %s.' % (log_path, ' '.join(state.warnings), STOP_HINT))
        keys = state.job_keys()
        if not keys:
            self.fail('%s holds no job (only %d other ads): it is not a Lumberjack export or its results'
                      % (log_path, len(state.ads)))
        # HTCondor's export sets LeaveJobInQueue = true on every exported cluster, and the other schedd keeps it
        if not any((state.job_attr(k, 'LeaveJobInQueue') or '').lower() == 'true' for k in keys):
            self.fail('%s holds %d jobs, but none was exported by Lumberjack (an export sets LeaveJobInQueue = true '
                      'on every cluster): it looks like an ordinary schedd queue, not the results of an export'
                      % (log_path, len(keys)))
        return log_path, state, keys

    def check_writable(self, import_dir, log_path, me):
        problems = []
        if not os.access(log_path, os.R_OK | os.W_OK):
            problems.append('%s is not readable and writable' % log_path)
        if not os.access(import_dir, os.W_OK | os.X_OK):
            problems.append('%s is not writable' % import_dir)
        elif not self.check_mode:
            try:
                fd, name = tempfile.mkstemp(prefix='.lumberjack-probe-', dir=import_dir)
                os.close(fd)
                os.unlink(name)
            except OSError as e:
                problems.append('no file can be created in %s (%s)' % (import_dir, e.strerror))
        if problems:
            self.fail('%s for %s, and the schedd opens the log read-write as %s and may rewrite it in place: copy '
                      'the log into a directory owned by %s, owned by %s with mode 0600.'
                      % ('; '.join(problems), me, me, me, me))

    # -- main --------------------------------------------------------------------------------------
    def run(self):
        import_dir = self.params['import_dir']
        if not os.path.isabs(import_dir):
            self.fail('import_dir must be an absolute path (the schedd resolves it itself), got %s' % import_dir)
        import_dir = os.path.normpath(import_dir)
        log_path, state, keys = self.check_log(import_dir)

        remote = {}
        owners = {}
        for key in keys:
            jid = job_id(key)
            owner = unquote(state.job_attr(key, 'Owner') or '') or None
            remote[jid] = _int(state.job_attr(key, 'JobStatus'))
            owners.setdefault(owner, []).append(jid)
        me = Account.current()
        strangers = dict((o, ids) for o, ids in owners.items() if o != me.name)
        if strangers:
            detail = '; '.join('%s: %s' % (o or 'no Owner', list_ids(ids, 5)) for o, ids in sorted(strangers.items(), key=str))
            if me.uid == 0:
                self.fail('the import must run as the owner of the jobs, not as root (the schedd answers root with '
                          '"Failed to init user ids"). Set become: true and become_user: %s on the task. Jobs: %s'
                          % (' / '.join(sorted(str(o) for o in owners)), detail))
            self.fail('this module runs as %s, but the log holds jobs of other owners (%s). The schedd imports a log '
                      'as one user: run the task as the owner (become_user), with a log that holds only that '
                      "owner's jobs." % (me.name, detail))
        owner = me.name
        self.check_writable(import_dir, log_path, owner)

        clusters = set(int(j.split('.')[0]) for j in remote)
        local = dict((job_key(j), j) for j in self.client.query(cluster_constraint(clusters)))

        jobs, imported, not_imported, unfinished, not_stopped = [], [], {}, {}, {}
        for key in keys:
            jid = job_id(key)
            here = local.get(jid)
            reason = None
            if here is None:
                reason = 'not in the local queue (removed, or imported and finished)'
            elif here.get('Owner') != owner:
                self.fail('job %s belongs to %s in the local queue but to %s in %s: this log does not come from this '
                          "schedd's export" % (jid, here.get('Owner'), owner, log_path))
            else:
                gid_here = here.get('GlobalJobId')
                gid_log = unquote(state.job_attr(key, 'GlobalJobId') or '')
                if is_lumberjack(here) and gid_here and gid_log and gid_here != gid_log:
                    self.fail('job %s in %s is %s, but the local job %s is %s: the log comes from another schedd. '
                              'Import it into the schedd that exported it.' % (jid, log_path, gid_log, jid, gid_here))
                status = here.get('JobStatus')
                if status == 5:
                    reason = 'held locally'
                elif status == 3:
                    reason = 'removed locally'
                elif not is_external(here):
                    reason = 'not exported (never exported, un-exported, or already imported)'
                elif not is_lumberjack(here):
                    reason = 'managed externally by %s, not by Lumberjack' % (here.get(MANAGED_MANAGER) or 'another manager')
            entry = {'id': jid, 'action': 'skip' if reason else 'import', 'reason': reason,
                     'remote_status': status_name(remote[jid]) if remote[jid] is not None else None,
                     'local_status': status_name(here.get('JobStatus')) if here else None}
            jobs.append(entry)
            if reason:
                not_imported[jid] = reason
                continue
            imported.append(jid)
            if remote[jid] in UNFINISHED:
                unfinished[jid] = entry['remote_status']
            elif remote[jid] in NOT_STOPPED:
                not_stopped[jid] = entry['remote_status']

        out = dict(changed=False, imported=imported, not_imported=not_imported, unfinished=unfinished, jobs=jobs,
                   owner=owner, log=log_path, result={})
        if not_stopped:
            self.refuse('%s shows jobs still %s: the schedd that wrote it was not stopped cleanly. Nothing was imported; '
                        '%s.' % (log_path, ', '.join('%s %s' % i for i in sorted(not_stopped.items())), STOP_HINT), out)
        if unfinished and self.params['unfinished'] == 'fail':
            self.refuse('%d jobs to import have not finished on the other side (%s). Nothing was imported. Let them '
                        'finish there, or set unfinished=import to take them back as they are.'
                        % (len(unfinished), list_ids(unfinished)), out)
        if not imported:
            self.exit(out, 'nothing to import: none of the %d jobs in %s is exported by Lumberjack here any more'
                      % (len(keys), log_path))

        identity = self.client.identity()
        if is_super_user(identity) or user_name_part(identity) != owner:
            self.fail('the schedd authenticates this module as %s, not as the job owner %s; the import must be made '
                      'by the owner (become_user: %s, and no token of another identity)' % (identity, owner, owner))

        out['changed'] = True
        if self.check_mode:
            self.exit(out, 'would import %d jobs of %s from %s' % (len(imported), owner, log_path))
        out['result'] = self.client.call('import of %s' % log_path, 'import_exported_job_results', import_dir)
        total = out['result'].get('TotalJobAds')
        if total is not None and total != len(imported):
            self.client.warn('the schedd reports %s imported jobs, %d were expected (%s)' % (total, len(imported), list_ids(imported)))
        self.exit(out, 'imported %d jobs of %s from %s' % (len(imported), owner, log_path))

    def refuse(self, msg, out):
        """Fail before the schedd is called: nothing was imported, say what would have been."""
        out = dict(out, imported=[], would_import=out['imported'])
        self.fail(msg, **self.counted(out))

    def counted(self, out):
        out['counts'] = dict((k, len(out[k])) for k in ('jobs', 'imported', 'not_imported', 'unfinished'))
        return out

    def exit(self, out, msg):
        out['msg'] = msg
        self.client.exit(**self.counted(out))


def main():
    client = ScheddClient(
        argument_spec=dict(
            import_dir=dict(type='path', required=True),
            unfinished=dict(type='str', default='fail', choices=['fail', 'import']),
        ),
        supports_check_mode=True,
    )
    ImportManager(client).run()


if __name__ == '__main__':
    main()
