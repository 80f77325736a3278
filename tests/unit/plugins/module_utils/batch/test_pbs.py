# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The PBS backend (PBS Professional and Torque) over real Torque outputs published by another project and over
outputs composed from the documented formats (fixtures/pbs, README.md there says which is which)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import BatchError, JobSpec, TransientError
from ansible_collections.hepcloud.lumberjack.tests.unit.plugins.module_utils.batch.helpers import make_backend

FULL = dict(script='/j.sh', name='p', nodes=2, tasks_per_node=4, cpus_per_task=2, memory='4G', gpus=1,
            walltime='1-00:00:00', partition='workq', account='proj', constraint='model=skylake', exclusive=True,
            array='1-10', output='/o', error='/e', environment={'V': 'a,b'}, directives=['#PBS -m ae'])


def pro(commands, **kw):
    return make_backend('pbs', commands, options=dict(flavor='pbspro'), **kw)


def torque(commands, **kw):
    return make_backend('pbs', commands, options=dict(flavor='torque'), **kw)


def test_pbspro_submission(commands):
    sub = pro(commands).build_submission(JobSpec(**FULL))
    assert sub.argv == ['/usr/bin/qsub', '-N', 'p', '-l', 'select=2:ncpus=8:mpiprocs=4:mem=4096mb:ngpus=1:model=skylake',
                        '-l', 'place=scatter:excl', '-l', 'walltime=24:00:00', '-q', 'workq', '-A', 'proj',
                        '-J', '1-10', '-o', '/o', '-e', '/e', '-v', 'V', '-m', 'ae', '/j.sh']
    assert sub.directives[1] == '#PBS -l select=2:ncpus=8:mpiprocs=4:mem=4096mb:ngpus=1:model=skylake'


def test_torque_submission(commands):
    sub = torque(commands).build_submission(JobSpec(arguments=['x', 'y'], chdir='/w', **FULL))
    assert sub.argv == ['/usr/bin/qsub', '-N', 'p', '-l', 'nodes=2:ppn=8:gpus=1:model=skylake', '-l', 'mem=8192mb',
                        '-n', '-l', 'walltime=24:00:00', '-q', 'workq', '-A', 'proj', '-t', '1-10', '-o', '/o',
                        '-e', '/e', '-d', '/w', '-v', 'V', '-F', 'x y', '-m', 'ae', '/j.sh']


def test_pbspro_refuses_arguments_and_warns_about_chdir(commands):
    warnings = []
    b = make_backend('pbs', commands, options=dict(flavor='pbspro'), warnings=warnings)
    with pytest.raises(BatchError, match='arguments are not supported by PBS Professional'):
        b.build_submission(JobSpec(script='/j.sh', arguments=['x']))
    sub = b.build_submission(JobSpec(script='/j.sh', chdir='/w'))
    assert sub.cwd == '/w' and 'PBS_O_WORKDIR' in warnings[0]


def test_reservation(commands):
    assert pro(commands).build_submission(JobSpec(script='/j', reservation='R12')).argv[1:3] == ['-q', 'R12']
    assert torque(commands).build_submission(JobSpec(script='/j', reservation='r1')).argv[1:3] == ['-W', 'x=FLAGS:ADVRES:r1']
    with pytest.raises(BatchError, match='not both'):
        pro(commands).build_submission(JobSpec(script='/j', reservation='R12', partition='workq'))


@pytest.mark.parametrize('answer, flavor', [('pbs/pbspro_version.txt', 'pbspro'), ('pbs/torque_version.txt', 'torque')])
def test_flavor_detection(commands, answer, flavor):
    commands.on('qstat --version', answer)
    assert make_backend('pbs', commands).flavor == flavor


def test_flavor_undetectable(commands):
    commands.on('qstat --version', (1, '', 'qstat: command not recognized'))
    with pytest.raises(BatchError, match='pbs_flavor'):
        make_backend('pbs', commands, retries=0).flavor


@pytest.mark.parametrize('answer, job_id', [('pbs/qsub.txt', '1234.pbsserver'), ('pbs/qsub_array.txt', '1235[].pbsserver')])
def test_submit(commands, answer, job_id):
    commands.on('qsub', answer)
    b = pro(commands)
    assert b.submit(b.build_submission(JobSpec(script='/j.sh'))) == job_id


@pytest.mark.parametrize('answer, state, code, signal', [
    ('pbs/pbspro_running.txt', 'running', None, None),
    ('pbs/pbspro_finished.txt', 'completed', 0, None),
    ('pbs/pbspro_failed.txt', 'failed', 3, None),
    ('pbs/pbspro_killed.txt', 'failed', 143, 15),
    ('pbs/pbspro_deleted_queued.txt', 'cancelled', None, None),
])
def test_pbspro_states(commands, answer, state, code, signal):
    commands.on('qstat -f -x', answer)
    st = pro(commands).status('1234.pbsserver')
    assert (st.state, st.exit_code, st.signal) == (state, code, signal)


def test_pbspro_running_reason_and_continuation_lines(commands):
    commands.on('qstat', 'pbs/pbspro_running.txt')
    st = pro(commands).status('1234.pbsserver')
    assert st.reason.startswith('Job run at') and st.name == 'pilot' and st.native_state == 'R'
    from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch.pbs import parse_qstat_full
    with open(__file__.replace('test_pbs.py', 'fixtures/pbs/pbspro_running.txt')) as f:
        attrs = parse_qstat_full(f.read())[0]
    assert attrs['Variable_List'].endswith('PBS_O_QUEUE=workq,PBS_O_HOST=login1')


def test_pbspro_array_subjobs(commands):
    commands.on('qstat -f -x -t', 'pbs/pbspro_array.txt')
    st = pro(commands).status('1235[].pbsserver')
    assert st.state == 'running'
    assert [(t['job_id'], t['state']) for t in st.tasks] == [
        ('1235[1].pbsserver', 'completed'), ('1235[2].pbsserver', 'running'), ('1235[3].pbsserver', 'queued')]


@pytest.mark.parametrize('answer, state, code', [
    ('pbs/torque_completed.txt', 'completed', 0), ('pbs/torque_exec_failed.txt', 'failed', -1),
    ('pbs/torque_queued.txt', 'queued', None),
])
def test_torque_states(commands, answer, state, code):
    commands.on('qstat -f', answer)
    st = torque(commands).status('179.torque')
    assert (st.state, st.exit_code) == (state, code)
    assert '-x' not in commands.calls[0]['argv']  # Torque's -x means XML


def test_torque_exec_failure_reason(commands):
    commands.on('qstat', 'pbs/torque_exec_failed.txt')
    assert 'JOB_EXEC code -1' in torque(commands).status('180.torque').reason


@pytest.mark.parametrize('flavor, answer', [('pbspro', 'pbs/pbspro_unknown.txt'), ('torque', 'pbs/torque_unknown.txt')])
def test_unknown_job_is_unknown(commands, flavor, answer):
    commands.on('qstat', answer)
    st = make_backend('pbs', commands, options=dict(flavor=flavor)).status('999')
    assert st.state == 'unknown' and st.exit_code is None


def test_qstat_failure_is_transient(commands):
    commands.on('qstat', (2, '', 'Connection refused\nqstat: cannot connect to server pbsserver (errno=15010)\n'))
    with pytest.raises(TransientError):
        pro(commands, retries=0).status('1234')


def test_find_active_uses_qselect(commands):
    commands.on('qselect', 'pbs/qselect.txt')
    commands.on('qstat 1234.pbsserver', 'pbs/pbspro_running.txt')
    commands.on('qstat 1240.pbsserver', 'pbs/pbspro_finished.txt')
    found = pro(commands, user='alice').find_active('pilot')
    assert [(f.job_id, f.state) for f in found] == [('1234.pbsserver', 'running')]
    assert commands.commands()[0] == 'qselect -u alice -N pilot'


def test_cancel(commands):
    assert pro(commands).cancel_argv('1234.pbsserver') == ['/usr/bin/qdel', '1234.pbsserver']


# ---------------------------------------------------------------------------------------------- real samples
@pytest.mark.parametrize('answer, job_id, state, code, signal, native', [
    ('pbs/torque_ichec_completed_271.txt', '546437', 'failed', 143, 15, 'C'),
    ('pbs/torque_ichec_completed_271_sched_hint.txt', '543984', 'failed', 143, 15, 'C'),
    ('pbs/torque_ichec_running.txt', '555716', 'running', None, None, 'R'),
    ('pbs/torque_ichec_held_depend.txt', '549159', 'queued', None, None, 'H'),
    ('pbs/torque_ichec_queued.txt', '547637', 'queued', None, None, 'Q'),
])
def test_real_torque_qstat_f(commands, answer, job_id, state, code, signal, native):
    commands.on('qstat -f', answer)
    st = torque(commands).status(job_id)
    assert (st.job_id, st.state, st.exit_code, st.signal, st.native_state) == (job_id, state, code, signal, native)
    assert st.name.startswith('job_') or st.name in ('ini_J2', 'somejob')


def test_real_torque_continuations_and_stray_lines():
    # the post-job copy error in sched_hint has lines at column 0; they must not end the job or become attributes
    from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch.pbs import parse_qstat_full
    with open(__file__.replace('test_pbs.py', 'fixtures/pbs/torque_ichec_completed_271_sched_hint.txt')) as f:
        [attrs] = parse_qstat_full(f.read())
    assert attrs['exit_status'] == '271' and attrs['start_count'] == '1'
    assert attrs['exec_host'].startswith('r2i7n17/0-23+r2i0n11/0-23') and attrs['exec_host'].endswith('r1i7n4/0-23')
    assert attrs['sched_hint'].startswith('Post job file processing error; job 543984 on host r2i7n17')
    assert not [k for k in attrs if not k[0].isalpha() and k != 'Job Id']
