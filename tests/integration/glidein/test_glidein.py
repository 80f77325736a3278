# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The glidein role against a real home pool (HTCondor 25, started as root, no startd) and a real one-node Slurm:
the role is applied by a real ansible-playbook as an ordinary user (the site account), its pilots are Slurm
jobs that start a startd-only HTCondor which joins the home pool, runs jobs submitted there, and leaves it.

Two artifacts of running the home pool and the pilots on one host are set through glidein_condor_config (see the
facts file): the pilots offer only IDTOKENS, and SEC_USE_FAMILY_SESSION is off.

Skipped, saying why, without root, condor_master or Slurm.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import re
import secrets
import subprocess
import sys
import tarfile
import time

import pytest
import yaml

from playbook import TARGET_PYTHON, collections_path  # pylint: disable=import-error
from slurm_cluster import SlurmCluster  # pylint: disable=import-error

UID_DOMAIN = 'lumberjack.test'  # the home pool's UID_DOMAIN and TRUST_DOMAIN (conftest.py)
JOIN_TIMEOUT = int(os.environ.get('LJ_GLIDEIN_JOIN_TIMEOUT', '120'))
LEAVE_TIMEOUT = 30


def apply_role(workdir, user, slurm, role_vars, check=False):
    """Apply hepcloud.lumberjack.glidein through ansible-playbook as `user`; returns (recap counts, facts)."""
    base = os.path.join(workdir, 'play-%s' % secrets.token_hex(4))
    os.makedirs(base)
    out = os.path.join(base, 'jobs.json')
    play = [dict(hosts='localhost', gather_facts=False, become=True, become_user=user.pw_name, become_method='sudo',
                 environment=dict(SLURM_CONF=slurm.conf),
                 tasks=[
                     {'name': 'Apply the glidein role', 'ansible.builtin.include_role': {'name': 'hepcloud.lumberjack.glidein'},
                      'vars': role_vars},
                     {'name': 'Keep the batch jobs', 'become': False, 'check_mode': False,
                      'ansible.builtin.copy': {'content': '{{ glidein_jobs | default({}) | to_json }}', 'dest': out,
                                               'mode': '0644'}},
                 ])]
    with open(os.path.join(base, 'play.yml'), 'w') as f:
        yaml.safe_dump(play, f, sort_keys=False)
    with open(os.path.join(base, 'inventory'), 'w') as f:
        f.write('localhost ansible_connection=local ansible_python_interpreter=%s\n' % TARGET_PYTHON)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path(workdir), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='false',
               ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='false', ANSIBLE_LOCAL_TEMP=os.path.join(base, 'tmp'))
    env.pop('PYTHONPATH', None)
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'inventory', 'play.yml']
    if check:
        argv.append('--check')
    p = subprocess.run(argv, cwd=base, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert p.returncode == 0, 'ansible-playbook failed (%d):\n%s\n%s\n--- slurmctld ---\n%s' % (
        p.returncode, p.stdout[-6000:], p.stderr[-3000:], slurm.log('slurmctld')[-2000:])
    recap = re.search(r'localhost\s*:\s*ok=(\d+)\s+changed=(\d+)', p.stdout)
    with open(out) as f:
        jobs = json.load(f)
    # the last task (keeping the results in a new file) always changes: the role's own changes are the rest
    return dict(ok=int(recap.group(1)), changed=int(recap.group(2)) - 1, stdout=p.stdout), jobs


def role_vars(home, idtoken, site, **extra):
    v = dict(glidein_name='gl%s' % secrets.token_hex(3), glidein_collector_host=home.collector_host,
             glidein_idtoken=idtoken, glidein_site=site, glidein_scheduler='slurm', glidein_count=1,
             glidein_cpus=2, glidein_memory='500M', glidein_walltime='10m', glidein_condor_prefix='/opt/condor',
             glidein_update_interval=5, glidein_poll_interval=1, glidein_drain_margin=120, glidein_kill_margin=60,
             glidein_batch_options=dict(slurm_accounting='no'),
             glidein_condor_config={
                 # one-host artifacts (see the facts file), and loopback only
                 'SEC_CLIENT_AUTHENTICATION_METHODS': 'IDTOKENS', 'SEC_USE_FAMILY_SESSION': 'False',
                 'NETWORK_INTERFACE': '127.0.0.1', 'BIND_ALL_INTERFACES': 'False', 'ENABLE_IPV6': 'False',
                 'STARTER_UPDATE_INTERVAL': '5'})
    v.update(extra)
    return v


def slots(home, constraint):
    p = home.run(['condor_status', '-any', '-constraint', constraint, '-af:t', 'MyType', 'Name', 'GLIDEIN_PilotId',
                  'GLIDEIN_BatchJobId', 'GLIDEIN_ToDie', 'Cpus', 'Memory', 'PartitionableSlot', 'GLIDEIN_Site'],
                 check=False)
    rows = []
    for line in p.stdout.splitlines():
        f = line.split('\t')
        if len(f) == 9:
            rows.append(dict(zip(('type', 'name', 'pilot', 'job', 'todie', 'cpus', 'memory', 'pslot', 'site'), f)))
    return rows


def diagnostics(user, home=None):
    """The pilots' batch output and the tails of their HTCondor logs, for failure messages."""
    text = []
    base = os.path.join(user.pw_dir, 'glidein')
    for top, _dirs, files in os.walk(base):
        for f in sorted(files):
            if f.endswith('.out') or f in ('MasterLog', 'StartLog', 'master.stdout') or f.startswith('StarterLog'):
                with open(os.path.join(top, f), errors='replace') as fh:
                    text.append('--- %s\n%s' % (os.path.join(top, f), fh.read()[-2500:]))
    # the logs the pilots kept (their directories are gone)
    for top, _dirs, files in os.walk(os.path.join(base, 'logs')):
        for f in sorted(files):
            if not f.endswith('.tar.gz'):
                continue
            try:
                with tarfile.open(os.path.join(top, f)) as t:
                    for member in t.getmembers():
                        if os.path.basename(member.name) in ('MasterLog', 'StartLog', 'StarterLog') or \
                                os.path.basename(member.name).startswith('StarterLog.'):
                            data = t.extractfile(member).read().decode(errors='replace')
                            text.append('--- %s:%s\n%s' % (f, member.name, data[-3000:]))
            except (IOError, tarfile.TarError) as e:
                text.append('--- %s: %s' % (f, e))
    if home is not None:
        text.append('--- ads in the home collector\n' + home.run(
            ['condor_status', '-any', '-af', 'MyType', 'Name', 'GLIDEIN_NodeId'], check=False).stdout)
        for f in ('CollectorLog', 'NegotiatorLog', 'SchedLog'):
            try:
                with open(os.path.join(home.log_dir, f), errors='replace') as fh:
                    text.append('--- home %s\n%s' % (f, fh.read()[-1500:]))
            except IOError:
                pass
    return '\n'.join(text)


def wait_for(predicate, timeout, what, interval=1, explain=lambda: ''):
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError('timed out after %ds waiting for %s\n%s' % (timeout, what, explain()))
        time.sleep(interval)


def submit(home, user, site, seconds, runtime, tag):
    text = '\n'.join([
        'universe = vanilla', 'executable = /bin/sleep', 'arguments = %d' % seconds, 'transfer_executable = false',
        'should_transfer_files = YES', 'when_to_transfer_output = ON_EXIT',
        'output = %s.out' % tag, 'error = %s.err' % tag, 'log = %s.log' % tag,
        'requirements = TARGET.GLIDEIN_Site == "%s"' % site,
        'request_cpus = 1', 'request_memory = 50',
        'allowed_job_duration = %d' % runtime, 'queue', ''])
    return home.submit(text, user=user.pw_name)


def job_status(home, cluster):
    rows = home.jobs('ClusterId == %d' % cluster, attrs=('JobStatus', 'NumJobStarts', 'RemoteHost'))
    if rows:
        return rows[0]
    rows = home.history('ClusterId == %d' % cluster, attrs=('JobStatus', 'NumJobStarts', 'RemoteHost'))
    return rows[0] if rows else None


def pilot_dirs(user):
    base = os.path.join(user.pw_dir, 'glidein')
    return sorted(d for d in os.listdir(base) if d not in ('etc', 'logs')) if os.path.isdir(base) else []


def test_a_pilot_joins_runs_a_job_and_leaves_when_cancelled(home, idtoken, slurm, pilot_user, submitter, workdir):
    site = 'LJ-SITE-%s' % secrets.token_hex(3)
    v = role_vars(home, idtoken, site)
    name = v['glidein_name']
    started = time.time()
    recap, jobs = apply_role(workdir, pilot_user, slurm, v)
    assert recap['changed'] > 0
    [job] = jobs['results']
    assert job['changed'] is True and job['state'] in ('queued', 'running')
    batch_id = job['job_id']

    # the credential is the user's alone
    config_dir = os.path.join(pilot_user.pw_dir, 'glidein', 'etc', name)
    st = os.stat(os.path.join(config_dir, 'idtoken'))
    assert (st.st_mode & 0o777, st.st_uid) == (0o600, pilot_user.pw_uid)

    # a second identical run changes nothing: the pilot is found queued or running
    recap2, jobs2 = apply_role(workdir, pilot_user, slurm, v)
    assert recap2['changed'] == 0, recap2['stdout']
    assert jobs2['results'][0]['job_id'] == batch_id and jobs2['results'][0]['existing'] is True

    constraint = 'GLIDEIN_Site =?= "%s"' % site
    ads = wait_for(lambda: [a for a in slots(home, constraint) if a['type'] == 'Machine'], JOIN_TIMEOUT,
                   'the pilot to join the home pool',
                   explain=lambda: diagnostics(pilot_user, home))
    joined_after = time.time() - started
    [slot] = ads
    assert slot['job'] == batch_id and slot['pilot'].startswith('%s-%s-' % (name, batch_id))
    assert (slot['cpus'], slot['memory'], slot['pslot']) == ('2', '500', 'true')
    todie = int(slot['todie'])
    assert abs(todie - (started + 600)) < 120, 'GLIDEIN_ToDie %d is not the end of the 10 minute walltime' % todie
    assert len(pilot_dirs(pilot_user)) == 1

    # a job that fits runs on the pilot and completes
    short = submit(home, submitter, site, 2, 60, 'short')
    wait_for(lambda: (job_status(home, short) or {}).get('JobStatus') == '4', 120, 'the short job to complete')
    # a job longer than the time left is never matched; a long one that fits starts
    too_long = submit(home, submitter, site, 30, 3600, 'toolong')
    long_job = submit(home, submitter, site, 600, 300, 'long')
    wait_for(lambda: (job_status(home, long_job) or {}).get('JobStatus') == '2', 120, 'the long job to start')
    time.sleep(12)  # a few negotiation cycles with a free core left on the slot
    assert job_status(home, too_long)['JobStatus'] == '1'
    assert job_status(home, too_long)['NumJobStarts'] == '0'

    # a bare scancel (every process of the batch job gets SIGTERM, the job's own too) takes the startd out of
    # the pool within 30 s and puts the interrupted long job back to idle: evicted, not ended by signal 15
    slurm.run('scancel', batch_id, check=True)
    cancelled = time.time()
    wait_for(lambda: not slots(home, constraint), LEAVE_TIMEOUT, 'the pilot\'s ads to leave the collector',
             explain=lambda: diagnostics(pilot_user, home))
    gone_after = time.time() - cancelled
    assert gone_after <= LEAVE_TIMEOUT
    wait_for(lambda: job_status(home, long_job)['JobStatus'] in ('1', '3', '4', '5'), LEAVE_TIMEOUT,
             'the interrupted long job to be idle again',
             explain=lambda: '%s\n%s' % (home.jobs('ClusterId == %d' % long_job, attrs=(
                 'JobStatus', 'RemoteHost', 'NumJobStarts', 'LastRemoteHost', 'JobDisconnectedDate', 'NumShadowStarts')),
                 diagnostics(pilot_user, home)))
    interrupted = job_status(home, long_job)
    assert interrupted['JobStatus'] == '1', 'the interrupted job is not idle again: %r\n%s' % (
        interrupted, home.run(['condor_history', '-l', str(long_job)], check=False).stdout[-3000:])
    assert interrupted['NumJobStarts'] == '1'
    # the pilot directory is gone; its logs are kept, compressed
    wait_for(lambda: not pilot_dirs(pilot_user), 30, 'the pilot directory to be removed')
    logs = os.path.join(pilot_user.pw_dir, 'glidein', 'logs', name)
    kept = [f for f in os.listdir(logs) if f.endswith('.tar.gz')]
    assert kept == ['%s.tar.gz' % slot['pilot']]
    with tarfile.open(os.path.join(logs, kept[0])) as t:
        names = t.getnames()
    assert any(n.endswith('log/StartLog') for n in names), names
    print('joined after %.0fs, left %.0fs after the cancel' % (joined_after, gone_after))
    home.run(['condor_rm', str(long_job), str(too_long)], user=submitter.pw_name, check=False)


def test_two_pilots_in_parallel_with_separate_directories_and_the_surplus_one_cancelled(
        home, idtoken, slurm, pilot_user, workdir):
    site = 'LJ-PAIR-%s' % secrets.token_hex(3)
    v = role_vars(home, idtoken, site, glidein_count=2, glidein_cpus=1, glidein_memory='200M')
    _recap, jobs = apply_role(workdir, pilot_user, slurm, v)
    ids = [j['job_id'] for j in jobs['results']]
    assert len(set(ids)) == 2
    constraint = 'GLIDEIN_Site =?= "%s"' % site

    def both():
        machines = [a for a in slots(home, constraint) if a['type'] == 'Machine']
        return machines if len(machines) == 2 else None
    ads = wait_for(both, JOIN_TIMEOUT, 'both pilots to join', explain=lambda: diagnostics(pilot_user, home))
    assert sorted(a['job'] for a in ads) == sorted(ids)
    assert len(set(a['pilot'] for a in ads)) == 2 and len(set(a['name'] for a in ads)) == 2
    mine = [d for d in pilot_dirs(pilot_user) if d.startswith(v['glidein_name'] + '-')]
    assert sorted(mine) == sorted(a['pilot'] for a in ads)
    first, second = [[a for a in ads if a['job'] == i][0] for i in ids]
    # glidein_count lowered to 1: pilot 2 (a running one) is asked to leave, then its batch job is gone
    recap, jobs = apply_role(workdir, pilot_user, slurm, dict(v, glidein_count=1))
    assert recap['changed'] > 0, recap['stdout']
    assert [j['job_id'] for j in jobs['results']] == [ids[0]] and jobs['results'][0]['existing'] is True
    wait_for(lambda: [a['pilot'] for a in slots(home, constraint) if a['type'] == 'Machine'] == [first['pilot']],
             10, 'only the first pilot to be left in the pool', explain=lambda: diagnostics(pilot_user, home))
    assert second['pilot'] not in pilot_dirs(pilot_user)
    assert slurm_state(slurm, ids[1]) in ('', 'COMPLETED', 'CANCELLED')
    assert slurm_state(slurm, ids[0]) == 'RUNNING'
    out = os.path.join(pilot_user.pw_dir, 'glidein', 'logs', v['glidein_name'],
                       '%s-2.%s.out' % (v['glidein_name'], ids[1]))
    with open(out) as f:
        assert 'asked to stop' in f.read()
    # the same again changes nothing
    recap, jobs = apply_role(workdir, pilot_user, slurm, dict(v, glidein_count=1))
    assert recap['changed'] == 0, recap['stdout']
    assert [j['job_id'] for j in jobs['results']] == [ids[0]]
    # the role cancels the other (with glidein_count 1, state=absent still knows of both)
    apply_role(workdir, pilot_user, slurm, dict(v, glidein_state='absent'))
    wait_for(lambda: not slots(home, constraint), LEAVE_TIMEOUT, 'both pilots to leave',
             explain=lambda: diagnostics(pilot_user, home))
    wait_for(lambda: not [d for d in pilot_dirs(pilot_user) if d.startswith(v['glidein_name'] + '-')], 30,
             'both pilot directories to be removed')
    logs = os.path.join(pilot_user.pw_dir, 'glidein', 'logs', v['glidein_name'])
    assert sorted(f[:-len('.tar.gz')] for f in os.listdir(logs) if f.endswith('.tar.gz')) == sorted(
        a['pilot'] for a in ads)


def node_processes(user, program):
    """Pids of `program` run by `user` (from /proc)."""
    found = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            if os.stat('/proc/%s' % pid).st_uid != user.pw_uid:
                continue
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                argv0 = f.read().split(b'\0')[0].decode()
        except (IOError, OSError):
            continue
        if os.path.basename(argv0) == program:
            found.append(int(pid))
    return found


def slurm_state(slurm, job_id):
    return slurm.run('squeue', '-h', '-j', str(job_id), '-t', 'all', '-o', '%T').stdout.strip()


def test_a_pilot_whose_master_dies_leaves_the_pool(home, idtoken, slurm, pilot_user, workdir):
    site = 'LJ-KILL-%s' % secrets.token_hex(3)
    v = role_vars(home, idtoken, site, glidein_cpus=1, glidein_memory='200M')
    _recap, jobs = apply_role(workdir, pilot_user, slurm, v)
    batch_id = jobs['results'][0]['job_id']
    constraint = 'GLIDEIN_Site =?= "%s"' % site
    wait_for(lambda: [a for a in slots(home, constraint) if a['type'] == 'Machine'], JOIN_TIMEOUT,
             'the pilot to join', explain=lambda: diagnostics(pilot_user, home))
    masters = node_processes(pilot_user, 'condor_master')
    assert len(masters) == 1
    os.kill(masters[0], 9)
    # the pilot script notices, kills the orphaned startd, invalidates the ads and ends the batch job
    wait_for(lambda: not slots(home, constraint), LEAVE_TIMEOUT, 'the ads of the dead pilot to go',
             explain=lambda: diagnostics(pilot_user, home))
    wait_for(lambda: not node_processes(pilot_user, 'condor_startd'), 10, 'the orphaned startd to be gone')
    wait_for(lambda: slurm_state(slurm, batch_id) in ('', 'COMPLETED'), 60, 'the batch job to end')
    wait_for(lambda: not [d for d in pilot_dirs(pilot_user) if d.startswith(v['glidein_name'] + '-')], 30,
             'the pilot directory to be removed')


def test_a_pilot_is_not_in_the_pool_while_queued_and_drains_before_its_walltime(
        home, idtoken, slurm, pilot_user, workdir):
    site = 'LJ-DRAIN-%s' % secrets.token_hex(3)
    # 3 minutes of walltime: drain at 170 s before the end (right away), leave at 150 s before the end
    v = role_vars(home, idtoken, site, glidein_cpus=1, glidein_memory='200M', glidein_walltime='3m',
                  glidein_drain_margin=170, glidein_kill_margin=150, glidein_directives=['--hold'])
    _recap, jobs = apply_role(workdir, pilot_user, slurm, v)
    batch_id = jobs['results'][0]['job_id']
    constraint = 'GLIDEIN_Site =?= "%s"' % site
    # held in the queue: nothing of it in the pool
    for _i in range(8):
        assert slurm_state(slurm, batch_id) == 'PENDING'
        assert not slots(home, constraint)
        time.sleep(1)
    slurm.run('scontrol', 'release', str(batch_id), check=True)
    wait_for(lambda: slots(home, constraint), JOIN_TIMEOUT, 'the released pilot to join',
             explain=lambda: diagnostics(pilot_user, home))
    joined = time.time()
    # it drains, then leaves at the kill margin (about 30 s after it started) and the batch job ends normally
    wait_for(lambda: not slots(home, constraint), 90, 'the pilot to leave before its walltime',
             explain=lambda: diagnostics(pilot_user, home))
    assert time.time() - joined < 80
    wait_for(lambda: slurm_state(slurm, batch_id) in ('', 'COMPLETED'), 60, 'the batch job to end')
    out = os.path.join(pilot_user.pw_dir, 'glidein', 'logs', v['glidein_name'],
                       '%s-1.%s.out' % (v['glidein_name'], batch_id))
    with open(out) as f:
        text = f.read()
    assert 'draining: no new jobs from now on' in text and 'shutting down' in text, text
    assert 'condor_off -peaceful -startd failed' not in text, text
    wait_for(lambda: not [d for d in pilot_dirs(pilot_user) if d.startswith(v['glidein_name'] + '-')], 30,
             'the pilot directory to be removed')


def test_a_pilot_with_the_pool_password_joins(home, slurm, pilot_user, workdir):
    """The other credential: the home pool's password file (its signing key), base64-encoded, no IDTOKEN."""
    with open(os.path.join(home.local_dir, 'passwords.d', 'POOL'), 'rb') as f:
        pool_password = base64.b64encode(f.read()).decode()
    site = 'LJ-PASSWD-%s' % secrets.token_hex(3)
    v = role_vars(home, '', site, glidein_cpus=1, glidein_memory='200M', glidein_pool_password=pool_password,
                  glidein_trust_domain=UID_DOMAIN)
    v['glidein_condor_config']['SEC_CLIENT_AUTHENTICATION_METHODS'] = 'IDTOKENS, PASSWORD'
    _recap, _jobs = apply_role(workdir, pilot_user, slurm, v)
    config_dir = os.path.join(pilot_user.pw_dir, 'glidein', 'etc', v['glidein_name'])
    assert not os.path.exists(os.path.join(config_dir, 'idtoken'))
    assert os.stat(os.path.join(config_dir, 'pool_password.b64')).st_mode & 0o777 == 0o600
    constraint = 'GLIDEIN_Site =?= "%s"' % site
    wait_for(lambda: [a for a in slots(home, constraint) if a['type'] == 'Machine'], JOIN_TIMEOUT,
             'the pilot with the pool password to join', explain=lambda: diagnostics(pilot_user, home))
    apply_role(workdir, pilot_user, slurm, dict(v, glidein_state='absent'))
    wait_for(lambda: not slots(home, constraint), LEAVE_TIMEOUT, 'the pilot to leave',
             explain=lambda: diagnostics(pilot_user, home))


@pytest.fixture(scope='module')
def slurm_two_nodes(request, slurm):
    """A second Slurm cluster of two nodes (two slurmd on this host) with two GPUs each (device files standing
    in, see slurm_cluster.py); `slurm` first, so the suite's requirements are checked."""
    cluster = SlurmCluster(accounting=False, min_job_age=2, nodes=2, gpus_per_node=2)
    request.addfinalizer(cluster.stop)
    cluster.start()
    return cluster


def test_a_pilot_of_two_nodes_runs_a_startd_on_each_and_both_leave(home, idtoken, slurm_two_nodes, pilot_user,
                                                                   workdir):
    """glidein_nodes=2 on two real Slurm nodes: srun starts a startd on each (named by the node's index in the
    allocation), both join the home pool with their share of the allocation, GPUs included, and a scancel
    takes both out.

    Slurm grants one of each node's two GPUs (SLURM_GPUS_ON_NODE=1, CUDA_VISIBLE_DEVICES=0); no GPU is here,
    so HTCondor's own discovery is asked to simulate two (condor_gpu_discovery -simulate), of which it reports
    the one CUDA_VISIBLE_DEVICES names: the slot must have 1 GPU, what Slurm granted, not the 2 simulated."""
    slurm = slurm_two_nodes
    site = 'LJ-NODES-%s' % secrets.token_hex(3)
    v = role_vars(home, idtoken, site, glidein_nodes=2, glidein_cpus=1, glidein_memory='200M', glidein_gpus=1)
    v['glidein_condor_config'] = dict(v['glidein_condor_config'], GPU_DISCOVERY_EXTRA='-simulate:0,2')
    _recap, jobs = apply_role(workdir, pilot_user, slurm, v)
    [job] = jobs['results']
    batch_id = job['job_id']
    constraint = 'GLIDEIN_Site =?= "%s"' % site

    def both():
        machines = [a for a in slots(home, constraint) if a['type'] == 'Machine']
        return machines if len(machines) == 2 else None
    ads = wait_for(both, JOIN_TIMEOUT, 'a startd of each node to join',
                   explain=lambda: '%s\n%s' % (diagnostics(pilot_user, home), slurm.log('slurmd')[-2000:]))
    # one pilot, a startd per node: STARTD_NAME is the pilot id and the node's index in the allocation
    assert [a['job'] for a in ads] == [batch_id, batch_id] and len(set(a['pilot'] for a in ads)) == 1
    assert sorted(re.search(r'@%s-(n\d+)' % re.escape(ads[0]['pilot']), a['name']).group(1) for a in ads) == [
        'n0', 'n1'], ads
    assert all((a['cpus'], a['memory']) == ('1', '200') for a in ads), ads
    gpus = home.run(['condor_status', '-constraint', constraint, '-af', 'TotalSlotGPUs', 'AssignedGPUs'],
                    check=False).stdout.split('\n')
    assert [line.split()[0] for line in gpus if line.strip()] == ['1', '1'], gpus
    # reachable through the collector's CCB (nodes with outbound network only): the startds registered there
    addresses = home.run(['condor_status', '-any', '-constraint', 'MyType == "Machine" && ' + constraint, '-af',
                          'MyAddress'], check=False).stdout.split()
    assert len(addresses) == 2 and all('CCBID=' in a for a in addresses), addresses
    nodes = slurm.run('squeue', '-h', '-j', batch_id, '-o', '%N').stdout.strip()
    assert slurm.run('scontrol', 'show', 'hostnames', nodes).stdout.split() == slurm.node_names
    slurm.run('scancel', batch_id, check=True)
    wait_for(lambda: not slots(home, constraint), LEAVE_TIMEOUT, 'both startds to leave the collector',
             explain=lambda: diagnostics(pilot_user, home))
    wait_for(lambda: not [d for d in pilot_dirs(pilot_user) if d.startswith(v['glidein_name'] + '-')], 30,
             'the pilot directory to be removed')
