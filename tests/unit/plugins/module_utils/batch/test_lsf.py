# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The LSF backend over outputs composed from IBM Spectrum LSF's documented formats, and over the few real bsub and
bjobs answers other projects published (fixtures/lsf, README.md there says which is which)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import BatchError, JobSpec, TransientError
from ansible_collections.hepcloud.lumberjack.tests.unit.plugins.module_utils.batch.helpers import make_backend


def test_submission_reads_the_script_from_stdin(commands, tmp_path):
    script = tmp_path / 'j.sh'
    script.write_text('#!/bin/sh\n#BSUB -q short\necho hi\n')
    sub = make_backend('lsf', commands).build_submission(JobSpec(
        script=str(script), name='p', nodes=2, tasks_per_node=4, cpus_per_task=2, memory='16G', gpus=2,
        walltime='90m', partition='normal', account='proj', reservation='r1', constraint='avx2', exclusive=True,
        array='1-10%2', output='/o', error='/e', chdir='/w', environment={'V': '1'}, directives=['-app big']))
    assert sub.argv == ['/usr/bin/bsub', '-J', 'p[1-10]%2', '-n', '16', '-R', 'span[ptile=8]', '-R', 'rusage[mem=2048MB]',
                        '-gpu', 'num=2', '-W', '1:30', '-q', 'normal', '-P', 'proj', '-U', 'r1', '-R', 'select[avx2]',
                        '-x', '-o', '/o', '-e', '/e', '-cwd', '/w', '-app', 'big']
    assert sub.stdin_path == str(script) and sub.command_line().endswith(' < ' + str(script))
    assert sub.env == {'V': '1'}
    commands.on('bsub', 'lsf/bsub.txt')
    assert make_backend('lsf', commands).submit(sub) == '1234'
    assert commands.calls[0]['data'] == script.read_bytes()


def test_simple_submission_and_default_queue_answer(commands):
    commands.on('bsub', 'lsf/bsub_default_queue.txt')
    b = make_backend('lsf', commands)
    sub = b.build_submission(JobSpec(script='/dev/null'))
    assert sub.argv == ['/usr/bin/bsub'] and b.submit(sub) == '1234'


def test_arguments_refused(commands):
    with pytest.raises(BatchError, match='arguments are not supported'):
        make_backend('lsf', commands).build_submission(JobSpec(script='/j', arguments=['x']))


@pytest.mark.parametrize('answer, state, code, signal', [
    ('lsf/bjobs_running.txt', 'running', None, None), ('lsf/bjobs_pending.txt', 'queued', None, None),
    ('lsf/bjobs_done.txt', 'completed', 0, None), ('lsf/bjobs_exit.txt', 'failed', 3, None),
    ('lsf/bjobs_killed.txt', 'failed', 130, 2),
])
def test_states(commands, answer, state, code, signal):
    commands.on('bjobs', answer)
    st = make_backend('lsf', commands).status('1234')
    assert (st.state, st.exit_code, st.signal) == (state, code, signal)
    assert commands.commands()[0] == "bjobs -a -noheader -o jobid jobindex stat exit_code job_name delimiter='|' 1234"


def test_array(commands):
    commands.on('bjobs', 'lsf/bjobs_array.txt')
    st = make_backend('lsf', commands).status('1240')
    assert st.state == 'running' and [t['job_id'] for t in st.tasks] == ['1240[1]', '1240[2]', '1240[3]']


def test_not_found_is_unknown(commands):
    commands.on('bjobs', 'lsf/bjobs_not_found.txt')
    st = make_backend('lsf', commands).status('999')
    assert st.state == 'unknown' and 'CLEAN_PERIOD' in st.reason


def test_lim_down_is_transient(commands):
    commands.on('bjobs', 'lsf/bjobs_lim_down.txt')
    with pytest.raises(TransientError):
        make_backend('lsf', commands, retries=1).status('1234')
    assert len(commands.calls) == 2


def test_find_active(commands):
    commands.on('bjobs -J pilot', 'lsf/bjobs_running.txt')
    commands.on('bjobs -J arr', 'lsf/bjobs_array.txt')
    commands.on('bjobs -J nothing', 'lsf/bjobs_name_none.txt')
    b = make_backend('lsf', commands)
    assert [(s.job_id, s.state) for s in b.find_active('pilot')] == [('1234', 'running')]
    assert [(s.job_id, len(s.tasks)) for s in b.find_active('arr')] == [('1240', 2)]
    assert b.find_active('nothing') == []


def test_cancel(commands):
    assert make_backend('lsf', commands).cancel_argv('1234') == ['/usr/bin/bkill', '1234']


# ---------------------------------------------------------------------------------------------- real samples
@pytest.mark.parametrize('answer, job_id', [
    ('lsf/aiida_bsub.txt', '764254593'), ('lsf/nextflow_bsub.txt', '2329803'), ('lsf/ood_bsub.txt', '542935'),
])
def test_real_bsub_answers(commands, answer, job_id):
    commands.on('bsub', answer)
    b = make_backend('lsf', commands)
    assert b.submit(b.build_submission(JobSpec(script='/dev/null'))) == job_id


def test_real_not_found_with_exit_status_0(commands):
    # bjobs asked about one job it no longer knows exits 0 on some sites, 255 on others (LSB_BJOBS_CONSISTENT_EXIT_CODE)
    commands.on('bjobs', 'lsf/aiida_bjobs_not_found.txt')
    st = make_backend('lsf', commands, retries=0).status('864220165')
    assert st.state == 'unknown' and st.exit_code is None
