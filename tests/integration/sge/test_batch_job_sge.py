# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""batch_job and batch_job_info through ansible-playbook against a real Grid Engine 8.1.9 cell (Debian 12).

Skipped, saying why, where Grid Engine or root is missing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import secrets

from playbook import write_script  # pylint: disable=import-error

MOD = 'hepcloud.lumberjack.batch_job'
INFO = 'hepcloud.lumberjack.batch_job_info'
WAIT = dict(wait=True, poll_interval=1, wait_timeout=300)


def uname(prefix):
    return '%s-%s' % (prefix, secrets.token_hex(3))


def test_submit_wait_completed_with_arguments_and_environment(sge_play, sge_workdir):
    script = write_script(sge_workdir, 'hello.sh', 'echo "args=$1,$2 greeting=$GREETING slots=$NSLOTS"')
    out = os.path.join(sge_workdir, uname('hello') + '.out')
    r = sge_play.run([
        {MOD: dict(scheduler='sge', script=script, arguments=['a', 'b'], name=uname('hello'), walltime='10m',
                   output=out, error=out, environment={'GREETING': 'hi, "there"'}, **WAIT), 'register': 'job'},
    ], register=['job'])['job']
    assert (r['changed'], r['state'], r['exit_code']) == (True, 'completed', 0), r
    assert '#$ -l h_rt=00:10:00' in r['directives']
    with open(out) as f:
        assert f.read() == 'args=a,b greeting=hi, "there" slots=1\n'


def test_failed_exit_code_and_parallel_environment(sge_play, sge_workdir):
    script = write_script(sge_workdir, 'fail.sh', 'echo "slots=$NSLOTS"; exit 3')
    out = os.path.join(sge_workdir, uname('fail') + '.out')
    r = sge_play.run([
        {MOD: dict(scheduler='sge', script=script, ntasks=2, output=out, error=out, **WAIT), 'register': 'job'},
        {INFO: dict(scheduler='sge', job_id='{{ job.job_id }}'), 'register': 'info'},
    ], register=['job', 'info'])
    assert (r['job']['state'], r['job']['exit_code']) == ('failed', 3)
    assert r['job']['command'][2:5] == ['-pe', 'smp', '2']
    assert (r['info']['state'], r['info']['exit_code']) == ('failed', 3)
    with open(out) as f:
        assert f.read() == 'slots=2\n'


def test_unique_check_mode_and_cancel(sge_play, sge, sge_workdir):
    script = write_script(sge_workdir, 'sleeper.sh', 'sleep 300')
    name, other = uname('pilot'), uname('other')
    job = dict(scheduler='sge', script=script, name=name, unique=True, output='/dev/null', error='/dev/null')
    r = sge_play.run([
        {MOD: job, 'register': 'first'},
        {MOD: job, 'register': 'second'},
        {MOD: dict(job, name=other), 'register': 'preview', 'check_mode': True},
        {MOD: dict(scheduler='sge', state='absent', name=name), 'register': 'cancel'},
        {MOD: dict(scheduler='sge', state='absent', name=name), 'register': 'cancel_again'},
    ], register=['first', 'second', 'preview', 'cancel', 'cancel_again'])
    assert r['first']['changed'] is True and r['first']['state'] in ('queued', 'running')
    assert (r['second']['changed'], r['second']['existing'], r['second']['job_id']) == (False, True, r['first']['job_id'])
    assert r['preview']['changed'] is True and r['preview']['job_id'] is None
    assert r['cancel']['changed'] is True and [j['job_id'] for j in r['cancel']['jobs']] == [r['first']['job_id']]
    assert r['cancel']['jobs'][0]['state'] in ('cancelled', 'failed')
    assert r['cancel_again']['changed'] is False and r['cancel_again']['jobs'] == []
    assert other not in sge.run('qstat', '-u', '*').stdout


def test_array(sge_play, sge_workdir):
    script = write_script(sge_workdir, 'array.sh', 'echo "task $SGE_TASK_ID"')
    r = sge_play.run([
        {MOD: dict(scheduler='sge', script=script, array='1-3', output='/dev/null', error='/dev/null', **WAIT),
         'register': 'job'},
    ], register=['job'])['job']
    assert (r['state'], r['exit_code']) == ('completed', 0), r
    assert sorted(t['job_id'] for t in r['tasks']) == ['%s.%d' % (r['job_id'], i) for i in (1, 2, 3)]


def test_job_deleted_before_it_ran_is_unknown(sge_play, sge_workdir):
    script = write_script(sge_workdir, 'never.sh', 'exit 0')
    r = sge_play.run([
        {MOD: dict(scheduler='sge', script=script, output='/dev/null', directives=['-h']), 'register': 'job'},
        {MOD: dict(scheduler='sge', state='absent', job_id='{{ job.job_id }}'), 'register': 'cancel'},
        {INFO: dict(scheduler='sge', job_id='{{ job.job_id }}', retries=1, retry_delay=0.5), 'register': 'info'},
    ], register=['job', 'cancel', 'info'])
    assert r['job']['state'] == 'queued' and r['job']['native_state'] == 'hqw'
    assert r['cancel']['changed'] is True
    # it never ran, so qacct has no record: its end is unknown, not completed
    assert r['info']['state'] == 'unknown' and r['info']['exit_code'] is None
