# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A rewrite in parallel segments (forked workers) gives exactly what one scan gives: output, changes,
examples, warnings, appended records, manifest, problems and errors, wherever the log is cut; and it really
runs in parallel for a log shaped like an export."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.hepcloud.lumberjack.plugins.module_utils import _queue_parallel
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_log import QueueLogError
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_rewrite import QueueRewriter, RewriteSpec
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._sandbox import PathMap
from ansible_collections.hepcloud.lumberjack.tests.unit.plugins.module_utils.queue_log_strategies import queue_logs

PROPERTY = settings(max_examples=40, deadline=None)
MAPPING = [{'from': '/home/u', 'to': '/sb/u'}, {'from': '/home/lumber', 'to': '/sb/lumber'},
           {'from': '/tmp', 'to': '/sb/tmp'}]
SPECS = (
    {},
    {'set_attributes': {'Prio': '3', 'Cmd': '"/home/u/x"'}, 'delete_attributes': ['Out']},
    {'set_attributes': {'Prio': '3'}, 'cluster_ids': [2]},
    {'original_iwds': {'7.1': '/home/lumber/work', '1.0': '/home/u/w'}},
)


def outcome(path, kwargs, **run):
    """(whether the segments were used, everything the rewrite tells) or ('error', message)."""
    rewriter = QueueRewriter(path, RewriteSpec(PathMap(MAPPING), **kwargs), chunk_size=run.pop('chunk_size', None))
    out = io.BytesIO()
    try:
        state, appended, manifest, problems = rewriter.run(out, **run)
    except QueueLogError as e:
        return None, ('error', str(e))
    told = (state.changes, state.examples, state.warnings, state.truncated, state.transactions, state.bytes_in,
            state.bytes_out, appended, manifest, problems.items, problems.count, out.getvalue())
    return state.ads is None, told


def line_starts(path):
    with open(path, 'rb') as f:
        data = f.read()
    return [i + 1 for i in range(len(data) - 1) if data[i:i + 1] == b'\n']


def assert_same(path, kwargs, cuts, chunk_size=None):
    _one, expected = outcome(path, kwargs, workers=1, chunk_size=chunk_size)
    parallel, told = outcome(path, kwargs, cuts=cuts, chunk_size=chunk_size)
    assert told == expected
    return parallel, told


def test_samples_rewrite_the_same_wherever_they_are_cut(any_sample):
    _name, path = any_sample
    starts = line_starts(path)
    # a spread of single cuts, and two and three segments
    step = max(1, len(starts) // 12)
    cut_sets = [[c] for c in starts[::step]]
    cut_sets.append(starts[len(starts) // 3::len(starts) // 3 or 1][:2])
    cut_sets.append(starts[1::max(1, len(starts) // 4)][:3])
    for kwargs in SPECS:
        for cuts in cut_sets:
            assert_same(path, kwargs, sorted(set(cuts)))


@PROPERTY
@given(queue_logs(max_ops=25), st.lists(st.integers(0, 10 ** 6), min_size=1, max_size=3),
       st.sampled_from(SPECS), st.one_of(st.none(), st.integers(1, 300)), st.booleans())
def test_random_logs_rewrite_the_same_wherever_they_are_cut(scratch_log, log, where, kwargs, chunk_size, at_ads):
    path = scratch_log.write(log.data)
    starts = line_starts(path)
    if at_ads:
        # where an ad begins: the cuts that can add up (anywhere else, the later segment refers back)
        starts = [s for s in starts if log.data[s:s + 4] == b'101 ']
    if not starts:
        return
    cuts = sorted(set(starts[w % len(starts)] for w in where))
    assert_same(path, kwargs, cuts, chunk_size)


def export_like(clusters, procs):
    """An export-shaped log: a header, then per cluster its cluster ad and its procs' ads."""
    lines = ['107 1 CreationTimestamp 1700000000', '101 0.0 Job Machine', '103 0.0 NextClusterNum %d' % (clusters + 1)]
    for c in range(1, clusters + 1):
        lines += ['101 0%d.-1 Job Machine' % c, '103 0%d.-1 Cmd "/home/u/bin/run"' % c,
                  '103 0%d.-1 TransferInput "calib.db,/home/u/common/c.txt"' % c,
                  '103 0%d.-1 UserLog "/home/u/c%d.log"' % (c, c)]
        for p in range(procs):
            key = '%d.%d' % (c, p)
            lines += ['101 %s Job Machine' % key, '103 %s Iwd "/home/u/c%d/p%d"' % (key, c, p),
                      '103 %s Out "/home/u/c%d/p%d/out"' % (key, c, p), '103 %s JobStatus 1' % key]
    return lines


def test_an_export_is_done_in_parallel_and_the_same(write_log):
    path = write_log(export_like(6, 5))
    with open(path, 'rb') as f:
        data = f.read()
    cluster_cut = data.index(b'\n101 04.-1 ') + 1
    # the procs of a cluster span the cut: the later segment borrows the cluster ad
    inside_cluster = data.index(b'\n101 3.2 ') + 1
    inside_first = data.index(b'\n101 1.3 ') + 1
    for cuts in ([cluster_cut], [inside_cluster], [inside_first, inside_cluster, cluster_cut]):
        for kwargs in SPECS:
            parallel, told = assert_same(path, kwargs, cuts)
            assert parallel, (cuts, kwargs)
            assert told[8]['jobs'] == 30


def test_records_on_ads_of_an_earlier_segment_make_it_one_scan(write_log):
    lines = export_like(2, 2) + ['102 1.1', '104 01.-1 Cmd', '103 2.0 Out "/home/u/o2"']
    path = write_log(lines)
    with open(path, 'rb') as f:
        data = f.read()
    for record in (b'\n102 1.1', b'\n104 01.-1 Cmd', b'\n103 2.0 Out'):
        cut = data.index(record) + 1
        parallel, told = assert_same(path, {}, [cut])
        assert parallel is False, record
        assert told[8]['jobs'] in (3, 4)


def test_an_error_in_a_segment_is_the_one_scan_error(write_log):
    path = write_log(export_like(3, 2) + ['103 9.9 Iwd "/nowhere"', 'garbage'])
    starts = line_starts(path)
    cut = starts[-6]
    parallel, told = assert_same(path, {}, [cut])
    # the one scan's error: the corrupt last line (line 1 has no start in the list) before the unknown ad
    assert parallel is None and told[0] == 'error'
    assert 'line %d: corrupt record' % (len(starts) + 1) in told[1]


def test_workers_pick_cuts_at_cluster_ads(write_log, monkeypatch):
    path = write_log(export_like(8, 20))
    size = os.path.getsize(path)
    cuts = _queue_parallel.cut_points(path, size, 3)
    with open(path, 'rb') as f:
        data = f.read()
    assert len(cuts) == 2 and cuts[0] < cuts[1]
    assert all(data[c:c + 5] == b'101 0' and data[c:].split(b' ', 2)[1].endswith(b'.-1') for c in cuts)
    monkeypatch.setattr(_queue_parallel, 'MIN_SEGMENT', 1)
    rewriter = QueueRewriter(path, RewriteSpec(PathMap(MAPPING)))
    with open(str(path) + '.new', 'wb') as out:
        state, _appended, manifest, _problems = rewriter.run(out)
    assert state.ads is None and manifest['jobs'] == 160
    _one, expected = outcome(path, {}, workers=1)
    with open(str(path) + '.new', 'rb') as f:
        assert f.read() == expected[-1]
    # the workers' temporary outputs sat beside the output and are gone
    assert sorted(os.listdir(os.path.dirname(path))) == sorted([os.path.basename(path), os.path.basename(path) + '.new'])


def test_a_live_schedd_log_is_one_scan(write_log, monkeypatch):
    monkeypatch.setattr(_queue_parallel, 'MIN_SEGMENT', 1)
    path = write_log(export_like(8, 20) + ['105 ', '103 1.0 JobStatus 2', '106 '])
    rewriter = QueueRewriter(path, RewriteSpec(PathMap(MAPPING)))
    state, _appended, manifest, _problems = rewriter.run(io.BytesIO())
    assert state.ads is not None and state.transactions == 1 and manifest['jobs'] == 160


def test_a_worker_that_fails_makes_it_one_scan(write_log, monkeypatch):
    path = write_log(export_like(4, 3))
    cut = line_starts(path)[30]
    _one, expected = outcome(path, {}, workers=1)
    real = QueueRewriter._segment

    def failing(self, index, start, stop, out):
        if index > 0:
            raise RuntimeError('a worker that breaks')
        return real(self, index, start, stop, out)
    monkeypatch.setattr(QueueRewriter, '_segment', failing)
    parallel, told = outcome(path, {}, cuts=[cut])
    assert parallel is False and told == expected


@pytest.mark.parametrize('requested, size, expected', [(1, 10 ** 12, 1), (3, 10, 3), (None, 10, 1)])
def test_worker_count(requested, size, expected):
    assert _queue_parallel.worker_count(size, requested) == expected


def test_a_cut_falls_back_to_the_cluster_ad_before_the_middle(write_log):
    # one small cluster, then one big one: no cluster ad after the middle, so the cut is at the big one's ad
    lines = [line for line in export_like(2, 30) if not line.split(' ')[1].startswith('1.') or
             line.split(' ')[1] == '1.0']
    path = write_log(lines)
    with open(path, 'rb') as f:
        data = f.read()
    assert data.count(b'\n101 02.-1 ') == 1 and data.index(b'\n101 02.-1 ') < len(data) // 2
    assert _queue_parallel.cut_points(path, len(data), 2) == [data.index(b'\n101 02.-1 ') + 1]
    # a log without any cluster ad after the header is not cut
    header_only = write_log(['101 0.0 Job Machine'] + ['103 0.0 A%d %d' % (i, i) for i in range(50)])
    assert _queue_parallel.cut_points(header_only, os.path.getsize(header_only), 3) == []
