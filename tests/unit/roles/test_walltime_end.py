# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The end of the walltime as both pilot scripts read it from each batch system (scheduler_walltime_end, the same
function in roles/glidein/files/glidein-pilot.sh and roles/batch_submit/files/lumberjack-pilot.sh), against
stand-ins for squeue, qstat, bjobs and flux that print the outputs in walltime_end/ and note how they were called.

The Grid Engine outputs (sge_*.txt) were recorded from Debian 12's Grid Engine 8.1.9 (a one-host cell as
tests/support/sge_cluster.py builds it; a job submitted with -l h_rt=01:00:00, shown running; the cell's
temporary SGE_ROOT shortened to /tmp/ljt). The others were written after the documented formats, as noted where
the scripts read them: pbspro_qstat_f.txt has the layout of the repository's PBS Professional fixture
(tests/unit/plugins/module_utils/batch/fixtures/pbs) with a running job's stime; torque_qstat_f.txt adds
Torque's start_time and Walltime.Remaining (qstat -f of TORQUE 3.0); flux_R*.txt are resource sets as RFC 20
(R version 1) describes them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import subprocess
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..', '..', '..'))
GLIDEIN = os.path.join(ROOT, 'roles', 'glidein', 'files', 'glidein-pilot.sh')
LUMBERJACK = os.path.join(ROOT, 'roles', 'batch_submit', 'files', 'lumberjack-pilot.sh')
OUTPUTS = os.path.join(HERE, 'walltime_end')
BATCH_VARS = ('SLURM_', 'PBS_', 'LSB_', 'FLUX_', 'SGE_', 'JOB_ID', 'GLIDEIN_', 'LJ_', 'LUMBERJACK_')
STARTED = 1795320000  # the pilot's own start, where a batch system tells the limit but not the start

# one stand-in for every command: the output file is chosen by how it is called; none: it fails as the real
# command does for a job it does not know
STANDIN = r'''#!/bin/bash
printf '%s\n' "$(basename "$0") $*" >>"$STANDIN_DIR/calls"
case "$(basename "$0") $1 $2" in
    "squeue "*) key=squeue ;;
    "qstat -f "*) key=qstat-f ;;
    "qstat -j "*) key=qstat-j ;;
    "qstat  ") key=qstat ;;
    "bjobs -noheader -o") key="bjobs-$3" ;;
    "flux job info") key="flux-info-$4" ;;
    "flux job timeleft") key=flux-timeleft ;;
    *) key=none ;;
esac
[ -e "$STANDIN_DIR/out-$key" ] || { echo "stand-in: no output for: $*" >&2; exit 1; }
cat "$STANDIN_DIR/out-$key"
'''

pytestmark = pytest.mark.skipif(shutil.which('bash') is None, reason='bash is not installed')


def epoch(text):
    return int(subprocess.run(['date', '-d', text, '+%s'], capture_output=True, text=True, check=True).stdout)


@pytest.fixture
def standins(tmp_path):
    """A directory of stand-in commands; outputs({key: a file of walltime_end/ or the text itself})."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    for name in ('squeue', 'qstat', 'bjobs', 'flux'):
        (bin_dir / name).write_text(STANDIN)
        (bin_dir / name).chmod(0o755)

    class Standins(object):
        path = str(bin_dir)

        @staticmethod
        def outputs(keys):
            for key, value in keys.items():
                src = os.path.join(OUTPUTS, value)
                text = open(src).read() if os.path.exists(src) else value + '\n'
                (bin_dir / ('out-' + key)).write_text(text)

        @staticmethod
        def calls():
            calls = bin_dir / 'calls'
            return calls.read_text().splitlines() if calls.exists() else []
    return Standins()


def clean_env(standins, env):
    clean = dict((k, v) for k, v in os.environ.items() if not k.startswith(BATCH_VARS))
    clean.update(env, PATH=standins.path + ':' + clean['PATH'], STANDIN_DIR=standins.path)
    return clean


def glidein_told(standins, env):
    """What glidein-pilot.sh's scheduler_walltime_end prints, and walltime_end with a 10 minute walltime."""
    env = clean_env(standins, env)
    p = subprocess.run(['bash', '-c', '. "$1"; printf "%%s\\n" "$(scheduler_walltime_end %d)"; GLIDEIN_WALLTIME=600 walltime_end %d'
                        % (STARTED, STARTED), 'bash', GLIDEIN], env=env, capture_output=True, text=True, timeout=30,
                       check=False)
    assert p.returncode == 0, p.stderr
    told, end = p.stdout.split('\n')
    return told, int(end)


def lumberjack_told(standins, env, tmp_path):
    """walltime_end and walltime_source of lumberjack-pilot.sh --print (its own start is now)."""
    run_dir = tmp_path / 'run'
    run_dir.mkdir(exist_ok=True)
    prefix = tmp_path / 'condor'
    (prefix / 'sbin').mkdir(parents=True, exist_ok=True)
    (prefix / 'sbin' / 'condor_master').write_text('#!/bin/sh\nexit 0\n')
    (prefix / 'sbin' / 'condor_master').chmod(0o755)
    env_file = tmp_path / 'pilot.env'
    env_file.write_text('LJ_RUN_DIR=%s\nLJ_CONDOR_BIN_DIR=%s\nLJ_WALLTIME=10m\nLJ_NODE_LAUNCHER=none\n'
                        % (run_dir, prefix))
    p = subprocess.run(['bash', LUMBERJACK, '--print', str(env_file)], env=clean_env(standins, env),
                       capture_output=True, text=True, timeout=30, check=False)
    assert p.returncode == 0, p.stderr
    out = dict(line.split('=', 1) for line in p.stdout.splitlines() if '=' in line)
    return int(out['walltime_end']), out['walltime_source']


# (environment, stand-in outputs, expected end: an epoch, or ('now', seconds left), or ('start', seconds), source)
CASES = {
    'slurm-env': (dict(SLURM_JOB_ID='7', SLURM_JOB_END_TIME='1795324000'), {}, 1795324000, 'SLURM_JOB_END_TIME'),
    'slurm-squeue': (dict(SLURM_JOB_ID='7'), {'squeue': '2026-11-22T05:10:02'}, epoch('2026-11-22T05:10:02'),
                     'squeue'),
    'pbspro': (dict(PBS_JOBID='1234.pbsserver'), {'qstat-f': 'pbspro_qstat_f.txt'},
               epoch('Sun Nov 22 04:10:02 2026') + 3600, 'qstat-walltime'),
    'torque-remaining': (dict(PBS_JOBID='181.torque'), {'qstat-f': 'torque_qstat_f.txt'}, ('now', 7190),
                         'qstat-Walltime.Remaining'),
    'torque-start-time': (dict(PBS_JOBID='181.torque'), {'qstat-f': 'torque_qstat_f_no_remaining.txt'},
                          1795320602 + 7200, 'qstat-walltime'),
    'lsf-time-left': (dict(LSB_JOBID='1234'), {'bjobs-time_left': '1:59 L'}, ('now', 7140), 'bjobs-time_left'),
    'lsf-time-left-hms': (dict(LSB_JOBID='1234'), {'bjobs-time_left': '01:59:30 L'}, ('now', 7170),
                          'bjobs-time_left'),
    'lsf-estimate-is-no-limit': (dict(LSB_JOBID='1234'), {'bjobs-time_left': '0:30 E',
                                                          'bjobs-runtimelimit': '120.0/hostA'},
                                 ('start', 7200), 'bjobs-runtimelimit'),
    'flux-R': (dict(FLUX_JOB_ID='fA9iDK6Bj'), {'flux-info-R': 'flux_R.txt'}, 1795324202, 'flux-R'),
    'flux-timeleft': (dict(FLUX_JOB_ID='fA9iDK6Bj'), {'flux-info-R': 'flux_R_unlimited.txt', 'flux-timeleft': '3000'},
                      ('now', 3000), 'flux-timeleft'),
    'sge': (dict(JOB_ID='1', SGE_ROOT='/tmp/ljt'), {'qstat-j': 'sge_qstat_j.txt', 'qstat': 'sge_qstat.txt'},
            epoch('11/22/2026 08:56:04') + 3600, 'qstat-h_rt'),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_glidein_pilot_reads_the_end_from_the_batch_system(standins, case):
    env, outputs, expected, source = CASES[case]
    standins.outputs(outputs)
    before = int(time.time())
    told, end = glidein_told(standins, env)
    after = int(time.time())
    value, told_source = told.split(' ', 1)
    assert told_source == source
    if isinstance(expected, tuple) and expected[0] == 'now':
        assert before + expected[1] <= int(value) <= after + expected[1]
    elif isinstance(expected, tuple):
        assert int(value) == STARTED + expected[1]
    else:
        assert int(value) == expected
    # walltime_end asks again: a second may have passed
    assert int(value) <= end <= int(value) + 2


@pytest.mark.parametrize('case', sorted(CASES))
def test_lumberjack_pilot_reads_the_end_from_the_batch_system(standins, case, tmp_path):
    env, outputs, expected, source = CASES[case]
    standins.outputs(outputs)
    before = int(time.time())
    end, told_source = lumberjack_told(standins, env, tmp_path)
    after = int(time.time())
    assert told_source == source
    if isinstance(expected, tuple):
        # seconds left from now, or a limit from the pilot's own start (which is now too)
        assert before + expected[1] <= end <= after + expected[1]
    else:
        assert end == expected


def test_the_job_is_asked_about_by_its_own_id(standins):
    standins.outputs({'qstat-f': 'pbspro_qstat_f.txt'})
    glidein_told(standins, dict(PBS_JOBID='1234.pbsserver'))
    standins.outputs({'bjobs-time_left': '1:00 L'})
    glidein_told(standins, dict(LSB_JOBID='4321'))
    standins.outputs({'flux-info-R': 'flux_R.txt'})
    glidein_told(standins, dict(FLUX_JOB_ID='fA9iDK6Bj'))
    standins.outputs({'qstat-j': 'sge_qstat_j.txt', 'qstat': 'sge_qstat.txt'})
    glidein_told(standins, dict(JOB_ID='1', SGE_ROOT='/tmp/ljt'))
    # (each asked twice: scheduler_walltime_end, then walltime_end)
    calls = standins.calls()
    assert sorted(set(calls), key=calls.index) == ['qstat -f 1234.pbsserver', 'bjobs -noheader -o time_left 4321',
                                                   'flux job info fA9iDK6Bj R', 'qstat -j 1', 'qstat ']


@pytest.mark.parametrize('env, outputs', [
    (dict(SLURM_JOB_ID='7'), {'squeue': 'N/A'}),
    (dict(PBS_JOBID='181.torque'), {}),  # qstat fails
    (dict(PBS_JOBID='181.torque'), {'qstat-f': 'Job Id: 181.torque\n    job_state = R'}),  # no walltime
    (dict(LSB_JOBID='1234'), {'bjobs-time_left': '-', 'bjobs-runtimelimit': '-'}),
    (dict(FLUX_JOB_ID='fA9iDK6Bj'), {'flux-info-R': 'flux_R_unlimited.txt', 'flux-timeleft': 'infinity'}),
    (dict(JOB_ID='1', SGE_ROOT='/tmp/ljt'), {'qstat-j': 'hard resource_list:         h_vmem=1G'}),
    (dict(JOB_ID='1'), {'qstat-j': 'sge_qstat_j.txt'}),  # JOB_ID alone is not Grid Engine
    ({}, {}),
])
def test_without_a_limit_told_the_configured_walltime_counts(standins, env, outputs, tmp_path):
    standins.outputs(outputs)
    told, end = glidein_told(standins, env)
    assert (told, end) == ('', STARTED + 600)
    before = int(time.time())
    end, source = lumberjack_told(standins, env, tmp_path)
    assert source == 'LJ_WALLTIME' and before + 600 <= end <= int(time.time()) + 600


@pytest.mark.parametrize('text, seconds', [('3600', 3600), ('01:00:00', 3600), ('100:00:00', 360000),
                                           ('1-02:00:00', 93600), ('59:30', 3570), ('08:09', 489)])
def test_clock_durations(text, seconds):
    p = subprocess.run(['bash', '-c', '. "$1"; clock_seconds "$2"', 'bash', GLIDEIN, text], capture_output=True,
                       text=True, timeout=30, check=True)
    assert p.stdout.strip() == str(seconds)
