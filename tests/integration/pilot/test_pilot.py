# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The batch_submit role and its pilot against the real HTCondor in /opt/condor, with the local scheduler and
a real one- and two-node Slurm, through ansible-playbook run as an ordinary site account on /usr/bin/python3;
the extra node's startd started by srun and by a real mpiexec (Debian's MPICH).

The queues are real exports (Schedd.export_jobs) from a real home pool; the run directory's personal pool runs
them as the site account. Skipped, saying why, without root, condor_master, sudo, (for Slurm) slurmctld, or
(for the mpiexec launch) mpiexec.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import subprocess
import time

import pytest

from pilot_run_dir import (  # pylint: disable=import-error
    command_names, job_states, make_run_dir, read_result, run_processes, wait_no_processes,
)
from playbook import Playbook  # pylint: disable=import-error
from slurm_cluster import start_or_skip  # pylint: disable=import-error

ROLE = 'hepcloud.lumberjack.batch_submit'
FAST = dict(batch_submit_poll_interval=2, batch_submit_wait_poll_interval=2, batch_submit_startup_timeout=120,
            batch_submit_stop_timeout=60)


def role_task(run_dir, **variables):
    v = dict(FAST, batch_submit_run_dir=run_dir, batch_submit_condor_bin_dir='/opt/condor')
    v.update(variables)
    return {'name': 'Run batch_submit', 'ansible.builtin.include_role': {'name': ROLE}, 'vars': v}


WAITED = ('batch_submit_job_id', 'batch_submit_result', 'batch_submit_job', 'batch_submit_submission')


def run_role(play, user, run_dir, register=WAITED, **variables):
    """Run the role as `user`; returns the facts and registered results named in `register`."""
    return play.run([role_task(run_dir, **variables)], register=register, become_user=user.pw_name)


def outputs(work, job_ids):
    found = {}
    for job in job_ids:
        path = os.path.join(work, 'out.%s' % job)
        if os.path.exists(path):
            with open(path) as f:
                found[job] = f.read()
    return found


# ------------------------------------------------------------------------------------------------ local
def test_local_every_job_finishes(base, site_user, exports, sites):
    run_dir = make_run_dir(sites, site_user, exports.short)
    play = Playbook(base, {})
    r = run_role(play, site_user, run_dir, batch_submit_scheduler='local', batch_submit_walltime='10m',
                 batch_submit_wait=True)
    job = r['batch_submit_job']
    assert job['state'] == 'completed' and job['exit_code'] == 0, job
    result = r['batch_submit_result']
    assert result['outcome'] == 'finished', result
    assert (result['jobs_total'], result['jobs_completed'], result['jobs_unfinished']) == ('2', '2', '0')
    assert (result['schedd_stop'], result['master_stop']) == ('clean', 'clean')
    assert result['batch_job_id'] == r['batch_submit_job_id']
    assert int(result['started']) <= int(result['ended'])
    assert result == read_result(run_dir)
    # the schedd and the master are gone, and the log the import reads says the jobs completed
    assert wait_no_processes(run_dir, 10) == []
    log = os.path.join(run_dir, 'local_dir', 'spool', 'job_queue.log')
    assert job_states(log) == dict((j, 4) for j in exports.short_ids)
    with open(log) as f:
        assert not [line for line in f if line.startswith(('105 ', '106 '))], 'the log was not compacted'
    ran = outputs(exports.work, exports.short_ids)
    assert sorted(ran) == exports.short_ids
    assert all('ran as %s' % site_user.pw_name in text for text in ran.values())
    # the files the role put there
    assert os.access(os.path.join(run_dir, 'pilot.sh'), os.X_OK)
    with open(os.path.join(run_dir, 'pilot.env')) as f:
        assert "LJ_RUN_DIR=%s\n" % run_dir in f.read()

    # a second identical run submits nothing and reports the same pilot and result
    jobs_dir = os.path.join(site_user.pw_dir, '.lumberjack', 'local-jobs')
    before = sorted(os.listdir(jobs_dir))
    again = run_role(play, site_user, run_dir, batch_submit_scheduler='local', batch_submit_walltime='10m',
                     batch_submit_wait=True)
    assert again['batch_submit_submission'].get('skipped') is True
    assert again['batch_submit_job_id'] == r['batch_submit_job_id']
    assert again['batch_submit_result'] == result
    assert sorted(os.listdir(jobs_dir)) == before


def test_local_walltime_margin_drains(base, site_user, exports, sites):
    run_dir = make_run_dir(sites, site_user, exports.mixed)
    play = Playbook(base, {})
    # the pilot drains 40 s after it starts: time for the short job, not for the 600 s one
    r = run_role(play, site_user, run_dir, batch_submit_scheduler='local', batch_submit_walltime='100s',
                 batch_submit_drain_margin=60, batch_submit_wait=True)
    job = r['batch_submit_job']
    assert job['exit_code'] == 3, job
    result = r['batch_submit_result']
    assert result['outcome'] == 'walltime', result
    assert 'walltime margin reached' in result['reason']
    assert (result['jobs_total'], result['jobs_completed'], result['jobs_unfinished']) == ('2', '1', '1')
    assert result['schedd_stop'] == 'clean'
    assert int(result['walltime_end']) == int(result['started']) + 100
    assert int(result['ended']) < int(result['walltime_end'])
    assert wait_no_processes(run_dir, 10) == []
    states = job_states(os.path.join(run_dir, 'local_dir', 'spool', 'job_queue.log'))
    assert states[exports.quick_id] == 4
    assert states[exports.long_id] in (1, 2)


def test_missing_config_is_a_clear_error(base, site_user, exports, sites):
    run_dir = make_run_dir(sites, site_user, exports.short)
    os.unlink(os.path.join(run_dir, 'condor_config'))
    play = Playbook(base, {})
    with pytest.raises(AssertionError) as e:
        run_role(play, site_user, run_dir, batch_submit_scheduler='local')
    assert '%s/condor_config does not exist' % run_dir in str(e.value)
    assert not os.path.exists(os.path.join(run_dir, 'pilot.sh'))


def test_a_failed_pilot_fails_the_role_with_its_reason(base, site_user, exports, sites):
    run_dir = make_run_dir(sites, site_user, exports.short)
    with open(os.path.join(run_dir, 'condor_config'), 'a') as f:
        f.write('SPOOL = $(LOCAL_DIR)/nonexistent-spool\n')
    play = Playbook(base, {})
    with pytest.raises(AssertionError) as e:
        run_role(play, site_user, run_dir, batch_submit_scheduler='local', batch_submit_wait=True)
    assert 'local_dir/nonexistent-spool/job_queue.log is missing' in str(e.value)
    assert read_result(run_dir)['outcome'] == 'failed'
    assert run_processes(run_dir) == []


def test_pilot_without_queue_fails_and_says_why(site_user, exports, sites):
    """The pilot run directly: no job_queue.log -> outcome=failed naming the file, exit 1, nothing left."""
    run_dir = make_run_dir(sites, site_user, exports.short)
    os.unlink(os.path.join(run_dir, 'local_dir', 'spool', 'job_queue.log'))
    env_file = os.path.join(run_dir, 'pilot.env')
    with open(env_file, 'w') as f:
        f.write('LJ_RUN_DIR=%s\nLJ_CONDOR_BIN_DIR=/opt/condor\n' % run_dir)
    script = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'batch_submit', 'files',
                          'lumberjack-pilot.sh')
    p = subprocess.run(['sudo', '-u', site_user.pw_name, 'bash', os.path.abspath(script), env_file],
                       capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 1, p.stderr
    result = read_result(run_dir)
    assert result['outcome'] == 'failed'
    assert 'local_dir/spool/job_queue.log is missing' in result['reason']
    assert run_processes(run_dir) == []


# ------------------------------------------------------------------------------------------------ Slurm
@pytest.fixture(scope='module')
def slurm(request):
    return start_or_skip(request, accounting=False, min_job_age=300)


def test_slurm_every_job_finishes(base, site_user, exports, sites, slurm):
    run_dir = make_run_dir(sites, site_user, exports.short)
    play = Playbook(base, dict(SLURM_CONF=slurm.conf), log=lambda: slurm.log('slurmctld'))
    r = run_role(play, site_user, run_dir, batch_submit_scheduler='slurm', batch_submit_walltime='10m',
                 batch_submit_wait=True)
    job = r['batch_submit_job']
    assert job['state'] == 'completed' and job['exit_code'] == 0, job
    result = r['batch_submit_result']
    assert result['outcome'] == 'finished', result
    assert (result['jobs_total'], result['jobs_completed'], result['jobs_unfinished']) == ('2', '2', '0')
    assert result['batch_job_id'] == r['batch_submit_job_id']
    # the end of the allocation came from Slurm: its start plus the 10 minute limit
    assert abs(int(result['walltime_end']) - int(result['started']) - 600) <= 60
    assert wait_no_processes(run_dir, 10) == []
    states = job_states(os.path.join(run_dir, 'local_dir', 'spool', 'job_queue.log'))
    assert states == dict((j, 4) for j in exports.short_ids)


def _condor_q(run_dir):
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith('_CONDOR_'))
    env['CONDOR_CONFIG'] = os.path.join(run_dir, 'condor_config')
    p = subprocess.run(['/opt/condor/bin/condor_q', '-allusers', '-af', 'ProcId', 'ClusterId', 'JobStatus'],
                       env=env, capture_output=True, text=True, timeout=60, check=False)
    return dict(('%s.%s' % (c, pr), int(s)) for pr, c, s in
                (line.split() for line in p.stdout.splitlines() if line.strip())) if p.returncode == 0 else {}


def assert_schedd_stopped_cleanly_after_scancel(run_dir, result):
    """scancel signals every process of the batch step, condor_master too: the pilot's condor_off -schedd
    usually comes first ('clean'), but the master's own graceful shutdown (its answer to SIGTERM) may have
    stopped the schedd already ('exited'). Either way the schedd must have ended normally, its queue on disk."""
    assert result['schedd_stop'] in ('clean', 'exited'), result
    if result['schedd_stop'] == 'exited':
        with open(os.path.join(run_dir, 'local_dir', 'log', 'SchedLog'), errors='replace') as f:
            tail = f.read()[-4000:]
        assert 'EXITING WITH STATUS 0' in tail, 'the schedd went before the pilot stopped it, not normally:\n' + tail


def test_slurm_scancel_stops_the_pool_cleanly(base, site_user, exports, sites, slurm):
    run_dir = make_run_dir(sites, site_user, exports.mixed)
    play = Playbook(base, dict(SLURM_CONF=slurm.conf), log=lambda: slurm.log('slurmctld'))
    r = run_role(play, site_user, run_dir, register=('batch_submit_job_id', 'batch_submit_submission'),
                 batch_submit_scheduler='slurm', batch_submit_walltime='30m')
    job_id = r['batch_submit_job_id']
    assert r['batch_submit_submission']['changed'] is True and job_id
    # wait until the pool runs the long job and the short one has completed
    deadline = time.time() + 120
    while time.time() < deadline:
        q = _condor_q(run_dir)
        if q.get(exports.long_id) == 2 and q.get(exports.quick_id) == 4:
            break
        time.sleep(2)
    else:
        pytest.fail('the pool never ran the jobs: %s\n%s' % (q, slurm.log('slurmd')[-2000:]))
    assert run_processes(run_dir)
    slurm.run('scancel', job_id, check=True)
    assert wait_no_processes(run_dir, 60) == [], 'processes of the run are left after scancel'
    result = read_result(run_dir)
    assert result['outcome'] == 'walltime', result
    assert 'SIGTERM received' in result['reason']
    assert (result['jobs_total'], result['jobs_completed'], result['jobs_unfinished']) == ('2', '1', '1')
    assert_schedd_stopped_cleanly_after_scancel(run_dir, result)
    states = job_states(os.path.join(run_dir, 'local_dir', 'spool', 'job_queue.log'))
    assert states[exports.quick_id] == 4 and states[exports.long_id] in (1, 2)


# ------------------------------------------------------------------------------------------------ extra nodes
# what a real mpiexec runs, besides the started command: the launcher and its per-node proxy (MPICH's hydra, or
# Open MPI's)
MPI_LAUNCHERS = ('mpiexec', 'mpirun', 'orterun', 'prterun')
MPI_PROXIES = ('hydra_pmi_proxy', 'orted', 'prted')


def need_mpiexec():
    if not shutil.which('mpiexec'):
        pytest.skip('mpiexec is not installed (Debian package mpich): the mpiexec launch is tested with a real MPI')


def _startds(run_dir):
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith('_CONDOR_'))
    env['CONDOR_CONFIG'] = os.path.join(run_dir, 'condor_config')
    p = subprocess.run(['/opt/condor/bin/condor_status', '-startd', '-af', 'Name'], env=env, capture_output=True,
                       text=True, timeout=60, check=False)
    return sorted(p.stdout.split()) if p.returncode == 0 else []


@pytest.fixture(scope='module')
def slurm_two_nodes(request):
    return start_or_skip(request, accounting=False, min_job_age=300, nodes=2)


def _two_node_pilot(base, site_user, exports, sites, slurm, while_running=None, **variables):
    """Submit a pilot of two Slurm nodes (two slurmd on this host) with the role, wait until the second node's
    startd has joined the head's collector under the second node's name, call while_running(run_dir, job_id),
    scancel, and check that both pools stopped cleanly. Returns the run directory."""
    run_dir = make_run_dir(sites, site_user, exports.mixed)
    run_id = os.path.basename(run_dir)
    play = Playbook(base, dict(SLURM_CONF=slurm.conf), log=lambda: slurm.log('slurmctld'))
    # both pools on one host: the node's daemons must not take the head's collector for their own family (a
    # one-host artifact, see the facts file); across hosts this is not needed
    r = run_role(play, site_user, run_dir, register=('batch_submit_job_id',), batch_submit_scheduler='slurm',
                 batch_submit_walltime='30m', batch_submit_nodes=2,
                 batch_submit_environment={'_CONDOR_SEC_USE_FAMILY_SESSION': 'False'}, **variables)
    job_id = r['batch_submit_job_id']
    deadline = time.time() + 120
    head = ''
    while not head and time.time() < deadline:
        head = dict(f.split('=', 1) for f in slurm.run('scontrol', 'show', 'job', job_id).stdout.split()
                    if '=' in f).get('BatchHost', '')
        time.sleep(1)
    second = [n for n in slurm.node_names if n != head]
    assert head in slurm.node_names and len(second) == 1, (head, slurm.node_names)
    second = second[0]
    names = []
    while time.time() < deadline:
        names = _startds(run_dir)
        if len(names) == 2 and [n for n in names if n.startswith('%s-%s@' % (run_id, second))]:
            break
        time.sleep(2)
    else:
        pytest.fail('the second node\'s startd never joined (head %s, second %s): %s\n%s' % (
            head, second, names, slurm.log('slurmd')[-2000:]))
    # the extra node is named after its own Slurm node, not after the head's
    assert not [n for n in names if n.startswith('%s-%s@' % (run_id, head))], names
    assert os.path.exists(os.path.join(run_dir, 'local_dir', 'nodes', second, 'log', 'StartLog'))
    assert not os.path.exists(os.path.join(run_dir, 'local_dir', 'nodes', head))
    if while_running:
        while_running(run_dir, job_id)
    slurm.run('scancel', job_id, check=True)
    assert wait_no_processes(run_dir, 60) == [], 'processes of the run or its second node are left after scancel'
    result = read_result(run_dir)
    assert result['outcome'] == 'walltime' and 'SIGTERM' in result['reason'], result
    assert_schedd_stopped_cleanly_after_scancel(run_dir, result)
    assert (result['master_stop'], result['nodes_stop']) == ('clean', 'clean'), result
    return run_dir


def test_slurm_two_nodes_srun_starts_a_startd_on_the_second(base, site_user, exports, sites, slurm_two_nodes):
    """A pilot of two Slurm nodes (two slurmd on this host): the head runs the pool on the node its batch script
    runs on, srun starts `pilot.sh --node` on the other, whose startd joins the head's collector, named after
    its Slurm node (SLURMD_NODENAME: both nodes share this host's name); scancel stops both cleanly."""
    _two_node_pilot(base, site_user, exports, sites, slurm_two_nodes)


def test_slurm_two_nodes_mpiexec_starts_a_startd_on_the_second(base, site_user, exports, sites, slurm_two_nodes):
    """The same with batch_submit_node_launcher mpiexec and a real MPI (Debian's MPICH): mpiexec, in the Slurm
    job, starts its proxy on the second node through srun (a job step on that node), the proxy starts
    `pilot.sh --node`, whose startd joins the head under the second node's name although mpiexec passes the
    head's environment on; scancel stops both pools and the MPI processes cleanly."""
    need_mpiexec()
    slurm = slurm_two_nodes

    def mpi_at_work(run_dir, job_id):
        # the real MPI started the node: its launcher and proxy run with the run's CONDOR_CONFIG, and the proxy
        # is a Slurm job step on the second node
        names = command_names(run_processes(run_dir))
        assert [n for n in names if n.startswith(MPI_LAUNCHERS)], names
        assert [n for n in names if n in MPI_PROXIES], names
        steps = slurm.run('squeue', '-h', '-s', '-j', job_id, '-o', '%i %N').stdout.split('\n')
        assert [s for s in steps if s.split()[:1] == ['%s.0' % job_id]], steps

    run_dir = _two_node_pilot(base, site_user, exports, sites, slurm, while_running=mpi_at_work,
                              batch_submit_node_launcher='mpiexec')
    with open(os.path.join(run_dir, 'pilot.env')) as f:
        assert 'LJ_NODE_LAUNCHER=mpiexec\n' in f.read()


def test_mpiexec_outside_a_batch_system_with_its_arguments(site_user, exports, sites):
    """The head pilot outside any batch system (the nodes from LJ_NODE_LIST) starts `pilot.sh --node` for the
    second host through a real mpiexec with LJ_MPIEXEC_ARGS: hydra's fork launcher, which runs it on this host
    whatever the host list says (there is no second host here, and without Slurm hydra would use ssh): a real
    condor_master with only a startd, its own LOCAL_DIR and names, joins the head's collector from the address
    file; SIGTERM to the head stops both pools and mpiexec."""
    need_mpiexec()
    p = subprocess.run(['mpiexec', '-info'], capture_output=True, text=True, timeout=30, check=False)
    if 'HYDRA' not in p.stdout:
        pytest.skip('mpiexec is not MPICH\'s hydra: the test uses its fork launcher (-launcher fork)')
    run_dir = make_run_dir(sites, site_user, exports.mixed)
    head = subprocess.run(['hostname', '-s'], capture_output=True, text=True, check=True).stdout.strip()
    env_file = os.path.join(run_dir, 'pilot.env')
    with open(env_file, 'w') as f:
        f.write('LJ_RUN_DIR=%s\nLJ_CONDOR_BIN_DIR=/opt/condor\nLJ_NODE_LIST=%s,othernode\nLJ_NODE_LAUNCHER=mpiexec\n'
                'LJ_MPIEXEC_ARGS=(-launcher fork)\nLJ_POLL_INTERVAL=2\nLJ_WALLTIME=30m\n' % (run_dir, head))
    script = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'roles', 'batch_submit', 'files',
                          'lumberjack-pilot.sh')
    subprocess.run(['install', '-m', '0755', '-o', str(site_user.pw_uid), os.path.abspath(script),
                    os.path.join(run_dir, 'pilot.sh')], check=True)
    out = open(os.path.join(run_dir, 'pilot.out'), 'w')
    # both pools on one host: the node's daemons must not take the head's collector for their own family
    # (a one-host artifact, see the facts file); across hosts this is not needed
    pilot = subprocess.Popen(['sudo', '-u', site_user.pw_name, 'env', '_CONDOR_SEC_USE_FAMILY_SESSION=False',
                              os.path.join(run_dir, 'pilot.sh'), env_file],
                             stdout=out, stderr=subprocess.STDOUT, cwd=run_dir)
    node = '%s-%s@' % (os.path.basename(run_dir), head)   # STARTD_NAME of the extra node, then @host
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not [n for n in _startds(run_dir) if n.startswith(node)]:
            time.sleep(2)
        names = _startds(run_dir)
        assert [n for n in names if n.startswith(node)] and len(names) == 2, names
        assert os.path.exists(os.path.join(run_dir, 'local_dir', 'nodes', head, 'log', 'StartLog'))
        commands = command_names(run_processes(run_dir))
        assert 'hydra_pmi_proxy' in commands and [n for n in commands if n.startswith('mpiexec')], commands
        # SIGTERM reaches the pilot (sudo passes it on), as scancel's would
        pilot.send_signal(15)
        assert pilot.wait(90) == 3
    finally:
        if pilot.poll() is None:
            pilot.send_signal(15)
            pilot.wait(90)
        out.close()
    assert wait_no_processes(run_dir, 30) == [], 'processes of the run, its extra node or mpiexec are left'
    result = read_result(run_dir)
    assert result['outcome'] == 'walltime' and 'SIGTERM' in result['reason'], result
    assert (result['schedd_stop'], result['master_stop'], result['nodes_stop']) == ('clean', 'clean', 'clean')
