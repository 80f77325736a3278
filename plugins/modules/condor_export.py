#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: condor_export
short_description: Export HTCondor jobs from a schedd for another scheduler (Lumberjack), or take them back
version_added: 0.1.0
description:
  - Exports whole job clusters from a condor_schedd with HTCondor's Lumberjack export
    (C(htcondor2.Schedd.export_jobs)). The schedd writes the jobs into E(EXPORT_DIR/job_queue.log), as the
    job owner with mode 0600, and marks them C(Managed = "External"), C(ManagedManager = "Lumberjack"); it
    neither matches nor runs them while they are exported.
  - With O(state=unexported) the Lumberjack flags are cleared again (C(htcondor2.Schedd.unexport_jobs)), so
    the jobs can run locally.
  - "Before anything changes, the module checks what the schedd does not: the selection is not empty; all of
    it belongs to one owner; every job of the selected clusters that is not exported yet is idle; the export
    directory exists or can be created, as the owner, and the owner can write in it (checked by a process
    running as the owner, not as root); no C(job_queue.log) is there yet (the schedd would append to it)."
  - Export works on whole clusters. A O(constraint) is matched against the jobs, and every cluster with at
    least one matching job is selected entirely.
  - One owner per export. For the jobs of several owners, run the task once per owner, each into its own
    directory (for example with O(constraint) C(Owner == "alice") and O(export_dir) C(/exports/alice)).
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
extends_documentation_fragment:
  - hepcloud.lumberjack._schedd
attributes:
  check_mode:
    support: full
    description: Reports what would be exported or un-exported; nothing changes in the queue or on disk.
  diff_mode:
    support: none
    description: No diff is produced.
  platform:
    support: full
    platforms: posix
    description: Runs on the schedd's host (Linux).
options:
  constraint:
    description:
      - A ClassAd constraint selecting jobs, for example C(Owner == "alice" && JobBatchName == "run7").
      - Every cluster with at least one matching job is selected as a whole.
      - Exactly one of O(constraint) and O(cluster_ids) is required.
    type: str
  cluster_ids:
    description:
      - Cluster ids to select (all jobs of each cluster).
    type: list
    elements: int
  state:
    description:
      - V(exported) exports the selected clusters into O(export_dir).
      - V(unexported) takes back the selected jobs that are exported by Lumberjack
        (C(ManagedManager == "Lumberjack")); jobs managed externally by anything else are never touched, and
        a cluster that holds such a job is refused. With O(export_dir), a C(job_queue.log) there that holds only
        jobs of the selection is removed, since it is no longer valid.
    type: str
    choices:
      - exported
      - unexported
    default: exported
  export_dir:
    description:
      - Absolute path of the directory the schedd writes C(job_queue.log) into, on the schedd's host.
      - Created (mode 0700, with missing parents) as the job owner when it does not exist; the owner must be
        able to create it.
      - Required with O(state=exported).
    type: path
  spool_dir:
    description:
      - The C(SPOOL) directory the jobs will have in the pool that runs the export (for example the personal
        pool inside an HPC batch job). The schedd rewrites the C(Iwd) of jobs that carry their own into
        E(spool_dir/C%10000/P%10000/clusterC.procP.subproc0).
      - Required with O(state=exported).
    type: path
notes:
  - Run it as root (a queue super user) or as the owner of the jobs. As root the module checks the export
    directory as the owner by switching to the owner's uid in a child process.
  - A re-run with the same selection and O(export_dir) reports no change when the jobs are exported and
    the C(job_queue.log) there holds exactly them. Jobs already exported elsewhere are reported in
    RV(already_exported) and are not exported twice.
seealso:
  - module: hepcloud.lumberjack.condor_import
'''

EXAMPLES = r'''
- name: Export the idle jobs of alice's batch "run7" for an HPC allocation
  hepcloud.lumberjack.condor_export:
    constraint: 'Owner == "alice" && JobBatchName == "run7"'
    export_dir: /var/lib/lumberjack/exports/alice-run7
    spool_dir: /scratch/alice/lumberjack/run7/spool
  register: export

- name: Show what went out
  ansible.builtin.debug:
    msg: "{{ export.exported | length }} jobs of {{ export.owner }} in {{ export.log }}"

- name: Export two clusters through a named schedd of another pool configuration
  hepcloud.lumberjack.condor_export:
    cluster_ids: [1234, 1235]
    export_dir: /var/lib/lumberjack/exports/batch-1234
    spool_dir: /scratch/lumberjack/spool
    schedd_name: submit2.example.org
    condor_config: /etc/condor/condor_config

- name: The HPC allocation was cancelled, let the jobs run locally again
  hepcloud.lumberjack.condor_export:
    cluster_ids: [1234, 1235]
    state: unexported
    export_dir: /var/lib/lumberjack/exports/batch-1234
'''

RETURN = r'''
jobs:
  description: Ids of all jobs of the selected clusters.
  returned: always
  type: list
  elements: str
  sample: ["12.0", "12.1"]
clusters:
  description: Ids of the clusters the schedd was (or would be) asked to act on.
  returned: always
  type: list
  elements: int
  sample: [12]
owner:
  description: Owner of the selected jobs (with O(state=unexported), of the jobs taken back).
  returned: when the selection is not empty
  type: str
  sample: alice
user:
  description: The jobs' C(User) attribute (owner and UID_DOMAIN).
  returned: when the selection is not empty
  type: str
  sample: alice@example.org
exported:
  description: Jobs exported by this run (in check mode, that would be).
  returned: with O(state=exported)
  type: list
  elements: str
  sample: ["12.0", "12.1"]
original_iwds:
  description:
    - The C(Iwd) of every job of the selection as the schedd holds it (the export does not change it there).
    - The exported file gives procs that carry their own C(Iwd) a placeholder under O(spool_dir) instead;
      pass this to M(hepcloud.lumberjack.queue_rewrite)'s O(hepcloud.lumberjack.queue_rewrite#module:original_iwds)
      so those jobs run in their own directory at the site.
  returned: with O(state=exported) when the selection is not empty
  type: dict
  sample: {"12.0": "/home/alice/run/p0", "12.1": "/home/alice/run/p1"}
already_exported:
  description: Jobs of the selection that were exported by Lumberjack before this run, not exported again.
  returned: with O(state=exported)
  type: list
  elements: str
  sample: []
unexported:
  description: Jobs taken back from Lumberjack by this run (in check mode, that would be).
  returned: with O(state=unexported)
  type: list
  elements: str
  sample: ["12.0", "12.1"]
not_exported:
  description: Jobs of the selection that were not exported, left as they are.
  returned: with O(state=unexported)
  type: list
  elements: str
  sample: []
other_managed:
  description: Jobs of the selection managed externally by something other than Lumberjack, left alone, with the reason.
  returned: always
  type: dict
  sample: {"12.3": "managed externally by Grid, not by Lumberjack"}
counts:
  description: Number of jobs in each category, and of clusters.
  returned: always
  type: dict
  sample: {"jobs": 2, "clusters": 1, "exported": 2, "already_exported": 0, "other_managed": 0}
export_dir:
  description: The export directory.
  returned: when O(export_dir) is given
  type: str
  sample: /var/lib/lumberjack/exports/alice-run7
log:
  description: Path of the C(job_queue.log) written by the schedd (or that would be).
  returned: with O(state=exported)
  type: str
  sample: /var/lib/lumberjack/exports/alice-run7/job_queue.log
created_dir:
  description: Whether this run created O(export_dir).
  returned: with O(state=exported)
  type: bool
  sample: true
removed_log:
  description: Path of a stale C(job_queue.log) removed from O(export_dir) (or that would be), else null.
  returned: with O(state=unexported)
  type: str
  sample: /var/lib/lumberjack/exports/alice-run7/job_queue.log
result:
  description:
    - The schedd's result ad of the export or un-export call, as a dict; empty when the schedd was not called.
    - For an export C(Log), C(User), C(TotalJobAds), C(TotalClusterAds), C(ActionResult); for an un-export
      C(TotalJobAds), C(TotalClusterAds), C(ActionResult).
  returned: always
  type: dict
  sample: {"ActionResult": 1, "Log": "/exports/alice-run7/job_queue.log", "TotalClusterAds": 1, "TotalJobAds": 2,
           "User": "alice@example.org"}
'''

import os

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._as_user import (
    Account,
    AsUserError,
    can_act_as,
    probe_dir,
    run_as,
)
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_log import (
    QueueLogError,
    job_id,
    replay,
)
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._schedd import (
    JOB_PROJECTION,
    MANAGED_MANAGER,
    ScheddClient,
    cluster_spec,
    is_external,
    is_lumberjack,
    is_super_user,
    job_key,
    job_sort_key,
    list_ids,
    status_name,
    user_name_part,
)

EXPORT_DIR_MODE = 0o700
LOG_NAME = 'job_queue.log'


def _ids(jobs):
    return sorted((job_key(j) for j in jobs), key=job_sort_key)


class ExportManager(object):

    def __init__(self, client):
        self.client = client
        self.params = client.params
        self.check_mode = client.module.check_mode

    def fail(self, msg, **kwargs):
        self.client.fail(msg, **kwargs)

    # -- selection ---------------------------------------------------------------------------------
    def describe_selection(self):
        if self.params['cluster_ids']:
            return 'clusters %s' % ', '.join(str(c) for c in self.params['cluster_ids'])
        return 'constraint %s' % self.params['constraint']

    def select(self):
        """All jobs of the selected clusters (dicts), in id order, and the clusters asked for but absent."""
        return self.client.select_clusters(self.params['cluster_ids'], self.params['constraint'],
                                           JOB_PROJECTION + ['Iwd'])

    def read_log_jobs(self, path):
        try:
            state = replay(path)
        except QueueLogError as e:
            return None, str(e)
        return [job_id(k) for k in state.job_keys()], None

    def guard_identity(self, owner, user, what):
        """Refuse unless the schedd's identity for us is a queue super user or the owner of the jobs."""
        identity = self.client.identity()
        if is_super_user(identity):
            return identity
        if user_name_part(identity) == owner or (user and identity.lower() == user.lower()):
            return identity
        self.fail('the schedd authenticates this module as %s, which is neither a queue super user nor the owner '
                  'of the jobs to %s (%s). Run the task as root, or become %s.' % (identity, what, owner, owner))

    # -- state: exported ---------------------------------------------------------------------------
    def export(self):
        p = self.params
        export_dir, spool_dir = p['export_dir'], p['spool_dir']
        for name, value in (('export_dir', export_dir), ('spool_dir', spool_dir)):
            if not value:
                self.fail('%s is required with state=exported' % name)
            if not os.path.isabs(value):
                self.fail('%s must be an absolute path (the schedd resolves it itself), got %s' % (name, value))
        log_path = os.path.join(export_dir, LOG_NAME)

        jobs, missing = self.select()
        if missing and p['cluster_ids']:
            self.fail('cluster(s) %s are not in the queue of the schedd: nothing to export for them. Remove them '
                      'from cluster_ids.' % ', '.join(str(c) for c in missing))
        if not jobs:
            self.fail('the selection is empty: no job in the queue matches %s' % self.describe_selection())

        by_owner = {}
        for j in jobs:
            by_owner.setdefault(j.get('Owner'), []).append(job_key(j))
        if len(by_owner) > 1:
            detail = '; '.join('%s: %s' % (o, list_ids(ids, 5)) for o, ids in sorted(by_owner.items(), key=str))
            self.fail('the selection holds jobs of %d owners (%s). An export holds the jobs of one owner: add '
                      'Owner == "NAME" to the constraint and export each owner into its own directory.'
                      % (len(by_owner), detail), owners=sorted(str(o) for o in by_owner))
        owner = jobs[0].get('Owner')
        user = jobs[0].get('User')

        already, to_export, other_managed, blocked = [], [], {}, {}
        for j in jobs:
            jid = job_key(j)
            if is_lumberjack(j):
                already.append(jid)
            elif is_external(j):
                other_managed[jid] = 'managed externally by %s, not by Lumberjack' % (j.get(MANAGED_MANAGER) or 'another manager')
            elif j.get('JobStatus') != 1:
                blocked[jid] = status_name(j.get('JobStatus'))
            else:
                to_export.append(jid)
        if blocked:
            detail = ', '.join('%s is %s' % (jid, s) for jid, s in sorted(blocked.items(), key=lambda i: job_sort_key(i[0])))
            self.fail('only idle jobs can be exported, and export takes whole clusters: %s. Wait until they are '
                      'idle, release or remove them, or select other clusters.' % detail, blocked=blocked)

        out = dict(
            changed=False, jobs=_ids(jobs), owner=owner, user=user, exported=[], already_exported=already,
            other_managed=other_managed, export_dir=export_dir, log=log_path, created_dir=False, result={},
            clusters=sorted(set(int(j.split('.')[0]) for j in to_export)),
            # the export replaces some procs' Iwd by a spool placeholder; queue_rewrite puts these back
            original_iwds=dict((job_key(j), j['Iwd']) for j in jobs if j.get('Iwd')),
        )

        if os.path.lexists(log_path):
            log_jobs, problem = self.read_log_jobs(log_path)
            if problem is None and not to_export and already and set(log_jobs) == set(already):
                out['clusters'] = []
                self.exit(out, 'the %d jobs are already exported into %s' % (len(already), log_path))
            if problem is not None:
                what = 'a job_queue.log that cannot be read (%s)' % problem
            else:
                what = 'a job_queue.log with %d jobs (%s)' % (len(log_jobs), list_ids(log_jobs, 10) or 'none')
            self.fail('%s already holds %s, which is not exactly this export. The schedd would append to it. Use an '
                      'empty directory, or remove the old log when it is no longer needed.' % (export_dir, what))

        if not to_export:
            self.exit(out, 'all %d selected jobs are already exported by Lumberjack; nothing to export' % len(already))

        try:
            account = Account.by_name(owner)
        except AsUserError as e:
            self.fail('the jobs belong to %s, but %s: the schedd writes the export as the job owner' % (owner, e))
        if not can_act_as(account):
            self.fail('running as uid %d, this module can neither act as %s nor check the export directory as %s: '
                      'run it as root or as %s' % (os.geteuid(), owner, owner, owner))
        self.guard_identity(owner, user, 'export')

        try:
            probe = run_as(account, probe_dir, export_dir, not self.check_mode, EXPORT_DIR_MODE, not self.check_mode)
        except AsUserError as e:
            self.fail('cannot check %s as %s: %s' % (export_dir, owner, e))
        if probe['problem']:
            self.fail('export_dir %s cannot be used by the job owner %s: %s. The schedd writes the export as %s; '
                      'create the directory owned by %s (or writable for %s) first.'
                      % (export_dir, owner, probe['problem'], owner, owner, owner))
        out['created_dir'] = bool(probe['created'] or probe['would_create'])
        out['exported'] = to_export
        if self.check_mode:
            out['changed'] = True
            self.exit(out, 'would export %d jobs of %s (clusters %s) into %s'
                      % (len(to_export), owner, ', '.join(str(c) for c in out['clusters']), log_path))

        result = self.client.call('export of clusters %s into %s' % (', '.join(str(c) for c in out['clusters']), export_dir),
                                  'export_jobs', cluster_spec(out['clusters']), export_dir, spool_dir)
        out['changed'] = True
        out['result'] = result
        out['log'] = result.get('Log') or log_path
        total = result.get('TotalJobAds')
        if total == 0:
            log_jobs, dummy = self.read_log_jobs(log_path)
            if log_jobs == []:
                os.unlink(log_path)
            self.fail('the schedd exported no job (TotalJobAds = 0): the jobs were exported or changed meanwhile. '
                      'Run the task again.', result=result)
        if total is not None and total != len(to_export):
            self.client.warn('the schedd reports %s exported jobs, %d were expected (%s)' % (total, len(to_export), list_ids(to_export)))
        self.exit(out, 'exported %d jobs of %s into %s' % (len(to_export), owner, out['log']))

    # -- state: unexported -------------------------------------------------------------------------
    def unexport(self):
        p = self.params
        export_dir = p['export_dir']
        if export_dir and not os.path.isabs(export_dir):
            self.fail('export_dir must be an absolute path, got %s' % export_dir)
        jobs, missing = self.select()
        if missing and p['cluster_ids']:
            self.client.warn('cluster(s) %s are not in the queue' % ', '.join(str(c) for c in missing))
        if not jobs:
            self.client.warn('no job in the queue matches %s' % self.describe_selection())

        lumber = [j for j in jobs if is_lumberjack(j)]
        clusters = sorted(set(int(j['ClusterId']) for j in lumber))
        other_managed, conflict = {}, {}
        for j in jobs:
            if is_external(j) and not is_lumberjack(j):
                why = 'managed externally by %s, not by Lumberjack' % (j.get(MANAGED_MANAGER) or 'another manager')
                other_managed[job_key(j)] = why
                if int(j['ClusterId']) in clusters:
                    conflict[job_key(j)] = why
        if conflict:
            self.fail('un-export works on whole clusters and would also release jobs that another manager handles: '
                      '%s. Select other clusters.' % '; '.join('%s %s' % i for i in sorted(conflict.items())),
                      other_managed=other_managed)

        out = dict(
            changed=False, jobs=_ids(jobs), clusters=clusters, unexported=_ids(lumber),
            not_exported=_ids(j for j in jobs if not is_external(j)), other_managed=other_managed, result={}, removed_log=None,
        )
        if export_dir:
            out['export_dir'] = export_dir
        owners = sorted(set(j.get('Owner') for j in lumber), key=str)
        if lumber:
            out['owner'] = owners[0] if len(owners) == 1 else None
            out['user'] = lumber[0].get('User') if len(owners) == 1 else None
            identity = self.client.identity()
            if not is_super_user(identity):
                others = [o for o in owners if o != user_name_part(identity)]
                if others:
                    self.fail('the schedd authenticates this module as %s, which is neither a queue super user nor the '
                              'owner of the jobs to un-export (%s). Run the task as root, or become the owner.'
                              % (identity, ', '.join(str(o) for o in owners)))
        stale = self.stale_log(export_dir, set(out['jobs']))
        if self.check_mode:
            out['changed'] = bool(lumber) or bool(stale)
            out['removed_log'] = stale
            self.exit(out, 'would un-export %d jobs%s' % (len(lumber), (' and remove %s' % stale) if stale else ''))
        if lumber:
            out['result'] = self.client.call('un-export of clusters %s' % ', '.join(str(c) for c in clusters),
                                             'unexport_jobs', cluster_spec(clusters))
            out['changed'] = True
            total = out['result'].get('TotalJobAds')
            if total is not None and total != len(lumber):
                self.client.warn('the schedd reports %s un-exported jobs, %d were expected' % (total, len(lumber)))
        if stale:
            try:
                os.unlink(stale)
            except OSError as e:
                self.fail('the jobs are un-exported, but the stale %s could not be removed: %s' % (stale, e.strerror),
                          **out)
            out['removed_log'] = stale
            out['changed'] = True
        if not out['changed']:
            self.exit(out, 'no job of the selection is exported by Lumberjack; nothing to un-export')
        self.exit(out, 'un-exported %d jobs%s' % (len(lumber), (', removed %s' % stale) if stale else ''))

    def stale_log(self, export_dir, selected):
        """The export_dir's job_queue.log when it holds only jobs of the selection (it is stale once they are
        un-exported), else None (with a warning when one is there and is kept)."""
        if not export_dir:
            return None
        path = os.path.join(export_dir, LOG_NAME)
        if not os.path.isfile(path):
            return None
        log_jobs, problem = self.read_log_jobs(path)
        if problem is not None:
            self.client.warn('kept %s: it cannot be read as a job queue log (%s)' % (path, problem))
            return None
        outside = set(log_jobs) - selected
        if outside:
            self.client.warn('kept %s: it also holds jobs outside the selection (%s)' % (path, list_ids(outside)))
            return None
        return path

    # -- results -----------------------------------------------------------------------------------
    def exit(self, out, msg):
        out['msg'] = msg
        counts = {'jobs': len(out.get('jobs', [])), 'clusters': len(out.get('clusters', [])),
                  'other_managed': len(out.get('other_managed', {}))}
        for key in ('exported', 'already_exported', 'unexported', 'not_exported'):
            if key in out:
                counts[key] = len(out[key])
        out['counts'] = counts
        self.client.exit(**out)

    def run(self):
        if self.params['state'] == 'exported':
            self.export()
        else:
            self.unexport()


def main():
    client = ScheddClient(
        argument_spec=dict(
            constraint=dict(type='str'),
            cluster_ids=dict(type='list', elements='int'),
            state=dict(type='str', default='exported', choices=['exported', 'unexported']),
            export_dir=dict(type='path'),
            spool_dir=dict(type='path'),
        ),
        required_one_of=[('constraint', 'cluster_ids')],
        mutually_exclusive=[('constraint', 'cluster_ids')],
        required_if=[('state', 'exported', ('export_dir', 'spool_dir'))],
        supports_check_mode=True,
    )
    ExportManager(client).run()


if __name__ == '__main__':
    main()
