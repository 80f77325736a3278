# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Flux backend over outputs composed from flux-jobs(1)'s documented format (fixtures/flux)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import BatchError, JobSpec, TransientError
from ansible_collections.hepcloud.lumberjack.tests.unit.plugins.module_utils.batch.helpers import make_backend


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
