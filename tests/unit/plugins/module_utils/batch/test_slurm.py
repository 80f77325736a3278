# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Slurm backend over outputs recorded from Slurm 22.05 (fixtures/slurm, see fixtures/README.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import (
    BatchError, CommandResult, JobSpec, TransientError,
)

from ansible_collections.hepcloud.lumberjack.tests.unit.plugins.module_utils.batch.helpers import fixture, make_backend

FAILED_CONTACT = (1, '', 'squeue: error: Unable to contact slurm controller (connect failure)\n')
NO_JOBCOMP = (0, 'JobCompLoc              = (null)\nJobCompType             = jobcomp/none\n', '')


@pytest.fixture
def commands(commands):
    """Clusters here write no job completion log unless a test says so."""
    return commands.otherwise('scontrol show config', NO_JOBCOMP)


def test_submission_options_and_directives(commands):
    b = make_backend('slurm', commands)
    spec = JobSpec(script='/home/alice/pilot.sh', arguments=['run-1'], name='pilot', nodes=2, ntasks=8,
                   tasks_per_node=4, cpus_per_task=16, memory='200G', gpus=4, walltime='1-12:00:00',
                   partition='regular', account='m1234', reservation='dedicated', constraint='cpu&knl',
                   exclusive=True, array='0-9%2', output='/s/%j.out', error='/s/%j.err', chdir='/s',
                   directives=['#SBATCH --qos=debug', '--mail-type=END'], environment={'B': '1,2', 'A': '"x"'})
    sub = b.build_submission(spec)
    assert sub.argv == [
        '/usr/bin/sbatch', '--parsable', '--job-name=pilot', '--nodes=2', '--ntasks=8', '--ntasks-per-node=4',
        '--cpus-per-task=16', '--mem=204800M', '--gres=gpu:4', '--time=1-12:00:00', '--partition=regular',
        '--account=m1234', '--reservation=dedicated', '--constraint=cpu&knl', '--exclusive', '--array=0-9%2',
        '--output=/s/%j.out', '--error=/s/%j.err', '--chdir=/s', '--export=ALL,A,B', '--qos=debug',
        '--mail-type=END', '/home/alice/pilot.sh', 'run-1']
    assert sub.directives[0] == '#SBATCH --job-name=pilot'
    assert "#SBATCH '--constraint=cpu&knl'" in sub.directives
    assert sub.directives[-2:] == ['#SBATCH --qos=debug', '#SBATCH --mail-type=END']
    # the values travel in sbatch's environment, not on its command line
    assert sub.env == {'A': '"x"', 'B': '1,2'} and sub.cwd == '/s'
    assert '--parsable' not in ' '.join(sub.directives)


def test_minimal_submission(commands):
    sub = make_backend('slurm', commands).build_submission(JobSpec(script='/j.sh'))
    assert sub.argv == ['/usr/bin/sbatch', '--parsable', '/j.sh'] and sub.directives == []


def test_submit_parses_the_job_id(commands):
    commands.on('sbatch', 'slurm/sbatch_parsable.txt')
    b = make_backend('slurm', commands)
    assert b.submit(b.build_submission(JobSpec(script='/j.sh'))) == '1'
    assert make_backend('slurm', commands).parse_submit_output(CommandResult(['sbatch'], 0, '42;cluster2\n', '')) == '42'


def test_submit_is_not_retried_and_fails_clearly(commands):
    commands.on('sbatch', (1, '', 'sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified\n'))
    b = make_backend('slurm', commands)
    with pytest.raises(BatchError, match='Invalid account'):
        b.submit(b.build_submission(JobSpec(script='/j.sh', account='nope')))
    assert len(commands.calls) == 1


def test_running_job_from_squeue_alone(commands):
    commands.on('squeue', 'slurm/squeue_running.txt')
    st = make_backend('slurm', commands).status('1')
    assert (st.state, st.native_state, st.exit_code, st.source) == ('running', 'RUNNING', None, 'squeue')
    assert commands.commands() == ['squeue -h -r -j 1 -t all -o %i|%j|%T|%r']


def test_pending_job_that_sacct_does_not_know_yet(commands):
    # recorded: a new job squeue shows PENDING while sacct has no record of it yet
    commands.on('squeue', 'slurm/squeue_running_pending.txt').on('sacct', 'slurm/sacct_pending.txt')
    st = make_backend('slurm', commands).status('4')
    assert (st.state, st.reason, st.name) == ('queued', 'Priority', 'ljwait')


@pytest.mark.parametrize('job, state, code, native', [
    ('1', 'completed', 0, 'COMPLETED'), ('2', 'failed', 3, 'FAILED'), ('3', 'cancelled', 0, 'CANCELLED'),
])
def test_ended_job_is_read_from_sacct(commands, job, state, code, native):
    commands.on('squeue', 'slurm/squeue_ended.txt').on('sacct', 'slurm/sacct_ended.txt')
    st = make_backend('slurm', commands).status(job)
    assert (st.state, st.exit_code, st.native_state, st.source) == (state, code, native, 'sacct')


def test_ended_job_without_accounting_gets_its_exit_code_from_scontrol(commands):
    commands.on('squeue', 'slurm/squeue_ended.txt').on('sacct', 'slurm/sacct_disabled.txt')
    commands.on('scontrol', 'slurm/scontrol_ended.txt')
    b = make_backend('slurm', commands)
    st = b.status('2')
    assert (st.state, st.exit_code, st.reason) == ('failed', 3, 'NonZeroExitCode')
    assert b.accounting is False
    # accounting is not asked again in the same run once it said it is disabled
    b.status('2')
    assert sum(1 for c in commands.commands() if c.startswith('sacct')) == 1


def test_cancelled_running_job_signal_from_scontrol(commands):
    commands.on('squeue', 'slurm/squeue_cancelled_running.txt').on('sacct', (1, '', 'sacct: error: Problem talking to the database: Connection refused'))
    commands.on('scontrol', 'slurm/scontrol_cancelled_running.txt')
    st = make_backend('slurm', commands).status('1')
    assert (st.state, st.signal, st.exit_code) == ('cancelled', 15, 143)


def test_forgotten_job_with_accounting_disabled_is_unknown_not_completed(commands):
    commands.on('squeue', 'slurm/squeue_invalid.txt').on('sacct', 'slurm/sacct_disabled.txt')
    st = make_backend('slurm', commands).status('999999')
    assert st.state == 'unknown'
    assert 'not set up' in st.reason
    assert st.exit_code is None


def test_forgotten_job_that_accounting_never_saw_is_unknown(commands):
    commands.on('squeue', 'slurm/squeue_invalid.txt').on('sacct', 'slurm/sacct_unknown.txt')
    st = make_backend('slurm', commands).status('999999')
    assert st.state == 'unknown' and 'no record' in st.reason


def test_forgotten_job_found_in_accounting(commands):
    commands.on('squeue', 'slurm/squeue_invalid.txt').on('sacct', 'slurm/sacct_ended.txt')
    st = make_backend('slurm', commands).status('2')
    assert (st.state, st.exit_code, st.source) == ('failed', 3, 'sacct')


def test_forgotten_job_while_slurmdbd_is_down_is_a_transient_error(commands):
    commands.on('squeue', 'slurm/squeue_invalid.txt').on('sacct', 'slurm/sacct_dbd_down.txt')
    with pytest.raises(TransientError, match='sacct failed'):
        make_backend('slurm', commands).status('1')


def test_squeue_down_falls_back_to_sacct(commands):
    commands.on('squeue', FAILED_CONTACT).on('sacct', 'slurm/sacct_running.txt')
    b = make_backend('slurm', commands, retries=1)
    st = b.status('1')
    assert (st.state, st.source) == ('running', 'sacct')
    assert sum(1 for c in commands.commands() if c.startswith('squeue')) == 2  # tried again once


def test_squeue_down_and_no_accounting_record_yet_is_transient(commands):
    commands.on('squeue', FAILED_CONTACT).on('sacct', 'slurm/sacct_pending.txt')
    with pytest.raises(TransientError):
        make_backend('slurm', commands, retries=0).status('4')


def test_squeue_down_sacct_down_is_transient_never_completed(commands):
    commands.on('squeue', FAILED_CONTACT).on('sacct', 'slurm/sacct_dbd_down.txt')
    with pytest.raises(TransientError, match='squeue failed'):
        make_backend('slurm', commands, retries=0).status('1')


def test_squeue_recovers_on_retry(commands):
    commands.on('squeue', FAILED_CONTACT, times=1).on('squeue', 'slurm/squeue_running.txt')
    assert make_backend('slurm', commands).status('1').state == 'running'


def test_empty_squeue_answer_is_not_completion(commands):
    # some versions print nothing (rc 0) for a purged job instead of an error
    commands.on('squeue', (0, '', '')).on('sacct', 'slurm/sacct_disabled.txt')
    assert make_backend('slurm', commands).status('8').state == 'unknown'


def test_array_running_with_tasks_pending(commands):
    commands.on('squeue', 'slurm/squeue_array_running.txt')
    st = make_backend('slurm', commands).status('2')
    assert st.state == 'running'
    assert sorted(t['state'] for t in st.tasks) == ['queued'] * 4 + ['running'] * 2
    assert {t['reason'] for t in st.tasks if t['state'] == 'queued'} == {'JobArrayTaskLimit'}


def test_array_pending(commands):
    commands.on('squeue', 'slurm/squeue_array_pending.txt')
    st = make_backend('slurm', commands).status('5')
    assert st.state == 'queued' and len(st.tasks) == 3


def test_array_ended_from_sacct(commands):
    commands.on('squeue', 'slurm/squeue_invalid.txt').on('sacct', 'slurm/sacct_array.txt')
    st = make_backend('slurm', commands).status('5')
    assert (st.state, st.exit_code, len(st.tasks)) == ('completed', 0, 3)


def test_array_ended_exit_codes_from_scontrol(commands):
    ended = (0, '5_1|ljarr|COMPLETED|None\n5_2|ljarr|COMPLETED|None\n5_3|ljarr|COMPLETED|None\n', '')
    commands.on('squeue', ended).on('sacct', 'slurm/sacct_disabled.txt').on('scontrol', 'slurm/scontrol_array.txt')
    st = make_backend('slurm', commands).status('5')
    assert st.state == 'completed' and [t['exit_code'] for t in st.tasks] == [0, 0, 0]


def test_sacct_array_with_pending_range(commands):
    commands.on('squeue', FAILED_CONTACT).on('sacct', 'slurm/sacct_array_running.txt')
    st = make_backend('slurm', commands, retries=0).status('2')
    assert st.state == 'running'
    assert [t['job_id'] for t in st.tasks] == ['2_1', '2_2', '2_[3-6%2]']


def test_a_task_id_is_not_confused_with_another_job(commands):
    commands.on('squeue', (0, '12|a|RUNNING|None\n123|b|PENDING|None\n1234_5|c|PENDING|None\n', ''))
    assert make_backend('slurm', commands).status('123').name == 'b'


def test_find_active_by_name(commands):
    commands.on('squeue --name=ljwait', 'slurm/squeue_by_name.txt')
    found = make_backend('slurm', commands, user='root').find_active('ljwait')
    assert [(f.job_id, f.state) for f in found] == [('4', 'queued')]
    assert commands.commands() == ['squeue -h -r --name=ljwait -u root -t all -o %i|%j|%T|%r']


def test_find_active_groups_array_tasks_and_skips_ended(commands):
    out = '7_1|p|RUNNING|None\n7_2|p|PENDING|None\n6|p|COMPLETED|None\n8|other|RUNNING|None\n'
    commands.on('squeue', (0, out, ''))
    found = make_backend('slurm', commands).find_active('p')
    assert [(f.job_id, f.state, len(f.tasks)) for f in found] == [('7', 'running', 2)]


def test_find_active_failure_is_not_an_empty_list(commands):
    commands.on('squeue', FAILED_CONTACT)
    with pytest.raises(TransientError):
        make_backend('slurm', commands, retries=0).find_active('p')


def test_cancel_command(commands):
    commands.on('scancel', 'slurm/scancel_ended.txt')
    b = make_backend('slurm', commands)
    assert b.cancel_argv('12') == ['/usr/bin/scancel', '12']
    assert b.cancel('12').rc == 0


def test_missing_command_is_a_clear_error(commands):
    from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import Runner, get_backend
    b = get_backend('slurm')(Runner(commands), lambda cmd: None)
    with pytest.raises(BatchError, match='sbatch not found on this host'):
        b.check_commands(['submit'])


def test_array_just_ended_while_sacct_lags(commands):
    # recorded: right after an array ends, sacct has one placeholder record for the whole array
    commands.on('squeue', 'slurm/squeue_array_ended.txt').on('sacct', 'slurm/sacct_array_lag.txt')
    commands.on('scontrol', (0, 'JobId=1 ArrayJobId=1 ArrayTaskId=3 JobState=FAILED ExitCode=5:0\n'
                                'JobId=2 ArrayJobId=1 ArrayTaskId=1 JobState=COMPLETED ExitCode=0:0\n'
                                'JobId=3 ArrayJobId=1 ArrayTaskId=2 JobState=COMPLETED ExitCode=0:0\n', ''))
    st = make_backend('slurm', commands).status('1')
    assert (st.state, st.exit_code) == ('failed', 5)
    assert sorted((t['job_id'], t['state'], t['exit_code']) for t in st.tasks) == [
        ('1_1', 'completed', 0), ('1_2', 'completed', 0), ('1_3', 'failed', 5)]


def test_forgotten_array_placeholder_record_is_dropped_when_tasks_are_recorded(commands):
    text = '7|allocation|FAILED|5:0\n7_1|a|COMPLETED|0:0\n7_2|a|FAILED|5:0\n'
    commands.on('squeue', 'slurm/squeue_invalid.txt').on('sacct', (0, text, ''))
    st = make_backend('slurm', commands).status('7')
    assert [t['job_id'] for t in st.tasks] == ['7_1', '7_2']


def jobcomp_config(tmp_path):
    """scontrol show config (recorded) pointing at a copy of the recorded job completion log."""
    rc, out, err = fixture('slurm/scontrol_show_config_jobcomp.txt')
    log = tmp_path / 'jobcomp.txt'
    log.write_text(fixture('slurm/jobcomp.txt')[1])
    return (rc, out.replace('/tmp/lj-slurm-cluster/log/jobcomp.txt', str(log)), err)


@pytest.mark.parametrize('job, state, code, tasks', [('1', 'failed', 3, 0), ('2', 'completed', 0, 2)])
def test_forgotten_job_without_accounting_found_in_the_job_completion_log(commands, tmp_path, job, state, code, tasks):
    commands.on('squeue', 'slurm/squeue_invalid.txt').on('sacct', 'slurm/sacct_disabled.txt')
    commands.on('scontrol show config', jobcomp_config(tmp_path))
    st = make_backend('slurm', commands).status(job)
    assert (st.state, st.exit_code, len(st.tasks)) == (state, code, tasks)
    assert st.source == 'jobcomp' or all(t['source'] == 'jobcomp' for t in st.tasks)


def test_an_array_task_in_the_job_completion_log(commands, tmp_path):
    commands.on('squeue', 'slurm/squeue_invalid.txt').on('sacct', 'slurm/sacct_disabled.txt')
    commands.on('scontrol show config', jobcomp_config(tmp_path))
    st = make_backend('slurm', commands).status('2_1')
    assert (st.job_id, st.state, st.exit_code) == ('2_1', 'completed', 0)


def test_job_completion_log_missing_or_elsewhere_keeps_unknown(commands, tmp_path):
    commands.on('squeue', 'slurm/squeue_invalid.txt').on('sacct', 'slurm/sacct_disabled.txt')
    commands.on('scontrol show config', 'slurm/scontrol_show_config_jobcomp.txt')  # the file is not here
    b = make_backend('slurm', commands)
    assert b.status('1').state == 'unknown'
    b.status('1')
    assert sum(1 for c in commands.commands() if c.startswith('scontrol show config')) == 1
