# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jobs, owners, statuses and paths of a scanned job_queue.log (_queue_manifest)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils import _queue_log as ql
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_manifest import (
    MAX_PROBLEMS,
    SCAN_NAMES,
    Problems,
    bool_value,
    iter_jobs,
    job_paths,
    string_value,
    summarize,
)
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_scan import QueueScanner

W = '/home/lumber/work'
P1 = '/tmp/condor-lj-iwd/7/1/cluster7.proc1.subproc0'
P2 = '/tmp/condor-lj-iwd/7/2/cluster7.proc2.subproc0'
SPOOL_1_0 = ('/var/folders/3r/xl19t4ks0wsd5httjlvvm86r0000gp/T/TestWatchLogWithJobSubmission1354687113/001/spool/1/0/'
             'cluster1.proc0.subproc0')


def scan(path):
    return QueueScanner(path, SCAN_NAMES).run()


def summary_of(path, **kwargs):
    return summarize(scan(path), **kwargs)


# -- the samples -------------------------------------------------------------------------------------------

EXPORT_PATHS = {
    'iwds': [W, W + '/p0', P1, P2],
    'inputs': [W + '/input.txt', W + '/job.sh', W + '/p0/input.txt', P1 + '/input.txt', P2 + '/input.txt'],
    'outputs': [W + '/out/run.6.0.err', W + '/out/run.6.0.out', W + '/out/run.6.1.err', W + '/out/run.6.1.out',
                W + '/p0/err.txt', W + '/p0/out.txt', W + '/run-perproc.log', W + '/run.log',
                P1 + '/err.txt', P1 + '/out.txt', P2 + '/err.txt', P2 + '/out.txt'],
    'directories': [W, W + '/out', W + '/p0', P1, P2],
}


def test_summarize_export_sample(sample):
    s = summary_of(sample('export_two_clusters'))
    assert s['total_jobs'] == 5
    assert [j['id'] for j in s['jobs']] == ['6.0', '6.1', '7.0', '7.1', '7.2']
    assert s['owners'] == {'lumber': 5}
    assert s['statuses'] == {'idle': 5}
    assert [j['iwd'] for j in s['jobs']] == [W, W, W + '/p0', P1, P2]
    assert all(j['owner'] == 'lumber' and j['status'] == 'idle' for j in s['jobs'])
    # the Managed flags stay in the exporting schedd's queue: the file itself has none
    assert s['exported_jobs'] == 0
    assert [(j['exported'], j['managed']) for j in s['jobs']] == [(False, None)] * 5
    # ... but it has the shape export_jobs gives a log
    assert s['export_shape'] is True
    assert s['lumberjack_export'] is True
    assert s['spool_placeholder_iwds'] == ['7.1', '7.2']
    for k, v in EXPORT_PATHS.items():
        assert s[k] == v, k


def test_summarize_hpc_sample(sample):
    s = summary_of(sample('hpc_after_run'))
    assert s['total_jobs'] == 5
    assert s['statuses'] == {'completed': 4, 'held': 1}
    assert [(j['id'], j['status']) for j in s['jobs']] == [
        ('6.0', 'completed'), ('6.1', 'completed'), ('7.0', 'completed'), ('7.1', 'completed'), ('7.2', 'held')]
    assert s['owners'] == {'lumber': 5}
    assert s['exported_jobs'] == 0
    # a schedd's own log (with a user record 0.2) is not an export
    assert s['export_shape'] is False and s['lumberjack_export'] is False
    assert s['spool_placeholder_iwds'] == ['7.1', '7.2']
    for k, v in EXPORT_PATHS.items():
        assert s[k] == v, k


def test_summarize_spooled_sample(sample):
    s = summary_of(sample('spooled_submit'))
    assert s['total_jobs'] == 1
    assert s['jobs'] == [{'id': '1.0', 'owner': 'bbockelm', 'status': 'held', 'iwd': SPOOL_1_0, 'exported': False,
                          'managed': None}]
    assert s['owners'] == {'bbockelm': 1}           # from the cluster ad 01.-1
    assert s['statuses'] == {'held': 1}
    assert s['iwds'] == [SPOOL_1_0]
    assert s['inputs'] == [SPOOL_1_0 + '/sleep']    # Cmd "sleep", TransferExecutable true
    assert s['outputs'] == [SPOOL_1_0 + '/test.err', SPOOL_1_0 + '/test.log', SPOOL_1_0 + '/test.out']
    assert s['directories'] == [SPOOL_1_0]
    assert s['spool_placeholder_iwds'] == ['1.0']
    assert s['export_shape'] is False and s['lumberjack_export'] is False


def test_summarize_max_jobs(sample):
    s = summary_of(sample('export_two_clusters'), max_jobs=2)
    assert [j['id'] for j in s['jobs']] == ['6.0', '6.1']
    assert s['total_jobs'] == 5 and s['statuses'] == {'idle': 5}


# -- synthetic queues -------------------------------------------------------------------------------------

MIXED = [
    '101 0.0 Job Machine',
    '101 01.-1 Job Machine',
    '103 01.-1 Owner "alice"',
    '103 01.-1 Iwd "/home/alice/w"',
    '103 01.-1 Managed "External"',
    '103 01.-1 ManagedManager "Lumberjack"',
    '103 01.-1 Cmd "/home/alice/w/run.sh"',
    '103 01.-1 TransferInput "a.txt, /data/b.txt, https://h/c, sub/d.txt"',
    '103 01.-1 TransferOutput "res.txt, outdir/x"',
    '103 01.-1 TransferOutputRemaps "res.txt = /home/alice/results/res.txt; x = rel/x; y = osdf:///a/y"',
    '103 01.-1 In "in.txt"',
    '103 01.-1 Out "logs/out"',
    '103 01.-1 Err "/dev/null"',
    '103 01.-1 UserLog "/home/alice/logs/job.log"',
    '101 1.0 Job Machine',
    '103 1.0 JobStatus 2',
    '101 1.1 Job Machine',
    '103 1.1 JobStatus 3',
    '103 1.1 Managed "ScheddDone"',
    '101 02.-1 Job Machine',
    '103 02.-1 Owner "bob"',
    '103 02.-1 Iwd "/home/bob"',
    '103 02.-1 Cmd "/bin/true"',
    '103 02.-1 TransferExecutable false',
    '103 02.-1 In "/home/bob/in"',
    '103 02.-1 TransferIn FALSE',
    '101 2.0 Job Machine',
    '103 2.0 JobStatus 42',
    '101 2.1 Job Machine',
    '103 2.1 JobStatus "four"',
    '101 2.-100 JobSet (empty)',
    '103 2.-100 Owner "nobody"',
    '101 2.-2 ClusterPvt (empty)',
]


def test_summarize_mixed_queue(write_log):
    s = summary_of(write_log(MIXED))
    assert [j['id'] for j in s['jobs']] == ['1.0', '1.1', '2.0', '2.1']
    assert s['owners'] == {'alice': 2, 'bob': 2}
    assert s['statuses'] == {'running': 1, 'removed': 1, 'unknown': 2}
    assert [(j['exported'], j['managed']) for j in s['jobs']] == [(True, 'External'), (False, 'ScheddDone'),
                                                                  (False, None), (False, None)]
    assert s['exported_jobs'] == 1 and s['lumberjack_export'] is False
    a = '/home/alice/w'
    assert s['inputs'] == ['/data/b.txt', a + '/a.txt', a + '/in.txt', a + '/run.sh', a + '/sub/d.txt']
    assert s['outputs'] == ['/home/alice/logs/job.log', '/home/alice/results/res.txt', a + '/logs/out',
                            a + '/outdir/x', a + '/rel/x', a + '/res.txt']
    # TransferOutput lands in the Iwd: only out/err/userlog/remap directories are needed
    assert s['directories'] == ['/home/alice/logs', '/home/alice/results', a, a + '/logs', a + '/rel', '/home/bob']
    assert s['iwds'] == ['/home/alice/w', '/home/bob']
    assert s['spool_placeholder_iwds'] == []


def test_every_job_managed_by_lumberjack_is_an_export(write_log):
    lines = ['101 0.0 Job Machine', '101 05.-1 Job Machine', '103 05.-1 Managed "External"',
             '103 05.-1 ManagedManager "Lumberjack"', '103 05.-1 Iwd "/w"', '101 5.0 Job Machine',
             '101 5.1 Job Machine', '105 ', '103 5.1 JobStatus 1', '106 ']
    s = summary_of(write_log(lines))
    assert s['exported_jobs'] == 2
    assert s['lumberjack_export'] is True
    assert s['export_shape'] is False       # it has a transaction: a schedd's own log
    assert [j['exported'] for j in s['jobs']] == [True, True]


def test_empty_queue(write_log):
    s = summary_of(write_log(['101 0.0 Job Machine', '103 0.0 NextClusterNum 1']))
    assert s['total_jobs'] == 0 and s['jobs'] == [] and s['owners'] == {} and s['statuses'] == {}
    assert s['lumberjack_export'] is False and s['export_shape'] is False
    assert s['iwds'] == s['inputs'] == s['outputs'] == s['directories'] == []


def test_summary_agrees_with_replay(any_sample):
    _name, path = any_sample
    state = ql.replay(path)
    s = summary_of(path)
    assert [j['id'] for j in s['jobs']] == [ql.job_id(k) for k in state.job_keys()]
    for job in s['jobs']:
        assert job['iwd'] == ql.unquote(state.job_attr(job['id'], 'Iwd'))
        assert job['owner'] == ql.unquote(state.job_attr(job['id'], 'Owner'))


# -- the pieces ---------------------------------------------------------------------------------------------

def test_iter_jobs_merges_proc_over_cluster(write_log):
    state = scan(write_log(MIXED))
    jobs = list(iter_jobs(state))
    assert [(j.cluster, j.proc, j.id) for j in jobs] == [(1, 0, '1.0'), (1, 1, '1.1'), (2, 0, '2.0'), (2, 1, '2.1')]
    assert jobs[0].string('Owner') == 'alice'
    assert jobs[1].raw('JobStatus') == b'3'
    assert jobs[1].string('Managed') == 'ScheddDone'
    assert jobs[0].string('Managed') == 'External'
    assert jobs[2].raw('TransferExecutable') == b'false'
    assert jobs[3].raw('JobStatus') == b'"four"' and jobs[3].string('JobStatus') == 'four'
    assert not any(j.own_iwd for j in jobs)


def test_iter_jobs_own_iwd(sample):
    jobs = dict((j.id, j) for j in iter_jobs(scan(sample('export_two_clusters'))))
    assert [jid for jid, j in sorted(jobs.items()) if j.own_iwd] == ['7.1', '7.2']
    assert jobs['7.0'].string('Iwd') == W + '/p0'


def test_job_paths(write_log):
    jobs = list(iter_jobs(scan(write_log(MIXED))))
    iwd, inputs, outputs = job_paths(jobs[0])
    assert iwd == '/home/alice/w'
    assert inputs == [('executable', '/home/alice/w/run.sh'), ('stdin', 'in.txt'), ('input', 'a.txt'),
                      ('input', '/data/b.txt'), ('input', 'sub/d.txt')]
    assert outputs == [('stdout', 'logs/out'), ('userlog', '/home/alice/logs/job.log'), ('output', 'res.txt'),
                       ('output', 'outdir/x'), ('remap', '/home/alice/results/res.txt'), ('remap', 'rel/x')]
    iwd, inputs, outputs = job_paths(jobs[2])
    assert (iwd, inputs, outputs) == ('/home/bob', [], [])     # nothing transferred


@pytest.mark.parametrize('raw, text', [
    (None, None),
    (b'"plain"', 'plain'),
    (b'"a\\"b"', 'a"b'),
    (b'"caf\xc3\xa9"', 'caf\u00e9'),
    (b'Undefined', None),
    (b'"a" + "b"', None),
    (b'42', None),
])
def test_string_value(raw, text):
    assert string_value(raw) == text


@pytest.mark.parametrize('raw, default, expected', [
    (None, True, True),
    (None, False, False),
    (b'true', False, True),
    (b'TRUE', False, True),
    (b' True ', False, True),
    (b'1', False, True),
    (b'false', True, False),
    (b'False', True, False),
    (b'0', True, False),
    (b'(x == 1)', True, True),
    (b'(x == 1)', False, False),
    (b'"true"', False, False),
])
def test_bool_value(raw, default, expected):
    assert bool_value(raw, default) is expected


def test_problems_cap_and_message():
    p = Problems()
    assert p.message() == '' and p.count == 0
    p.add('1.0', 'first')
    p.add('1.1', 'second')
    assert p.items == ['job 1.0: first', 'job 1.1: second']
    assert p.message() == 'job 1.0: first; job 1.1: second'
    for i in range(MAX_PROBLEMS + 3):
        p.add('2.%d' % i, 'x')
    assert p.count == MAX_PROBLEMS + 5
    assert len(p.items) == MAX_PROBLEMS
    assert p.message().endswith('; job 2.%d: x (and 5 more)' % (MAX_PROBLEMS - 3))


def test_summary_gives_the_uid_domain_of_the_jobs(sample):
    from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_manifest import SCAN_NAMES, summarize
    from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_scan import QueueScanner
    state = QueueScanner(sample('export_two_clusters'), SCAN_NAMES).run()
    assert summarize(state)['uid_domains'] == {'personal.local': 5}
