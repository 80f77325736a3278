# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Merge several Lumberjack exports into one job_queue.log (standard library only).

A schedd exports the jobs of one owner per call, while an HPC site runs one personal pool with one queue.
The exports of one schedd never share a cluster id, so their ads can simply follow each other: the merged
log is the first export's 107 record, then every export without its 107 record (a second 101 for the header
ad 0.0 keeps the existing ad, as in the schedd's own replay), then NextClusterNum raised to the highest of
all exports when the last one did not already have it. Each export is validated by a full scan first; the
bytes after its first line are copied in big blocks, never line by line.

Only logs shaped like an export are accepted: no transactions, no user records, ClusterPvt ads or job
sets, nothing cut off. Anything else is an error naming the file and what to do.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shutil

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_log import QueueLogError, open_log
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_manifest import owner_name, split_key
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_scan import QueueScanner

_NAMES = ('Owner', 'NextClusterNum')
_OWNER, _NEXT = 0, 1
_COPY_BLOCK = 1 << 24


def _text(raw):
    return raw.decode('utf-8', 'surrogateescape')


class ExportInfo(object):
    """What a merge needs to know about one export: its jobs, clusters, owners and NextClusterNum."""

    def __init__(self, path):
        self.path = path
        self.jobs = []          # 'C.P' in log order
        self.clusters = []      # cluster ids in log order
        self.owners = set()
        self.next_cluster = None
        self.first_line = b''   # the 107 record, when the export starts with one

    def as_dict(self):
        return {'path': self.path, 'jobs': list(self.jobs), 'clusters': list(self.clusters),
                'owners': sorted(self.owners), 'next_cluster': self.next_cluster}


def read_export(path):
    """Scan one export (validating every record) and return its ExportInfo; QueueLogError when it is not
    shaped like an export."""
    state = QueueScanner(path, _NAMES).run()
    if state.truncated:
        raise QueueLogError(path, 'the log is cut off (%s)' % '; '.join(state.warnings),
                            hint='Export the jobs again; a merge takes complete exports only.')
    if state.transactions:
        raise QueueLogError(path, 'the log holds %d transactions: it is a schedd\'s own queue, not an export'
                            % state.transactions,
                            hint='Merge the job_queue.log files that condor_export (Schedd.export_jobs) wrote.')
    info = ExportInfo(path)
    cluster_owner = {}
    for key, values in state.ads.items():
        c, p = split_key(key)
        if c == 0 and p == 0:
            if values[_NEXT] is not None:
                try:
                    info.next_cluster = int(values[_NEXT])
                except ValueError:
                    raise QueueLogError(path, 'NextClusterNum of the header ad is %r, not a number'
                                        % _text(values[_NEXT]))
            continue
        if c <= 0 or p < -1:
            what = 'a user record' if c == 0 else 'a ClusterPvt ad or job set'
            raise QueueLogError(path, 'ad %s is %s, which an export never holds' % (_text(key), what),
                                hint='Merge the job_queue.log files that condor_export (Schedd.export_jobs) '
                                     'wrote, not a schedd\'s own queue.')
        owner = values[_OWNER]
        if p == -1:
            info.clusters.append(c)
            if owner is not None:
                cluster_owner[c] = owner
        else:
            info.jobs.append('%d.%d' % (c, p))
            if owner is not None:
                info.owners.add(owner)
    info.owners.update(cluster_owner.values())
    info.owners = set(owner_name(o) for o in info.owners)
    with open_log(path, binary=True) as f:
        first = f.readline()
    if first.startswith(b'107 '):
        info.first_line = first
    return info


class MergeError(Exception):
    pass


def plan_merge(paths):
    """ExportInfo of each path, after checking that no cluster is in two exports."""
    if not paths:
        raise MergeError('no export to merge: give at least one job_queue.log')
    seen = {}
    infos = []
    for path in paths:
        info = read_export(path)
        for c in set(info.clusters) | set(int(j.split('.')[0]) for j in info.jobs):
            if c in seen:
                raise MergeError('cluster %d is in both %s and %s: the exports of one schedd never share a cluster, '
                                 'so these come from two schedds or one export was made twice. Merge exports of '
                                 'one schedd, each once.' % (c, seen[c], path))
            seen[c] = path
        infos.append(info)
    return infos


def write_merge(infos, out):
    """Write the merged log of planned exports to the binary file `out`; returns the NextClusterNum it ends
    with (None when no export had one)."""
    first = next((i.first_line for i in infos if i.first_line), b'')
    out.write(first)
    for info in infos:
        with open_log(info.path, binary=True) as f:
            if info.first_line:
                f.readline()
            shutil.copyfileobj(f, out, _COPY_BLOCK)
    numbers = [i.next_cluster for i in infos if i.next_cluster is not None]
    if not numbers:
        return None
    highest = max(numbers)
    last = next((i.next_cluster for i in reversed(infos) if i.next_cluster is not None), None)
    if last != highest:
        out.write(b'103 0.0 NextClusterNum %d\n' % highest)
    return highest
