# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""batch_job and batch_job_info end to end, with the scheduler's commands scripted."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.hepcloud.lumberjack.plugins.modules import batch_job, batch_job_info
from ansible_collections.hepcloud.lumberjack.tests.unit.plugins.module_utils.batch.helpers import FakeCommands

SQUEUE_EMPTY = (0, '', '')


@pytest.fixture
def commands(monkeypatch):
    fake = FakeCommands()

    def run_command(self, args, **kwargs):
        return fake(args, data=kwargs.get('data'), cwd=kwargs.get('cwd'), environ_update=kwargs.get('environ_update'))

    monkeypatch.setattr(basic.AnsibleModule, 'run_command', run_command)
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path',
                        lambda self, name, required=False, opt_dirs=None: fake.paths.get(name, '/usr/bin/' + name))
    monkeypatch.setattr('time.sleep', lambda s: None)
    fake.paths = {}
    fake.otherwise('scontrol show config', (0, 'JobCompType             = jobcomp/none\n', ''))
    return fake


@pytest.fixture
def job_script(tmp_path):
    path = tmp_path / 'job.sh'
    path.write_text('#!/bin/sh\necho hi\n')
    return str(path)


def run_module(module, args, capsys, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    out = capsys.readouterr().out
    return json.loads(out)


def test_check_mode_shows_the_command_and_submits_nothing(commands, job_script, capsys):
    r = run_module(batch_job, dict(scheduler='slurm', script=job_script, nodes=2, walltime='2h', name='p',
                                   environment={'X': '1'}), capsys, check_mode=True)
    assert r['changed'] is True and r['job_id'] is None and r['existing'] is False
    assert r['command'] == ['/usr/bin/sbatch', '--parsable', '--job-name=p', '--nodes=2', '--time=02:00:00',
                            '--export=ALL,X', job_script]
    assert r['directives'] == ['#SBATCH --job-name=p', '#SBATCH --nodes=2', '#SBATCH --time=02:00:00',
                               '#SBATCH --export=ALL,X']
    assert commands.calls == []


def test_submit_then_unique_reports_the_existing_job(commands, job_script, capsys):
    commands.on('sbatch', (0, '4242\n', ''))
    commands.on('squeue --name=pilot', SQUEUE_EMPTY, times=1)
    commands.on('squeue --name=pilot', (0, '4242|pilot|PENDING|Priority\n', ''))
    commands.on('squeue -j 4242', (0, '4242|pilot|PENDING|Priority\n', ''))
    args = dict(scheduler='slurm', script=job_script, name='pilot', unique=True)
    first = run_module(batch_job, args, capsys)
    assert (first['changed'], first['job_id'], first['state'], first['existing']) == (True, '4242', 'queued', False)
    second = run_module(batch_job, args, capsys)
    assert (second['changed'], second['job_id'], second['state'], second['existing']) == (False, '4242', 'queued', True)
    assert sum(1 for c in commands.commands() if c.startswith('sbatch')) == 1
    # the environment values go to sbatch's own environment
    sbatch = [c for c in commands.calls if c['argv'][0].endswith('sbatch')][0]
    assert sbatch['data'] is None


def test_job_id_file_holds_the_submitted_or_found_job(commands, job_script, tmp_path, capsys):
    commands.on('sbatch', (0, '4242\n', ''))
    commands.on('squeue --name=pilot', SQUEUE_EMPTY, times=1)
    commands.on('squeue --name=pilot', (0, '4242|pilot|PENDING|Priority\n', ''))
    commands.on('squeue -j 4242', (0, '4242|pilot|PENDING|Priority\n', ''))
    id_file = tmp_path / 'pilot.job_id'
    args = dict(scheduler='slurm', script=job_script, name='pilot', unique=True, job_id_file=str(id_file))
    first = run_module(batch_job, args, capsys)
    assert first['changed'] is True and id_file.read_text() == '4242\n'
    assert oct(os.stat(str(id_file)).st_mode & 0o777) == oct(0o644)
    # the job found by its name: the file holds its id already, nothing changes
    second = run_module(batch_job, args, capsys)
    assert (second['changed'], second['existing']) == (False, True)
    # a file that lost its content is written again, in check mode only predicted
    id_file.write_text('')
    preview = run_module(batch_job, args, capsys, check_mode=True)
    assert preview['changed'] is True and id_file.read_text() == ''
    third = run_module(batch_job, args, capsys)
    assert (third['changed'], third['existing']) == (True, True) and id_file.read_text() == '4242\n'
    assert sum(1 for c in commands.commands() if c.startswith('sbatch')) == 1


def test_job_id_file_without_its_directory_fails_before_submitting(commands, job_script, tmp_path, capsys):
    r = run_module(batch_job, dict(scheduler='slurm', script=job_script, name='pilot',
                                   job_id_file=str(tmp_path / 'missing' / 'pilot.job_id')), capsys)
    assert r['failed'] is True and 'job_id_file %s/missing/pilot.job_id is a directory, or its directory does not ' \
        'exist' % tmp_path in r['msg']
    assert not any(c.startswith('sbatch') for c in commands.commands())


def test_unique_in_check_mode_predicts_no_change(commands, job_script, capsys):
    commands.on('squeue --name=pilot', (0, '17|pilot|RUNNING|None\n', ''))
    r = run_module(batch_job, dict(scheduler='slurm', script=job_script, name='pilot', unique=True), capsys,
                   check_mode=True)
    assert (r['changed'], r['job_id'], r['state'], r['existing']) == (False, '17', 'running', True)


def test_submit_and_wait_for_a_failed_job(commands, job_script, capsys):
    commands.on('sbatch', (0, '9\n', ''))
    commands.on('squeue', (0, '9|j|RUNNING|None\n', ''), times=1)
    commands.on('squeue', (1, '', 'squeue: error: Socket timed out on send/recv operation'), times=1)
    commands.on('squeue', (0, '9|j|FAILED|NonZeroExitCode\n', ''))
    commands.on('sacct', (1, '', 'Slurm accounting storage is disabled\n'))
    commands.on('scontrol', (0, 'JobId=9 JobName=j JobState=FAILED Reason=NonZeroExitCode ExitCode=2:0\n', ''))
    r = run_module(batch_job, dict(scheduler='slurm', script=job_script, wait=True, poll_interval=1), capsys)
    assert (r['changed'], r['state'], r['exit_code'], r['native_state']) == (True, 'failed', 2, 'FAILED')
    assert 'failed' not in r or r['failed'] is False


@pytest.mark.parametrize('args, message', [
    (dict(walltime='1:30'), 'walltime'),
    (dict(walltime='soon'), 'walltime'),
    (dict(memory='lots'), 'memory'),
    (dict(nodes=0), 'nodes must be 1 or more'),
    (dict(environment={'A-B': 1}), 'not a valid variable name'),
    (dict(chdir='/nonexistent/dir'), 'chdir /nonexistent/dir is not a directory'),
])
def test_bad_input_fails_clearly(commands, job_script, capsys, args, message):
    r = run_module(batch_job, dict(dict(scheduler='slurm', script=job_script), **args), capsys)
    assert r['failed'] is True and message in r['msg']
    assert 'Traceback' not in r['msg'] and commands.calls == []


def test_unknown_scheduler(commands, job_script, capsys):
    r = run_module(batch_job, dict(scheduler='condor', script=job_script), capsys)
    assert r['failed'] is True and 'scheduler' in r['msg'] and 'slurm' in r['msg']


def test_missing_script(commands, capsys):
    r = run_module(batch_job, dict(scheduler='slurm', script='/no/such/job.sh'), capsys)
    assert r['failed'] is True and r['msg'] == 'script /no/such/job.sh is not a file on this host'


def test_command_not_found(commands, job_script, capsys):
    commands.paths['sbatch'] = None
    r = run_module(batch_job, dict(scheduler='slurm', script=job_script), capsys)
    assert r['failed'] is True and r['msg'].startswith('sbatch not found on this host')


def test_unsupported_option_for_a_scheduler(commands, job_script, capsys):
    r = run_module(batch_job, dict(scheduler='flux', script=job_script, memory='4G'), capsys)
    assert r['failed'] is True and r['msg'].startswith('memory is not supported by the flux backend')


def test_unique_needs_a_name(commands, job_script, capsys):
    r = run_module(batch_job, dict(scheduler='slurm', script=job_script, unique=True), capsys)
    assert r['failed'] is True and 'name' in r['msg']


def test_cancel_running_job(commands, capsys):
    commands.on('squeue', (0, '5|j|RUNNING|None\n', ''), times=1)
    commands.on('scancel', (0, '', ''))
    commands.on('squeue', (0, '5|j|CANCELLED|None\n', ''))
    commands.on('sacct', (0, '5|j|CANCELLED by 0|0:0\n', ''))
    r = run_module(batch_job, dict(scheduler='slurm', state='absent', job_id='5'), capsys)
    assert (r['changed'], r['state'], r['command']) == (True, 'cancelled', ['/usr/bin/scancel', '5'])
    assert [j['state'] for j in r['jobs']] == ['cancelled']


def test_cancel_check_mode_and_already_ended(commands, capsys):
    commands.on('squeue -j 5', (0, '5|j|PENDING|Priority\n', ''))
    commands.on('squeue -j 6', (0, '6|j|COMPLETED|None\n', ''))
    commands.on('sacct', (0, '6|j|COMPLETED|0:0\n', ''))
    r = run_module(batch_job, dict(scheduler='slurm', state='absent', job_id='5'), capsys, check_mode=True)
    assert (r['changed'], r['state']) == (True, 'queued')
    r = run_module(batch_job, dict(scheduler='slurm', state='absent', job_id='6'), capsys)
    assert (r['changed'], r['state'], r['exit_code']) == (False, 'completed', 0)
    assert not any(c.startswith('scancel') for c in commands.commands())


def test_cancel_by_name_cancels_every_active_job(commands, capsys):
    commands.on('squeue --name=p', (0, '5|p|RUNNING|None\n6|p|PENDING|None\n', ''))
    commands.on('scancel', (0, '', ''))
    commands.on('squeue -j 5', (0, '5|p|CANCELLED|None\n', ''))
    commands.on('squeue -j 6', (0, '6|p|CANCELLED|None\n', ''))
    commands.on('sacct', (0, '', ''))
    commands.on('scontrol', (0, '', ''))
    r = run_module(batch_job, dict(scheduler='slurm', state='absent', name='p'), capsys)
    assert r['changed'] is True and [j['job_id'] for j in r['jobs']] == ['5', '6']
    assert [c for c in commands.commands() if c.startswith('scancel')] == ['scancel 5', 'scancel 6']


def test_a_cancelled_job_the_scheduler_no_longer_shows_is_cancelled(commands, capsys):
    # Grid Engine drops a deleted job from qstat before qacct has its record: the cancel still happened
    commands.on('squeue', (0, '5|j|RUNNING|None\n', ''), times=1)
    commands.on('scancel', (0, '', ''))
    commands.on('squeue', (0, '', ''))
    commands.on('sacct', (0, '', ''))
    commands.on('scontrol', (0, '', ''))
    r = run_module(batch_job, dict(scheduler='slurm', state='absent', job_id='5'), capsys)
    assert (r['changed'], r['state']) == (True, 'cancelled')
    assert [j['state'] for j in r['jobs']] == ['cancelled']


def test_cancel_of_a_job_that_ended_meanwhile_is_no_change(commands, capsys):
    commands.on('squeue', (0, '5|j|RUNNING|None\n', ''), times=1)
    commands.on('scancel', (1, '', 'scancel: error: Kill job error on job id 5: Job/step already completing or completed'))
    commands.on('squeue', (0, '5|j|COMPLETED|None\n', ''))
    commands.on('sacct', (0, '5|j|COMPLETED|0:0\n', ''))
    r = run_module(batch_job, dict(scheduler='slurm', state='absent', job_id='5'), capsys)
    assert (r['changed'], r['state']) == (False, 'completed')
    assert any('before it could be cancelled' in str(w) for w in r.get('warnings', []))


def test_query_state(commands, capsys):
    commands.on('squeue', (0, '5|j|RUNNING|None\n', ''))
    r = run_module(batch_job, dict(scheduler='slurm', state='query', job_id='5'), capsys)
    assert (r['changed'], r['state'], r['job_id']) == (False, 'running', '5')


def test_info_reports_an_unknown_job_as_unknown(commands, capsys):
    commands.on('squeue', (1, '', 'slurm_load_jobs error: Invalid job id specified\n'))
    commands.on('sacct', (1, '', 'Slurm accounting storage is disabled\n'))
    r = run_module(batch_job_info, dict(scheduler='slurm', job_id='77', retries=1, retry_delay=0), capsys)
    assert (r['changed'], r['state'], r['exit_code']) == (False, 'unknown', None)


def test_info_by_name(commands, capsys):
    commands.on('squeue --name=p', (0, '5|p|RUNNING|None\n', ''))
    commands.on('squeue -j 5', (0, '5|p|RUNNING|None\n', ''))
    r = run_module(batch_job_info, dict(scheduler='slurm', name='p'), capsys)
    assert r['job_id'] == '5' and [j['job_id'] for j in r['jobs']] == ['5']
    commands.rules = []
    commands.on('squeue --name=q', SQUEUE_EMPTY)
    r = run_module(batch_job_info, dict(scheduler='slurm', name='q'), capsys)
    assert (r['job_id'], r['state'], r['jobs']) == (None, 'unknown', [])


def test_info_wait_timeout_fails_with_the_last_state(commands, capsys):
    commands.on('squeue', (0, '5|j|PENDING|Resources\n', ''))
    r = run_module(batch_job_info, dict(scheduler='slurm', job_id='5', wait=True, wait_timeout=0, poll_interval=1),
                   capsys)
    assert r['failed'] is True and 'timed out' in r['msg'] and r['state'] == 'queued'


def test_info_gives_up_on_a_scheduler_that_never_answers(commands, capsys):
    commands.on('squeue', (1, '', 'squeue: error: Unable to contact slurm controller (connect failure)'))
    commands.on('sacct', (1, '', 'sacct: error: Problem talking to the database: Connection refused'))
    r = run_module(batch_job_info, dict(scheduler='slurm', job_id='5', retries=1, retry_delay=0), capsys)
    assert r['failed'] is True and 'no answer about job 5' in r['msg']
    assert 'state' not in r


def test_wait_file_written_makes_the_wait_poll_every_second(commands, tmp_path, capsys):
    commands.on('squeue', (0, '9|j|RUNNING|None\n', ''), times=1)
    commands.on('squeue', (0, '9|j|COMPLETED|None\n', ''))
    commands.on('sacct', (1, '', 'Slurm accounting storage is disabled\n'))
    commands.on('scontrol', (0, 'JobId=9 JobName=j JobState=COMPLETED Reason=None ExitCode=0:0\n', ''))
    result = tmp_path / 'pilot.result'
    result.write_text('outcome=finished\n')
    # a poll interval of 10 minutes, a timeout of 20 s: only the result file can end the wait in time
    r = run_module(batch_job, dict(scheduler='slurm', state='query', job_id='9', wait=True, wait_timeout=20,
                                   poll_interval=600, wait_file=str(result)), capsys)
    assert r.get('failed') is not True, r
    assert r['state'] == 'completed'
    assert r['wait_file_content'] == 'outcome=finished\n'


def test_wait_file_never_written_is_returned_as_null(commands, tmp_path, capsys):
    commands.on('squeue', (0, '9|j|COMPLETED|None\n', ''))
    commands.on('sacct', (1, '', 'Slurm accounting storage is disabled\n'))
    commands.on('scontrol', (0, 'JobId=9 JobName=j JobState=COMPLETED Reason=None ExitCode=0:0\n', ''))
    r = run_module(batch_job, dict(scheduler='slurm', state='query', job_id='9', wait=True, wait_timeout=20,
                                   poll_interval=1, wait_file=str(tmp_path / 'pilot.result')), capsys)
    assert r['state'] == 'completed' and r['wait_file_content'] is None
