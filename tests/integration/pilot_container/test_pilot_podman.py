# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The batch_submit role's pilot with HTCondor in a container (batch_submit_container_runtime: podman): a real
rootless podman run by an ordinary site account, the real HTCondor of /opt/condor as its image, through
ansible-playbook, with the local scheduler and a real one-node Slurm.

The queues are real exports (Schedd.export_jobs) from a real home pool. Skipped, saying why, without root,
condor_master, podman, runc, newuidmap, sudo, or (for Slurm) slurmctld.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket
import time

import pytest

from pilot_run_dir import command_names, job_states, make_run_dir, read_result, run_processes, wait_no_processes  # pylint: disable=import-error
from playbook import Playbook  # pylint: disable=import-error
from slurm_cluster import start_or_skip  # pylint: disable=import-error

ROLE = 'hepcloud.lumberjack.batch_submit'
FAST = dict(batch_submit_poll_interval=2, batch_submit_wait_poll_interval=2, batch_submit_startup_timeout=120,
            batch_submit_stop_timeout=60)


def role_task(run_dir, user, image, work, **variables):
    v = dict(FAST, batch_submit_run_dir=run_dir, batch_submit_container_runtime='podman',
             batch_submit_container_image=image,
             # the jobs' directory, as a site bind-mounts its shared file systems
             batch_submit_container_options=['--volume', '%s:%s' % (work, work)],
             # rootless podman's runtime directory; a login session would set it
             batch_submit_environment={'XDG_RUNTIME_DIR': user.env['XDG_RUNTIME_DIR']})
    v.update(variables)
    return {'name': 'Run batch_submit', 'ansible.builtin.include_role': {'name': ROLE}, 'vars': v}


WAITED = ('batch_submit_job_id', 'batch_submit_result', 'batch_submit_job', 'batch_submit_submission')


def run_role(play, user, run_dir, image, work, register=WAITED, **variables):
    return play.run([role_task(run_dir, user, image, work, **variables)], register=register,
                    become_user=user.pw_name)


def containers(user):
    """Names of every container of the site account, running or not."""
    p = user.podman('ps', '--all', '--format', '{{.Names}}', check=True)
    return p.stdout.split()


def container_name(run_dir, node=None):
    return 'lumberjack-%s-%s' % (os.path.basename(run_dir), node or socket.gethostname().split('.')[0])


def wait_no_containers(user, timeout=30):
    deadline = time.time() + timeout
    while containers(user) and time.time() < deadline:
        time.sleep(1)
    return containers(user)


def queue_in_container(user, name):
    """{job id: JobStatus} as condor_q in the pool's container answers it ({} when it does not)."""
    p = user.podman('exec', name, 'condor_q', '-allusers', '-af', 'ClusterId', 'ProcId', 'JobStatus', timeout=60)
    if p.returncode != 0:
        return {}
    return dict(('%s.%s' % (c, pr), int(s)) for c, pr, s in
                (line.split() for line in p.stdout.splitlines() if len(line.split()) == 3))


# ------------------------------------------------------------------------------------------------ local
def test_local_podman_every_job_finishes(base, site_user, image, exports, sites):
    run_dir = make_run_dir(sites, site_user, exports.short)
    # a container of an earlier pilot of this run, under the name this pilot's gets: replaced, not in the way
    site_user.podman('create', '--name', container_name(run_dir), image, 'true', check=True)
    play = Playbook(base, {})
    r = run_role(play, site_user, run_dir, image, exports.work, batch_submit_scheduler='local',
                 batch_submit_walltime='10m', batch_submit_wait=True)
    job = r['batch_submit_job']
    assert job['state'] == 'completed' and job['exit_code'] == 0, job
    result = r['batch_submit_result']
    assert result['outcome'] == 'finished', result
    assert (result['jobs_total'], result['jobs_completed'], result['jobs_unfinished']) == ('2', '2', '0')
    assert (result['schedd_stop'], result['master_stop']) == ('clean', 'clean')
    assert result == read_result(run_dir)
    # the daemons and their container are gone, and the log the import reads says the jobs completed
    assert wait_no_containers(site_user, 30) == []
    assert wait_no_processes(run_dir, 10) == []
    log = os.path.join(run_dir, 'local_dir', 'spool', 'job_queue.log')
    assert job_states(log) == dict((j, 4) for j in exports.short_ids)
    with open(log) as f:
        assert not [line for line in f if line.startswith(('105 ', '106 '))], 'the log was not compacted'
    # the jobs ran in the container, as the site account, in their bind-mounted directory
    for j in exports.short_ids:
        with open(os.path.join(exports.work, 'out.%s' % j)) as f:
            assert f.read().strip() == 'job %s ran as %s' % (j, site_user.pw_name)
    # the pilot started the master in its container (its batch output says how)
    outs = [n for n in os.listdir(run_dir) if n.startswith('pilot-') and n.endswith('.out')]
    assert len(outs) == 1, os.listdir(run_dir)
    with open(os.path.join(run_dir, outs[0])) as f:
        assert 'starting podman run --rm --replace --sig-proxy=false --name %s ' % container_name(run_dir) in f.read()


# ------------------------------------------------------------------------------------------------ Slurm
@pytest.fixture(scope='module')
def slurm(request):
    # Slurm's default KillWait: the clean stop goes through podman exec, slower than a native one
    return start_or_skip(request, accounting=False, min_job_age=300, kill_wait=30)


def test_slurm_scancel_stops_the_container_and_the_daemons(base, site_user, image, exports, sites, slurm):
    run_dir = make_run_dir(sites, site_user, exports.mixed)
    play = Playbook(base, dict(SLURM_CONF=slurm.conf), log=lambda: slurm.log('slurmctld'))
    r = run_role(play, site_user, run_dir, image, exports.work,
                 register=('batch_submit_job_id', 'batch_submit_submission'),
                 batch_submit_scheduler='slurm', batch_submit_walltime='30m')
    job_id = r['batch_submit_job_id']
    assert r['batch_submit_submission']['changed'] is True and job_id
    name = container_name(run_dir, slurm.node_name)
    # wait until the pool in the container runs the long job and the short one has completed
    deadline = time.time() + 120
    q = {}
    while time.time() < deadline:
        q = queue_in_container(site_user, name)
        if q.get(exports.long_id) == 2 and q.get(exports.quick_id) == 4:
            break
        time.sleep(2)
    else:
        pytest.fail('the pool never ran the jobs: %s\n%s' % (q, slurm.log('slurmd')[-2000:]))
    assert containers(site_user) == [name]
    # the pool's daemons, in the container, are found from here by their CONDOR_CONFIG like native ones
    assert {'condor_master', 'condor_schedd'} <= set(command_names(run_processes(run_dir)))
    slurm.run('scancel', job_id, check=True)
    assert wait_no_processes(run_dir, 60) == [], 'processes of the run are left after scancel'
    assert wait_no_containers(site_user, 30) == [], 'the pool\'s container is left after scancel'
    result = read_result(run_dir)
    assert result['outcome'] == 'walltime', result
    assert 'SIGTERM received' in result['reason']
    assert (result['jobs_total'], result['jobs_completed'], result['jobs_unfinished']) == ('2', '1', '1')
    assert (result['schedd_stop'], result['master_stop']) == ('clean', 'clean'), result
    assert result['batch_job_id'] == job_id
    states = job_states(os.path.join(run_dir, 'local_dir', 'spool', 'job_queue.log'))
    assert states[exports.quick_id] == 4 and states[exports.long_id] in (1, 2)
