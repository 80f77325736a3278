# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import os
import pwd
import shutil
import subprocess
import time

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils import _queue_log as ql
from ansible_collections.hepcloud.lumberjack.plugins.modules import condor_export, condor_import
from ansible_collections.hepcloud.lumberjack.tests.unit.utils.fake_htcondor import HTCondorException
from ansible_collections.hepcloud.lumberjack.tests.unit.utils.module_runner import run_module

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data')


def ids(c, n):
    return ['%d.%d' % (c, p) for p in range(n)]


def chown_tree(path, user):
    pw = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, pw.pw_uid, pw.pw_gid)
        for f in files:
            os.chown(os.path.join(root, f), pw.pw_uid, pw.pw_gid)


class Round(object):
    """A job round trip up to the import: jobs of `owner` exported with condor_export (to the fake schedd),
    then 'run' elsewhere: the log is copied into import_dir and the final attributes of each job appended
    with the collection's log writer, as the other schedd would leave them."""

    def __init__(self, queue, users, workdir, condor_config, count=2):
        self.queue = queue
        self.owner = users.alice
        self.config = condor_config
        self.cluster = queue.submit(self.owner, count)
        self.jobs = ids(self.cluster, count)
        self.export_dir = os.path.join(workdir, 'export')
        self.import_dir = os.path.join(workdir, 'import')
        r = run_module(condor_export.main, {'condor_config': condor_config, 'cluster_ids': [self.cluster],
                                            'export_dir': self.export_dir, 'spool_dir': '/hpc/spool'},
                       queue=queue)
        assert not r.get('failed'), r['msg']
        queue.calls = []
        self.log = os.path.join(self.import_dir, 'job_queue.log')

    def finish(self, statuses=None, extra=None, tail=''):
        """Write the returned log: every job completed unless `statuses` says otherwise."""
        os.mkdir(self.import_dir, 0o700)
        shutil.copyfile(os.path.join(self.export_dir, 'job_queue.log'), self.log)
        records = [ql.Record(ql.OP_BEGIN, None, None, None)]
        for jid in self.jobs:
            status = (statuses or {}).get(jid, 4)
            records.append(ql.set_attribute(jid, 'JobStatus', str(status)))
            if status == 4:
                records.append(ql.set_attribute(jid, 'ExitCode', '0'))
                records.append(ql.set_attribute(jid, 'CompletionDate', '1795303400'))
            for name, value in (extra or {}).get(jid, {}).items():
                records.append(ql.set_attribute(jid, name, value))
        records.append(ql.Record(ql.OP_END, None, None, None))
        with io.open(self.log, 'a', newline='\n') as f:
            ql.write_records(f, records)
            f.write(tail)
        chown_tree(self.import_dir, self.owner)
        os.chmod(self.log, 0o600)
        return self

    def args(self, **kw):
        a = {'condor_config': self.config, 'import_dir': self.import_dir}
        a.update(kw)
        return a

    def run(self, user='owner', **kw):
        check_mode = kw.pop('check_mode', False)
        return run_module(condor_import.main, self.args(**kw), queue=self.queue,
                          user=self.owner if user == 'owner' else user, check_mode=check_mode)


@pytest.fixture
def rt(queue, users, workdir, condor_config):
    return Round(queue, users, workdir, condor_config)


def assert_refused(r, queue, *words):
    assert r.get('failed') is True, r
    for w in words:
        assert w in r['msg'], r['msg']
    assert queue.calls == [] and queue.crashes == 0


# -- importing ---------------------------------------------------------------------------------------

def test_import_merges_the_results_and_clears_the_flags(rt, queue):
    rt.finish()
    r = rt.run()
    assert not r.get('failed'), r['msg']
    assert r['changed'] is True
    assert r['imported'] == rt.jobs and r['not_imported'] == {} and r['unfinished'] == {}
    assert r['result'] == {'TotalJobAds': 2, 'ActionResult': 1}
    assert r['owner'] == rt.owner and r['log'] == rt.log
    assert r['counts'] == {'jobs': 2, 'imported': 2, 'not_imported': 0, 'unfinished': 0}
    assert r['jobs'][0] == {'id': rt.jobs[0], 'action': 'import', 'reason': None, 'remote_status': 'completed',
                            'local_status': 'idle'}
    for jid in rt.jobs:
        job = queue.job(jid)
        assert job['JobStatus'] == 4 and job['ExitCode'] == 0
        assert 'Managed' not in job and 'ManagedManager' not in job
        assert job['Iwd'] == '/tmp'              # Iwd is not merged back
    assert queue.calls == [('import_exported_job_results', (rt.import_dir,))]


def test_second_identical_run_changes_nothing_and_says_so(rt, queue):
    rt.finish()
    assert rt.run()['changed'] is True
    r = rt.run()
    assert not r.get('failed'), r['msg']
    assert r['changed'] is False and r['imported'] == []
    assert 'nothing to import' in r['msg']
    assert set(r['not_imported'].values()) == {'not exported (never exported, un-exported, or already imported)'}
    assert [c[0] for c in queue.calls] == ['import_exported_job_results']
    # and once the jobs have left the queue for history
    for jid in rt.jobs:
        queue.remove(jid)
    r = rt.run()
    assert r['changed'] is False
    assert set(r['not_imported'].values()) == {'not in the local queue (removed, or imported and finished)'}


def test_check_mode_reports_what_would_be_imported(rt, queue):
    rt.finish()
    before = open(rt.log, 'rb').read()
    r = rt.run(check_mode=True)
    assert not r.get('failed'), r['msg']
    assert r['changed'] is True and r['imported'] == rt.jobs and r['result'] == {}
    assert 'would import 2 jobs' in r['msg']
    assert queue.calls == []
    assert queue.job(rt.jobs[0])['ManagedManager'] == 'Lumberjack'
    assert open(rt.log, 'rb').read() == before
    assert os.listdir(rt.import_dir) == ['job_queue.log']


def test_each_skip_reason_is_reported(queue, users, workdir, condor_config):
    rt = Round(queue, users, workdir, condor_config, count=6)
    j = rt.jobs
    queue.set(j[1], JobStatus=5)                                       # held locally meanwhile
    queue.set(j[2], JobStatus=3)                                       # removed locally, still in the queue
    queue.unset(j[3], 'Managed', 'ManagedManager')                     # un-exported since
    queue.set(j[4], ManagedManager='Grid')                             # handed to something else
    queue.remove(j[5])                                                 # gone
    rt.finish()
    r = rt.run()
    assert not r.get('failed'), r['msg']
    assert r['imported'] == [j[0]]
    assert r['not_imported'] == {
        j[1]: 'held locally',
        j[2]: 'removed locally',
        j[3]: 'not exported (never exported, un-exported, or already imported)',
        j[4]: 'managed externally by Grid, not by Lumberjack',
        j[5]: 'not in the local queue (removed, or imported and finished)',
    }
    assert r['result']['TotalJobAds'] == 1
    assert queue.job(j[1])['JobStatus'] == 5 and queue.job(j[1])['ManagedManager'] == 'Lumberjack'


def test_jobs_held_on_the_other_side_come_back_held(rt, queue):
    rt.finish(statuses={rt.jobs[1]: 5}, extra={rt.jobs[1]: {'HoldReason': '"Cannot access initial working directory"'}})
    r = rt.run()
    assert not r.get('failed'), r['msg']
    assert r['imported'] == rt.jobs and r['unfinished'] == {}
    assert r['jobs'][1]['remote_status'] == 'held'
    assert queue.job(rt.jobs[1])['JobStatus'] == 5


def test_unfinished_jobs_are_refused_by_default(rt, queue):
    rt.finish(statuses={rt.jobs[1]: 1})
    r = rt.run()
    assert_refused(r, queue, '1 jobs to import have not finished on the other side (%s)' % rt.jobs[1],
                   'unfinished=import')
    assert r['unfinished'] == {rt.jobs[1]: 'idle'}
    assert r['imported'] == [] and r['would_import'] == rt.jobs


def test_unfinished_jobs_come_back_idle_when_asked(rt, queue):
    rt.finish(statuses={rt.jobs[1]: 1})
    r = rt.run(unfinished='import')
    assert not r.get('failed'), r['msg']
    assert r['imported'] == rt.jobs and r['unfinished'] == {rt.jobs[1]: 'idle'}
    assert queue.job(rt.jobs[1])['JobStatus'] == 1 and 'Managed' not in queue.job(rt.jobs[1])


@pytest.mark.parametrize('status,word', [(2, 'running'), (6, 'transferring output'), (7, 'suspended')])
def test_jobs_still_running_there_are_always_refused(rt, queue, status, word):
    rt.finish(statuses={rt.jobs[0]: status})
    r = rt.run(unfinished='import')
    assert_refused(r, queue, '%s %s' % (rt.jobs[0], word), 'not stopped cleanly', 'condor_off -schedd')


def test_real_log_of_a_personal_pool_run(queue, users, workdir, condor_config):
    """The log a real HTCondor 25.14 pool left after running an export (tests/.../data/README.md)."""
    for c, n in ((6, 2), (7, 3)):
        queue.next_cluster = c
        queue.submit(users.alice, n)
        for p in range(n):
            queue.set('%d.%d' % (c, p), Managed='External', ManagedManager='Lumberjack',
                      GlobalJobId='vm#%d.%d#1795303287' % (c, p))
    import_dir = os.path.join(workdir, 'import')
    os.mkdir(import_dir)
    with io.open(os.path.join(DATA, 'hpc_after_run.job_queue.log'), newline='\n') as src:
        text = src.read().replace('"lumber', '"%s' % users.alice)
    with io.open(os.path.join(import_dir, 'job_queue.log'), 'w', newline='\n') as dst:
        dst.write(text)
    chown_tree(import_dir, users.alice)
    r = run_module(condor_import.main, {'condor_config': condor_config, 'import_dir': import_dir},
                   queue=queue, user=users.alice)
    assert not r.get('failed'), r['msg']
    assert r['imported'] == ['6.0', '6.1', '7.0', '7.1', '7.2']
    assert [j['remote_status'] for j in r['jobs']] == ['completed'] * 4 + ['held']
    assert queue.job('7.0')['JobStatus'] == 4 and queue.job('7.2')['JobStatus'] == 5


# -- pre-flight failures -----------------------------------------------------------------------------

def test_run_as_root_is_refused_with_become_user(rt, queue):
    rt.finish()
    r = rt.run(user=None)
    assert_refused(r, queue, 'must run as the owner of the jobs, not as root', 'become_user: %s' % rt.owner)


def test_run_as_another_user_is_refused(rt, queue, users):
    rt.finish()
    os.chmod(rt.import_dir, 0o755)
    os.chmod(rt.log, 0o644)
    r = rt.run(user=users.bob)
    assert_refused(r, queue, 'runs as %s, but the log holds jobs of other owners (%s' % (users.bob, rt.owner))


def test_token_of_another_identity_is_refused(rt, queue, users):
    rt.finish()
    r = rt.run(idtoken='fake:%s@lumberjack.test' % users.bob)
    assert_refused(r, queue, 'authenticates this module as %s@lumberjack.test, not as the job owner' % users.bob)


def test_token_of_a_super_user_is_refused(rt, queue):
    rt.finish()
    r = rt.run(idtoken='fake:condor@lumberjack.test')
    assert_refused(r, queue, 'not as the job owner')


def test_directory_not_writable_by_the_owner(rt, queue):
    rt.finish()
    os.chown(rt.import_dir, 0, 0)
    os.chmod(rt.import_dir, 0o755)
    r = rt.run()
    assert_refused(r, queue, '%s is not writable' % rt.import_dir, 'copy the log into a directory owned by')


def test_log_not_writable_by_the_owner(rt, queue):
    rt.finish()
    os.chown(rt.log, 0, 0)
    os.chmod(rt.log, 0o644)
    r = rt.run()
    assert_refused(r, queue, '%s is not readable and writable' % rt.log)


def test_log_owned_by_the_daemon_account(rt, queue):
    rt.finish()
    os.chown(rt.log, 0, 0)           # as copied from the other pool's SPOOL without chown: 0600, not ours
    r = rt.run()
    assert_refused(r, queue, 'is not readable by %s' % rt.owner)


def test_missing_log(rt, queue):
    os.mkdir(rt.import_dir)
    chown_tree(rt.import_dir, rt.owner)
    r = rt.run()
    assert_refused(r, queue, 'has no job_queue.log')


def test_missing_directory(rt, queue):
    r = rt.run()
    assert_refused(r, queue, 'is not a directory')


def test_relative_directory(rt, queue):
    r = rt.run(import_dir='import')
    assert_refused(r, queue, 'must be an absolute path')


def test_unterminated_transaction_at_the_end(rt, queue):
    rt.finish(tail='105 \n103 %s JobStatus 2\n' % rt.jobs[0])
    r = rt.run()
    assert_refused(r, queue, 'ends in the middle of a write', 'never ended', 'condor_off -schedd')


def test_cut_off_last_record(rt, queue):
    rt.finish(tail='103 %s JobStat' % rt.jobs[0])
    r = rt.run()
    assert_refused(r, queue, 'ends in the middle of a write', 'without its newline', 'condor_off -schedd')


def test_schedd_address_file_next_to_the_log(rt, queue):
    rt.finish()
    open(os.path.join(rt.import_dir, '.schedd_address'), 'w').close()
    r = rt.run()
    assert_refused(r, queue, 'holds .schedd_address', 'condor_off -schedd')


def test_log_held_open_by_a_process(rt, queue):
    rt.finish()
    pw = pwd.getpwnam(rt.owner)

    def demote():
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    with open(rt.log, 'a') as keep_open:
        holder = subprocess.Popen(['sleep', '60'], stdout=keep_open, preexec_fn=demote)
    try:
        for dummy in range(50):      # until the child has switched user and its fd is visible
            if os.path.exists('/proc/%d/fd/1' % holder.pid) and os.stat('/proc/%d' % holder.pid).st_uid == pw.pw_uid:
                break
            time.sleep(0.05)
        r = rt.run()
    finally:
        holder.kill()
        holder.wait()
    assert_refused(r, queue, 'is open in sleep (pid %d)' % holder.pid, 'still being written')


def test_corrupt_log(rt, queue):
    rt.finish(tail='999 garbage\n')
    r = rt.run()
    assert_refused(r, queue, 'cannot be imported', 'corrupt record')


def test_log_without_jobs(rt, queue):
    os.mkdir(rt.import_dir)
    with open(rt.log, 'w') as f:
        f.write('107 1 CreationTimestamp 1795303302\n101 0.0 Job Machine\n103 0.0 NextClusterNum 8\n')
    chown_tree(rt.import_dir, rt.owner)
    r = rt.run()
    assert_refused(r, queue, 'holds no job')


def test_log_that_is_not_an_export(rt, queue):
    os.mkdir(rt.import_dir)
    with open(rt.log, 'w') as f:
        f.write('101 0%d.-1 Job Machine\n103 0%d.-1 Owner "%s"\n101 %s Job Machine\n103 %s ProcId 0\n'
                % (rt.cluster, rt.cluster, rt.owner, rt.jobs[0], rt.jobs[0]))
    chown_tree(rt.import_dir, rt.owner)
    r = rt.run()
    assert_refused(r, queue, 'none was exported by Lumberjack')


def test_log_from_another_schedd(rt, queue):
    rt.finish(extra={rt.jobs[0]: {'GlobalJobId': '"other#%s#1795300000"' % rt.jobs[0]}})
    r = rt.run()
    assert_refused(r, queue, 'the log comes from another schedd')


def test_local_job_of_another_owner(rt, queue, users):
    rt.finish()
    queue.clusters[rt.cluster]['Owner'] = users.bob
    r = rt.run()
    assert_refused(r, queue, 'belongs to %s in the local queue but to %s' % (users.bob, rt.owner))


# -- errors from the schedd --------------------------------------------------------------------------

@pytest.mark.parametrize('ad,words', [
    ({'ErrorCode': 1, 'ErrorString': 'Failed to initialize import job log', 'ActionResult': 0},
     ['could not open job_queue.log in the import directory', '(ErrorCode 1)']),
    ({'ErrorCode': 1, 'ErrorString': 'Failed to init user ids', 'ActionResult': 0}, ['must run as the job owner']),
    ({'ErrorCode': 1, 'ErrorString': 'User not authorized to import given jobs', 'ActionResult': 0},
     ['the schedd refused']),
    ({'ActionResult': 0}, ['no reason given']),
])
def test_error_result_ad_becomes_a_clear_failure(rt, queue, ad, words):
    rt.finish()
    queue.fail_next['import_exported_job_results'] = ad
    r = rt.run()
    assert r['failed'] is True and r['msg'].startswith('import of %s failed: ' % rt.log)
    for w in words:
        assert w in r['msg']
    assert r['result'] == ad


def test_binding_exception_becomes_a_clear_failure(rt, queue):
    rt.finish()
    queue.fail_next['import_exported_job_results'] = HTCondorException(
        "DCSchedd::importExportedJobResults:6004:Can't read response ad")
    r = rt.run()
    assert r['failed'] is True and 'did not answer' in r['msg']


def test_result_count_differing_is_a_warning(rt, queue):
    rt.finish()
    queue.result_override['import_exported_job_results'] = {'TotalJobAds': 1}
    r = rt.run()
    assert not r.get('failed') and any('1 imported jobs, 2 were expected' in w for w in r['warnings'])
