# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""batch_job and batch_job_info through ansible-playbook against a real one-node Slurm (22.05 on Debian 12).

Skipped, saying why, where slurmctld, munge or root are missing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import secrets
import threading
import time

from playbook import Playbook, write_script  # pylint: disable=import-error

MOD = 'hepcloud.lumberjack.batch_job'
INFO = 'hepcloud.lumberjack.batch_job_info'


def uname(prefix):
    return '%s-%s' % (prefix, secrets.token_hex(3))


def outdir(workdir, owner=None):
    d = os.path.join(workdir, uname('out'))
    os.makedirs(d)
    if owner is not None:
        os.chown(d, owner.pw_uid, owner.pw_gid)
    return d


def test_submit_as_root_and_wait_for_completion(play, slurm, workdir):
    script = write_script(workdir, 'hello.sh', 'echo "args=$1,$2 greeting=$GREETING ntasks=$SLURM_NTASKS"')
    out = outdir(workdir)
    r = play.run([
        {MOD: dict(scheduler='slurm', script=script, arguments=['a', 'b c'], name=uname('hello'), walltime='5m',
                   memory='100M', output=out + '/%j.out', environment={'GREETING': 'hi, "there"'}, wait=True,
                   poll_interval=1), 'register': 'job'},
    ], register=['job'])['job']
    assert r['changed'] is True and r['state'] == 'completed' and r['exit_code'] == 0
    assert r['native_state'] == 'COMPLETED'
    assert '#SBATCH --time=00:05:00' in r['directives'] and '#SBATCH --mem=100M' in r['directives']
    with open(os.path.join(out, '%s.out' % r['job_id'])) as f:
        assert f.read() == 'args=a,b c greeting=hi, "there" ntasks=\n'


def test_unique_check_mode_cancel(play, slurm, workdir):
    script = write_script(workdir, 'sleeper.sh', 'sleep 300')
    name, other = uname('pilot'), uname('other')
    job = dict(scheduler='slurm', script=script, name=name, unique=True, output='/dev/null')
    r = play.run([
        {MOD: job, 'register': 'first'},
        {MOD: job, 'register': 'second'},
        {MOD: dict(job, name=other), 'register': 'preview', 'check_mode': True},
        {INFO: dict(scheduler='slurm', name=name), 'register': 'by_name'},
    ], register=['first', 'second', 'preview', 'by_name'])
    assert r['first']['changed'] is True and r['first']['state'] in ('queued', 'running')
    assert r['second']['changed'] is False and r['second']['existing'] is True
    assert r['second']['job_id'] == r['first']['job_id']
    assert r['preview']['changed'] is True and r['preview']['job_id'] is None
    assert r['preview']['command'][1:3] == ['--parsable', '--job-name=' + other]
    assert [j['job_id'] for j in r['by_name']['jobs']] == [r['first']['job_id']]
    # check mode submitted nothing: only the first job ever had that name. Asked while
    # the first job still sleeps, since slurmctld forgets a finished job after MinJobAge.
    q = slurm.run('squeue', '-h', '-t', 'all', '-o', '%j')
    assert name in q.stdout.split() and other not in q.stdout
    job_id = r['first']['job_id']
    r = play.run([
        {MOD: dict(scheduler='slurm', state='absent', job_id=job_id), 'register': 'cancel'},
        {MOD: dict(scheduler='slurm', state='absent', job_id=job_id), 'register': 'cancel_again'},
        {INFO: dict(scheduler='slurm', job_id=job_id), 'register': 'after'},
    ], register=['cancel', 'cancel_again', 'after'])
    assert r['cancel']['changed'] is True
    assert r['cancel_again']['changed'] is False and r['cancel_again']['state'] == 'cancelled'
    assert r['after']['state'] == 'cancelled'


def test_submit_as_an_ordinary_user(play, slurm, workdir, ordinary_user):
    script = write_script(workdir, 'whoami.sh', 'id -un; echo "home=$HOME"')
    out = outdir(workdir, ordinary_user)
    r = play.run([
        {MOD: dict(scheduler='slurm', script=script, name=uname('user'), output=out + '/job.out', wait=True,
                   poll_interval=1, unique=True), 'register': 'job'},
    ], register=['job'], become_user=ordinary_user.pw_name)['job']
    assert (r['changed'], r['state'], r['exit_code']) == (True, 'completed', 0)
    with open(os.path.join(out, 'job.out')) as f:
        assert f.read().splitlines()[0] == ordinary_user.pw_name


def test_multi_task_job(play, slurm, workdir):
    script = write_script(workdir, 'tasks.sh', 'echo "ntasks=$SLURM_NTASKS"; srun hostname | wc -l')
    out = outdir(workdir)
    r = play.run([
        {MOD: dict(scheduler='slurm', script=script, nodes=1, ntasks=4, output=out + '/job.out', wait=True,
                   poll_interval=1), 'register': 'job'},
    ], register=['job'])['job']
    assert (r['state'], r['exit_code']) == ('completed', 0), r
    with open(os.path.join(out, 'job.out')) as f:
        assert [line.strip() for line in f.read().splitlines()] == ['ntasks=4', '4']


def test_array_job(play, slurm, workdir):
    script = write_script(workdir, 'array.sh', 'echo "task $SLURM_ARRAY_TASK_ID"; [ "$SLURM_ARRAY_TASK_ID" != 3 ] || exit 5')
    out = outdir(workdir)
    r = play.run([
        {MOD: dict(scheduler='slurm', script=script, array='1-3', output=out + '/%A_%a.out', wait=True,
                   poll_interval=1), 'register': 'job'},
    ], register=['job'])['job']
    assert r['state'] == 'failed' and r['exit_code'] == 5, r
    assert sorted((t['job_id'], t['state']) for t in r.get('tasks', [])) == [
        ('%s_1' % r['job_id'], 'completed'), ('%s_2' % r['job_id'], 'completed'), ('%s_3' % r['job_id'], 'failed')]
    assert sorted(os.listdir(out)) == ['%s_%d.out' % (r['job_id'], i) for i in (1, 2, 3)]


def test_failed_job_exit_code_and_query(play, slurm, workdir):
    script = write_script(workdir, 'fail.sh', 'exit 3')
    r = play.run([
        {MOD: dict(scheduler='slurm', script=script, output='/dev/null', wait=True, poll_interval=1), 'register': 'job'},
        {MOD: dict(scheduler='slurm', state='query', job_id='{{ job.job_id }}'), 'register': 'query'},
    ], register=['job', 'query'])
    assert (r['job']['state'], r['job']['exit_code'], r['job']['native_state']) == ('failed', 3, 'FAILED')
    assert (r['query']['changed'], r['query']['state'], r['query']['exit_code']) == (False, 'failed', 3)


def test_wait_timeout_fails_and_reports_the_state(play, slurm, workdir):
    script = write_script(workdir, 'slow.sh', 'sleep 120')
    r = play.run([
        {MOD: dict(scheduler='slurm', script=script, output='/dev/null', name=uname('slow')), 'register': 'job'},
        {INFO: dict(scheduler='slurm', job_id='{{ job.job_id }}', wait=True, wait_timeout=3, poll_interval=1),
         'register': 'waited', 'ignore_errors': True},
        {MOD: dict(scheduler='slurm', state='absent', job_id='{{ job.job_id }}', wait=True, poll_interval=1),
         'register': 'cancel'},
    ], register=['job', 'waited', 'cancel'])
    assert r['waited']['failed'] is True and 'timed out' in r['waited']['msg']
    assert r['waited']['state'] in ('queued', 'running')
    assert (r['cancel']['changed'], r['cancel']['state']) == (True, 'cancelled')


def test_a_job_gone_from_squeue_is_read_from_sacct(play, slurm, workdir):
    script = write_script(workdir, 'quick.sh', 'exit 4')
    r = play.run([
        {MOD: dict(scheduler='slurm', script=script, output='/dev/null', wait=True, poll_interval=1), 'register': 'job'},
    ], register=['job'])['job']
    assert (r['state'], r['exit_code']) == ('failed', 4)
    assert slurm.wait_job_gone(r['job_id'], timeout=150), 'slurmctld never purged the job'
    info = play.run([
        {INFO: dict(scheduler='slurm', job_id=r['job_id']), 'register': 'info'},
    ], register=['info'])['info']
    assert (info['state'], info['exit_code'], info['native_state']) == ('failed', 4, 'FAILED')


def test_a_job_that_disappears_without_accounting_is_unknown(play_no_accounting, slurm_no_accounting, workdir):
    script = write_script(workdir, 'brief.sh', 'exit 0')
    r = play_no_accounting.run([
        {MOD: dict(scheduler='slurm', script=script, output='/dev/null', wait=True, poll_interval=1),
         'register': 'job'},
    ], register=['job'])['job']
    assert r['state'] == 'completed'
    assert slurm_no_accounting.wait_job_gone(r['job_id'], timeout=150), 'slurmctld never purged the job'
    r2 = play_no_accounting.run([
        {INFO: dict(scheduler='slurm', job_id=r['job_id'], retries=1, retry_delay=0.5), 'register': 'info'},
        {INFO: dict(scheduler='slurm', job_id=r['job_id'], retries=1, retry_delay=0.5, wait=True,
                    poll_interval=0.5), 'register': 'waited'},
    ], register=['info', 'waited'])
    for key in ('info', 'waited'):
        assert r2[key]['state'] == 'unknown', r2[key]
        assert r2[key]['exit_code'] is None
        assert 'accounting (sacct) is not set up' in r2[key]['reason']


def test_outages_of_slurmdbd_and_slurmctld_are_waited_out(fresh_slurm, workdir):
    play = Playbook(workdir, dict(SLURM_CONF=fresh_slurm.conf), log=lambda: fresh_slurm.log('slurmctld'))
    script = write_script(workdir, 'outage.sh', 'sleep 12; exit 6')
    fresh_slurm.stop_daemon('slurmdbd')
    results = {}

    def run():
        try:
            results.update(play.run([
                {MOD: dict(scheduler='slurm', script=script, output='/dev/null', wait=True, poll_interval=1,
                           retries=3, retry_delay=0.5), 'register': 'job'},
            ], register=['job']))
        except AssertionError as e:  # pragma: no cover - reported below
            results['error'] = str(e)

    thread = threading.Thread(target=run)
    thread.start()
    # once the job runs, take slurmctld away for a while: the wait must ride it out, not guess
    deadline = time.time() + 60
    while time.time() < deadline and 'RUNNING' not in fresh_slurm.run('squeue', '-h', '-o', '%T').stdout:
        time.sleep(0.5)
    fresh_slurm.stop_daemon('slurmctld')
    time.sleep(6)
    fresh_slurm.restart_slurmctld()
    thread.join(300)
    assert 'error' not in results, results.get('error')
    r = results['job']
    # slurmdbd stayed down: the end came from squeue and scontrol
    assert (r['state'], r['exit_code'], r['native_state']) == ('failed', 6, 'FAILED')


def test_a_job_gone_without_accounting_is_read_from_the_job_completion_log(slurm_jobcomp, workdir):
    play = Playbook(workdir, dict(SLURM_CONF=slurm_jobcomp.conf), log=lambda: slurm_jobcomp.log('slurmctld'))
    script = write_script(workdir, 'seven.sh', 'exit 7')
    r = play.run([
        {MOD: dict(scheduler='slurm', script=script, output='/dev/null', wait=True, poll_interval=1),
         'register': 'job'},
    ], register=['job'])['job']
    assert (r['state'], r['exit_code']) == ('failed', 7)
    assert slurm_jobcomp.wait_job_gone(r['job_id'], timeout=150), 'slurmctld never purged the job'
    info = play.run([{INFO: dict(scheduler='slurm', job_id=r['job_id']), 'register': 'info'}], register=['info'])['info']
    assert (info['state'], info['exit_code'], info['native_state']) == ('failed', 7, 'FAILED')
