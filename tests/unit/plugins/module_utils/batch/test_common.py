# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import (
    BatchError, JobSpec, JobStatus, Poller, Runner, TransientError, WaitTimeout,
    aggregate_state, format_dhms, format_hms, get_backend, parse_memory, parse_walltime, split_exit_code,
)


@pytest.mark.parametrize('value, seconds', [
    ('01:00:00', 3600), ('48:00:00', 172800), ('1-00:00:00', 86400), ('2-12:30', 2 * 86400 + 12 * 3600 + 1800),
    ('0:00:30', 30), ('90m', 5400), ('2h', 7200), ('1d', 86400), ('45s', 45), ('30', 1800), (30, 1800),
    (' 2H ', 7200),
])
def test_walltime_forms(value, seconds):
    assert parse_walltime(value) == seconds


@pytest.mark.parametrize('value', ['1:30', 'ten minutes', '1:60:00', '0', '00:00:00', '-5', '1.5h', True, '1-2'])
def test_walltime_refused_with_a_clear_message(value):
    with pytest.raises(BatchError) as e:
        parse_walltime(value)
    assert 'walltime' in str(e.value)


def test_walltime_formats():
    assert format_hms(3600) == '01:00:00'
    assert format_hms(100 * 3600 + 61) == '100:01:01'
    assert format_dhms(3600) == '01:00:00'
    assert format_dhms(86400 + 3661) == '1-01:01:01'


@pytest.mark.parametrize('value, mib', [
    ('4G', 4096), ('4096M', 4096), ('4GB', 4096), ('512MiB', 512), ('1T', 1048576), ('1048576K', 1024),
    ('1.5G', 1536), (2048, 2048), ('100', 100), ('1500k', 2),
])
def test_memory_forms(value, mib):
    assert parse_memory(value) == mib


@pytest.mark.parametrize('value', ['lots', '4 X', '0', '-1G', False])
def test_memory_refused(value):
    with pytest.raises(BatchError):
        parse_memory(value)


@pytest.mark.parametrize('value, expected', [
    ('0:0', (0, None)), ('3:0', (3, None)), ('0:15', (143, 15)), ('271', (271, None)), ('', (None, None)),
    (None, (None, None)), ('-', (None, None)), ('N/A', (None, None)), ('-1', (-1, None)),
])
def test_split_exit_code(value, expected):
    assert split_exit_code(value) == expected


def test_aggregate_state():
    assert aggregate_state([]) == 'unknown'
    assert aggregate_state(['completed', 'running', 'queued']) == 'running'
    assert aggregate_state(['completed', 'queued']) == 'queued'
    assert aggregate_state(['completed', 'failed', 'cancelled']) == 'failed'
    assert aggregate_state(['completed', 'cancelled']) == 'cancelled'
    assert aggregate_state(['completed', 'completed']) == 'completed'
    # a task nobody knows about keeps the whole from being called completed
    assert aggregate_state(['completed', 'unknown']) == 'unknown'


def test_combine_keeps_tasks_and_worst_exit_code():
    tasks = [JobStatus('5_1', 'completed', exit_code=0), JobStatus('5_2', 'failed', exit_code=3, native_state='FAILED')]
    st = JobStatus.combine('5', tasks)
    assert st.state == 'failed' and st.exit_code == 3 and st.job_id == '5'
    assert [t['job_id'] for t in st.tasks] == ['5_1', '5_2']
    assert 'source' not in st.result_fields()


def test_jobstatus_refuses_foreign_states():
    with pytest.raises(ValueError):
        JobStatus('1', 'done')


def test_jobspec_validation():
    with pytest.raises(BatchError, match='nodes must be 1 or more'):
        JobSpec(script='/s', nodes=0)
    with pytest.raises(BatchError, match='not a valid variable name'):
        JobSpec(script='/s', environment={'1BAD': 'x'})
    with pytest.raises(BatchError, match='array'):
        JobSpec(script='/s', array='a-b')
    with pytest.raises(BatchError, match='cannot be split'):
        JobSpec(script='/s', directives=['--comment="unbalanced']).extra_args()
    spec = JobSpec(script='/s', nodes=2, ntasks=5, walltime='1h', memory='1G', directives=['#SBATCH --qos=x', '-l a=b'])
    assert spec.tasks_on_a_node() == 3
    assert spec.total_tasks() == 5
    assert spec.extra_args('#SBATCH') == [['--qos=x'], ['-l', 'a=b']]
    assert JobSpec(script='/s', nodes=3, tasks_per_node=4).total_tasks() == 12


def test_unknown_scheduler():
    with pytest.raises(BatchError, match="unknown scheduler 'condor'"):
        get_backend('condor')


class Script:
    """A run function that answers from a list, one answer per call."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, argv, data=None, cwd=None, environ_update=None):
        self.calls += 1
        return self.answers.pop(0)


def test_runner_retries_what_may_pass():
    sleeps = []
    run = Script([(1, '', 'squeue: error: Socket timed out on send/recv operation'), (0, 'ok', '')])
    r = Runner(run, retries=3, delay=1, sleep=sleeps.append).run(['squeue'])
    assert r.rc == 0 and run.calls == 2 and sleeps == [1]


def test_runner_gives_up_after_retries_with_doubling_delay():
    sleeps = []
    run = Script([(1, '', 'Unable to contact slurm controller (connect failure)')] * 4)
    r = Runner(run, retries=3, delay=1, sleep=sleeps.append).run(['squeue'])
    assert r.rc == 1 and run.calls == 4 and sleeps == [1, 2, 4]


def test_runner_does_not_retry_a_definite_answer_or_a_submission():
    run = Script([(1, '', 'slurm_load_jobs error: Invalid job id specified')])
    assert Runner(run, retries=3, sleep=lambda s: None).run(['squeue']).rc == 1 and run.calls == 1
    run = Script([(1, '', 'sbatch: error: Batch job submission failed: Socket timed out on send/recv')])
    assert Runner(run, retries=3, sleep=lambda s: None).run(['sbatch'], retry=False).rc == 1 and run.calls == 1


class FakeBackend:
    """status() answers from a list: a JobStatus state, or an exception to raise."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = 0

    def status(self, job_id):
        self.calls += 1
        a = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(a, Exception):
            raise a
        return JobStatus(job_id, a)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def poller(answers, retries=3):
    clock = Clock()
    backend = FakeBackend(answers)
    return Poller(backend, retries=retries, delay=1, sleep=clock.sleep, clock=clock), backend, clock


def test_query_asks_again_when_a_job_is_suddenly_unknown():
    p, backend, clock = poller(['unknown', 'running'])
    assert p.query('1').state == 'running'
    assert backend.calls == 2


def test_query_believes_unknown_after_the_retries():
    p, backend, clock = poller(['unknown'])
    assert p.query('1').state == 'unknown'
    assert backend.calls == 4 and clock.now == 1 + 2 + 4


def test_query_never_turns_a_failure_into_a_state():
    p, backend, clock = poller([TransientError('no answer')])
    with pytest.raises(TransientError):
        p.query('1')
    assert backend.calls == 4


def test_wait_tolerates_a_failed_poll():
    p, backend, clock = poller(['queued', TransientError('busy'), 'running', 'completed'])
    st = p.wait('1', timeout=100, interval=5)
    assert st.state == 'completed' and backend.calls == 4 and clock.now == 15


def test_wait_gives_up_on_persistent_errors_instead_of_guessing():
    p, backend, clock = poller(['running', TransientError('busy')], retries=2)
    with pytest.raises(BatchError, match='failed status queries'):
        p.wait('1', timeout=1000, interval=5)
    assert backend.calls == 4


def test_wait_needs_several_unknowns_in_a_row():
    p, backend, clock = poller(['running', 'unknown', 'running', 'unknown', 'unknown', 'unknown'])
    assert p.wait('1', timeout=1000, interval=1, unknown_polls=3).state == 'unknown'
    assert backend.calls == 6


def test_wait_times_out_with_the_last_state():
    p, backend, clock = poller(['queued'])
    with pytest.raises(WaitTimeout) as e:
        p.wait('7', timeout=30, interval=10)
    assert e.value.status.state == 'queued' and 'job 7' in str(e.value)
    assert clock.now == 30


def test_wait_gives_a_late_accounting_record_time():
    p, backend, clock = poller(['running'] + ['unknown'] * 5 + ['completed'])
    backend.unknown_grace = 5
    assert p.wait('1', timeout=1000, interval=1).state == 'completed'
    p, backend, clock = poller(['running', 'unknown'])
    backend.unknown_grace = 5
    assert p.wait('1', timeout=1000, interval=1).state == 'unknown'
    assert clock.now == 6


def test_wait_looks_for_the_ready_sign_every_second_and_then_polls_every_second():
    p, backend, clock = poller(['running'] * 4 + ['completed'])
    looks = []

    def ready():
        looks.append(clock.now)
        return clock.now >= 33

    st = p.wait('1', timeout=1000, interval=30, ready=ready)
    # polls at 0 and 30; the sign is seen at 33: polls at 33, 34, 35 (completed) instead of 60 and 90
    assert st.state == 'completed' and backend.calls == 5 and clock.now == 35
    assert looks[:3] == [0, 1, 2]


def test_wait_without_the_ready_sign_keeps_the_interval():
    p, backend, clock = poller(['running', 'running', 'completed'])
    st = p.wait('1', timeout=1000, interval=30, ready=lambda: False)
    assert st.state == 'completed' and backend.calls == 3 and clock.now == 60
