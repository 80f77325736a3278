# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""condor_export and condor_import against real HTCondor daemons, through ansible-playbook.

A "home" personal pool (collector and schedd, no startd: jobs stay idle there) gets jobs submitted by an
ordinary local user created for the test. The modules export them, un-export them, export them again; a
second personal pool (the "HPC" side) starts with the exported job_queue.log in its SPOOL, runs the jobs and
its schedd is stopped so the log is compacted; the log is copied into a directory of the job owner and
condor_import, run as that owner (become_user), merges the jobs back completed. Every step is checked against
the real queue and the real files, and every second run must report no change.

Needs root (users, pools started as root), sudo (become) and condor_master on PATH; skipped otherwise.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import uuid

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils import _queue_log as ql
from ansible_collections.hepcloud.lumberjack.tests.support.condor_pool import PersonalPool, condor_available
from ansible_collections.hepcloud.lumberjack.tests.support.playbook import PlaybookRunner

pytestmark = [
    pytest.mark.skipif(not condor_available(),
                       reason='condor_master is not on PATH: these tests start real HTCondor pools '
                              '(install HTCondor, e.g. in /opt/condor, and put its bin and sbin on PATH)'),
    pytest.mark.skipif(os.geteuid() != 0, reason='starting HTCondor pools and creating users needs root'),
    pytest.mark.skipif(shutil.which('sudo') is None, reason='the import runs as the job owner through sudo'),
]

EXPORT = 'hepcloud.lumberjack.condor_export'
IMPORT = 'hepcloud.lumberjack.condor_import'
JOBS = 3
JOB_SCRIPT = '#!/bin/sh\necho "job $1 ran as $(id -un) in $(pwd)"\n'
SUBMIT = '''\
executable = {work}/job.sh
arguments = $(Cluster).$(Process)
output = out.$(Cluster).$(Process)
error = err.$(Cluster).$(Process)
log = {work}/jobs.log
should_transfer_files = NO
request_memory = 16
request_disk = 1024
queue {count}
'''


class Env(object):
    pass


@pytest.fixture(scope='module')
def env():
    e = Env()
    e.base = tempfile.mkdtemp(prefix='ljtest-it-', dir='/tmp')
    os.chmod(e.base, 0o755)
    e.user = 'ljtest-%s' % uuid.uuid4().hex[:8]
    subprocess.check_call(['useradd', '--create-home', '--shell', '/bin/sh', '--user-group', e.user])
    try:
        pw = pwd.getpwnam(e.user)
        e.uid, e.gid, e.home = pw.pw_uid, pw.pw_gid, pw.pw_dir
        os.chmod(e.home, 0o755)
        e.work = os.path.join(e.home, 'work')
        os.mkdir(e.work)
        with open(os.path.join(e.work, 'job.sh'), 'w') as f:
            f.write(JOB_SCRIPT)
        os.chmod(os.path.join(e.work, 'job.sh'), 0o755)
        # the owner's area for exports and returned logs: the module creates export dirs in it as the owner
        e.area = os.path.join(e.base, 'lumberjack')
        os.mkdir(e.area)
        for path in (e.work, os.path.join(e.work, 'job.sh'), e.area):
            os.chown(path, e.uid, e.gid)
        e.runner = PlaybookRunner(os.path.join(e.base, 'ansible'), collection_root=_repo())
        # condor_import runs as the job owner: that user's Python must import the bindings
        proc = subprocess.run(['sudo', '-u', e.user, '-H', e.runner.python, '-c', 'import htcondor2, ansible'],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
        if proc.returncode != 0:
            pytest.fail('%s cannot use %s to import htcondor2 (%s): the virtual environment and every directory '
                        'above it must be readable by other users (scripts/setup runs chmod -R a+rX .venv)'
                        % (e.user, e.runner.python, proc.stdout.strip()[-300:]))
        yield e
    finally:
        subprocess.call(['userdel', '--remove', e.user], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(e.base, ignore_errors=True)


def _repo():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.fixture(scope='module')
def home(env):
    pool = PersonalPool(os.path.join(env.base, 'home'), name='home', daemons=('COLLECTOR', 'SCHEDD'))
    try:
        pool.start()
        yield pool
    finally:
        pool.stop()


def common(pool):
    return {'condor_config': pool.config_file}


def queue_of(pool, cluster):
    return dict(('%s.%s' % (j['ClusterId'], j['ProcId']), j) for j in pool.jobs(
        'ClusterId == %d' % cluster, ('ClusterId', 'ProcId', 'JobStatus', 'Managed', 'ManagedManager', 'ExitCode')))


def log_jobs(path):
    return sorted(ql.job_id(k) for k in ql.replay(path).job_keys())


def all_completed(jobs):
    # the exported jobs carry LeaveJobInQueue = true: completed, they stay in the HPC queue
    return len(jobs) == JOBS and all(j['JobStatus'] == '4' for j in jobs)


def schedd_crashed(pool):
    with open(os.path.join(pool.log_dir, 'MasterLog')) as f:
        return 'died due to signal 11' in f.read()


def test_export_unexport_reexport_run_elsewhere_and_import(env, home):
    cluster = home.submit(SUBMIT.format(work=env.work, count=JOBS), env.user, cwd=env.work)
    ids = ['%d.%d' % (cluster, p) for p in range(JOBS)]
    export_dir = os.path.join(env.area, 'export-%d' % cluster)
    export_args = dict(common(home), cluster_ids=[cluster], export_dir=export_dir,
                       spool_dir='/scratch/lumberjack/spool')
    run = env.runner.task

    # check mode: reported, nothing changes
    r = run(EXPORT, export_args, check_mode=True)
    assert r['changed'] is True and r['exported'] == ids and r['result'] == {}
    assert not os.path.exists(export_dir)
    assert all(j['Managed'] == 'undefined' for j in queue_of(home, cluster).values())

    # export: the schedd writes the log as the owner and marks the jobs
    r = run(EXPORT, export_args)
    assert r['changed'] is True and r['exported'] == ids and r['owner'] == env.user
    assert r['result']['ActionResult'] == 1 and r['result']['TotalJobAds'] == JOBS
    assert r['result']['TotalClusterAds'] == 1 and r['result']['User'] == '%s@lumberjack.test' % env.user
    log = os.path.join(export_dir, 'job_queue.log')
    assert r['log'] == log
    st = os.stat(log)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (env.uid, 0o600)
    assert os.stat(export_dir).st_uid == env.uid
    assert log_jobs(log) == ids
    for j in queue_of(home, cluster).values():
        assert (j['Managed'], j['ManagedManager'], j['JobStatus']) == ('External', 'Lumberjack', '1')
    # the Iwd each job has at home, for queue_rewrite to undo the export's spool placeholders
    assert r['original_iwds'] == dict((jid, env.work) for jid in ids)

    # a second identical run changes nothing
    r = run(EXPORT, export_args)
    assert r['changed'] is False and r['already_exported'] == ids

    # un-export: flags gone, the now stale log removed; then no change
    unexport_args = dict(common(home), cluster_ids=[cluster], state='unexported', export_dir=export_dir)
    r = run(EXPORT, unexport_args)
    assert r['changed'] is True and r['unexported'] == ids and r['removed_log'] == log
    assert r['result']['ActionResult'] == 1 and r['result']['TotalJobAds'] == JOBS
    assert not os.path.exists(log)
    assert all(j['Managed'] == 'undefined' for j in queue_of(home, cluster).values())
    r = run(EXPORT, unexport_args)
    assert r['changed'] is False

    # re-export into the same directory
    r = run(EXPORT, export_args)
    assert r['changed'] is True and r['exported'] == ids
    assert log_jobs(log) == ids

    # the HPC side: a second pool runs the exported queue, its schedd is stopped (the log is compacted)
    import_dir = os.path.join(env.area, 'return-%d' % cluster)
    hpc = PersonalPool(os.path.join(env.base, 'hpc'), name='hpc')
    try:
        hpc.install_file(log)
        hpc.start()
        hpc.wait_for(lambda: all_completed(hpc.jobs()), timeout=240,
                     what='the exported jobs to complete in the HPC pool')
        hpc.stop_schedd()
        os.mkdir(import_dir, 0o700)
        shutil.copyfile(os.path.join(hpc.spool, 'job_queue.log'), os.path.join(import_dir, 'job_queue.log'))
    finally:
        hpc.stop()
    # stopped cleanly, the schedd compacted its log: final ads only, no transaction left open or closed
    returned = os.path.join(import_dir, 'job_queue.log')
    assert not [rec for dummy, dummy2, rec in ql.iter_lines(returned) if rec.op in (ql.OP_BEGIN, ql.OP_END)]
    os.chown(import_dir, env.uid, env.gid)
    os.chown(os.path.join(import_dir, 'job_queue.log'), env.uid, env.gid)
    os.chmod(os.path.join(import_dir, 'job_queue.log'), 0o600)
    for p in range(JOBS):
        with open(os.path.join(env.work, 'out.%d.%d' % (cluster, p))) as f:
            assert 'job %d.%d ran as %s' % (cluster, p, env.user) in f.read()

    import_args = dict(common(home), import_dir=import_dir)

    # as root the import is refused before the schedd is asked
    r = run(IMPORT, import_args, expect_failure=True)
    assert 'must run as the owner of the jobs, not as root' in r['msg']
    assert 'Traceback' not in r['_output']

    # check mode as the owner: what would come back
    r = run(IMPORT, import_args, become_user=env.user, check_mode=True)
    assert r['changed'] is True and r['imported'] == ids and r['result'] == {}
    assert all(j['remote_status'] == 'completed' for j in r['jobs'])
    assert all(j['ManagedManager'] == 'Lumberjack' for j in queue_of(home, cluster).values())

    # the import, as the owner
    r = run(IMPORT, import_args, become_user=env.user)
    assert r['changed'] is True and r['imported'] == ids and r['not_imported'] == {}
    assert r['result'] == {'ActionResult': 1, 'TotalJobAds': JOBS}
    here = queue_of(home, cluster)
    done = dict(here)
    if len(here) < JOBS:           # completed jobs leave the queue for the history
        attrs = ('ClusterId', 'ProcId', 'JobStatus', 'Managed', 'ManagedManager', 'ExitCode')
        for j in home.history('ClusterId == %d' % cluster, attrs):
            done.setdefault('%s.%s' % (j['ClusterId'], j['ProcId']), j)
    assert sorted(done) == ids
    for j in done.values():
        assert (j['JobStatus'], j['ExitCode'], j['Managed']) == ('4', '0', 'undefined')

    # and a second import changes nothing and says so
    r = run(IMPORT, import_args, become_user=env.user)
    assert r['changed'] is False and r['imported'] == []
    assert 'nothing to import' in r['msg'] and sorted(r['not_imported']) == ids

    assert not schedd_crashed(home)


def test_identity_without_jobs_never_reaches_the_schedd(env, home):
    """An identity the schedd has no user record for crashes a 25.14 schedd on export/unexport/import."""
    cluster = home.submit(SUBMIT.format(work=env.work, count=1), env.user, cwd=env.work)
    token = home.run(['condor_token_create', '-identity', 'ljtest-ghost@lumberjack.test']).stdout.strip()
    args = dict(common(home), cluster_ids=[cluster], state='unexported', idtoken=token)
    home.run(['condor_q', '-allusers'])
    # make the job look exported so the un-export would have something to do
    r = env.runner.task(EXPORT, dict(common(home), cluster_ids=[cluster],
                                     export_dir=os.path.join(env.area, 'ghost-%d' % cluster),
                                     spool_dir='/scratch/spool'))
    assert r['changed'] is True
    r = env.runner.task(EXPORT, args, expect_failure=True)
    assert 'authenticates this module as ljtest-ghost@lumberjack.test' in r['msg']
    assert 'neither a queue super user nor the owner' in r['msg']
    assert token not in r['_output']
    assert not schedd_crashed(home)
    assert queue_of(home, cluster)['%d.0' % cluster]['ManagedManager'] == 'Lumberjack'
