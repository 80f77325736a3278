# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pilot script's decisions, without HTCondor: the command lines it builds (--print), the walltime end it
finds, and the job counts it reads from real job_queue.log samples (--count).

The container and node-launch command lines are checked here as text only. The pilot's real runs, with real
srun and mpiexec launches, are in tests/integration/pilot.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import socket
import subprocess
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
PILOT = os.path.join(ROOT, 'roles', 'batch_submit', 'files', 'lumberjack-pilot.sh')
DATA = os.path.join(ROOT, 'tests', 'data')
SCHEDULER_VARS = ('SLURM_JOB_ID', 'SLURM_JOB_NODELIST', 'SLURM_JOB_END_TIME', 'PBS_JOBID', 'PBS_NODEFILE',
                  'LSB_JOBID', 'LSB_HOSTS', 'FLUX_JOB_ID', 'JOB_ID', 'LUMBERJACK_LOCAL_JOB_ID')
HEAD = socket.gethostname().split('.')[0]

pytestmark = pytest.mark.skipif(shutil.which('bash') is None, reason='the pilot is a bash script')


@pytest.fixture
def run_dir(tmp_path):
    d = tmp_path / 'run-7'
    d.mkdir()
    # an install prefix for the native case: --print only checks that sbin/condor_master is executable
    sbin = tmp_path / 'condor-install-placeholder' / 'sbin'
    sbin.mkdir(parents=True)
    (sbin / 'condor_master').write_text('#!/bin/sh\nexit 99\n')
    (sbin / 'condor_master').chmod(0o755)
    return d


def pilot(run_dir, settings, env=None, mode='--print'):
    """Write pilot.env with `settings` (a dict of LJ_* -> shell text) and run the pilot; CompletedProcess."""
    env_file = run_dir / 'pilot.env'
    lines = ['LJ_RUN_DIR=%s' % run_dir,
             'LJ_CONDOR_BIN_DIR=%s' % (run_dir.parent / 'condor-install-placeholder')]
    lines += ['%s=%s' % kv for kv in settings.items()]
    env_file.write_text('\n'.join(lines) + '\n')
    e = dict((k, v) for k, v in os.environ.items() if k not in SCHEDULER_VARS and not k.startswith('_CONDOR_'))
    e.update(env or {})
    return subprocess.run(['bash', PILOT, mode, str(env_file)], env=e, capture_output=True, text=True,
                          timeout=60, check=False)


def printed(proc):
    assert proc.returncode == 0, proc.stderr
    out = {}
    for line in proc.stdout.splitlines():
        k, v = line.split('=', 1)
        out.setdefault(k, []).append(v)
    return dict((k, v if k == 'node_command' else v[0]) for k, v in out.items())


def test_native_binaries(run_dir):
    out = printed(pilot(run_dir, {'LJ_WALLTIME': '2h'}))
    install = run_dir.parent / 'condor-install-placeholder'
    assert out['master'] == '%s/sbin/condor_master -f' % install
    assert out['client'] == 'condor_q -allusers -af JobStatus'
    assert out['config'] == 'condor_config_val SPOOL'
    assert out['condor_config'] == '%s/condor_config' % run_dir
    assert out['extra_nodes'] == '' and 'node_command' not in out


def test_apptainer_binds_the_run_dir_at_the_same_path_and_passes_the_config(run_dir):
    out = printed(pilot(run_dir, {
        'LJ_CONTAINER_RUNTIME': 'apptainer', 'LJ_CONTAINER_IMAGE': '/images/htcondor.sif',
        'LJ_CONTAINER_OPTIONS': "(--cleanenv --bind '/cvmfs:/cvmfs')"}, env={'_CONDOR_NETWORK_INTERFACE': 'ib0'}))
    prefix = ('apptainer exec --bind {d}:{d} --env CONDOR_CONFIG={d}/condor_config '
              '--env _CONDOR_NETWORK_INTERFACE=ib0 --cleanenv --bind /cvmfs:/cvmfs /images/htcondor.sif'
              ).format(d=run_dir)
    assert out['master'] == prefix + ' condor_master -f'
    assert out['client'] == prefix + ' condor_q -allusers -af JobStatus'


def test_singularity_takes_the_same_form(run_dir):
    out = printed(pilot(run_dir, {'LJ_CONTAINER_RUNTIME': 'singularity', 'LJ_CONTAINER_IMAGE': 'docker://htcondor/mini'}))
    assert out['master'] == ('singularity exec --bind {d}:{d} --env CONDOR_CONFIG={d}/condor_config '
                             'docker://htcondor/mini condor_master -f').format(d=run_dir)


def test_podman_runs_the_master_and_execs_the_clients_in_its_container(run_dir):
    out = printed(pilot(run_dir, {'LJ_CONTAINER_RUNTIME': 'podman', 'LJ_CONTAINER_IMAGE': 'htcondor/mini:25'}))
    name = 'lumberjack-run-7-%s' % HEAD
    # the pilot, not podman, passes signals on; a container of an earlier pilot of the run is replaced
    assert out['master'] == ("podman run --rm --replace --sig-proxy=false --name {n} --network host --userns keep-id "
                             "--volume {d}:{d} --env CONDOR_CONFIG --env _CONDOR_\\* htcondor/mini:25 condor_master -f"
                             ).format(n=name, d=run_dir)
    assert out['client'] == 'podman exec %s condor_q -allusers -af JobStatus' % name
    # before the pool runs there is no container to exec in: condor_config_val runs in one of its own
    assert out['config'] == ("podman run --rm --replace --name {n}-config --network host --userns keep-id --volume {d}:{d} --env CONDOR_CONFIG "
                             "--env _CONDOR_\\* htcondor/mini:25 condor_config_val SPOOL").format(n=name, d=run_dir)


@pytest.mark.parametrize('settings, message', [
    ({'LJ_CONTAINER_RUNTIME': 'docker', 'LJ_CONTAINER_IMAGE': 'x'}, "LJ_CONTAINER_RUNTIME 'docker' is not"),
    ({'LJ_CONTAINER_RUNTIME': 'apptainer'}, 'LJ_CONTAINER_IMAGE is empty'),
    ({'LJ_WALLTIME': '1:30'}, "LJ_WALLTIME '1:30' is not a duration"),
    ({'LJ_DRAIN_MARGIN': '5m'}, "LJ_DRAIN_MARGIN='5m' is not a whole number"),
    ({'LJ_NODE_LAUNCHER': 'ssh', 'LJ_NODE_LIST': '%s,n2' % HEAD}, "LJ_NODE_LAUNCHER 'ssh' is not"),
    ({'LJ_CONDOR_BIN_DIR': '/nonexistent'}, '/nonexistent/sbin/condor_master is missing'),
])
def test_bad_settings_are_refused_with_the_file_and_setting(run_dir, settings, message):
    p = pilot(run_dir, settings)
    assert p.returncode == 1
    assert message in p.stderr and str(run_dir) in p.stderr


def test_missing_settings_file(tmp_path):
    p = subprocess.run(['bash', PILOT, str(tmp_path / 'nope.env')], capture_output=True, text=True, check=False)
    assert p.returncode == 1 and 'cannot read the settings file %s' % (tmp_path / 'nope.env') in p.stderr


def test_srun_starts_one_startd_per_extra_node(run_dir):
    out = printed(pilot(run_dir, {'LJ_NODE_LIST': '"%s,nid002 nid003"' % HEAD},
                        env={'SLURM_JOB_ID': '42', 'SLURM_JOB_END_TIME': '2000000000'}))
    assert out['extra_nodes'] == 'nid002 nid003' and out['node_launcher'] == 'srun'
    assert out['node_command'] == [
        'srun --nodes=2 --ntasks=2 --ntasks-per-node=1 --nodelist=nid002\\,nid003 --kill-on-bad-exit=0 '
        '--export=ALL %s --node %s/pilot.env' % (PILOT, run_dir)]
    assert (out['walltime_end'], out['walltime_source']) == ('2000000000', 'SLURM_JOB_END_TIME')


def test_pbsdsh_once_per_host_from_the_node_file(run_dir, tmp_path):
    nodefile = tmp_path / 'nodes'
    nodefile.write_text('%s\n%s\nr2i0n1\nr2i0n1\nr2i0n2\n' % (HEAD, HEAD))
    out = printed(pilot(run_dir, {}, env={'PBS_JOBID': '7.pbs', 'PBS_NODEFILE': str(nodefile)}))
    assert out['extra_nodes'] == 'r2i0n1 r2i0n2' and out['node_launcher'] == 'pbsdsh'
    assert out['node_command'] == ['pbsdsh -h %s %s --node %s/pilot.env' % (h, PILOT, run_dir)
                                   for h in ('r2i0n1', 'r2i0n2')]


def test_mpiexec_elsewhere_and_head_taken_first_when_not_listed(run_dir):
    out = printed(pilot(run_dir, {'LJ_MPIEXEC': '/opt/mpi/bin/mpiexec'}, env={'LSB_JOBID': '9', 'LSB_HOSTS': 'a1 a1 a2'}))
    assert out['extra_nodes'] == 'a2'
    assert out['node_command'] == ['env -u SLURMD_NODENAME /opt/mpi/bin/mpiexec -n 1 --host a2 %s --node %s/pilot.env'
                                   % (PILOT, run_dir)]


def test_mpiexec_in_slurm_with_its_arguments_and_without_the_heads_node_name(run_dir):
    """The head's SLURMD_NODENAME is not passed on (MPICH's mpiexec would give it to every node); the
    LJ_MPIEXEC_ARGS come before the process count and host list, each one word."""
    out = printed(pilot(run_dir, {'LJ_NODE_LAUNCHER': 'mpiexec', 'LJ_MPIEXEC_ARGS': "(-launcher ssh -iface 'ib 0')"},
                        env={'SLURM_JOB_ID': '42', 'SLURM_JOB_END_TIME': '2000000000', 'SLURMD_NODENAME': 'nid001',
                             'SLURM_JOB_NODELIST': 'nid001,nid002,nid003'}))
    assert out['extra_nodes'] == 'nid002 nid003' and out['node_launcher'] == 'mpiexec'
    assert out['node_command'] == [
        "env -u SLURMD_NODENAME mpiexec -launcher ssh -iface ib\\ 0 -n 2 --host nid002\\,nid003 %s --node %s/pilot.env"
        % (PILOT, run_dir)]


def test_launcher_none_leaves_extra_nodes_unused(run_dir):
    p = pilot(run_dir, {'LJ_NODE_LAUNCHER': 'none', 'LJ_NODE_LIST': '%s,n2' % HEAD})
    out = printed(p)
    assert 'node_command' not in out and 'extra node(s) of the allocation stay unused' in p.stderr


@pytest.mark.parametrize('walltime, seconds', [
    ('01:00:00', 3600), ('1-02:03:04', 93784), ('2-12:30', 217800), ('45s', 45), ('90m', 5400), ('2h', 7200),
    ('1d', 86400), ('30', 1800), ('08:09:10', 29350),
])
def test_walltime_end_from_the_start_and_the_walltime(run_dir, walltime, seconds):
    before = int(time.time())
    out = printed(pilot(run_dir, {'LJ_WALLTIME': walltime, 'LJ_DRAIN_MARGIN': '60'}))
    after = int(time.time())
    assert before + seconds <= int(out['walltime_end']) <= after + seconds
    assert int(out['drain_at']) == int(out['walltime_end']) - 60
    assert out['walltime_source'] == 'LJ_WALLTIME'


def test_walltime_end_given_wins_and_none_means_no_limit(run_dir):
    out = printed(pilot(run_dir, {'LJ_WALLTIME': '2h', 'LJ_WALLTIME_END': '1900000000'},
                        env={'SLURM_JOB_END_TIME': '2000000000'}))
    assert (out['walltime_end'], out['walltime_source']) == ('1900000000', 'pilot.env')
    out = printed(pilot(run_dir, {}))
    assert (out['walltime_end'], out['walltime_source'], out['drain_at']) == ('0', 'none', '0')


@pytest.mark.parametrize('sample, held_is_finished, counts', [
    ('export_two_clusters', '1', '5 0 0 0 5'),      # five idle jobs, Owner and JobStatus in the cluster ads
    ('hpc_after_run', '1', '5 4 0 1 0'),            # after a run: four completed, 7.2 held
    ('hpc_after_run', '0', '5 4 0 1 1'),            # the held job as unfinished
    ('spooled_submit', '1', '1 0 0 1 0'),           # a live log with transactions, a user record and 1.-2
])
def test_counts_from_real_logs(sample, held_is_finished, counts):
    env = dict(os.environ, LJ_HELD_IS_FINISHED=held_is_finished)
    p = subprocess.run(['bash', PILOT, '--count', os.path.join(DATA, sample + '.job_queue.log')], env=env,
                       capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == counts
