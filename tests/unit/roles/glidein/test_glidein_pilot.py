# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The helper functions of roles/glidein/files/glidein-pilot.sh, run by bash from the real script (sourced, it
defines its functions and runs nothing): what a pilot reads from the batch system's environment, and its
errors for bad settings."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import socket
import subprocess

import pytest

SCRIPT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..',
                                       'roles', 'glidein', 'files', 'glidein-pilot.sh'))
BATCH_VARS = ('SLURM_', 'PBS_', 'LSB_', 'FLUX_', 'NCPUS', 'NSLOTS', 'CUDA_VISIBLE_DEVICES', 'GLIDEIN_', 'JOB_ID',
              'LUMBERJACK_', 'PMI_', 'OMPI_', 'PMIX_')

pytestmark = pytest.mark.skipif(shutil.which('bash') is None, reason='bash is not installed')


def call(snippet, **env):
    """Run `snippet` in bash after sourcing the pilot script, with only `env` from a batch system."""
    clean = dict((k, v) for k, v in os.environ.items() if not k.startswith(BATCH_VARS))
    clean.update(env)
    p = subprocess.run(['bash', '-c', '. "$1"; ' + snippet, 'bash', SCRIPT], env=clean, capture_output=True, text=True,
                       timeout=30, check=False)
    return p


def out(snippet, **env):
    p = call(snippet, **env)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


@pytest.mark.parametrize('walltime, seconds', [
    ('90s', 90), ('45m', 2700), ('2h', 7200), ('1d', 86400), ('01:30:00', 5400), ('1-02:00:00', 93600),
    ('1-02:00', 93600), ('30', 1800), ('', 0), ('00:08:09', 489),
])
def test_walltimes_in_seconds(walltime, seconds):
    assert out('seconds "$W"', W=walltime) == str(seconds)


@pytest.mark.parametrize('walltime', ['1:x', 'soon', '2w'])
def test_a_walltime_that_is_none_is_refused(walltime):
    assert call('seconds "$W"', W=walltime).returncode != 0


@pytest.mark.parametrize('memory, mib', [('4G', 4096), ('4096M', 4096), ('100', 100), ('1T', 1048576),
                                         ('2048K', 2), ('512MB', 512), ('', '')])
def test_memory_in_mebibytes(memory, mib):
    assert out('mebibytes "$M"', M=memory) == str(mib)


def test_slurm_cpus_per_node_is_read_for_each_node():
    spec = '4(x2),2,8(x3)'
    assert [out('slurm_per_node "$S" %d' % i, S=spec) for i in range(6)] == ['4', '4', '2', '8', '8', '8']


def test_cores_granted_by_each_batch_system():
    assert out('granted_cpus', SLURM_JOB_CPUS_PER_NODE='16(x2),4', SLURM_NODEID='2') == '4'
    assert out('granted_cpus', NCPUS='12') == '12'
    assert out('granted_cpus', PBS_NUM_PPN='6') == '6'
    assert out('granted_cpus', NSLOTS='3') == '3'
    host = socket.gethostname().split('.')[0]
    assert out('granted_cpus', LSB_MCPU_HOSTS='other 8 %s 5' % host) == '5'
    # nothing from a batch system: the role's setting, else the cores this process may use
    assert out('granted_cpus', GLIDEIN_CPUS='7') == '7'
    assert out('granted_cpus') == str(len(os.sched_getaffinity(0)))


def test_memory_granted():
    assert out('granted_memory_mb 4', SLURM_MEM_PER_NODE='3000') == '3000'
    assert out('granted_memory_mb 4', SLURM_MEM_PER_CPU='500') == '2000'
    assert out('granted_memory_mb 4', GLIDEIN_MEMORY_MB='1234') == '1234'
    share = int(out('granted_memory_mb 1'))
    assert share > 0


def test_gpus_granted():
    assert out('granted_gpus', SLURM_GPUS_ON_NODE='4') == '4'
    assert out('granted_gpus', CUDA_VISIBLE_DEVICES='0,1,3') == '3'
    assert out('granted_gpus', CUDA_VISIBLE_DEVICES='NoDevFiles') == '0'
    assert out('granted_gpus') == '0'


def test_batch_job_id_and_node_index():
    assert out('batch_job_id', SLURM_JOB_ID='42') == '42'
    assert out('batch_job_id', PBS_JOBID='17.pbs.example.org') == '17'
    assert out('batch_job_id', LUMBERJACK_LOCAL_JOB_ID='3') == '3'
    assert out('node_index', SLURM_NODEID='5') == '5'
    assert out('node_index', PMI_RANK='2') == '2'
    assert out('node_index') == '0'


def test_end_of_walltime_without_slurm_is_start_plus_walltime():
    assert out('GLIDEIN_WALLTIME=600; walltime_end 1000') == '1600'


def test_launcher_per_scheduler():
    assert out('GLIDEIN_LAUNCHER=none; launcher 1 x y; echo "${LAUNCH[*]}"') == 'x y'
    assert out('GLIDEIN_LAUNCHER=srun; launcher 3 x; echo "${LAUNCH[*]}"') == \
        'srun --nodes=3 --ntasks=3 --ntasks-per-node=1 --kill-on-bad-exit=0 x'
    assert out('GLIDEIN_LAUNCHER=pbsdsh; launcher 2 x; echo "${LAUNCH[*]}"') == 'pbsdsh -u x'
    assert out('GLIDEIN_LAUNCHER=mpiexec; launcher 2 x; echo "${LAUNCH[*]}"') == 'mpiexec -n 2 -ppn 1 x'
    p = call('GLIDEIN_LAUNCHER=ssh; launcher 2 x')
    assert p.returncode == 1 and 'unknown launcher ssh' in p.stderr


def test_a_pilot_without_its_env_file_says_so(tmp_path):
    p = subprocess.run(['bash', SCRIPT], env=dict(PATH=os.environ['PATH']), capture_output=True, text=True,
                       timeout=30, check=False)
    assert p.returncode == 1 and 'GLIDEIN_ENV_FILE is not set' in p.stderr
    missing = str(tmp_path / 'nope.env')
    p = subprocess.run(['bash', SCRIPT], env=dict(PATH=os.environ['PATH'], GLIDEIN_ENV_FILE=missing),
                       capture_output=True, text=True, timeout=30, check=False)
    assert p.returncode == 1 and 'cannot read the env file %s' % missing in p.stderr


def test_a_bad_setting_names_the_file_and_the_value(tmp_path):
    env_file = tmp_path / 'glidein.env'
    env_file.write_text('GLIDEIN_NAME=x\nGLIDEIN_BASE_DIR=%s\nGLIDEIN_CONFIG_DIR=%s\nGLIDEIN_LOG_DIR=%s\n'
                        'GLIDEIN_SITE=s\nGLIDEIN_WALLTIME=soon\n' % (tmp_path, tmp_path, tmp_path))
    p = subprocess.run(['bash', SCRIPT], env=dict(PATH=os.environ['PATH'], GLIDEIN_ENV_FILE=str(env_file)),
                       capture_output=True, text=True, timeout=30, check=False)
    assert p.returncode == 1
    assert 'GLIDEIN_WALLTIME=soon in %s is not a walltime' % env_file in p.stderr
    # nothing was made for a pilot that could not start
    assert sorted(os.listdir(str(tmp_path))) == ['glidein.env']


def test_the_job_wrapper_runs_the_job_with_sigterm_ignored(tmp_path):
    wrapper = tmp_path / 'job-wrapper'
    out('write_job_wrapper "$W"', W=str(wrapper))
    assert os.access(str(wrapper), os.X_OK)
    job = ['bash', '-c', 'kill -TERM $$; sleep 0.2; kill -TERM $$; echo still here "$@"', 'job', 'a b', 'c']
    # without it, a SIGTERM ends the job
    assert subprocess.run(job, capture_output=True, check=False).returncode == -15
    p = subprocess.run([str(wrapper)] + job, capture_output=True, text=True, check=False, timeout=30)
    assert (p.returncode, p.stdout) == (0, 'still here a b c\n')
    # a SIGKILL (the starter's hard kill) still ends it
    p = subprocess.run([str(wrapper), 'bash', '-c', 'kill -KILL $$'], capture_output=True, check=False, timeout=30)
    assert p.returncode == -9


def test_a_job_the_wrapper_cannot_execute_is_reported_to_htcondor(tmp_path):
    wrapper = tmp_path / 'job-wrapper'
    out('write_job_wrapper "$W"', W=str(wrapper))
    error_file = tmp_path / 'wrapper-error'
    p = subprocess.run([str(wrapper), str(tmp_path / 'missing')], capture_output=True, text=True, check=False,
                       timeout=30, env=dict(os.environ, _CONDOR_WRAPPER_ERROR_FILE=str(error_file)))
    assert p.returncode == 1
    assert 'cannot execute %s' % (tmp_path / 'missing') in error_file.read_text()


def test_the_node_configuration_names_both_wrappers(tmp_path):
    node_dir = tmp_path / 'node0'
    node_dir.mkdir()
    bin_dir = tmp_path / 'sbin'
    bin_dir.mkdir()
    procd = bin_dir / 'condor_procd'
    # a stand-in ProcD that survives only if SIGTERM is ignored
    procd.write_text('#!/bin/bash\nkill -TERM $$\necho "procd $*"\n')
    procd.chmod(0o755)
    snippet = ('NODE_DIR="$D" NODE_INDEX=0 PILOT_ID=p NODE_ID=p-n0 BATCH_JOB_ID=1 TODIE=2 EXECUTE_DIR="$D/x" '
               'GLIDEIN_CONFIG_DIR=/etc/gl GLIDEIN_SITE=S GLIDEIN_NAME=n; write_node_config 1 100 0')
    out(snippet, D=str(node_dir), PATH='%s:%s' % (bin_dir, os.environ['PATH']))
    config = (node_dir / 'condor_config').read_text()
    assert 'PROCD = $(LOCAL_DIR)/procd\n' in config
    assert (node_dir / 'job-wrapper').exists()
    p = subprocess.run([str(node_dir / 'procd'), '-A', 'addr'], capture_output=True, text=True, check=False,
                       timeout=30)
    assert (p.returncode, p.stdout) == (0, 'procd -A addr\n')
