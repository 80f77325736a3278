# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Flux backend over real outputs of flux jobs published by other projects, and over outputs composed from
flux-jobs(1)'s documented format (fixtures/flux, README.md there says which is which)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import json
import os

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import BatchError, JobSpec, TransientError
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch.flux import JOBS_FORMAT, parse_jobs
from ansible_collections.hepcloud.lumberjack.tests.unit.plugins.module_utils.batch.helpers import FIXTURES, make_backend


def test_submission(commands):
    sub = make_backend('flux', commands).build_submission(JobSpec(
        script='/j.sh', arguments=['x'], name='p', nodes=2, ntasks=8, cpus_per_task=4, gpus=4, walltime='2h',
        partition='pbatch', account='bank1', constraint='ssd', exclusive=True, output='/o', error='/e',
        chdir='/w', environment={'V': '1'}, directives=['#flux: --urgency=10']))
    assert sub.argv == ['/usr/bin/flux', 'batch', '--job-name=p', '-N', '2', '-n', '8', '-c', '4', '-g', '1',
                        '-t', '7200s', '-q', 'pbatch', '--setattr=system.bank=bank1', '--requires=ssd', '--exclusive',
                        '--output=/o', '--error=/e', '--urgency=10', '/j.sh', 'x']
    assert sub.cwd == '/w' and sub.env == {'FLUX_F58_FORCE_ASCII': '1', 'V': '1'}
    assert sub.directives[0] == '#flux: --job-name=p'


@pytest.mark.parametrize('field, why', [('memory', 'no memory'), ('reservation', 'reservations'), ('array', 'arrays')])
def test_refused_options(commands, field, why):
    with pytest.raises(BatchError, match=why):
        make_backend('flux', commands).build_submission(JobSpec(script='/j', **{field: '1-2' if field == 'array' else '4G'}))


def test_gpus_must_divide_into_task_slots(commands):
    with pytest.raises(BatchError, match='multiple'):
        make_backend('flux', commands).build_submission(JobSpec(script='/j', tasks_per_node=3, gpus=4))


def test_submit(commands):
    commands.on('batch', 'flux/batch.txt')
    b = make_backend('flux', commands)
    assert b.submit(b.build_submission(JobSpec(script='/j'))) == 'fA9iDK6Bj'
    assert commands.calls[0]['env'] == {'FLUX_F58_FORCE_ASCII': '1'}


@pytest.mark.parametrize('answer, state, code, signal, native', [
    ('flux/jobs_running.txt', 'running', None, None, 'RUN'),
    ('flux/jobs_sched.txt', 'queued', None, None, 'SCHED'),
    ('flux/jobs_completed.txt', 'completed', 0, None, 'COMPLETED'),
    ('flux/jobs_failed.txt', 'failed', 3, None, 'FAILED'),
    ('flux/jobs_cancelled_pending.txt', 'cancelled', None, None, 'CANCELED'),
    ('flux/jobs_cancelled_running.txt', 'cancelled', 143, 15, 'CANCELED'),
    ('flux/jobs_timeout.txt', 'failed', 137, 9, 'TIMEOUT'),
])
def test_states(commands, answer, state, code, signal, native):
    commands.on('jobs', answer)
    st = make_backend('flux', commands).status('fA9iDK6Bj')
    assert (st.state, st.exit_code, st.signal, st.native_state) == (state, code, signal, native)


def test_unknown_job(commands):
    commands.on('jobs', 'flux/jobs_unknown.txt')
    assert make_backend('flux', commands).status('fA9iDK6Bz').state == 'unknown'


def test_broker_down_is_transient(commands):
    commands.on('jobs', (1, '', 'flux-jobs: ERROR: Unable to connect to Flux: broker socket /run/flux/local was not found\n'))
    with pytest.raises(TransientError):
        make_backend('flux', commands, retries=0).status('fA9iDK6Bj')


def test_find_active_and_cancel(commands):
    commands.on('jobs', 'flux/jobs_running.txt')
    b = make_backend('flux', commands)
    assert [s.job_id for s in b.find_active('pilot')] == ['fA9iDK6Bj']
    assert '--filter=pending,running' in commands.calls[0]['argv'] and '--name=pilot' in commands.calls[0]['argv']
    assert b.cancel_argv('fA9iDK6Bj') == ['/usr/bin/flux', 'cancel', 'fA9iDK6Bj']


# ---------------------------------------------------------------------------------------------- real samples
def jobs_line(name):
    """The line the backend's `flux jobs -n --format=...` prints for the job whose `flux jobs --json ID` record is
    the fixture NAME: each format field is the record's field of the same name ('ƒ' printed as 'f' under
    FLUX_F58_FORCE_ASCII=1); result and returncode are empty while the job is active."""
    with io.open(os.path.join(FIXTURES, name), encoding='utf-8') as f:
        record = json.load(f)
    return '|'.join([record['jobid'].replace(u'\u0192', 'f'), record['state'], record.get('result', ''),
                     str(record.get('returncode', '')), record['name']]) + '\n'


def test_jobs_format_fields_are_json_fields():
    assert JOBS_FORMAT == '{id.f58}|{state}|{result}|{returncode}|{name}'
    assert jobs_line('flux/ood_jobs_canceled.json') == 'fiFkbMhFM|INACTIVE|CANCELED|143|sleep\n'


@pytest.mark.parametrize('name, state, code, signal, native', [
    ('flux/ood_jobs_pending.json', 'queued', None, None, 'SCHED'),
    ('flux/ood_jobs_held.json', 'queued', None, None, 'SCHED'),  # urgency 0: held, still SCHED
    ('flux/ood_jobs_running.json', 'running', None, None, 'RUN'),
    # flux cancel of the running job: the job shell exits 143 (its task got SIGTERM)
    ('flux/ood_jobs_canceled.json', 'cancelled', 143, 15, 'CANCELED'),
])
def test_real_job_records(commands, name, state, code, signal, native):
    commands.on('jobs', (0, jobs_line(name), ''))
    st = make_backend('flux', commands).status('fiFkbMhFM')
    assert (st.state, st.exit_code, st.signal, st.native_state) == (state, code, signal, native)
    assert st.name in ('sleep', 'sh')


@pytest.mark.parametrize('result, returncode, state, code, signal', [
    # t/t2800-jobs-cmd.t: a command that does not exist, flux job kill, an exception raised on a running job,
    # a 0.5 s time limit, a job run to completion, a job cancelled before it ran
    ('FAILED', '127', 'failed', 127, None),
    ('FAILED', '143', 'failed', 143, 15),
    ('TIMEOUT', '142', 'failed', 142, 14),
    ('COMPLETED', '0', 'completed', 0, None),
    ('CANCELED', '-128', 'cancelled', None, None),
    # t/flux-jobs/tests/returncode: job records of a real instance and the {returncode} flux jobs printed
    ('COMPLETED', '-15', 'completed', 143, 15),
    ('FAILED', '42', 'failed', 42, None),
    ('FAILED', '1', 'failed', 1, None),
])
def test_returncodes_flux_core_checks(result, returncode, state, code, signal):
    [st] = parse_jobs('fiFkbMhFM|INACTIVE|%s|%s|job\n' % (result, returncode))
    assert (st.state, st.exit_code, st.signal, st.native_state) == (state, code, signal, result)


@pytest.mark.parametrize('answer', ['flux/ood_jobs_unknown.txt', 'flux/issue7177_jobs_unknown.txt'])
def test_real_unknown_job_answers(commands, answer):
    # flux-core >= 0.80 exits 1 (the ood_core sample), older releases exit 0 (the header came from a run without -n)
    commands.on('jobs', answer)
    st = make_backend('flux', commands, retries=0).status('999999')
    assert st.state == 'unknown' and st.exit_code is None
    assert len(commands.calls) == 1


@pytest.mark.parametrize('printed', [u'\u0192iFkbMhFM\n', 'fiFkbMhFM\n'])
def test_submit_takes_real_f58_ids(commands, printed):
    commands.on('batch', (0, printed, ''))
    b = make_backend('flux', commands)
    assert b.submit(b.build_submission(JobSpec(script='/j'))) == printed.strip()
