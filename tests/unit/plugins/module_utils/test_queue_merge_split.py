# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Merging per-owner exports into one queue and splitting a queue per owner: checked against the engine's
own replay of the real samples in tests/data."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import re

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils import _queue_log as ql
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_log import QueueLogError
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_merge import (
    MergeError,
    plan_merge,
    write_merge,
)
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_split import plan_split, write_split


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def as_other_owner(data, owner, clusters):
    """The real export with its clusters renumbered (old -> new) and another owner: what a second export of
    the same schedd looks like."""
    def key(m):
        c = int(m.group(2))
        return m.group(1) + str(clusters.get(c, c)).encode() + m.group(3)
    data = re.sub(rb'(?m)^(10[1-4] 0?)([0-9]+)(\.)', key, data)
    data = re.sub(rb'(?m)^(103 \S+ ClusterId )([0-9]+)()$', key, data)
    data = data.replace(b'"lumber"', b'"%s"' % owner.encode()).replace(b'"lumber@', b'"%s@' % owner.encode())
    return data


def merged(paths):
    out = io.BytesIO()
    infos = plan_merge(paths)
    next_cluster = write_merge(infos, out)
    return infos, next_cluster, out.getvalue()


def ads_without_header(state):
    return dict((k, dict(v)) for k, v in state.ads.items() if k != '0.0')


def split(path, owners=None):
    plan = plan_split(path)
    outs = dict((o, io.BytesIO()) for o in (owners or plan.owners))
    write_split(plan, outs)
    return plan, dict((o, f.getvalue()) for o, f in outs.items())


@pytest.fixture
def two_exports(sample, write_log):
    alice = read(sample('export_two_clusters'))
    bob = as_other_owner(alice, 'bob', {6: 8, 7: 9}).replace(b'NextClusterNum 8', b'NextClusterNum 10')
    return write_log(alice, name='alice.log'), write_log(bob, name='bob.log')


# -- merge -----------------------------------------------------------------------------------------------

def test_merging_one_export_reproduces_it(sample):
    path = sample('export_two_clusters')
    infos, next_cluster, data = merged([path])
    assert data == read(path)
    assert next_cluster == 8
    assert infos[0].jobs == ['6.0', '6.1', '7.0', '7.1', '7.2'] and infos[0].clusters == [6, 7]
    assert infos[0].owners == {'lumber'}


def test_merged_log_replays_to_the_union_of_the_exports(two_exports, write_log):
    a, b = two_exports
    infos, next_cluster, data = merged([a, b])
    state = ql.replay(write_log(data))
    expected = ads_without_header(ql.replay(a))
    expected.update(ads_without_header(ql.replay(b)))
    assert ads_without_header(state) == expected
    assert state.job_keys() == ['6.0', '6.1', '7.0', '7.1', '7.2', '8.0', '8.1', '9.0', '9.1', '9.2']
    assert state.get('0.0', 'NextClusterNum') == '10' and next_cluster == 10
    # one 107 record, first; the second export's header only repeats the header ad
    assert data.count(b'\n107 ') == 0 and data.startswith(b'107 ')
    assert [i.owners for i in infos] == [{'lumber'}, {'bob'}]


def test_next_cluster_is_raised_when_the_last_export_is_not_the_highest(two_exports, write_log):
    a, b = two_exports
    _infos, next_cluster, data = merged([b, a])
    assert next_cluster == 10
    assert data.endswith(b'\n103 0.0 NextClusterNum 10\n')
    assert ql.replay(write_log(data)).get('0.0', 'NextClusterNum') == '10'


def test_a_cluster_in_two_exports_is_refused(sample, write_log):
    path = sample('export_two_clusters')
    copy = write_log(read(path), name='again.log')
    with pytest.raises(MergeError, match=r'cluster 6 is in both .*export_two_clusters.* and .*again.log'):
        plan_merge([path, copy])


def test_a_live_queue_is_not_an_export(sample):
    with pytest.raises(QueueLogError, match='transactions: it is a schedd.s own queue, not an export'):
        plan_merge([sample('spooled_submit')])


def test_user_records_are_not_an_export(sample):
    with pytest.raises(QueueLogError, match=r'ad 0.2 is a user record'):
        plan_merge([sample('hpc_after_run')])


def test_a_cut_off_export_is_refused(sample, write_log):
    data = read(sample('export_two_clusters'))
    path = write_log(data[:-20])
    with pytest.raises(QueueLogError, match='cut off'):
        plan_merge([path])


def test_nothing_to_merge():
    with pytest.raises(MergeError, match='no export to merge'):
        plan_merge([])


# -- split -----------------------------------------------------------------------------------------------

def test_a_single_owner_log_is_split_into_itself(sample):
    path = sample('hpc_after_run')
    plan, outs = split(path)
    assert plan.owners == ['lumber']
    assert plan.jobs['lumber'] == ['6.0', '6.1', '7.0', '7.1', '7.2'] and plan.clusters['lumber'] == [6, 7]
    assert outs['lumber'] == read(path)     # its user record 0.2 describes lumber: nothing is dropped
    assert plan.dropped == []


def test_split_of_a_merged_queue_gives_each_owner_exactly_its_ads(two_exports, write_log):
    a, b = two_exports
    whole = write_log(merged([a, b])[2], name='merged.log')
    state = ql.replay(whole)
    plan, outs = split(whole)
    assert plan.owners == ['bob', 'lumber']
    for owner, source in (('lumber', a), ('bob', b)):
        part = ql.replay(write_log(outs[owner], name=owner + '.part'))
        assert ads_without_header(part) == ads_without_header(ql.replay(source))
        assert part.ads['0.0'] == state.ads['0.0']      # the header every log gets
        assert part.job_keys() == plan.jobs[owner]


def test_split_routes_records_of_interleaved_transactions(write_log):
    lines = ['107 1 CreationTimestamp 1795300000', '101 0.0 Job Machine', '103 0.0 NextClusterNum 3',
             '105 ', '101 01.-1 Job Machine', '103 01.-1 Owner "alice"', '101 1.0 Job Machine',
             '101 02.-1 Job Machine', '103 02.-1 Owner "bob"', '101 2.0 Job Machine', '106 ',
             '101 0.1 Owner (empty)', '103 0.1 Owner "bob"', '101 0.2 Owner (empty)', '103 0.2 Owner "carol"',
             '105 ', '103 1.0 JobStatus 4', '103 2.0 JobStatus 5', '103 1.0 ExitCode 0', '106 ',
             '101 2.1 Job Machine', '103 2.1 JobStatus 4', '102 2.1']
    path = write_log(lines)
    plan, outs = split(path)
    assert plan.jobs == {'alice': ['1.0'], 'bob': ['2.0']}
    assert plan.dropped == ['0.2']
    alice = ql.replay(write_log(outs['alice']))
    bob = ql.replay(write_log(outs['bob']))
    assert list(alice.ads) == ['0.0', '01.-1', '1.0']
    assert alice.get('1.0', 'JobStatus') == '4' and alice.get('1.0', 'ExitCode') == '0'
    assert list(bob.ads) == ['0.0', '02.-1', '2.0', '0.1']
    assert bob.get('2.0', 'JobStatus') == '5'
    # both keep the transaction markers, so each log still replays as the schedd would
    assert outs['alice'].count(b'105 \n') == 2 and outs['bob'].count(b'106 \n') == 2


def test_split_of_chosen_owners_only(two_exports, write_log):
    whole = write_log(merged(list(two_exports))[2])
    _plan, outs = split(whole, owners=['bob'])
    assert list(outs) == ['bob']
    assert b'"lumber"' not in outs['bob'] and b'"bob"' in outs['bob']


def test_split_refuses_a_log_still_being_written(sample, write_log):
    data = read(sample('hpc_after_run')) + b'105 \n103 6.0 JobStatus 2\n'
    with pytest.raises(QueueLogError, match='condor_off -schedd'):
        plan_split(write_log(data))


def test_split_refuses_a_job_without_owner(write_log):
    path = write_log(['101 0.0 Job Machine', '101 01.-1 Job Machine', '101 1.0 Job Machine'])
    with pytest.raises(QueueLogError, match='job 1.0 has no Owner'):
        plan_split(path)


@pytest.mark.parametrize('chunk', [64, 200, 1 << 20])
def test_split_does_not_depend_on_where_buffers_end(two_exports, write_log, monkeypatch, chunk):
    from ansible_collections.hepcloud.lumberjack.plugins.module_utils import _queue_split
    whole = write_log(merged(list(two_exports))[2])
    expected = split(whole)[1]
    monkeypatch.setattr(_queue_split, '_CHUNK', chunk)
    assert split(whole)[1] == expected


def test_split_leaves_excluded_jobs_out_of_every_log(two_exports, write_log):
    whole = write_log(merged(list(two_exports))[2], name='merged.log')
    state = ql.replay(whole)
    every = state.job_keys()
    left_out = every[:1] + every[-1:]
    plan = plan_split(whole, exclude_jobs=left_out + ['999.0'])
    outs = dict((o, io.BytesIO()) for o in plan.owners)
    write_split(plan, outs)
    kept = []
    for owner, out in outs.items():
        part = ql.replay(write_log(out.getvalue(), name=owner + '.kept'))
        assert part.job_keys() == plan.jobs[owner]
        for key in part.job_keys():
            assert part.ads[key] == state.ads[key]
        kept.extend(part.job_keys())
    assert sorted(kept) == sorted(set(every) - set(left_out))
    assert not any(j in kept for j in left_out)
