# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import stat

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils import _queue_log as ql
from ansible_collections.hepcloud.lumberjack.plugins.modules import condor_export
from ansible_collections.hepcloud.lumberjack.tests.unit.utils.fake_htcondor import HTCondorException
from ansible_collections.hepcloud.lumberjack.tests.unit.utils.module_runner import run_module

SPOOL = '/scratch/hpc/spool'


@pytest.fixture
def args(condor_config, workdir):
    return {'condor_config': condor_config, 'export_dir': os.path.join(workdir, 'export'), 'spool_dir': SPOOL}


def run(args, queue, **kwargs):
    return run_module(condor_export.main, args, queue=queue, **kwargs)


def changing_calls(queue):
    return [c[0] for c in queue.calls]


def log_job_ids(path):
    return sorted(ql.job_id(k) for k in ql.replay(path).job_keys())


def uid_of(name):
    return pwd.getpwnam(name).pw_uid


# -- exporting ---------------------------------------------------------------------------------------

def test_export_writes_the_log_as_the_owner_and_marks_the_jobs(users, queue, args):
    c = queue.submit(users.alice, 2)
    r = run(dict(args, cluster_ids=[c]), queue)
    assert not r.get('failed'), r['msg']
    assert r['changed'] is True
    assert r['exported'] == ['%d.0' % c, '%d.1' % c]
    assert r['jobs'] == r['exported']
    assert r['owner'] == users.alice and r['user'] == users.alice + '@lumberjack.test'
    assert r['clusters'] == [c]
    log = os.path.join(args['export_dir'], 'job_queue.log')
    assert r['log'] == log
    # the schedd's result ad, as the schedd shapes it
    assert r['result'] == {'Log': log, 'User': users.alice + '@lumberjack.test', 'TotalJobAds': 2,
                           'ActionResult': 1, 'TotalClusterAds': 1}
    assert r['counts'] == {'jobs': 2, 'clusters': 1, 'other_managed': 0, 'exported': 2, 'already_exported': 0}
    assert r['original_iwds'] == {'%d.0' % c: '/tmp', '%d.1' % c: '/tmp'}
    # the directory was created by the owner, private; the log written by the owner
    st = os.stat(args['export_dir'])
    assert st.st_uid == uid_of(users.alice) and stat.S_IMODE(st.st_mode) == 0o700
    assert r['created_dir'] is True
    st = os.stat(log)
    assert st.st_uid == uid_of(users.alice) and stat.S_IMODE(st.st_mode) == 0o600
    assert log_job_ids(log) == r['exported']
    for jid in r['exported']:
        assert queue.job(jid)['Managed'] == 'External' and queue.job(jid)['ManagedManager'] == 'Lumberjack'
    # the schedd got explicit cluster ids, not the user's constraint
    assert queue.calls == [('export_jobs', (['%d.0' % c], args['export_dir'], SPOOL))]


def test_second_identical_run_changes_nothing(users, queue, args):
    c = queue.submit(users.alice, 2)
    first = run(dict(args, cluster_ids=[c]), queue)
    assert first['changed'] is True
    second = run(dict(args, cluster_ids=[c]), queue)
    assert not second.get('failed'), second['msg']
    assert second['changed'] is False
    assert second['exported'] == [] and second['already_exported'] == first['exported']
    assert changing_calls(queue) == ['export_jobs']


def test_constraint_selects_whole_clusters(users, queue, args):
    c1 = queue.submit(users.alice, 3, proc_attrs={1: {'Mark': 'yes'}})
    queue.submit(users.alice, 1)
    r = run(dict(args, constraint='Mark == "yes"'), queue)
    assert not r.get('failed'), r['msg']
    assert r['exported'] == ['%d.0' % c1, '%d.1' % c1, '%d.2' % c1]
    assert r['clusters'] == [c1]


def test_check_mode_reports_and_changes_nothing(users, queue, args):
    c = queue.submit(users.alice, 2)
    r = run(dict(args, cluster_ids=[c]), queue, check_mode=True)
    assert not r.get('failed'), r['msg']
    assert r['changed'] is True
    assert r['exported'] == ['%d.0' % c, '%d.1' % c]
    assert r['created_dir'] is True and r['result'] == {}
    assert 'would export' in r['msg']
    assert queue.calls == []
    assert not os.path.exists(args['export_dir'])
    assert 'Managed' not in queue.job('%d.0' % c)


def test_export_as_the_owner_without_root(users, queue, args, workdir):
    c = queue.submit(users.alice, 1)
    r = run(dict(args, cluster_ids=[c]), queue, user=users.alice)
    assert not r.get('failed'), r['msg']
    assert r['changed'] is True and r['exported'] == ['%d.0' % c]
    assert queue.job('%d.0' % c)['ManagedManager'] == 'Lumberjack'


def test_existing_directory_owned_by_the_owner_is_used(users, queue, args):
    os.mkdir(args['export_dir'], 0o750)
    os.chown(args['export_dir'], uid_of(users.alice), -1)
    c = queue.submit(users.alice, 1)
    r = run(dict(args, cluster_ids=[c]), queue)
    assert not r.get('failed'), r['msg']
    assert r['created_dir'] is False
    assert stat.S_IMODE(os.stat(args['export_dir']).st_mode) == 0o750


def test_already_exported_jobs_are_reported_not_exported_twice(users, queue, args):
    c = queue.submit(users.alice, 3)
    queue.set('%d.0' % c, Managed='External', ManagedManager='Lumberjack')
    r = run(dict(args, cluster_ids=[c]), queue)
    assert not r.get('failed'), r['msg']
    assert r['already_exported'] == ['%d.0' % c]
    assert r['exported'] == ['%d.1' % c, '%d.2' % c]
    assert log_job_ids(r['log']) == r['exported']
    assert r['result']['TotalJobAds'] == 2


def test_everything_exported_elsewhere_is_no_change(users, queue, args):
    c = queue.submit(users.alice, 2)
    for p in (0, 1):
        queue.set('%d.%d' % (c, p), Managed='External', ManagedManager='Lumberjack')
    r = run(dict(args, cluster_ids=[c]), queue)
    assert not r.get('failed'), r['msg']
    assert r['changed'] is False and r['exported'] == []
    assert len(r['already_exported']) == 2
    assert queue.calls == [] and not os.path.exists(args['export_dir'])


def test_jobs_of_another_manager_are_left_alone(users, queue, args):
    c = queue.submit(users.alice, 2)
    queue.set('%d.1' % c, Managed='External', ManagedManager='Grid')
    r = run(dict(args, cluster_ids=[c]), queue)
    assert not r.get('failed'), r['msg']
    assert r['exported'] == ['%d.0' % c]
    assert r['other_managed'] == {'%d.1' % c: 'managed externally by Grid, not by Lumberjack'}
    assert queue.job('%d.1' % c)['ManagedManager'] == 'Grid'


def test_result_count_differing_from_the_selection_is_a_warning(users, queue, args):
    c = queue.submit(users.alice, 2)
    queue.result_override['export_jobs'] = {'TotalJobAds': 1}
    r = run(dict(args, cluster_ids=[c]), queue)
    assert not r.get('failed'), r['msg']
    assert any('1 exported jobs, 2 were expected' in w for w in r.get('warnings', []))


def test_result_with_no_job_exported_fails_and_removes_the_empty_log(users, queue, args):
    c = queue.submit(users.alice, 1)
    queue.set('%d.0' % c, Managed='External', ManagedManager='Lumberjack')   # the schedd will skip it ...
    queue.result_override['export_jobs'] = {}
    # ... while the module's query still sees it idle: exported between the query and the call
    real_query = queue.query

    def stale_query(constraint='true', projection=None):
        ads = real_query(constraint, projection)
        for ad in ads:
            if 'Managed' in ad:
                del ad['Managed']
                del ad['ManagedManager']
        return ads
    queue.query = stale_query
    r = run(dict(args, cluster_ids=[c]), queue)
    assert r['failed'] and 'exported no job (TotalJobAds = 0)' in r['msg']
    assert r['result']['TotalJobAds'] == 0
    assert not os.path.exists(os.path.join(args['export_dir'], 'job_queue.log'))


# -- pre-flight failures: nothing reaches the schedd ---------------------------------------------------

def assert_refused(r, queue, *words):
    assert r.get('failed') is True, r
    for w in words:
        assert w in r['msg'], r['msg']
    assert 'Traceback' not in r['msg']
    assert queue.calls == [] and queue.crashes == 0


def test_empty_selection(users, queue, args):
    queue.submit(users.alice, 1)
    r = run(dict(args, constraint='Owner == "nobody-here"'), queue)
    assert_refused(r, queue, 'selection is empty', 'Owner == "nobody-here"')


def test_unknown_cluster(users, queue, args):
    c = queue.submit(users.alice, 1)
    r = run(dict(args, cluster_ids=[c, 77]), queue)
    assert_refused(r, queue, 'cluster(s) 77 are not in the queue')


def test_invalid_constraint(users, queue, args):
    r = run(dict(args, constraint='Owner == '), queue)
    assert_refused(r, queue, 'not a valid ClassAd expression')


def test_constraint_and_cluster_ids_are_exclusive(users, queue, args):
    r = run(dict(args, constraint='true', cluster_ids=[1]), queue)
    assert_refused(r, queue, 'mutually exclusive')


def test_selection_is_required(users, queue, args):
    r = run(args, queue)
    assert_refused(r, queue, 'one of the following is required: constraint, cluster_ids')


def test_two_owners(users, queue, args):
    c1 = queue.submit(users.alice, 1)
    c2 = queue.submit(users.bob, 1)
    r = run(dict(args, cluster_ids=[c1, c2]), queue)
    assert_refused(r, queue, '2 owners', users.alice, users.bob, 'Owner == "NAME"')
    assert r['owners'] == sorted([users.alice, users.bob])


@pytest.mark.parametrize('status,word', [(2, 'running'), (5, 'held'), (4, 'completed'), (3, 'removed')])
def test_job_not_idle(users, queue, args, status, word):
    c = queue.submit(users.alice, 2)
    queue.set('%d.1' % c, JobStatus=status)
    r = run(dict(args, cluster_ids=[c]), queue)
    assert_refused(r, queue, 'only idle jobs can be exported', '%d.1 is %s' % (c, word))


def test_relative_export_dir(users, queue, args):
    c = queue.submit(users.alice, 1)
    r = run(dict(args, cluster_ids=[c], export_dir='exports/x'), queue)
    assert_refused(r, queue, 'export_dir must be an absolute path')


def test_spool_dir_required(users, queue, args):
    c = queue.submit(users.alice, 1)
    del args['spool_dir']
    r = run(dict(args, cluster_ids=[c]), queue)
    assert_refused(r, queue, 'spool_dir')


def test_export_dir_not_writable_by_the_owner(users, queue, args):
    os.mkdir(args['export_dir'], 0o755)     # root's: root could write, the owner cannot
    c = queue.submit(users.alice, 1)
    r = run(dict(args, cluster_ids=[c]), queue)
    assert_refused(r, queue, 'cannot be used by the job owner %s' % users.alice, 'not writable')


def test_export_dir_cannot_be_created_by_the_owner(users, queue, args, workdir):
    parent = os.path.join(workdir, 'root-only')
    os.mkdir(parent, 0o755)
    r = run(dict(args, cluster_ids=[queue.submit(users.alice, 1)], export_dir=os.path.join(parent, 'x', 'y')),
            queue)
    assert_refused(r, queue, 'does not exist and %s is not writable' % parent)
    assert not os.path.exists(os.path.join(parent, 'x'))


def test_export_dir_cannot_be_created_in_check_mode_either(users, queue, args, workdir):
    parent = os.path.join(workdir, 'root-only')
    os.mkdir(parent, 0o755)
    r = run(dict(args, cluster_ids=[queue.submit(users.alice, 1)], export_dir=os.path.join(parent, 'x')),
            queue, check_mode=True)
    assert_refused(r, queue, 'is not writable')


def test_export_dir_is_a_file(users, queue, args):
    with open(args['export_dir'], 'w') as f:
        f.write('x')
    r = run(dict(args, cluster_ids=[queue.submit(users.alice, 1)]), queue)
    assert_refused(r, queue, 'exists and is not a directory')


def test_owner_without_local_account(users, queue, args):
    c = queue.submit('ljtest-no-such-user', 1)
    r = run(dict(args, cluster_ids=[c]), queue)
    assert_refused(r, queue, 'no local account', 'ljtest-no-such-user')


def test_existing_log_of_other_jobs(users, queue, args):
    c1 = queue.submit(users.alice, 1)
    c2 = queue.submit(users.alice, 1)
    assert not run(dict(args, cluster_ids=[c1]), queue).get('failed')
    before = open(os.path.join(args['export_dir'], 'job_queue.log')).read()
    queue.calls = []
    r = run(dict(args, cluster_ids=[c2]), queue)
    assert_refused(r, queue, 'already holds a job_queue.log with 1 jobs (%d.0)' % c1, 'would append')
    assert open(os.path.join(args['export_dir'], 'job_queue.log')).read() == before


def test_existing_log_of_the_same_jobs_no_longer_exported(users, queue, args):
    c = queue.submit(users.alice, 1)
    assert not run(dict(args, cluster_ids=[c]), queue).get('failed')
    queue.unset('%d.0' % c, 'Managed', 'ManagedManager')        # un-exported by someone else since
    queue.calls = []
    r = run(dict(args, cluster_ids=[c]), queue)
    assert_refused(r, queue, 'already holds a job_queue.log with 1 jobs', 'not exactly this export')


def test_existing_unreadable_log(users, queue, args):
    os.mkdir(args['export_dir'])
    with open(os.path.join(args['export_dir'], 'job_queue.log'), 'w') as f:
        f.write('this is not a job queue log\n')
    r = run(dict(args, cluster_ids=[queue.submit(users.alice, 1)]), queue)
    assert_refused(r, queue, 'cannot be read', 'corrupt record')


def test_non_root_caller_who_is_not_the_owner(users, queue, args):
    c = queue.submit(users.alice, 1)
    r = run(dict(args, cluster_ids=[c]), queue, user=users.bob)
    assert_refused(r, queue, 'can neither act as %s' % users.alice)


def test_identity_that_owns_nothing_never_reaches_the_schedd(users, queue, args):
    """A token for a user the schedd has never seen would make a 25.14 schedd crash (SIGSEGV)."""
    c = queue.submit(users.alice, 1)
    r = run(dict(args, cluster_ids=[c], idtoken='fake:%s@lumberjack.test' % users.bob), queue)
    assert_refused(r, queue, 'authenticates this module as %s@lumberjack.test' % users.bob,
                   'neither a queue super user nor the owner')


def test_the_fake_schedd_does_crash_for_such_an_identity(users, queue, workdir, monkeypatch):
    """The double models the crash the guard above avoids (so the guard test means something)."""
    queue.submit(users.alice, 1)
    token_dir = os.path.join(workdir, 'tokens')
    os.mkdir(token_dir)
    with open(os.path.join(token_dir, 't'), 'w') as f:
        f.write('fake:%s@lumberjack.test' % users.bob)
    monkeypatch.setenv('_CONDOR_SEC_TOKEN_DIRECTORY', token_dir)
    with pytest.raises(HTCondorException, match="Can't read response ad"):
        queue.unexport_jobs(['1.0'])
    assert queue.crashes == 1


# -- errors from the schedd --------------------------------------------------------------------------

@pytest.mark.parametrize('error,words', [
    ('DCSchedd::exportJobs:4007:Failed to initialize export job log',
     ['could not create job_queue.log in the export directory as the job owner']),
    ('DCSchedd::exportJobs:4007:User not authorized to export given jobs', ['the schedd refused']),
    ("DCSchedd::exportJobs:6004:Can't read response ad", ['did not answer']),
    ('DCSchedd::exportJobs:4007:Cannot export for more than one user', ['several owners']),
    ('DCSchedd::exportJobs:4007:No valid clusters to export', ['No valid clusters to export']),
])
def test_binding_exception_becomes_a_clear_failure(users, queue, args, error, words):
    c = queue.submit(users.alice, 1)
    queue.fail_next['export_jobs'] = HTCondorException(error)
    r = run(dict(args, cluster_ids=[c]), queue)
    assert r['failed'] is True
    assert r['msg'].startswith('export of clusters %d into %s failed: ' % (c, args['export_dir']))
    for w in words:
        assert w in r['msg']
    assert r['error'] == error


def test_error_result_ad_becomes_a_failure(users, queue, args):
    c = queue.submit(users.alice, 1)
    queue.fail_next['export_jobs'] = {'ActionResult': 0, 'ErrorCode': 4007, 'ErrorString': 'Invalid arguments'}
    r = run(dict(args, cluster_ids=[c]), queue)
    assert r['failed'] is True and 'Invalid arguments (ErrorCode 4007)' in r['msg']
    assert r['result'] == {'ActionResult': 0, 'ErrorCode': 4007, 'ErrorString': 'Invalid arguments'}


# -- un-export ---------------------------------------------------------------------------------------

def test_unexport_clears_the_flags_and_removes_the_stale_log(users, queue, args):
    c = queue.submit(users.alice, 2)
    assert not run(dict(args, cluster_ids=[c]), queue).get('failed')
    r = run({'condor_config': args['condor_config'], 'cluster_ids': [c], 'state': 'unexported',
             'export_dir': args['export_dir']}, queue)
    assert not r.get('failed'), r['msg']
    assert r['changed'] is True
    assert r['unexported'] == ['%d.0' % c, '%d.1' % c]
    assert r['result'] == {'TotalJobAds': 2, 'ActionResult': 1, 'TotalClusterAds': 1}
    assert r['removed_log'] == os.path.join(args['export_dir'], 'job_queue.log')
    assert not os.path.exists(r['removed_log'])
    assert 'Managed' not in queue.job('%d.0' % c)
    again = run({'condor_config': args['condor_config'], 'cluster_ids': [c], 'state': 'unexported',
                 'export_dir': args['export_dir']}, queue)
    assert again['changed'] is False and again['unexported'] == [] and again['not_exported'] == r['unexported']
    # and the same directory takes a new export
    re = run(dict(args, cluster_ids=[c]), queue)
    assert re['changed'] is True and re['exported'] == r['unexported']


def test_unexport_check_mode(users, queue, args):
    c = queue.submit(users.alice, 1)
    assert not run(dict(args, cluster_ids=[c]), queue).get('failed')
    queue.calls = []
    r = run({'condor_config': args['condor_config'], 'constraint': 'Owner == "%s"' % users.alice,
             'state': 'unexported', 'export_dir': args['export_dir']}, queue, check_mode=True)
    assert r['changed'] is True and r['unexported'] == ['%d.0' % c]
    assert r['removed_log'] == os.path.join(args['export_dir'], 'job_queue.log')
    assert queue.calls == [] and os.path.exists(r['removed_log'])
    assert queue.job('%d.0' % c)['ManagedManager'] == 'Lumberjack'


def test_unexport_never_touches_other_managers(users, queue, args):
    c1 = queue.submit(users.alice, 1)
    c2 = queue.submit(users.alice, 1)
    queue.set('%d.0' % c1, Managed='External', ManagedManager='Lumberjack')
    queue.set('%d.0' % c2, Managed='External', ManagedManager='Grid')
    r = run({'condor_config': args['condor_config'], 'cluster_ids': [c1, c2], 'state': 'unexported'}, queue)
    assert not r.get('failed'), r['msg']
    assert r['unexported'] == ['%d.0' % c1] and r['clusters'] == [c1]
    assert r['other_managed'] == {'%d.0' % c2: 'managed externally by Grid, not by Lumberjack'}
    assert queue.job('%d.0' % c2)['ManagedManager'] == 'Grid'
    assert queue.calls == [('unexport_jobs', (['%d.0' % c1],))]


def test_unexport_refuses_a_cluster_shared_with_another_manager(users, queue, args):
    c = queue.submit(users.alice, 2)
    queue.set('%d.0' % c, Managed='External', ManagedManager='Lumberjack')
    queue.set('%d.1' % c, Managed='External', ManagedManager='Grid')
    r = run({'condor_config': args['condor_config'], 'cluster_ids': [c], 'state': 'unexported'}, queue)
    assert_refused(r, queue, 'would also release jobs that another manager handles', '%d.1' % c)
    assert queue.job('%d.1' % c)['ManagedManager'] == 'Grid'


def test_unexport_keeps_a_log_with_jobs_outside_the_selection(users, queue, args):
    c1 = queue.submit(users.alice, 1)
    c2 = queue.submit(users.alice, 1)
    assert not run(dict(args, cluster_ids=[c1, c2]), queue).get('failed')
    r = run({'condor_config': args['condor_config'], 'cluster_ids': [c1], 'state': 'unexported',
             'export_dir': args['export_dir']}, queue)
    assert r['changed'] is True and r['removed_log'] is None
    assert os.path.exists(os.path.join(args['export_dir'], 'job_queue.log'))
    assert any('outside the selection' in w for w in r['warnings'])


def test_unexport_of_nothing_is_no_change(users, queue, args):
    r = run({'condor_config': args['condor_config'], 'constraint': 'false', 'state': 'unexported'}, queue)
    assert not r.get('failed') and r['changed'] is False and queue.calls == []
    assert any('no job in the queue matches' in w for w in r['warnings'])


def test_unexport_by_an_identity_owning_nothing_is_refused(users, queue, args):
    c = queue.submit(users.alice, 1)
    queue.set('%d.0' % c, Managed='External', ManagedManager='Lumberjack')
    r = run({'condor_config': args['condor_config'], 'cluster_ids': [c], 'state': 'unexported',
             'idtoken': 'fake:%s@lumberjack.test' % users.bob}, queue)
    assert_refused(r, queue, 'neither a queue super user nor the owner')


@pytest.mark.parametrize('error', ['DCSchedd::unexportJobs:1:No clusters to unexport',
                                   'DCSchedd::unexportJobs:1:User not authorized to unexport given jobs'])
def test_unexport_binding_exception(users, queue, args, error):
    c = queue.submit(users.alice, 1)
    queue.set('%d.0' % c, Managed='External', ManagedManager='Lumberjack')
    queue.fail_next['unexport_jobs'] = HTCondorException(error)
    r = run({'condor_config': args['condor_config'], 'cluster_ids': [c], 'state': 'unexported'}, queue)
    assert r['failed'] and r['msg'].startswith('un-export of clusters %d failed: ' % c) and r['error'] == error
