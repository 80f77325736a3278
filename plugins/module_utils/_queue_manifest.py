# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jobs, files and directories of a scanned job_queue.log: what queue_info reports and what a sandbox needs.

Works on a ScanState from _queue_scan (a few raw attributes per ad). Each job's effective attributes are
its proc ad's, else its cluster ad's, as the schedd sees them. Relative paths resolve against the job's
effective Iwd. With a PathMap, every path also gets its place in the sandbox, and what cannot be placed
is reported per job.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_log import unquote
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._sandbox import (
    DEV_NULL,
    is_url,
    resolve,
    split_list,
    split_remaps,
    spool_placeholder_job,
)

# The attributes a scan keeps. Paths first: these are the ones a rewrite maps.
PATH_ATTRS = ('Iwd', 'Cmd', 'In', 'Out', 'Err', 'UserLog', 'TransferInput', 'TransferOutputRemaps')
INFO_ATTRS = ('Owner', 'JobStatus', 'Managed', 'ManagedManager', 'TransferOutput', 'TransferExecutable',
              'TransferIn', 'SUBMIT_Iwd', 'LeaveJobInQueue', 'User')
SCAN_NAMES = PATH_ATTRS + INFO_ATTRS

JOB_STATUS = {1: 'idle', 2: 'running', 3: 'removed', 4: 'completed', 5: 'held', 6: 'transferring_output',
              7: 'suspended'}

MAX_PROBLEMS = 50   # problems listed in full; the rest are counted


def _text(raw):
    if raw is None:
        return None
    return raw.decode('utf-8', 'surrogateescape')


def string_value(raw):
    """The text of a raw string attribute, or None when unset or not a plain string literal."""
    if raw is None:
        return None
    return unquote(_text(raw))


def owner_name(raw):
    """The text of a raw Owner value: a string literal without its quotes, anything else as written (None stays
    None)."""
    if raw is None:
        return None
    text = _text(raw)
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1]
    return text


def bool_value(raw, default):
    if raw is None:
        return default
    low = raw.strip().lower()
    if low in (b'true', b'1'):
        return True
    if low in (b'false', b'0'):
        return False
    return default


def split_key(key):
    c, _sep, p = key.partition(b'.')
    return int(c), int(p)


class Job(object):
    """One proc of the log with its effective (proc over cluster) raw attributes."""

    __slots__ = ('cluster', 'proc', 'values', 'own_iwd')

    def __init__(self, cluster, proc, values, own_iwd):
        self.cluster = cluster
        self.proc = proc
        self.values = values
        self.own_iwd = own_iwd

    @property
    def id(self):
        return '%d.%d' % (self.cluster, self.proc)

    def raw(self, name):
        return self.values[SCAN_NAMES.index(name)]

    def string(self, name):
        return string_value(self.raw(name))


def cluster_and_proc_ads(state):
    """({cluster id: values of the cluster ad}, [(cluster, proc, values of the proc ad)] in log order) of a
    ScanState, for ads with cluster > 0."""
    clusters = {}
    procs = []
    for key, values in state.ads.items():
        c, p = split_key(key)
        if c <= 0:
            continue
        if p == -1:
            clusters[c] = values
        elif p >= 0:
            procs.append((c, p, values))
    return clusters, procs


def iter_jobs(state):
    """Yield a Job for every proc ad (cluster > 0, proc >= 0) of a ScanState, in log order."""
    clusters, procs = cluster_and_proc_ads(state)
    n = len(SCAN_NAMES)
    iwd_slot = SCAN_NAMES.index('Iwd')
    empty = [None] * n
    for c, p, own in procs:
        cluster = clusters.get(c, empty)
        merged = [own[i] if own[i] is not None else cluster[i] for i in range(n)]
        yield Job(c, p, merged, own[iwd_slot] is not None)


class Problems(object):
    def __init__(self):
        self.items = []
        self.count = 0

    def add(self, job, text):
        self.count += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append('job %s: %s' % (job, text))

    def message(self):
        more = '' if self.count <= len(self.items) else ' (and %d more)' % (self.count - len(self.items))
        return '; '.join(self.items) + more


def job_paths(job):
    """(iwd, inputs, outputs) of a job as written in its ad: inputs are (kind, entry) with kind one of
    'executable', 'stdin', 'input'; outputs are (kind, entry) with kind 'stdout', 'stderr', 'userlog',
    'output', 'remap'."""
    iwd = job.string('Iwd')
    inputs = []
    cmd = job.string('Cmd')
    if cmd and bool_value(job.raw('TransferExecutable'), True):
        inputs.append(('executable', cmd))
    stdin = job.string('In')
    if stdin and stdin != DEV_NULL and bool_value(job.raw('TransferIn'), True):
        inputs.append(('stdin', stdin))
    for entry in split_list(job.string('TransferInput') or ''):
        if not is_url(entry):
            inputs.append(('input', entry))
    outputs = []
    for kind, name in (('stdout', 'Out'), ('stderr', 'Err'), ('userlog', 'UserLog')):
        v = job.string(name)
        if v and v != DEV_NULL:
            outputs.append((kind, v))
    for entry in split_list(job.string('TransferOutput') or ''):
        if not is_url(entry):
            outputs.append(('output', entry))
    for _name, dest in split_remaps(job.string('TransferOutputRemaps') or ''):
        if dest and not is_url(dest):
            outputs.append(('remap', dest))
    return iwd, inputs, outputs


def summarize(state, max_jobs=None):
    """What queue_info returns: jobs, owners, statuses, Iwds, inputs, outputs and needed directories."""
    jobs = []
    owners = {}
    uid_domains = {}
    statuses = {}
    iwds = set()
    inputs = set()
    outputs = set()
    directories = set()
    placeholders = []
    exported = 0
    total = 0
    leave_in_queue = 0
    for job in iter_jobs(state):
        total += 1
        owner = job.string('Owner')
        try:
            status = JOB_STATUS.get(int(job.raw('JobStatus') or b'0'), 'unknown')
        except ValueError:
            status = 'unknown'
        owners[owner] = owners.get(owner, 0) + 1
        user = job.string('User')
        if user and '@' in user:
            # the schedd's UID_DOMAIN: a pool that runs these jobs must use the same one
            domain = user.rsplit('@', 1)[1]
            uid_domains[domain] = uid_domains.get(domain, 0) + 1
        statuses[status] = statuses.get(status, 0) + 1
        managed = job.string('Managed')
        lumberjack = managed == 'External' and job.string('ManagedManager') == 'Lumberjack'
        exported += lumberjack
        leave_in_queue += bool_value(job.raw('LeaveJobInQueue'), False)
        iwd, ins, outs = job_paths(job)
        if iwd is not None:
            iwds.add(iwd)
            directories.add(iwd)
            if job.own_iwd and spool_placeholder_job(iwd) == job.id:
                placeholders.append(job.id)
        for _kind, entry in ins:
            p = resolve(entry, iwd)
            if p:
                inputs.add(p)
        for kind, entry in outs:
            p = resolve(entry, iwd)
            if p:
                outputs.add(p)
                if kind != 'output':
                    directories.add(posixpath.dirname(p))
        if max_jobs is None or len(jobs) < max_jobs:
            jobs.append({'id': job.id, 'owner': owner, 'status': status, 'iwd': iwd, 'exported': lumberjack,
                         'managed': managed})
    # export_jobs writes no transactions, no user records or ClusterPvt ads, and forces LeaveJobInQueue on
    # every cluster; the Managed flags stay in the exporting schedd's own queue, not in the file
    other_ads = any(split_key(k)[0] == 0 and k != b'0.0' or split_key(k)[1] < -1 for k in state.ads)
    export_shape = total > 0 and not state.transactions and not other_ads and leave_in_queue == total
    return {
        'total_jobs': total,
        'jobs': jobs,
        'owners': owners,
        'uid_domains': uid_domains,
        'statuses': statuses,
        'exported_jobs': exported,
        'lumberjack_export': total > 0 and (exported == total or export_shape),
        'export_shape': export_shape,
        'iwds': sorted(iwds),
        'inputs': sorted(inputs),
        'outputs': sorted(outputs),
        'directories': sorted(directories),
        'spool_placeholder_iwds': placeholders,
    }
