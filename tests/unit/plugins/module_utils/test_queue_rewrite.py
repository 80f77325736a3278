# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Rewriting a job_queue.log for a sandbox and its manifest (_queue_rewrite)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import posixpath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.hepcloud.lumberjack.plugins.module_utils import _queue_log as ql
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_log import QueueLogError
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_rewrite import QueueRewriter, RewriteSpec
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._sandbox import PathMap, PathMapError
from ansible_collections.hepcloud.lumberjack.tests.unit.plugins.module_utils.queue_log_strategies import queue_logs

SB = '/scratch/sb'
HOME = '/home/lumber'
SITE_HOME = SB + HOME
ORIGINAL_IWDS = {'7.1': HOME + '/work/p1', '7.2': HOME + '/work/p2'}
EXPORT_JOBS = ('6.0', '6.1', '7.0', '7.1', '7.2')
PATH_NAMES = ('Iwd', 'Cmd', 'In', 'Out', 'Err', 'UserLog', 'TransferInput', 'TransferOutputRemaps')


def export_map(**kwargs):
    return PathMap([{'from': HOME, 'to': SITE_HOME}], sandbox=SB, **kwargs)


def rewrite(path, spec, chunk_size=None):
    """(state, appended, manifest, problems, output bytes)."""
    out = io.BytesIO()
    state, appended, manifest, problems = QueueRewriter(path, spec, chunk_size=chunk_size).run(out)
    return state, appended, manifest, problems, out.getvalue()


def job_values(path, names=PATH_NAMES + ('SUBMIT_Iwd',)):
    """{job id: {name: value text of a plain string, or the raw value}} of a log, as the schedd sees each job."""
    state = ql.replay(path)
    result = {}
    for key in state.job_keys():
        ad = {}
        for n in names:
            v = state.job_attr(key, n)
            if v is not None:
                text = ql.unquote(v)
                ad[n] = v if text is None else text
        result[key] = ad
    return result


def read(path):
    with open(path, 'rb') as f:
        return f.read()


@pytest.fixture
def export_rewrite(sample, tmp_path):
    path = sample('export_two_clusters')
    result = rewrite(path, RewriteSpec(export_map(), original_iwds=ORIGINAL_IWDS))
    out = tmp_path / 'rewritten.log'
    out.write_bytes(result[4])
    return path, str(out), result


# -- the export sample ------------------------------------------------------------------------------------

def test_export_paths_are_mapped(export_rewrite):
    _src, out, (state, _appended, _manifest, problems, _data) = export_rewrite
    jobs = job_values(out)
    assert problems.count == 0 and problems.items == []
    assert sorted(jobs) == sorted(EXPORT_JOBS)
    expected_iwd = {'6.0': '/work', '6.1': '/work', '7.0': '/work/p0', '7.1': '/work/p1', '7.2': '/work/p2'}
    for jid, ad in jobs.items():
        assert ad['Iwd'] == SITE_HOME + expected_iwd[jid]
        assert ad['Cmd'] == SITE_HOME + '/work/job.sh'
        assert ad['In'] == '/dev/null'
        assert ad['TransferInput'] == 'input.txt'
    assert jobs['6.0']['UserLog'] == SITE_HOME + '/work/run.log'
    assert jobs['7.1']['UserLog'] == SITE_HOME + '/work/run-perproc.log'
    # relative paths stay relative to the (mapped) Iwd
    outputs = (jobs['6.0']['Out'], jobs['6.1']['Err'], jobs['7.2']['Out'])
    assert outputs == ('out/run.6.0.out', 'out/run.6.1.err', 'out.txt')
    assert state.changes == {'Iwd': 4, 'Cmd': 2, 'UserLog': 2}
    assert not state.truncated and state.warnings == []


def test_export_only_path_lines_change_and_submit_iwd_is_appended(export_rewrite):
    src, _out, (_state, appended, _manifest, _problems, data) = export_rewrite
    before = read(src).split(b'\n')[:-1]
    after = data.split(b'\n')[:-1]
    assert len(after) == len(before) + len(appended)
    assert after[len(before):] == appended
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert len(changed) == 8
    for a, b in changed:
        fa, fb = a.split(b' ', 3), b.split(b' ', 3)
        assert fa[:3] == fb[:3] and fa[2] in (b'Iwd', b'Cmd', b'UserLog')
        assert fb[3].startswith(b'"' + SITE_HOME.encode())
    assert appended == [b'103 06.-1 SUBMIT_Iwd "/home/lumber/work"',
                        b'103 07.-1 SUBMIT_Iwd "/home/lumber/work/p0"',
                        b'103 7.1 SUBMIT_Iwd "/home/lumber/work/p1"',
                        b'103 7.2 SUBMIT_Iwd "/home/lumber/work/p2"']


def test_export_submit_iwd_is_where_each_job_came_from(export_rewrite):
    _src, out, _result = export_rewrite
    jobs = job_values(out)
    assert dict((j, ad['SUBMIT_Iwd']) for j, ad in jobs.items()) == {
        '6.0': HOME + '/work', '6.1': HOME + '/work', '7.0': HOME + '/work/p0', '7.1': HOME + '/work/p1',
        '7.2': HOME + '/work/p2'}


def test_export_manifest(export_rewrite):
    manifest = export_rewrite[2][2]
    w = SITE_HOME + '/work'
    assert manifest == {
        'jobs': 5,
        'files': [{'src': HOME + '/work/input.txt', 'dest': w + '/input.txt'},
                  {'src': HOME + '/work/job.sh', 'dest': w + '/job.sh'},
                  {'src': HOME + '/work/p0/input.txt', 'dest': w + '/p0/input.txt'},
                  {'src': HOME + '/work/p1/input.txt', 'dest': w + '/p1/input.txt'},
                  {'src': HOME + '/work/p2/input.txt', 'dest': w + '/p2/input.txt'}],
        # Iwds, the directory of Out/Err (out/ under cluster 6's Iwd) and of the UserLogs (work/)
        'directories': [w, w + '/out', w + '/p0', w + '/p1', w + '/p2'],
        'iwds': [{'home': HOME + '/work', 'site': w}, {'home': HOME + '/work/p0', 'site': w + '/p0'},
                 {'home': HOME + '/work/p1', 'site': w + '/p1'}, {'home': HOME + '/work/p2', 'site': w + '/p2'}],
        'unused_mappings': [],
    }


def test_rewrite_is_idempotent(export_rewrite, tmp_path):
    _src, out, (_state, _appended, manifest, _problems, data) = export_rewrite
    state2, appended2, manifest2, problems2, data2 = rewrite(out, RewriteSpec(export_map(),
                                                                              original_iwds=ORIGINAL_IWDS))
    assert data2 == data == read(out)
    assert appended2 == []
    assert state2.changes == {} and state2.examples == []
    assert manifest2 == manifest
    assert problems2.count == 0
    # without original_iwds too: the placeholders are gone
    _s, appended3, manifest3, problems3, data3 = rewrite(out, RewriteSpec(export_map()))
    assert (data3, appended3, manifest3, problems3.count) == (data, [], manifest, 0)


@pytest.mark.parametrize('chunk_size', [1, 64, 1000])
def test_chunk_size_does_not_change_the_rewrite(export_rewrite, chunk_size):
    src, _out, (_state, appended, manifest, _problems, data) = export_rewrite
    got = rewrite(src, RewriteSpec(export_map(), original_iwds=ORIGINAL_IWDS), chunk_size=chunk_size)
    assert (got[1], got[2], got[4]) == (appended, manifest, data)


def test_placeholder_iwd_without_original_is_a_problem(sample):
    path = sample('export_two_clusters')
    state, appended, manifest, problems, data = rewrite(path, RewriteSpec(export_map()))
    assert problems.count == 2
    assert [p.split(':')[0] for p in problems.items] == ['job 7.1', 'job 7.2']
    for item, jid in zip(problems.items, ('7.1', '7.2')):
        assert '/tmp/condor-lj-iwd/7/%s/cluster7.proc%s.subproc0' % (jid[2], jid[2]) in item
        assert 'placeholder' in item and 'original_iwds' in item
    # the placeholders are left as they are
    assert b'103 7.1 Iwd "/tmp/condor-lj-iwd/7/1/cluster7.proc1.subproc0"\n' in data
    assert [a.split(b' ')[1] for a in appended] == [b'06.-1', b'07.-1']
    assert manifest['jobs'] == 5
    assert sorted(i['home'] for i in manifest['iwds']) == [HOME + '/work', HOME + '/work/p0']
    assert state.changes == {'Iwd': 2, 'Cmd': 2, 'UserLog': 2}


def test_original_iwd_outside_every_mapping_is_a_problem(sample):
    path = sample('export_two_clusters')
    _s, appended, _m, problems, data = rewrite(path, RewriteSpec(export_map(), original_iwds={
        '7.1': '/elsewhere/p1', '7.2': HOME + '/work/p2'}))
    assert problems.count == 1
    assert problems.items[0].startswith('job 7.1: Iwd /elsewhere/p1 is not under any path_map "from"')
    assert b'103 7.1 Iwd "/tmp/condor-lj-iwd/7/1/cluster7.proc1.subproc0"\n' in data
    assert b'103 7.2 Iwd "%s/work/p2"\n' % SITE_HOME.encode() in data
    assert not any(a.startswith(b'103 7.1 ') for a in appended)


def test_unused_mapping_is_reported(sample):
    pm = PathMap([{'from': HOME, 'to': SITE_HOME}, {'from': '/data/never', 'to': SB + '/never'}], sandbox=SB)
    manifest = rewrite(sample('export_two_clusters'), RewriteSpec(pm, original_iwds=ORIGINAL_IWDS))[2]
    assert manifest['unused_mappings'] == ['/data/never']


# -- the spooled-submit sample: a live schedd's log ------------------------------------------------------

def test_spooled_sample_placeholder_gets_its_original_iwd(sample):
    path = sample('spooled_submit')
    original = '/Users/bbockelm/projects/golang-htcondor/classadlog'
    pm = PathMap([{'from': '/Users/bbockelm', 'to': '/sb/bb'}], sandbox='/sb')
    state, appended, manifest, problems, data = rewrite(path, RewriteSpec(pm, original_iwds={'1.0': original}))
    assert problems.count == 0
    site = '/sb/bb/projects/golang-htcondor/classadlog'
    # both Iwd records of the transaction now say the site directory; SUBMIT_Iwd was there already
    assert data.count(b'103 1.0 Iwd "%s"\n' % site.encode()) == 2
    assert appended == []
    assert b'103 1.0 SUBMIT_Iwd "%s"\n' % original.encode() in data
    assert manifest['iwds'] == [{'home': original, 'site': site}]
    assert manifest['directories'] == [site]
    assert state.changes == {'Iwd': 2}
    # the rest of the log, transactions and all, is untouched
    before = read(path).split(b'\n')
    after = data.split(b'\n')
    assert len(before) == len(after)
    assert [i for i, (a, b) in enumerate(zip(before, after)) if a != b] == [
        i for i, a in enumerate(before) if a.startswith(b'103 1.0 Iwd ')]


def test_spooled_sample_without_original_iwd(sample):
    path = sample('spooled_submit')
    pm = PathMap([{'from': '/Users/bbockelm', 'to': '/sb/bb'}], sandbox='/sb')
    _s, appended, _m, problems, data = rewrite(path, RewriteSpec(pm))
    assert problems.count == 1 and 'job 1.0: Iwd /var/folders/' in problems.items[0]
    assert 'placeholder' in problems.items[0]
    # the Iwd that is under the mapping is mapped; moving it records the original once
    assert appended == []           # SUBMIT_Iwd exists in the ad
    assert data.count(b'/sb/bb/projects/golang-htcondor/classadlog') == 1


# -- lists and remaps ------------------------------------------------------------------------------------

LISTS_LOG = [
    '101 0.0 Job Machine',
    '101 01.-1 Job Machine',
    '103 01.-1 Iwd "/home/u/w"',
    '103 01.-1 Cmd "/home/u/w/job.sh"',
    '103 01.-1 TransferInput "/home/u/w/a.txt, rel.txt,/cvmfs/b.txt, http://x/home/u/y ,/home/u/data/c d.txt,'
    'sub/"',
    '103 01.-1 TransferOutputRemaps "out1 = /home/u/w/res/o1; out2=rel/o2;o3 = /home/u/w/x\\;y.txt ; '
    'o4 = osdf:///home/u/z"',
    '103 01.-1 Out "job.out"',
    '103 01.-1 Err "/home/u/logs/job.err"',
    '103 01.-1 In "/home/u/w/stdin.txt"',
    '101 1.0 Job Machine',
    '101 1.1 Job Machine',
    '103 1.1 TransferInput "rel.txt"',
    '103 1.1 Out "/home/u/w/o/1.out"',
    '103 1.1 Args "x"',
]


def lists_map():
    return PathMap([{'from': '/home/u', 'to': '/sb/u'}], sandbox='/sb', site_paths=['/cvmfs', '/dev/null'])


def test_transfer_lists_and_remaps_are_mapped_entry_by_entry(write_log):
    path = write_log(LISTS_LOG)
    state, appended, manifest, problems, data = rewrite(path, RewriteSpec(lists_map()))
    assert problems.count == 0, problems.items
    jobs = job_values(write_log(data))
    assert jobs['1.0']['TransferInput'] == ('/sb/u/w/a.txt, rel.txt,/cvmfs/b.txt, http://x/home/u/y ,'
                                            '/sb/u/data/c d.txt,sub/')
    assert jobs['1.0']['TransferOutputRemaps'] == ('out1 = /sb/u/w/res/o1; out2=rel/o2;o3 = /sb/u/w/x\\;y.txt ; '
                                                   'o4 = osdf:///home/u/z')
    assert jobs['1.1']['TransferInput'] == 'rel.txt'
    assert jobs['1.0']['Err'] == '/sb/u/logs/job.err'
    assert jobs['1.0']['In'] == '/sb/u/w/stdin.txt'
    assert jobs['1.0']['Out'] == 'job.out'
    assert jobs['1.1']['Out'] == '/sb/u/w/o/1.out'
    assert state.changes == {'Iwd': 1, 'Cmd': 1, 'In': 1, 'Out': 1, 'Err': 1, 'TransferInput': 1,
                             'TransferOutputRemaps': 1}
    assert appended == [b'103 01.-1 SUBMIT_Iwd "/home/u/w"']
    files = dict((f['dest'], f['src']) for f in manifest['files'])
    assert files == {
        '/sb/u/w/job.sh': '/home/u/w/job.sh',
        '/sb/u/w/stdin.txt': '/home/u/w/stdin.txt',
        '/sb/u/w/a.txt': '/home/u/w/a.txt',
        '/sb/u/w/rel.txt': '/home/u/w/rel.txt',
        '/sb/u/data/c d.txt': '/home/u/data/c d.txt',
        '/sb/u/w/sub': '/home/u/w/sub',
    }
    assert manifest['directories'] == ['/sb/u/logs', '/sb/u/w', '/sb/u/w/o', '/sb/u/w/rel', '/sb/u/w/res']
    assert manifest['jobs'] == 2


def test_transfer_lists_rewrite_is_idempotent(write_log):
    path = write_log(LISTS_LOG)
    _s, _a, manifest, _p, data = rewrite(path, RewriteSpec(lists_map()))
    state2, appended2, manifest2, problems2, data2 = rewrite(write_log(data), RewriteSpec(lists_map()))
    assert (data2, appended2, manifest2, problems2.count, state2.changes) == (data, [], manifest, 0, {})


# -- problems ---------------------------------------------------------------------------------------------

def test_unmapped_absolute_userlog_is_a_problem(sample, write_log):
    text = read(sample('export_two_clusters')).replace(b'"/home/lumber/work/run.log"', b'"/var/log/run.log"')
    path = write_log(text)
    _s, _a, manifest, problems, data = rewrite(path, RewriteSpec(export_map(), original_iwds=ORIGINAL_IWDS))
    assert problems.count == 2
    assert problems.items == ['job %s: userlog /var/log/run.log would be written outside the sandbox: add a '
                              'path_map for its directory' % j for j in ('6.0', '6.1')]
    assert b'103 06.-1 UserLog "/var/log/run.log"\n' in data
    assert '/var/log' not in manifest['directories']


PROBLEM_CASES = [
    ('relative input escaping', ['103 01.-1 TransferInput "../../../etc/passwd"'],
     'job 1.0: input ../../../etc/passwd would escape the sandbox (/etc/passwd)'),
    ('relative input escaping the sandbox only', ['103 01.-1 TransferInput "../../../sb2/x"'],
     'job 1.0: input ../../../sb2/x would escape the sandbox (/sb2/x)'),
    ('unmapped absolute input', ['103 01.-1 TransferInput "/opt/data/x"'],
     'job 1.0: input /opt/data/x is not under any path_map "from" nor in site_paths'),
    ('unmapped transferred executable', ['103 01.-1 Cmd "/opt/bin/run"'],
     'job 1.0: executable /opt/bin/run is transferred but not under any path_map "from"'),
    ('unmapped stdin', ['103 01.-1 In "/opt/in.txt"'],
     'job 1.0: stdin /opt/in.txt is not under any path_map "from"'),
    ('unmapped stdout', ['103 01.-1 Out "/opt/out.txt"'],
     'job 1.0: stdout /opt/out.txt would be written outside the sandbox'),
    ('relative stderr escaping', ['103 01.-1 Err "../../../../err.txt"'],
     'job 1.0: stderr ../../../../err.txt would escape the sandbox (/err.txt)'),
    ('remap outside', ['103 01.-1 TransferOutputRemaps "a = /opt/a"'],
     'job 1.0: remap /opt/a would be written outside the sandbox'),
    ('relative remap escaping', ['103 01.-1 TransferOutputRemaps "a = ../../../../a"'],
     'job 1.0: remap ../../../../a would escape the sandbox (/a)'),
    ('unmapped iwd', ['103 1.0 Iwd "/opt/w"'],
     'job 1.0: Iwd /opt/w is not under any path_map "from": add a mapping for it'),
    ('relative iwd', ['103 1.0 Iwd "w"'], 'job 1.0: Iwd w is not absolute'),
    ('no iwd', ['104 01.-1 Iwd'], 'job 1.0: has no Iwd'),
    ('two files on one destination', ['103 01.-1 TransferInput "/home/u/w/a/f.txt, /sb/u/w/a/f.txt, a/f.txt"'],
     None),
]


@pytest.mark.parametrize('lines, expected', [c[1:] for c in PROBLEM_CASES], ids=[c[0] for c in PROBLEM_CASES])
def test_problems(write_log, lines, expected):
    path = write_log(['101 0.0 Job Machine', '101 01.-1 Job Machine', '103 01.-1 Iwd "/home/u/w"',
                      '103 01.-1 Cmd "/home/u/w/job.sh"', '101 1.0 Job Machine'] + lines)
    _s, _a, _m, problems, _d = rewrite(path, RewriteSpec(lists_map()))
    if expected is None:
        assert problems.count == 0      # the same file named three ways is one file
        return
    assert problems.count == 1, problems.items
    assert problems.items[0].startswith(expected)


def test_two_different_files_on_one_destination(write_log):
    # a relative input climbing out of its mapped Iwd lands where another mapping puts /data
    pm = PathMap([{'from': '/home/u', 'to': '/sb/u'}, {'from': '/data', 'to': '/sb/v'}], sandbox='/sb')
    path = write_log(['101 0.0 Job Machine', '101 01.-1 Job Machine', '103 01.-1 Iwd "/home/u"',
                      '103 01.-1 TransferInput "/data/f.txt, ../v/f.txt"', '101 1.0 Job Machine'])
    _s, _a, manifest, problems, _d = rewrite(path, RewriteSpec(pm))
    assert problems.count == 1
    assert problems.items[0] == 'job 1.0: two files would land on /sb/v/f.txt: /data/f.txt and /home/v/f.txt'
    assert manifest['files'] == [{'src': '/data/f.txt', 'dest': '/sb/v/f.txt'}]


def test_site_and_url_inputs_and_untransferred_executable_are_not_staged(write_log):
    path = write_log(['101 0.0 Job Machine', '101 01.-1 Job Machine', '103 01.-1 Iwd "/home/u/w"',
                      '103 01.-1 Cmd "/opt/bin/run"', '103 01.-1 TransferExecutable false',
                      '103 01.-1 TransferInput "/cvmfs/x/y, https://h/f, osdf:///p/q"',
                      '103 01.-1 In "/dev/null"', '101 1.0 Job Machine'])
    _s, _a, manifest, problems, data = rewrite(path, RewriteSpec(lists_map()))
    assert problems.count == 0
    assert manifest['files'] == []
    assert b'Cmd "/opt/bin/run"' in data


def test_problems_are_capped_but_counted(write_log):
    lines = ['101 0.0 Job Machine', '101 01.-1 Job Machine', '103 01.-1 Iwd "/opt/w"']
    lines += ['101 1.%d Job Machine' % i for i in range(60)]
    _s, _a, manifest, problems, _d = rewrite(write_log(lines), RewriteSpec(lists_map()))
    assert problems.count == 60
    assert len(problems.items) == 50
    assert problems.message().endswith(' (and 10 more)')
    assert manifest['jobs'] == 60


# -- setting and deleting attributes ---------------------------------------------------------------------

ADS_LOG = [
    '107 1 CreationTimestamp 1',
    '101 0.0 Job Machine',
    '103 0.0 NextClusterNum 4',
    '101 0.2 Owner (empty)',
    '103 0.2 Owner "lumber"',
    '103 0.2 Prio 1',
    '101 01.-1 Job Machine',
    '103 01.-1 Iwd "/home/u/w"',
    '103 01.-1 Prio 5',
    '103 01.-1 Owner "lumber"',
    '101 1.-2 ClusterPvt (empty)',
    '103 1.-2 Prio 7',
    '101 1.0 Job Machine',
    '101 1.1 Job Machine',
    '103 1.1 prio 9',
    '101 2.-100 JobSet (empty)',
    '103 2.-100 Prio 11',
    '101 02.-1 Job Machine',
    '103 02.-1 Iwd "/home/u/w2"',
    '101 2.0 Job Machine',
    '103 2.0 Prio 13',
    '101 3.0 Job Machine',          # a job without a cluster ad
    '103 3.0 Iwd "/home/u/w3"',
    '103 3.0 Prio 15',
]


def attrs_of(data, write_log, names=('Prio', 'Lumber', 'Owner')):
    state = ql.replay(write_log(data))
    return dict((k, dict((n, state.get(k, n)) for n in names if state.get(k, n) is not None))
                for k in state.ads)


def test_set_and_delete_on_every_job(write_log):
    path = write_log(ADS_LOG)
    spec = RewriteSpec(lists_map(), set_attributes={'Prio': '20', 'Lumber': '"run-1"'}, delete_attributes=['owner'])
    state, appended, _m, problems, data = rewrite(path, spec)
    assert problems.count == 0
    got = attrs_of(data, write_log)
    assert got == {
        '0.0': {},
        '0.2': {'Prio': '1', 'Owner': '"lumber"'},            # user record untouched
        '01.-1': {'Prio': '20', 'Lumber': '"run-1"'},
        '1.-2': {'Prio': '7'},                                 # ClusterPvt untouched
        '1.0': {},
        '1.1': {'Prio': '20'},                                 # its own copy replaced in place
        '2.-100': {'Prio': '11'},                              # job set untouched
        '02.-1': {'Prio': '20', 'Lumber': '"run-1"'},
        '2.0': {'Prio': '20'},
        '3.0': {'Prio': '20', 'Lumber': '"run-1"'},
    }
    # the job view: every job has the new values
    final = ql.replay(write_log(data))
    for key in final.job_keys():
        assert final.job_attr(key, 'Prio') == '20'
        assert final.job_attr(key, 'Lumber') == '"run-1"'
        assert final.job_attr(key, 'Owner') is None
    assert b'103 1.1 prio 20\n' in data                      # the record keeps its spelling
    assert b'103 0.0 NextClusterNum 4\n' in data
    assert state.changes['Prio'] == 4 and state.changes['Owner'] == 1
    assert sorted(a for a in appended if b'SUBMIT_Iwd' not in a) == [
        b'103 01.-1 Lumber "run-1"', b'103 02.-1 Lumber "run-1"', b'103 02.-1 Prio 20', b'103 3.0 Lumber "run-1"']


def test_set_and_delete_on_chosen_clusters(write_log):
    path = write_log(ADS_LOG)
    spec = RewriteSpec(lists_map(), set_attributes={'Prio': '20', 'Lumber': '"run-1"'}, delete_attributes=['Owner'],
                       cluster_ids=[1, 3])
    _s, appended, _m, _p, data = rewrite(path, spec)
    got = attrs_of(data, write_log)
    assert got['01.-1'] == {'Prio': '20', 'Lumber': '"run-1"'}
    assert got['1.1'] == {'Prio': '20'}
    assert got['3.0'] == {'Prio': '20', 'Lumber': '"run-1"'}
    # cluster 2 and the other ads are as they were
    assert got['02.-1'] == {} and got['2.0'] == {'Prio': '13'}
    assert got['0.2'] == {'Prio': '1', 'Owner': '"lumber"'}
    assert got['1.-2'] == {'Prio': '7'} and got['2.-100'] == {'Prio': '11'}
    added = sorted(a for a in appended if b'SUBMIT_Iwd' not in a)
    assert added == [b'103 01.-1 Lumber "run-1"', b'103 3.0 Lumber "run-1"']


def test_set_attribute_is_idempotent(write_log):
    spec = dict(set_attributes={'Prio': '20', 'Lumber': '"run-1"'}, delete_attributes=['Owner'])
    _s, _a, _m, _p, data = rewrite(write_log(ADS_LOG), RewriteSpec(lists_map(), **spec))
    state2, appended2, _m2, _p2, data2 = rewrite(write_log(data), RewriteSpec(lists_map(), **spec))
    assert data2 == data and appended2 == [] and state2.changes == {}


def test_set_attributes_on_export_sample_cluster_7(sample, write_log):
    path = sample('export_two_clusters')
    spec = RewriteSpec(export_map(), original_iwds=ORIGINAL_IWDS, cluster_ids=[7],
                       set_attributes={'Args': '"x"', 'RequestMemory': '32', 'NextClusterNum': '9'},
                       delete_attributes=['AutoClusterId'])
    state, appended, _m, problems, data = rewrite(path, spec)
    assert problems.count == 0
    final = ql.replay(write_log(data))
    for key in ('7.0', '7.1', '7.2'):
        assert final.job_attr(key, 'Args') == '"x"'
        assert final.job_attr(key, 'RequestMemory') == '32'
        assert final.job_attr(key, 'AutoClusterId') is None
    assert final.job_attr('6.1', 'Args') == '"6.1 2"' and final.job_attr('6.0', 'RequestMemory') == '16'
    assert final.job_attr('6.0', 'AutoClusterId') == '3'
    assert final.get('0.0', 'NextClusterNum') == '8'
    assert final.get('07.-1', 'NextClusterNum') == '9'
    assert state.changes['Args'] == 3 and state.changes['AutoClusterId'] == 3
    assert b'103 07.-1 NextClusterNum 9' in appended


def test_set_value_with_odd_text_is_written_as_given(write_log):
    value = ql.literal('say "hi" C:\\x \u00e9')
    _s, _a, _m, _p, data = rewrite(write_log(ADS_LOG), RewriteSpec(lists_map(), set_attributes={'Note': value}))
    final = ql.replay(write_log(data))
    assert ql.unquote(final.job_attr('1.0', 'Note')) == 'say "hi" C:\\x \u00e9'


@pytest.mark.parametrize('kwargs, words', [
    (dict(set_attributes={'Prio': '1'}, delete_attributes=['prio']), 'both set and deleted'),
    (dict(set_attributes={'1Bad': '1'}), 'not a ClassAd attribute name'),
    (dict(delete_attributes=['a b']), 'not a ClassAd attribute name'),
    (dict(set_attributes={'': '1'}), 'not a ClassAd attribute name'),
    (dict(set_attributes={'IWD': '"/x"'}), 'managed by the path mapping'),
    (dict(delete_attributes=['Submit_Iwd']), 'managed by the path mapping'),
])
def test_spec_errors(kwargs, words):
    with pytest.raises(ValueError, match=words):
        RewriteSpec(lists_map(), **kwargs)


def test_empty_cluster_selection_changes_no_job(write_log):
    spec = RewriteSpec(lists_map(), set_attributes={'Lumber': '1'}, cluster_ids=[])
    _s, appended, _m, _p, data = rewrite(write_log(ADS_LOG), spec)
    assert b'Lumber' not in data
    assert not any(b'Lumber' in a for a in appended)


# -- what a cut-off log leaves -------------------------------------------------------------------------

def test_trailing_transaction_is_dropped_and_appended_records_follow(write_log):
    lines = ['101 0.0 Job Machine', '101 01.-1 Job Machine', '103 01.-1 Iwd "/home/u/w"', '101 1.0 Job Machine']
    path = write_log(lines + ['105 ', '103 1.0 Prio 3', '101 1.1 Job Machine', '103 1.1 Iw'], newline=False)
    state, appended, manifest, problems, data = rewrite(path, RewriteSpec(lists_map(), set_attributes={'Prio': '1'}))
    assert state.truncated and len(state.warnings) == 2
    assert data == ('\n'.join(lines).replace('/home/u/w', '/sb/u/w') + '\n').encode() + b'\n'.join(appended) + b'\n'
    assert appended == [b'103 01.-1 SUBMIT_Iwd "/home/u/w"', b'103 01.-1 Prio 1']
    assert manifest['jobs'] == 1 and problems.count == 0


def test_corrupt_log_is_an_error(write_log):
    path = write_log(['101 0.0 Job Machine', 'oops'])
    with pytest.raises(QueueLogError) as e:
        rewrite(path, RewriteSpec(lists_map()))
    assert e.value.lineno == 2


# -- random logs: a rewrite only touches path values and is idempotent ------------------------------------

@settings(max_examples=40, deadline=None)
@given(queue_logs(max_ops=25), st.sampled_from(['/home/u', '/home', '/x']))
def test_rewrite_of_random_logs_is_idempotent(scratch_log, log, from_dir):
    # paths only appear where the generated values happen to hold them; give them some
    text = log.text.replace('"/cut', '"/home/u/cut')
    path = scratch_log.write(text, 'in')

    def spec():
        return RewriteSpec(PathMap([{'from': from_dir, 'to': '/sb' + from_dir}], sandbox='/sb'))

    _s, _a, manifest, _p, data = rewrite(path, spec())
    second = scratch_log.write(data, 'out')
    state2, appended2, manifest2, _p2, data2 = rewrite(second, spec())
    assert data2 == data
    assert appended2 == [] and state2.changes == {}
    assert manifest2 == manifest


# -- random logs full of paths: every path value is mapped as a line-by-line model says ------------------

_PATH_PARTS = st.sampled_from(['home', 'u', 'w', 'sb', 'other', 'a b', 'x.txt', '..', '.', 'uu'])
_ABS_PATHS = st.lists(_PATH_PARTS, min_size=1, max_size=4).map(lambda parts: '/' + '/'.join(parts))
_REL_PATHS = st.lists(_PATH_PARTS, min_size=1, max_size=3).map('/'.join)
_SOME_PATHS = st.one_of(_ABS_PATHS, _ABS_PATHS.map(lambda p: '/home/u' + p), _REL_PATHS,
                        st.sampled_from(['/home/u', '/sb/u/w', '/dev/null', 'http://h/home/u/x']))
_PATH_VALUES = st.one_of(
    _SOME_PATHS.map(ql.quote),
    st.lists(_SOME_PATHS, min_size=1, max_size=4).map(lambda ps: ql.quote(', '.join(ps))),
    st.lists(st.tuples(st.sampled_from(['o', 'out 1', 'r.txt']), _SOME_PATHS), min_size=1, max_size=3).map(
        lambda pairs: ql.quote('; '.join('%s = %s' % pair for pair in pairs))),
    st.sampled_from(['undefined', '"/home/u" + "x"', '42', 'true']),
)
_PATH_LOG_NAMES = ('Iwd', 'iwd', 'Cmd', 'In', 'Out', 'Err', 'UserLog', 'TransferInput', 'transferinput',
                   'TransferOutputRemaps', 'Args', 'SUBMIT_Iwd')


def _model_map(path):
    """The mapping /home/u -> /sb/u: on the normalized path, whole components; a path under the target, or
    not under the source, is left as it was written."""
    norm = path
    if '/.' in path or '//' in path:
        norm = posixpath.normpath(path)
        norm = '/' + norm.lstrip('/') if norm.startswith('//') else norm
    for root in ('/sb/u',):
        if norm == root or norm.startswith(root + '/'):
            return path
    if norm == '/home/u' or norm.startswith('/home/u/'):
        return '/sb/u' + norm[len('/home/u'):]
    return path


def _model_value(name, value):
    text = ql.unquote(value)
    name = name.lower()
    if text is None or name not in [n.lower() for n in PATH_NAMES]:
        return value
    if name == 'transferinput':
        entries = []
        for entry in text.split(','):
            stripped = entry.strip()
            if stripped.startswith('/'):
                entry = entry.replace(stripped, _model_map(stripped), 1)
            entries.append(entry)
        return ql.quote(','.join(entries))
    if name == 'transferoutputremaps':
        items = []
        for item in text.split(';'):
            if '=' in item:
                left, dest = item.split('=', 1)
                stripped = dest.strip()
                if stripped.startswith('/'):
                    dest = dest.replace(stripped, _model_map(stripped), 1)
                item = left + '=' + dest
            items.append(item)
        return ql.quote(';'.join(items))
    return ql.quote(_model_map(text)) if text.startswith('/') else value


@settings(max_examples=60, deadline=None)
@given(queue_logs(max_ops=25, names=_PATH_LOG_NAMES, value_strategy=_PATH_VALUES))
def test_rewrite_maps_every_path_value_of_random_logs(scratch_log, log):
    path = scratch_log.write(log.data, 'in')

    def spec():
        return RewriteSpec(PathMap([{'from': '/home/u', 'to': '/sb/u'}], sandbox='/sb'))

    state, appended, manifest, _p, data = rewrite(path, spec())
    assert state.truncated == log.truncated
    out = scratch_log.write(data, 'out')
    before = ql.replay(path)
    after = ql.replay(out)
    assert after.warnings == []
    assert list(after.ads) == list(before.ads)
    for key, ad in before.ads.items():
        expected = dict((n, _model_value(n, v)) for n, v in ad.items())
        got = dict(after.ads[key])
        added = [n for n in got if n not in expected]
        assert added in ([], ['SUBMIT_Iwd']), key
        for name in added:
            del got[name]
        assert got == expected, key
    assert all(a.split(b' ')[2] == b'SUBMIT_Iwd' for a in appended)
    # and a second rewrite changes nothing
    state2, appended2, manifest2, _p2, data2 = rewrite(out, spec())
    assert (data2, appended2, state2.changes, manifest2) == (data, [], {}, manifest)


# -- bugs: the manifest and the rewritten log must describe the same jobs ----------------------------------

@pytest.mark.parametrize('kwargs', [dict(delete_attributes=['UserLog']),
                                    dict(set_attributes={'UserLog': '"%s/work/run.log"' % SITE_HOME})],
                         ids=['deleted', 'replaced'])
def test_manifest_follows_set_and_deleted_attributes(sample, write_log, kwargs):
    text = read(sample('export_two_clusters')).replace(b'"/home/lumber/work/run.log"', b'"/var/log/run.log"')
    spec = RewriteSpec(export_map(), original_iwds=ORIGINAL_IWDS, **kwargs)
    _s, _a, _m, problems, data = rewrite(write_log(text), spec)
    assert b'/var/log/run.log' not in data
    assert problems.count == 0, problems.items


@pytest.mark.parametrize('iwd', ['/home/u/./w', '/home/u/x/../w'])
def test_non_normalized_paths_are_mapped_as_the_manifest_says(write_log, iwd):
    path = write_log(['101 0.0 Job Machine', '101 01.-1 Job Machine', '103 01.-1 Iwd "%s"' % iwd,
                      '103 01.-1 Cmd "%s/job.sh"' % iwd, '101 1.0 Job Machine'])
    pm = PathMap([{'from': '/home/u/w', 'to': '/sb/w'}], sandbox='/sb')
    _s, _a, manifest, problems, data = rewrite(path, RewriteSpec(pm))
    if problems.count:
        return          # refusing the path is fine too
    jobs = job_values(write_log(data))
    assert posixpath.normpath(jobs['1.0']['Iwd']) in [i['site'] for i in manifest['iwds']]
    assert posixpath.normpath(jobs['1.0']['Cmd']) in [f['dest'] for f in manifest['files']]


def test_nested_targets_of_unrelated_sources_are_refused():
    # /home/u/data/g.txt and /data/g.txt would share /sb/u/data/g.txt, and a second rewrite could not tell them
    with pytest.raises(PathMapError, match='lies inside "to" /sb/u'):
        PathMap([{'from': '/home/u', 'to': '/sb/u'}, {'from': '/data', 'to': '/sb/u/data'}], sandbox='/sb')


def test_submit_iwd_is_the_iwd_the_job_had(write_log):
    path = write_log(['101 0.0 Job Machine', '101 1.0 Job Machine', '103 1.0 Iwd "/home/u/a"',
                      '103 1.0 Iwd "/home/u/b"'])
    _s, appended, manifest, _p, _d = rewrite(path, RewriteSpec(lists_map()))
    assert manifest['iwds'] == [{'home': '/home/u/b', 'site': '/sb/u/b'}]
    assert appended == [b'103 1.0 SUBMIT_Iwd "/home/u/b"']


def test_no_submit_iwd_for_an_iwd_of_a_dropped_transaction(write_log):
    path = write_log(['101 0.0 Job Machine', '101 1.0 Job Machine', '103 1.0 Iwd "/sb/u/a"', '105 ',
                      '103 1.0 Iwd "/home/u/b"'])
    state, appended, manifest, _p, data = rewrite(path, RewriteSpec(lists_map()))
    assert state.truncated
    assert manifest['iwds'] == [{'home': '/home/u/a', 'site': '/sb/u/a'}]
    assert appended == []


@pytest.mark.parametrize('name, expression', [
    ('Out', '"/home/u/a" + "x"'),
    ('UserLog', '"/home/u/a" =?= "b"'),
    ('TransferInput', 'strcat("/home/u/a", ",/home/u/b")'),
    ('TransferOutputRemaps', 'strcat("o = /home/u/x", "")'),
])
def test_expressions_stay_expressions(write_log, name, expression):
    path = write_log(['101 0.0 Job Machine', '101 1.0 Job Machine', '103 1.0 Iwd "/home/u/w"',
                      '103 1.0 %s %s' % (name, expression)])
    _s, _a, _m, _p, data = rewrite(path, RewriteSpec(lists_map()))
    got = ql.replay(write_log(data)).get('1.0', name)
    assert ql.unquote(got) is None                          # still not a plain string
    assert got.replace('/sb/u', '/home/u') == expression    # at most its paths were mapped


def test_path_ending_in_backslash_is_not_a_crash(write_log):
    path = write_log(['101 0.0 Job Machine', '101 01.-1 Job Machine', '103 01.-1 Iwd "/home/u/w"',
                      '101 1.0 Job Machine', '103 1.0 Out "/home/u/w/x\\"'])
    try:
        _s, _a, _m, problems, data = rewrite(path, RewriteSpec(lists_map()))
    except QueueLogError:
        return          # a clean error naming the file is fine
    assert b'Iwd "/sb/u/w"' in data


# -- the way back: the returned log rewritten with the mapping reversed --------------------------------------

def test_the_returned_log_maps_back_to_the_submit_side(sample, write_log):
    """The site's final log rewritten with the reversed mapping gives every job its submit-side paths again
    (the import merges Cmd, Out, Err, UserLog, TransferInput... into the home queue as they are)."""
    spec = RewriteSpec(export_map(), original_iwds=ORIGINAL_IWDS)
    _s, _a, _m, problems, there = rewrite(sample('export_two_clusters'), spec)
    assert problems.count == 0
    back_map = PathMap([{'from': SITE_HOME, 'to': HOME}])
    state, appended, manifest, problems, back = rewrite(write_log(there), RewriteSpec(back_map))
    assert problems.count == 0, problems.items
    assert appended == []           # every moved ad already has SUBMIT_Iwd: it is not written twice
    original = job_values(sample('export_two_clusters'))
    returned = job_values(write_log(back))
    for jid in EXPORT_JOBS:
        expected = dict(original[jid])
        if jid in ORIGINAL_IWDS:
            expected['Iwd'] = ORIGINAL_IWDS[jid]     # the placeholder is gone for good
        got = dict(returned[jid])
        assert got.pop('SUBMIT_Iwd') == expected['Iwd']
        assert got == expected, jid
    assert not any(SB in str(v) for ad in returned.values() for v in ad.values())
