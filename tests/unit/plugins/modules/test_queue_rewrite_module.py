# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The queue_rewrite module on copies of the real job_queue.log samples: what it writes, what it returns, and
that whatever fails leaves the files as they were."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import stat

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils import _queue_log as ql
from ansible_collections.hepcloud.lumberjack.plugins.modules import queue_info, queue_rewrite
from ansible_collections.hepcloud.lumberjack.tests.unit.plugins.modules.queue_module_support import (
    read,
    run_alone,
    snapshot,
)

HOME = '/home/lumber'
W = HOME + '/work'
EXPORT_SPOOL = '/tmp/condor-lj-iwd'
P1 = EXPORT_SPOOL + '/7/1/cluster7.proc1.subproc0'
P2 = EXPORT_SPOOL + '/7/2/cluster7.proc2.subproc0'
ORIGINAL_IWDS = {'7.1': W + '/p1', '7.2': W + '/p2'}
EXPORT_JOBS = ('6.0', '6.1', '7.0', '7.1', '7.2')
# the Iwd export_jobs left each job of the export sample, and the one it had on the submit side
HOME_IWDS = {'6.0': W, '6.1': W, '7.0': W + '/p0', '7.1': W + '/p1', '7.2': W + '/p2'}

# The records of export_two_clusters.job_queue.log that the standard mapping below changes, in log order
# (read off the file: Out, Err and TransferInput are relative, In is /dev/null), and what they become;
# {S} is the sandbox's copy of /home/lumber.
CHANGED_RECORDS = [
    ('103 06.-1 Cmd "/home/lumber/work/job.sh"', '103 06.-1 Cmd "{S}/work/job.sh"'),
    ('103 06.-1 Iwd "/home/lumber/work"', '103 06.-1 Iwd "{S}/work"'),
    ('103 06.-1 UserLog "/home/lumber/work/run.log"', '103 06.-1 UserLog "{S}/work/run.log"'),
    ('103 07.-1 Cmd "/home/lumber/work/job.sh"', '103 07.-1 Cmd "{S}/work/job.sh"'),
    ('103 07.-1 Iwd "/home/lumber/work/p0"', '103 07.-1 Iwd "{S}/work/p0"'),
    ('103 07.-1 UserLog "/home/lumber/work/run-perproc.log"', '103 07.-1 UserLog "{S}/work/run-perproc.log"'),
    ('103 7.1 Iwd "%s"' % P1, '103 7.1 Iwd "{S}/work/p1"'),
    ('103 7.2 Iwd "%s"' % P2, '103 7.2 Iwd "{S}/work/p2"'),
]
# added at the end: the original Iwd of every ad whose Iwd moved, then the attributes the cluster ads lacked
ADDED_RECORDS = [
    '103 06.-1 SUBMIT_Iwd "/home/lumber/work"',
    '103 07.-1 SUBMIT_Iwd "/home/lumber/work/p0"',
    '103 7.1 SUBMIT_Iwd "/home/lumber/work/p1"',
    '103 7.2 SUBMIT_Iwd "/home/lumber/work/p2"',
]
CHANGES = {'Cmd': 2, 'Iwd': 4, 'UserLog': 2}


class Work(object):
    """A copy of a sample as ROOT/spool/job_queue.log (mode 0600) and a sandbox ROOT/sandbox to map it into."""

    def __init__(self, root, sample_path):
        self.root = str(root)
        self.spool = os.path.join(self.root, 'spool')
        os.mkdir(self.spool)
        self.log = os.path.join(self.spool, 'job_queue.log')
        shutil.copyfile(sample_path, self.log)
        os.chmod(self.log, 0o600)
        self.original = read(self.log)
        self.sandbox = os.path.join(self.root, 'sandbox')
        self.site_home = self.sandbox + HOME

    def args(self, **kwargs):
        """The options the integration target gives: /home/lumber and the export's spool into the sandbox,
        the placeholders' real Iwds."""
        args = {
            'path': self.log,
            'sandbox': self.sandbox,
            'path_map': [{'from': HOME, 'to': self.site_home}],
            'spool_map': {'from': EXPORT_SPOOL, 'to': self.sandbox + '/spool'},
            'original_iwds': dict(ORIGINAL_IWDS),
        }
        args.update(kwargs)
        return args

    def site(self, path):
        return self.site_home + path[len(HOME):]

    def expected_log(self, added=()):
        """The export sample as the standard mapping rewrites it, with `added` records after ADDED_RECORDS."""
        text = self.original.decode('utf-8')
        for old, new in CHANGED_RECORDS:
            assert text.count(old + '\n') == 1, old
            text = text.replace(old + '\n', new.format(S=self.site_home) + '\n')
        return (text + ''.join(line + '\n' for line in ADDED_RECORDS + list(added))).encode('utf-8')

    def edit(self, old, new):
        """Replace one record of the copy (before any run)."""
        assert self.original.count(old + b'\n') == 1, old
        self.original = self.original.replace(old + b'\n', new + b'\n')
        with open(self.log, 'wb') as f:
            f.write(self.original)


@pytest.fixture
def work(tmp_path, sample):
    return Work(tmp_path, sample('export_two_clusters'))


def rewrite(args, **kwargs):
    return run_alone(queue_rewrite.main, args, **kwargs)


def info(path):
    r = run_alone(queue_info.main, {'path': path})
    assert not r.get('failed'), r.get('msg')
    return r


def ok(r):
    assert not r.get('failed'), r.get('msg')
    return r


def job_attrs(path, name):
    """{job id: raw value of `name` as the schedd sees the job (proc ad over cluster ad)} from a replay."""
    state = ql.replay(path)
    return dict((ql.job_id(k), state.job_attr(k, name)) for k in state.job_keys())


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def leftovers(directory):
    """Temporary files a write left beside its destination."""
    return [n for n in os.listdir(directory) if n.endswith('.tmp')]


# -- rewriting in place ----------------------------------------------------------------------------------------

def test_rewrite_in_place_then_a_second_run_changes_nothing(work):
    args = work.args(set_attributes={'LumberjackRun': 'test-run'})
    first = ok(rewrite(args))
    assert first['changed'] is True
    assert first['path'] == first['dest'] == work.log
    assert first['changes'] == CHANGES
    assert first['added'] == 6 and first['dropped'] == [] and first['warnings'] == []
    assert 'backup_file' not in first and 'diff' not in first
    added = ['103 06.-1 LumberjackRun "test-run"', '103 07.-1 LumberjackRun "test-run"']
    assert read(work.log) == work.expected_log(added)
    assert mode_of(work.log) == 0o600
    assert os.listdir(work.spool) == ['job_queue.log']

    # the schedd's view of the rewritten log: every job in its sandbox directory, the way back in SUBMIT_Iwd
    iwds = job_attrs(work.log, 'Iwd')
    submit = job_attrs(work.log, 'SUBMIT_Iwd')
    for job in EXPORT_JOBS:
        assert iwds[job] == '"%s"' % work.site(HOME_IWDS[job]), job
        assert submit[job] == '"%s"' % HOME_IWDS[job], job
    assert set(job_attrs(work.log, 'LumberjackRun').values()) == {'"test-run"'}
    assert info(work.log)['spool_placeholder_iwds'] == []

    stamp = os.stat(work.log).st_mtime_ns
    second = ok(rewrite(args))
    assert second['changed'] is False
    assert second['changes'] == {} and second['added'] == 0
    assert second['manifest'] == first['manifest']
    assert 'backup_file' not in second
    assert read(work.log) == work.expected_log(added)
    assert os.stat(work.log).st_mtime_ns == stamp
    assert os.listdir(work.spool) == ['job_queue.log']


def test_manifest_is_what_queue_info_reads_before_and_after(work):
    before = info(work.log)
    r = ok(rewrite(work.args()))
    after = info(work.log)
    m = r['manifest']
    assert m['jobs'] == before['total_jobs'] == 5
    # every file the jobs read, staged from the submit side (the placeholders replaced by the real Iwds) ...
    home_inputs = sorted(p.replace(P1, W + '/p1').replace(P2, W + '/p2') for p in before['inputs'])
    assert [f['src'] for f in m['files']] == home_inputs
    # ... to where the rewritten jobs read it
    assert sorted(f['dest'] for f in m['files']) == after['inputs']
    assert all(f['dest'] == work.site(f['src']) for f in m['files'])
    assert m['directories'] == after['directories']
    assert (work.site(W) + '/out') in m['directories']
    assert m['iwds'] == [{'home': h, 'site': work.site(h)} for h in sorted(set(HOME_IWDS.values()))]
    assert [j['iwd'] for j in after['jobs']] == [work.site(HOME_IWDS[j]) for j in EXPORT_JOBS]
    assert m['file_count'] == len(m['files']) == 5
    assert m['directory_count'] == len(m['directories']) == 5
    assert 'unused_mappings' not in m


MAC_SPOOL = '/var/folders/3r/xl19t4ks0wsd5httjlvvm86r0000gp/T/TestWatchLogWithJobSubmission1354687113/001'
SAMPLE_OPTIONS = {
    # the spooled submit: its last Iwd is under the schedd's spool on a Mac; its Cmd "sleep" is relative
    'spooled_submit': lambda w: {'path_map': [{'from': MAC_SPOOL, 'to': w.sandbox + '/mac'}]},
    'export_two_clusters': lambda w: {'path_map': [{'from': HOME, 'to': w.site_home}],
                                      'original_iwds': dict(ORIGINAL_IWDS)},
    'hpc_after_run': lambda w: {'path_map': [{'from': HOME, 'to': w.site_home}],
                                'original_iwds': dict(ORIGINAL_IWDS)},
}


def test_each_sample_changes_only_path_records_and_is_then_stable(any_sample, tmp_path):
    name, path = any_sample
    work = Work(tmp_path, path)
    args = dict({'path': work.log, 'sandbox': work.sandbox}, **SAMPLE_OPTIONS[name](work))
    first = ok(rewrite(args))
    assert first['changed'] is True, name
    old = work.original.decode('utf-8').splitlines()
    new = read(work.log).decode('utf-8').splitlines()
    changed = [(a, b) for a, b in zip(old, new) if a != b]
    # line for line the same log, where only the values of path attributes differ ...
    assert len(changed) == sum(first['changes'].values())
    for a, b in changed:
        ra, rb = ql.parse_line(a), ql.parse_line(b)
        assert (ra.op, ra.key, ra.name) == (rb.op, rb.key, rb.name) == (ql.OP_SET, ra.key, ra.name)
        assert ra.name in ('Iwd', 'Cmd', 'UserLog', 'In', 'Out', 'Err')
        assert rb.value.startswith('"' + work.sandbox + '/'), b
    # ... and the records added at the end, SUBMIT_Iwd where the ad had none
    assert len(new) - len(old) == first['added']
    assert all(ql.parse_line(line).name == 'SUBMIT_Iwd' for line in new[len(old):])
    # the rewritten queue as queue_info sees it: every Iwd in the sandbox, the jobs otherwise the same
    before, after = info(path), info(work.log)
    assert all(i.startswith(work.sandbox + '/') for i in after['iwds'])
    assert [(j['id'], j['owner'], j['status']) for j in after['jobs']] == [
        (j['id'], j['owner'], j['status']) for j in before['jobs']]

    rewritten = read(work.log)
    second = ok(rewrite(args))
    assert (second['changed'], second['changes'], second['added']) == (False, {}, 0)
    assert second['manifest'] == first['manifest']
    assert read(work.log) == rewritten


def test_spooled_submit_keeps_its_own_submit_iwd(sample, tmp_path):
    work = Work(tmp_path, sample('spooled_submit'))
    r = ok(rewrite({'path': work.log, 'sandbox': work.sandbox,
                    'path_map': [{'from': MAC_SPOOL, 'to': work.sandbox + '/mac'}]}))
    # the Iwd set inside the transaction is mapped; the ad already had SUBMIT_Iwd, so nothing is added
    assert r['changes'] == {'Iwd': 1} and r['added'] == 0
    site_iwd = work.sandbox + '/mac/spool/1/0/cluster1.proc0.subproc0'
    assert job_attrs(work.log, 'Iwd') == {'1.0': '"%s"' % site_iwd}
    assert job_attrs(work.log, 'SUBMIT_Iwd') == {'1.0': '"/Users/bbockelm/projects/golang-htcondor/classadlog"'}
    assert r['manifest']['files'] == [{'src': MAC_SPOOL + '/spool/1/0/cluster1.proc0.subproc0/sleep',
                                       'dest': site_iwd + '/sleep'}]
    assert r['manifest']['directories'] == [site_iwd]


# -- check mode and diff mode ------------------------------------------------------------------------------------

@pytest.mark.parametrize('check_mode', [False, True])
def test_two_processes_write_what_one_writes(work, check_mode):
    dest_one = os.path.join(work.root, 'one.log')
    dest_two = os.path.join(work.root, 'two.log')
    args = work.args(set_attributes={'LumberjackRun': 'x'})
    one = ok(rewrite(dict(args, dest=dest_one, workers=1)))
    two = ok(rewrite(dict(args, dest=dest_two, workers=2), check_mode=check_mode))
    # the sample is cut at cluster 7's ad: each process rewrites one cluster
    assert one['processes'] == 1 and two['processes'] == 2
    for key in ('changed', 'changes', 'added', 'dropped', 'manifest'):
        assert two[key] == one[key], key
    if check_mode:
        assert not os.path.exists(dest_two)
    else:
        assert read(dest_two) == read(dest_one)
    # the second process's temporary output is gone
    assert sorted(os.listdir(work.root)) == sorted(['spool', 'one.log'] + ([] if check_mode else ['two.log']))


def test_check_mode_reports_the_same_and_writes_nothing(work):
    args = work.args(set_attributes={'LumberjackRun': 'test-run'}, backup=True,
                     manifest_dest=os.path.join(work.root, 'manifest.json'))
    before = snapshot(work.root)
    check = ok(rewrite(args, check_mode=True))
    assert snapshot(work.root) == before
    assert 'backup_file' not in check
    real = ok(rewrite(args))
    for key in ('changed', 'changes', 'added', 'dropped', 'manifest', 'path', 'dest'):
        assert check[key] == real[key], key
    assert check['changed'] is True
    # once rewritten, check mode sees nothing left to do
    after = snapshot(work.root)
    again = ok(rewrite(args, check_mode=True))
    assert (again['changed'], again['changes'], again['added']) == (False, {}, 0)
    assert again['manifest'] == real['manifest']
    assert snapshot(work.root) == after


def test_check_mode_with_dest_compares_with_it(work):
    dest = os.path.join(work.root, 'out', 'job_queue.log')
    os.mkdir(os.path.dirname(dest))
    before = snapshot(work.root)
    assert ok(rewrite(work.args(dest=dest), check_mode=True))['changed'] is True
    assert snapshot(work.root) == before and not os.path.exists(dest)
    ok(rewrite(work.args(dest=dest)))
    written = snapshot(work.root)
    assert ok(rewrite(work.args(dest=dest), check_mode=True))['changed'] is False
    # different content at dest: it would change
    r = ok(rewrite(work.args(dest=dest, set_attributes={'LumberjackRun': 'x'}, force=True), check_mode=True))
    assert r['changed'] is True and r['added'] == 6
    assert snapshot(work.root) == written


def test_diff_mode_shows_counts_and_example_records(work):
    args = dict(work.args(set_attributes={'LumberjackRun': 'test-run'}), _ansible_diff=True)
    check = ok(rewrite(args, check_mode=True))
    r = ok(rewrite(args))
    assert check['diff'] == r['diff']
    diff = r['diff']
    assert diff['before_header'] == 'job_queue.log (examples of changed records)'
    assert diff['after_header'] == ('job_queue.log (changed: Cmd: 2 record(s), Iwd: 4 record(s), '
                                    'UserLog: 2 record(s); added 6)')
    # the first five changed records of the log, before and after; then the first five added ones
    examples = CHANGED_RECORDS[:5]
    assert diff['before'] == ''.join(old + '\n' for old, _new in examples)
    added = ADDED_RECORDS + ['103 06.-1 LumberjackRun "test-run"']
    assert diff['after'] == (''.join(new.format(S=work.site_home) + '\n' for _old, new in examples)
                             + ''.join(line + '\n' for line in added) + '... and 1 more added record(s)\n')
    old_lines = work.original.decode('utf-8').splitlines()
    new_lines = read(work.log).decode('utf-8').splitlines()
    assert all(line in old_lines for line in diff['before'].splitlines())
    assert all(line in new_lines for line in diff['after'].splitlines()[:-1])
    # nothing left to show on the second run
    again = ok(rewrite(args))
    assert again['diff']['before'] == again['diff']['after'] == ''
    assert again['diff']['after_header'] == 'job_queue.log (changed: none; added 0)'


def test_diff_mode_shows_removed_records(work):
    r = ok(rewrite(dict(work.args(delete_attributes=['LeaveJobInQueue']), _ansible_diff=True)))
    assert r['changes'] == dict(CHANGES, LeaveJobInQueue=2)
    # the first five changed records in log order: 06.-1 deletes LeaveJobInQueue after its path records
    before = r['diff']['before'].splitlines()
    after = r['diff']['after'].splitlines()
    assert before[:4] == [old for old, _new in CHANGED_RECORDS[:3]] + ['103 06.-1 LeaveJobInQueue true']
    assert after[:4] == [new.format(S=work.site_home) for _old, new in CHANGED_RECORDS[:3]] + ['(removed)']
    assert len(before) == 5
    r = ok(rewrite(dict(work.args(delete_attributes=['JobPrio']), _ansible_diff=True)))
    assert r['changes'] == {'JobPrio': 2}
    assert r['diff']['before'] == '103 06.-1 JobPrio 0\n103 07.-1 JobPrio 0\n'
    assert r['diff']['after'] == '(removed)\n(removed)\n'


# -- backup, dest, force ---------------------------------------------------------------------------------------

def test_backup_keeps_the_original(work):
    r = ok(rewrite(work.args(backup=True)))
    assert r['changed'] is True
    backup = r['backup_file']
    assert os.path.dirname(backup) == work.spool and backup != work.log
    assert read(backup) == work.original
    assert read(work.log) == work.expected_log()
    assert sorted(os.listdir(work.spool)) == sorted(['job_queue.log', os.path.basename(backup)])
    # nothing replaced, nothing backed up
    again = ok(rewrite(work.args(backup=True)))
    assert again['changed'] is False and 'backup_file' not in again
    assert len(os.listdir(work.spool)) == 2


def test_dest_leaves_the_original_alone(work):
    dest = os.path.join(work.root, 'local', 'job_queue.log')
    os.mkdir(os.path.dirname(dest))
    stamp = os.stat(work.log).st_mtime_ns
    r = ok(rewrite(work.args(dest=dest)))
    assert r['changed'] is True and r['path'] == work.log and r['dest'] == dest
    assert r['changes'] == CHANGES and r['added'] == 4
    assert read(work.log) == work.original and os.stat(work.log).st_mtime_ns == stamp
    assert read(dest) == work.expected_log()
    assert mode_of(dest) == 0o600      # the mode of the log it was made from
    assert os.listdir(os.path.dirname(dest)) == ['job_queue.log']
    # the same as rewriting in place
    in_place = ok(rewrite(work.args()))
    assert read(work.log) == read(dest)
    assert in_place['manifest'] == r['manifest']


def test_dest_with_the_same_content_is_not_changed(work):
    dest = os.path.join(work.root, 'job_queue.log')
    ok(rewrite(work.args(dest=dest)))
    stamp = os.stat(dest).st_mtime_ns
    r = ok(rewrite(work.args(dest=dest)))
    assert r['changed'] is False and 'backup_file' not in r
    # the records changed relative to the original are still counted: dest is compared as a whole
    assert r['changes'] == CHANGES
    assert os.stat(dest).st_mtime_ns == stamp
    assert sorted(os.listdir(work.root)) == ['job_queue.log', 'spool']


def test_mode_gives_dest_its_permissions_and_a_wrong_mode_alone_is_a_change(work):
    dest = os.path.join(work.root, 'job_queue.log')
    os.chmod(work.log, 0o644)
    r = ok(rewrite(work.args(dest=dest, mode='0600')))
    assert r['changed'] is True and mode_of(dest) == 0o600 and mode_of(work.log) == 0o644
    assert read(dest) == work.expected_log()
    again = ok(rewrite(work.args(dest=dest, mode='0600')))
    assert again['changed'] is False
    # the right content with another mode: only the mode is set, the file is not replaced
    os.chmod(dest, 0o640)
    inode = os.stat(dest).st_ino
    preview = ok(rewrite(work.args(dest=dest, mode='0600'), check_mode=True))
    assert preview['changed'] is True and mode_of(dest) == 0o640
    fixed = ok(rewrite(work.args(dest=dest, mode='0600')))
    assert fixed['changed'] is True and mode_of(dest) == 0o600 and os.stat(dest).st_ino == inode
    assert ok(rewrite(work.args(dest=dest, mode='600')))['changed'] is False


@pytest.fixture
def other_dest(work, sample):
    """An existing dest with other content: the queue the HPC pool left (hpc_after_run)."""
    dest = os.path.join(work.root, 'dest.job_queue.log')
    shutil.copyfile(sample('hpc_after_run'), dest)
    return dest


def test_existing_dest_with_other_content_is_refused(work, other_dest):
    before = snapshot(work.root)
    r = rewrite(work.args(dest=other_dest))
    assert r['failed'] is True
    assert r['msg'] == ('dest %s exists with other content; set backup=true to keep a copy of it, or force=true '
                        'to replace it' % other_dest)
    assert snapshot(work.root) == before


def test_force_replaces_an_existing_dest(work, other_dest):
    r = ok(rewrite(work.args(dest=other_dest, force=True)))
    assert r['changed'] is True and 'backup_file' not in r
    assert read(other_dest) == work.expected_log()
    assert read(work.log) == work.original
    assert sorted(os.listdir(work.root)) == ['dest.job_queue.log', 'spool']


def test_backup_of_an_existing_dest(work, other_dest, sample):
    r = ok(rewrite(work.args(dest=other_dest, backup=True)))
    assert r['changed'] is True
    assert read(r['backup_file']) == read(sample('hpc_after_run'))
    assert read(other_dest) == work.expected_log()
    assert read(work.log) == work.original


# -- manifest_dest -----------------------------------------------------------------------------------------------

def test_manifest_dest_holds_the_manifest(work):
    path = os.path.join(work.root, 'manifest.json')
    r = ok(rewrite(work.args(manifest_dest=path)))
    with open(path) as f:
        written = json.load(f)
    expected = dict(r['manifest'])
    del expected['file_count'], expected['directory_count']
    assert written == expected
    assert mode_of(path) == 0o644
    # the same content again: the file is left as it is
    stamp = os.stat(path).st_mtime_ns
    ok(rewrite(work.args(manifest_dest=path)))
    assert os.stat(path).st_mtime_ns == stamp


def test_manifest_dest_has_the_lists_that_return_manifest_false_leaves_out(work):
    path = os.path.join(work.root, 'manifest.json')
    r = ok(rewrite(work.args(manifest_dest=path, return_manifest=False)))
    assert r['manifest'] == {'jobs': 5, 'file_count': 5, 'directory_count': 5}
    with open(path) as f:
        written = json.load(f)
    assert len(written['files']) == 5 and len(written['directories']) == 5 and len(written['iwds']) == 4


def test_writing_a_new_manifest_dest_is_a_change(work):
    ok(rewrite(work.args()))
    path = os.path.join(work.root, 'manifest.json')
    r = ok(rewrite(work.args(manifest_dest=path)))
    assert os.path.exists(path)
    assert r['changed'] is True


def test_manifest_dest_that_cannot_be_written_fails_before_the_log_is_replaced(work):
    before = snapshot(work.root)
    missing = os.path.join(work.root, 'no-such-dir', 'manifest.json')
    try:
        r = rewrite(work.args(manifest_dest=missing))
    finally:
        assert snapshot(work.root) == before
    assert r['failed'] is True and missing in r['msg']


# -- set, delete, cluster_ids --------------------------------------------------------------------------------------

def test_set_attributes_on_chosen_clusters(work):
    r = ok(rewrite(work.args(set_attributes={'LumberjackRun': 'r1', 'Retries': 3, 'Urgent': True, 'Scale': 1.5},
                             cluster_ids=[7])))
    assert r['changes'] == CHANGES
    assert r['added'] == 4 + 4     # SUBMIT_Iwd, and the four attributes in the cluster ad 07.-1
    for name, value in (('LumberjackRun', '"r1"'), ('Retries', '3'), ('Urgent', 'true'), ('Scale', '1.5')):
        values = job_attrs(work.log, name)
        assert values == {'6.0': None, '6.1': None, '7.0': value, '7.1': value, '7.2': value}, name
        state = ql.replay(work.log)
        assert state.get('07.-1', name) == value and state.get('7.1', name) is None
    tail = read(work.log).decode('utf-8').splitlines()[-4:]
    assert sorted(tail) == ['103 07.-1 LumberjackRun "r1"', '103 07.-1 Retries 3', '103 07.-1 Scale 1.5',
                            '103 07.-1 Urgent true']


def test_set_attribute_replaces_existing_records_in_place(work):
    # Args is set in both cluster ads and in the proc ads 6.1, 7.1 and 7.2 (read off the sample)
    r = ok(rewrite(work.args(set_attributes={'Args': 'x 1'}, cluster_ids=[6])))
    assert r['changes'] == dict(CHANGES, Args=2)   # 06.-1 and 6.1's own copy
    assert r['added'] == 4
    assert job_attrs(work.log, 'Args') == {'6.0': '"x 1"', '6.1': '"x 1"', '7.0': '"7.0 2"', '7.1': '"7.1 2"',
                                           '7.2': '"7.2 2"'}
    assert len(read(work.log).splitlines()) == len(work.original.splitlines()) + 4


def test_attribute_names_ignore_case(work):
    r = ok(rewrite(work.args(set_attributes={'jobprio': 7})))
    assert r['changes'] == dict(CHANGES, jobprio=2) and r['added'] == 4
    assert set(job_attrs(work.log, 'JobPrio').values()) == {'7'}
    assert b'103 06.-1 JobPrio 7\n' in read(work.log)


def test_set_expressions_are_written_as_they_are(work):
    ok(rewrite(work.args(set_expressions={'PeriodicRelease': 'NumJobStarts < 3 && HoldReasonCode == 13'})))
    assert set(job_attrs(work.log, 'PeriodicRelease').values()) == {'NumJobStarts < 3 && HoldReasonCode == 13'}
    assert read(work.log).endswith(b'103 07.-1 PeriodicRelease NumJobStarts < 3 && HoldReasonCode == 13\n')


def test_delete_attributes_of_chosen_clusters(work):
    r = ok(rewrite(work.args(delete_attributes=['LeaveJobInQueue', 'Args'], cluster_ids=[7])))
    assert r['changes'] == dict(CHANGES, LeaveJobInQueue=1, Args=3)     # 07.-1, 7.1 and 7.2 have Args
    assert r['added'] == 4
    assert job_attrs(work.log, 'LeaveJobInQueue') == {'6.0': 'true', '6.1': 'true', '7.0': None, '7.1': None,
                                                      '7.2': None}
    assert job_attrs(work.log, 'Args') == {'6.0': '"6.0 2"', '6.1': '"6.1 2"', '7.0': None, '7.1': None, '7.2': None}
    assert len(read(work.log).splitlines()) == len(work.original.splitlines()) - 4 + 4
    # the log no longer has the export's shape (LeaveJobInQueue on every job)
    assert info(work.log)['export_shape'] is False


def test_cluster_ids_that_match_nothing_only_map_paths(work):
    r = ok(rewrite(work.args(set_attributes={'LumberjackRun': 'x'}, cluster_ids=[99])))
    assert r['changes'] == CHANGES and r['added'] == 4
    assert read(work.log) == work.expected_log()


# -- failures: each leaves every file as it was -------------------------------------------------------------------

# (name, options over the standard ones, text the message must hold) for options the module refuses; `w` is
# the Work
BAD_OPTIONS = [
    ('typo', lambda w: {'path_map': [{'from': '/home/lumberjack-typo', 'to': w.sandbox + '/typo'}],
                        'original_iwds': {}},
     lambda w: 'path_map "from" /home/lumberjack-typo matches no path of any job in ' + w.log),
    ('one-typo', lambda w: {'path_map': [{'from': HOME, 'to': w.site_home},
                                         {'from': '/home/lumberjack-typo', 'to': w.sandbox + '/t'}]},
     lambda w: 'path_map "from" /home/lumberjack-typo matches no path'),
    # without spool_map, a placeholder Iwd has nowhere to go but its real directory
    ('no-original-iwds', lambda w: {'original_iwds': {}, 'spool_map': None},
     lambda w: 'job 7.1: Iwd %s is the placeholder export_jobs wrote' % P1),
    ('one-original-iwd', lambda w: {'original_iwds': {'7.1': W + '/p1'}, 'spool_map': None},
     lambda w: 'job 7.2: Iwd %s is the placeholder' % P2),
    ('unmapped-iwd', lambda w: {'path_map': [{'from': W + '/p0', 'to': w.sandbox + '/p0'}], 'original_iwds': {}},
     lambda w: 'job 6.0: Iwd /home/lumber/work is not under any path_map "from"'),
    ('to-outside-sandbox', lambda w: {'path_map': [{'from': HOME, 'to': w.root + '/elsewhere'}]},
     lambda w: 'path_map[0].to %s/elsewhere is outside the sandbox' % w.root),
    ('relative-from', lambda w: {'path_map': [{'from': 'home/lumber', 'to': w.site_home}]},
     lambda w: 'must be an absolute path'),
    ('root-from', lambda w: {'path_map': [{'from': '/', 'to': w.site_home}]},
     lambda w: 'path_map[0].from is "/"'),
    ('set-and-delete', lambda w: {'set_attributes': {'LumberjackRun': 'x'}, 'delete_attributes': ['lumberjackrun']},
     lambda w: 'attribute lumberjackrun is both set and deleted'),
    ('set-iwd', lambda w: {'set_attributes': {'Iwd': '/elsewhere'}},
     lambda w: 'Iwd is managed by the path mapping'),
    ('delete-submit-iwd', lambda w: {'delete_attributes': ['SUBMIT_Iwd']},
     lambda w: 'SUBMIT_Iwd is managed by the path mapping'),
    ('bad-name', lambda w: {'set_attributes': {'Bad Name': 1}},
     lambda w: "'Bad Name' is not a ClassAd attribute name"),
    ('dict-value', lambda w: {'set_attributes': {'Requirements': {'a': 1}}},
     lambda w: 'set_attributes.Requirements must be a string, number or boolean'),
    ('trailing-backslash', lambda w: {'set_attributes': {'Note': 'ends with \\'}},
     lambda w: 'set_attributes.Note: an old-syntax ClassAd string cannot end with a backslash'),
    ('multi-line-expression', lambda w: {'set_expressions': {'Rank': 'a\nb'}},
     lambda w: 'set_expressions.Rank must be a one-line, non-empty ClassAd expression'),
    ('blank-expression', lambda w: {'set_expressions': {'Rank': ' '}},
     lambda w: 'set_expressions.Rank must be a one-line'),
    ('set-twice', lambda w: {'set_attributes': {'Rank': 1}, 'set_expressions': {'Rank': '2'}},
     lambda w: 'Rank is in both set_attributes and set_expressions'),
    ('negative-workers', lambda w: {'workers': -1},
     lambda w: 'workers is -1: give 0 (as many processes as pay off) or a positive number'),
    ('mode-not-octal', lambda w: {'mode': 'u=rw'},
     lambda w: 'mode u=rw is not an octal mode such as 0600'),
    ('dest-is-a-directory', lambda w: {'dest': w.root},
     lambda w: 'dest %s is a directory' % w.root),
    ('dest-directory-missing', lambda w: {'dest': os.path.join(w.root, 'no-such-dir', 'job_queue.log')},
     lambda w: 'the directory of dest %s/no-such-dir/job_queue.log does not exist' % w.root),
]


# check mode previews a play: a directory an earlier task would create is no error there (see below)
CHECK_MODE_PREVIEWS = ('dest-directory-missing',)


def bad_option_cases():
    for check_mode in (False, True):
        for name, options, message in BAD_OPTIONS:
            if check_mode and name in CHECK_MODE_PREVIEWS:
                continue
            yield pytest.param(options, message, check_mode, id='%s-%s' % ('check' if check_mode else 'run', name))


@pytest.mark.parametrize('options, message, check_mode', list(bad_option_cases()))
def test_bad_options_fail_and_write_nothing(work, options, message, check_mode):
    options = options(work)
    before = snapshot(work.root)
    r = rewrite(work.args(backup=True, manifest_dest=os.path.join(work.root, 'm.json'), **options),
                check_mode=check_mode)
    assert r.get('failed') is True, r
    assert message(work) in r['msg']
    assert 'Traceback' not in r['msg']
    assert snapshot(work.root) == before


def test_relative_path_climbing_out_of_the_sandbox_fails_naming_the_job(work):
    work.edit(b'103 06.-1 TransferInput "input.txt"', b'103 06.-1 TransferInput "input.txt, ../../../../outside.txt"')
    before = snapshot(work.root)
    r = rewrite(work.args(backup=True))
    assert r['failed'] is True
    escaped = os.path.join(work.root, 'outside.txt')
    assert r['msg'] == ('2 problem(s) in %s, nothing was written: job 6.0: input ../../../../outside.txt would '
                        'escape the sandbox (%s); job 6.1: input ../../../../outside.txt would escape the sandbox '
                        '(%s)' % (work.log, escaped, escaped))
    assert snapshot(work.root) == before


def test_output_written_outside_every_mapping_fails_naming_the_job(work):
    work.edit(b'103 06.-1 UserLog "/home/lumber/work/run.log"', b'103 06.-1 UserLog "/var/log/elsewhere.log"')
    before = snapshot(work.root)
    r = rewrite(work.args())
    assert r['failed'] is True
    assert 'job 6.0: userlog /var/log/elsewhere.log would be written outside the sandbox' in r['msg']
    assert 'job 6.1: userlog /var/log/elsewhere.log' in r['msg']
    assert snapshot(work.root) == before


def test_output_under_site_paths_is_left_alone(work):
    work.edit(b'103 06.-1 UserLog "/home/lumber/work/run.log"', b'103 06.-1 UserLog "/var/log/elsewhere.log"')
    r = ok(rewrite(work.args(site_paths=['/dev/null', '/var/log'])))
    assert r['changes'] == dict(CHANGES, UserLog=1)
    assert job_attrs(work.log, 'UserLog')['6.0'] == '"/var/log/elsewhere.log"'
    assert '/var/log' not in r['manifest']['directories']


def test_missing_file_fails(work):
    missing = os.path.join(work.spool, 'no-such.job_queue.log')
    before = snapshot(work.root)
    r = rewrite(work.args(path=missing))
    assert r['failed'] is True
    assert r['msg'] == '%s does not exist or is not a file: give the job_queue.log to rewrite' % missing
    assert snapshot(work.root) == before


def test_not_a_queue_log_fails_naming_file_and_line(work):
    text = os.path.join(work.root, 'hostname')
    with open(text, 'w') as f:
        f.write('login01.hpc.example\n')
    before = snapshot(work.root)
    r = rewrite(work.args(path=text, backup=True))
    assert r['failed'] is True
    assert r['msg'].startswith("%s line 1: corrupt record: 'login01.hpc.example'" % text)
    assert snapshot(work.root) == before


@pytest.mark.parametrize('dest', [False, True])
def test_corrupt_record_in_the_middle_fails_naming_its_line(work, dest):
    # line 11 of the sample is "103 06.-1 Rank 0.0"; a cut value makes it corrupt
    assert work.original.splitlines()[10] == b'103 06.-1 Rank 0.0'
    work.edit(b'103 06.-1 Rank 0.0', b'103 06.-1 Rank')
    options = {'dest': os.path.join(work.root, 'out.job_queue.log')} if dest else {}
    before = snapshot(work.root)
    r = rewrite(work.args(**options))
    assert r['failed'] is True
    assert r['msg'].startswith("%s line 11: corrupt record: '103 06.-1 Rank'" % work.log)
    assert snapshot(work.root) == before


def test_check_mode_tells_that_an_existing_dest_would_be_refused(work, other_dest):
    r = rewrite(work.args(dest=other_dest), check_mode=True)
    assert r.get('failed') is True and 'force=true' in r['msg']


# -- a log a schedd left behind ------------------------------------------------------------------------------------

def test_cut_off_last_record_is_dropped_from_the_rewrite(work):
    with open(work.log, 'ab') as f:
        f.write(b'103 7.2 JobStatus 5')
    r = ok(rewrite(work.args()))
    assert r['changed'] is True and len(r['dropped']) == 1
    assert 'without its newline' in r['dropped'][0] and r['warnings'] == r['dropped']
    assert read(work.log) == work.expected_log()
    again = ok(rewrite(work.args()))
    assert (again['changed'], again['dropped'], again['warnings']) == (False, [], [])


def test_dropping_the_cut_off_record_alone_is_a_change(work):
    ok(rewrite(work.args()))
    rewritten = read(work.log)
    with open(work.log, 'ab') as f:
        f.write(b'103 7.2 JobStatus 5')
    r = ok(rewrite(work.args()))
    assert r['changed'] is True and r['changes'] == {} and r['added'] == 0
    assert read(work.log) == rewritten


def test_unterminated_transaction_is_dropped_from_the_rewrite(sample, tmp_path):
    work = Work(tmp_path, sample('spooled_submit'))
    work.original += b'105 \n103 1.0 JobStatus 1\n'
    with open(work.log, 'wb') as f:
        f.write(work.original)
    r = ok(rewrite({'path': work.log, 'sandbox': work.sandbox,
                    'path_map': [{'from': MAC_SPOOL, 'to': work.sandbox + '/mac'}]}))
    assert r['changed'] is True and r['changes'] == {'Iwd': 1}
    assert len(r['dropped']) == 1 and 'never ended' in r['dropped'][0]
    assert not read(work.log).endswith(b'103 1.0 JobStatus 1\n')
    assert job_attrs(work.log, 'JobStatus') == {'1.0': '5'}


def test_check_mode_previews_a_dest_in_a_directory_still_to_be_made(work):
    before = snapshot(work.root)
    missing = os.path.join(work.root, 'no-such-dir')
    r = ok(rewrite(work.args(dest=os.path.join(missing, 'job_queue.log'),
                             manifest_dest=os.path.join(missing, 'manifest.json')), check_mode=True))
    assert r['changed'] is True and r['manifest']['jobs'] == 5
    assert snapshot(work.root) == before
