# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Split a job_queue.log into one log per job owner (standard library only).

A site's queue may hold the jobs of several owners (merged exports), but the home schedd imports a log only
for a user allowed to edit every job in it (Schedd.import_exported_job_results aborts the whole import when
one cluster belongs to somebody else). So the log that comes back is split per owner before the import.

Each owner's log gets the source's 107 record and header ad 0.0, and every record of the ads of that
owner's clusters (cluster ad, proc ads, ClusterPvt and job-set ads of those clusters), in their order. The
owner of a cluster is the Owner of its cluster ad, else of its procs. User records (0.N) are the site
schedd's bookkeeping: each goes to the log of the owner it describes, if there is one, and is dropped
otherwise (an import ignores them).

A schedd stopped cleanly (condor_off -schedd) leaves a compacted log: one block per ad, a 101 record then
that ad's 103 records. Such blocks are routed whole; a block that mixes keys (a log with transactions or
later edits) is routed record by record. Both ways keep every record of an owner's jobs and the order the
schedd wrote them in, so replaying an owner's log gives exactly that owner's ads of the whole log.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_log import QueueLogError, open_log
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_manifest import owner_name, split_key
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_scan import QueueScanner

_CHUNK = 1 << 25
_SHARED = object()      # records every output gets: 107, the header ad, transaction markers


def _text(raw):
    return raw.decode('utf-8', 'surrogateescape')


class SplitPlan(object):
    """owner of each cluster, the jobs per owner, and where each user record goes."""

    def __init__(self, path):
        self.path = path
        self.cluster_owner = {}     # cluster id -> owner
        self.jobs = {}              # owner -> ['C.P', ...] in log order
        self.clusters = {}          # owner -> [cluster ids]
        self.user_records = {}      # b'0.N' -> owner (only those of an owner with jobs)
        self.excluded = set()       # b'C.P' of jobs no output takes
        self.dropped = []           # user records of nobody here
        self.transactions = 0
        self.warnings = []

    @property
    def owners(self):
        return sorted(self.jobs)


def plan_split(path, exclude_jobs=()):
    """Scan the log (validating it) and find the owner of every cluster. Jobs ('C.P') in `exclude_jobs` are
    left out of every output (their cluster ad still goes to the owner's log)."""
    state = QueueScanner(path, ('Owner',)).run()
    if state.truncated:
        raise QueueLogError(path, 'the log ends with a cut-off record or an unfinished transaction (%s)'
                            % '; '.join(state.warnings),
                            hint='The schedd that wrote it was still running: stop it with condor_off -schedd '
                                 '(it finishes and compacts the log), then copy the log again.')
    plan = SplitPlan(path)
    plan.excluded = set(j.encode('ascii') for j in exclude_jobs)
    plan.transactions = state.transactions
    proc_owner = {}
    users = {}
    for key, values in state.ads.items():
        c, p = split_key(key)
        owner = owner_name(values[0])
        if c == 0:
            if p != 0 and owner is not None:
                users[key] = owner
            continue
        if p == -1 and owner is not None:
            plan.cluster_owner[c] = owner
        elif p >= 0 and owner is not None:
            proc_owner.setdefault(c, owner)
    for key in state.ads:
        c, p = split_key(key)
        if c <= 0 or p < 0:
            continue
        owner = plan.cluster_owner.get(c)
        if owner is None:
            owner = proc_owner.get(c)
            if owner is None:
                raise QueueLogError(path, 'job %d.%d has no Owner, in its own ad or its cluster ad' % (c, p),
                                    hint='A job_queue.log of HTCondor jobs names the owner of every job; '
                                         'use the log the site schedd left.')
            plan.cluster_owner[c] = owner
        jid = '%d.%d' % (c, p)
        plan.jobs.setdefault(owner, [])
        if jid.encode('ascii') not in plan.excluded:
            plan.jobs[owner].append(jid)
    for owner, jobs in plan.jobs.items():
        plan.clusters[owner] = sorted(set(int(j.split('.')[0]) for j in jobs))
    for key, owner in users.items():
        if owner in plan.jobs:
            plan.user_records[key] = owner
        else:
            plan.dropped.append(_text(key))
    return plan


class _Router(object):
    """Sends each record of the log to the outputs it belongs to."""

    def __init__(self, plan, outputs):
        self.plan = plan
        self.outputs = outputs          # owner -> binary file
        self.shared = list(outputs.values())
        self.by_cluster = {}
        for c, owner in plan.cluster_owner.items():
            if owner in outputs:
                self.by_cluster[c] = outputs[owner]
        self.by_user_key = dict((k, outputs[o]) for k, o in plan.user_records.items() if o in outputs)

    def target(self, key):
        """The output of ad `key` (bytes), _SHARED for the header ad, None when no output takes it."""
        c, _sep, p = key.partition(b'.')
        c = int(c)
        if c == 0:
            if p == b'0':
                return _SHARED
            return self.by_user_key.get(key)
        if key in self.plan.excluded:
            return None
        # ClusterPvt and job-set ads belong to their cluster too
        return self.by_cluster.get(c)

    def send(self, target, data):
        if target is _SHARED:
            for out in self.shared:
                out.write(data)
        elif target is not None:
            target.write(data)

    def line(self, line):
        """Route one record line (with its newline)."""
        op = line[:3]
        if op in (b'101', b'102', b'103', b'104'):
            end = line.find(b' ', 4)
            key = line[4:end if end > 0 else len(line) - 1]
            self.send(self.target(key), line)
        else:
            # 105, 106, 107: every log keeps the shape (an owner's log may get an empty transaction)
            self.send(_SHARED, line)

    def block(self, block):
        """Route a block that starts with a 101 record and ends with a newline."""
        end = block.find(b' ', 4)
        key = block[4:end]
        if block.count(b'\n') == block.count(b'\n103 ' + key + b' ') + 1:
            self.send(self.target(key), block)     # one ad, written whole by a compacting schedd
            return
        for line in block.splitlines(True):
            self.line(line)


def write_split(plan, outputs):
    """Write each owner's records into outputs[owner] (binary files). Owners missing from `outputs` are
    skipped."""
    router = _Router(plan, outputs)
    tail = b''
    with open_log(plan.path, binary=True) as f:
        while True:
            data = f.read(_CHUNK)
            if not data:
                break
            data = tail + data
            cut = data.rfind(b'\n') + 1
            tail = data[cut:]
            data = data[:cut]
            if not data:
                continue
            # blocks begin at each 101 record; what comes before the first one is routed line by line
            pieces = data.split(b'\n101 ')
            head = pieces[0] + b'\n' if len(pieces) > 1 else pieces[0]
            if head.startswith(b'101 '):
                router.block(head)
            else:
                for line in head.splitlines(True):
                    router.line(line)
            last = len(pieces) - 1
            for i in range(1, len(pieces)):
                piece = pieces[i]
                router.block(b'101 ' + piece + (b'' if i == last else b'\n'))
    # the scan already refused a cut-off last line, so tail is empty here
