# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Grid Engine backend over outputs recorded from Debian's Grid Engine 8.1.9 (fixtures/sge)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import BatchError, JobSpec, TransientError
from ansible_collections.hepcloud.lumberjack.tests.unit.plugins.module_utils.batch.helpers import fixture, make_backend

NOT_FOUND = 'sge/qacct_10.txt'


def test_submission_options(commands):
    b = make_backend('sge', commands, options=dict(pe='mpi'))
    sub = b.build_submission(JobSpec(
        script='/j.sh', arguments=['x'], name='p', nodes=1, ntasks=4, cpus_per_task=2, memory='8G', gpus=1,
        walltime='2h', partition='all.q', account='proj', reservation='12', constraint='arch=lx-amd64',
        exclusive=True, array='1-10%2', output='/o', error='/e', chdir='/w', environment={'V': 'a,b'},
        directives=['#$ -R y']))
    assert sub.argv == ['/usr/bin/qsub', '-terse', '-N', 'p', '-pe', 'mpi', '8', '-l', 'h_vmem=1024M', '-l', 'gpu=1',
                        '-l', 'h_rt=02:00:00', '-l', 'exclusive=true', '-l', 'arch=lx-amd64', '-q', 'all.q',
                        '-A', 'proj', '-ar', '12', '-t', '1-10', '-tc', '2', '-o', '/o', '-e', '/e', '-wd', '/w',
                        '-v', 'V', '-R', 'y', '/j.sh', 'x']
    assert sub.directives[:3] == ['#$ -N p', '#$ -pe mpi 8', '#$ -l h_vmem=1024M']
    assert sub.env == {'V': 'a,b'}


def test_single_slot_job_has_no_parallel_environment(commands):
    sub = make_backend('sge', commands).build_submission(JobSpec(script='/j.sh'))
    assert sub.argv == ['/usr/bin/qsub', '-terse', '/j.sh']


def test_array_lists_are_refused(commands):
    with pytest.raises(BatchError, match='ranges'):
        make_backend('sge', commands).build_submission(JobSpec(script='/j.sh', array='1,3'))


@pytest.mark.parametrize('name, job_id', [
    ('sge/qsub_terse.txt', '4'), ('sge/qsub_terse_array.txt', '8'), ('sge/qsub_plain.txt', '5')])
def test_submit_output(commands, name, job_id):
    commands.on('qsub', name)
    b = make_backend('sge', commands)
    assert b.submit(b.build_submission(JobSpec(script='/j.sh'))) == job_id


def test_rejected_submission(commands):
    commands.on('qsub', 'sge/qsub_rejected.txt')
    b = make_backend('sge', commands)
    with pytest.raises(BatchError, match='lower than minimum user id'):
        b.submit(b.build_submission(JobSpec(script='/j.sh')))


def test_pending_held_and_running(commands):
    commands.on('qstat', 'sge/qstat_xml_running.txt')
    b = make_backend('sge', commands)
    assert (b.status('9').state, b.status('9').native_state) == ('running', 'r')
    assert b.status('4').state == 'queued'
    commands.rules = []
    commands.on('qstat', 'sge/qstat_xml_pending.txt')
    st = b.status('10')
    assert (st.state, st.native_state, st.name) == ('queued', 'hqw', 'ljhold')


def test_being_deleted_is_cancelled(commands):
    commands.on('qstat', 'sge/qstat_xml_deleting.txt').on('qacct', NOT_FOUND)
    st = make_backend('sge', commands).status('9')
    assert (st.state, st.native_state) == ('cancelled', 'dr')


def test_array_with_running_and_pending_tasks(commands):
    commands.on('qstat', 'sge/qstat_xml_array.txt')
    st = make_backend('sge', commands).status('11')
    assert st.state == 'running'
    assert [(t['job_id'], t['state']) for t in st.tasks] == [
        ('11.1', 'running'), ('11.2', 'running'), ('11.3,4', 'queued')]


@pytest.mark.parametrize('job, state, code, signal', [
    ('4', 'completed', 0, None), ('6', 'failed', 3, None), ('9', 'failed', 137, 9),
])
def test_ended_jobs_from_qacct(commands, job, state, code, signal):
    commands.on('qstat', 'sge/qstat_xml_empty.txt').on('qacct', 'sge/qacct_%s.txt' % job)
    st = make_backend('sge', commands).status(job)
    assert (st.state, st.exit_code, st.signal, st.source) == (state, code, signal, 'qacct')


def test_rescheduled_job_last_record_counts(commands):
    # job 9 failed twice before it started ("11 : before job"), then was deleted while running
    commands.on('qstat', 'sge/qstat_xml_empty.txt').on('qacct', 'sge/qacct_9.txt')
    st = make_backend('sge', commands).status('9')
    assert st.reason == 'failed: 100 : assumedly after job'


def test_array_from_qacct(commands):
    commands.on('qstat', 'sge/qstat_xml_empty.txt').on('qacct', 'sge/qacct_8.txt')
    st = make_backend('sge', commands).status('8')
    assert (st.state, st.exit_code) == ('completed', 0)
    assert [t['job_id'] for t in st.tasks] == ['8.1', '8.2', '8.3']


def test_job_in_neither_is_unknown(commands):
    # job 10 was deleted while held: it never ran, so it has no accounting record
    commands.on('qstat', 'sge/qstat_xml_empty.txt').on('qacct', NOT_FOUND)
    st = make_backend('sge', commands).status('10')
    assert st.state == 'unknown' and 'qacct has no record' in st.reason


def test_qstat_failure_is_transient(commands):
    commands.on('qstat', (1, '', 'error: commlib error: got select error (Connection refused)\n'
                                 'unable to send message to qmaster using port 6444 on host "vm": got send error\n'))
    with pytest.raises(TransientError):
        make_backend('sge', commands, retries=0).status('4')


def test_qacct_failure_without_qstat_answer_is_transient(commands):
    commands.on('qstat', 'sge/qstat_xml_empty.txt').on('qacct', (1, '', 'error: can\'t open accounting file'))
    with pytest.raises(TransientError):
        make_backend('sge', commands, retries=0).status('4')


def test_find_active_by_name(commands):
    commands.on('qstat', 'sge/qstat_xml_array.txt')
    b = make_backend('sge', commands, user='root')
    assert [(s.job_id, s.state, len(s.tasks)) for s in b.find_active('ljarr2')] == [('11', 'running', 3)]
    assert b.find_active('nothing') == []
    assert commands.commands()[0] == 'qstat -xml -u root'


def test_cancel(commands):
    commands.on('qdel', 'sge/qdel_running.txt')
    b = make_backend('sge', commands)
    assert b.cancel('9').rc == 0 and b.cancel_argv('9') == ['/usr/bin/qdel', '9']
    rc, out, err = fixture('sge/qdel_unknown.txt')
    assert rc == 1 and 'does not exist' in out
