# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The round-trip playbooks end to end: real ssh, a real home schedd, real Slurm at the sites, real minicondors.

See conftest.py for the hosts. Jobs of two owners go to one site (relay staging) while a second site (push
staging) gets jobs longer than its walltime; the controller is killed during the wait and the re-run
finishes without a second export or submission; a further run changes nothing. Another run is aborted after
its launch; a pre-flight that finds a job selected by two sites exports nothing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import pwd
import re
import signal
import subprocess
import sys
import time

import yaml

from ansible_collections.hepcloud.lumberjack.tests.support.playbook import ROOT, collections_path

SCHEDD_PYTHON = os.path.join(ROOT, '.venv', 'bin', 'python')
JOB = '''#!/bin/sh
# job.sh NAME: writes result.NAME from its declared inputs (when it has them); p2 exits 3, c1 writes 200 MB
if [ -f in.txt ]; then cat in.txt > "result.$1"; fi
if [ -f "input file.txt" ]; then cat "input file.txt" >> "result.$1"; fi
echo "$1 ran as $(id -un) in $(pwd)" >> "result.$1"
if [ "$1" = c1 ]; then head -c 200000000 /dev/zero > big.out; fi
sleep 1
if [ "$1" = p2 ]; then exit 3; fi
exit 0
'''
# owner 0, cluster A: 8 jobs, an Iwd per proc, inputs transferred (one with a space in its name, one relative
# above the Iwd), the executable by absolute path
SUBMIT_A = '''\
executable = {home}/run/job.sh
arguments = a
initialdir = {home}/run/p$(Process)
transfer_input_files = in.txt, ../input file.txt
transfer_output_files = result.a
should_transfer_files = YES
output = out.txt
error = err.txt
log = {home}/run/jobs.log
request_memory = 16
request_disk = 1024
queue 8
'''
# owner 1, cluster B: 10 jobs sharing one Iwd on "shared storage" (no file transfer: what they write in their
# Iwd comes back); proc 2 exits 3
SUBMIT_B = '''\
executable = {home}/shared/job.sh
arguments = p$(Process)
initialdir = {home}/shared
should_transfer_files = NO
output = out.$(Process)
error = err.$(Process)
log = jobs.log
request_memory = 16
request_disk = 1024
queue 10
'''
# owner 1, cluster C: 2 jobs, proc 1 writes 200 MB
SUBMIT_C = '''\
executable = {home}/big/job.sh
arguments = c$(Process)
initialdir = {home}/big
should_transfer_files = NO
output = out.$(Process)
error = err.$(Process)
log = jobs.log
request_memory = 16
request_disk = 1024
queue 2
'''
# owner 0, cluster D: jobs longer than site-b's walltime
SUBMIT_LONG = '''\
executable = /bin/sleep
arguments = 600
transfer_executable = false
initialdir = {home}/long
should_transfer_files = NO
output = out.$(Process)
error = err.$(Process)
log = jobs.log
request_memory = 16
request_disk = 1024
queue 2
'''
ATTRS = ('ClusterId', 'ProcId', 'JobStatus', 'ExitCode', 'Managed', 'Owner', 'RemoteWallClockTime')


def _write(path, text, owner, mode=0o644):
    d = os.path.dirname(path)
    if not os.path.isdir(d):
        os.makedirs(d)
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, mode)
    for p in (path, d):
        os.chown(p, owner.pw_uid, owner.pw_gid)


def _prepare_jobs(world):
    a, b = world.owners
    for p in range(8):
        _write('%s/run/p%d/in.txt' % (a.pw_dir, p), 'input of proc %d\n' % p, a)
    _write('%s/run/input file.txt' % a.pw_dir, 'shared input with a space\n', a)
    _write('%s/run/job.sh' % a.pw_dir, JOB, a, 0o755)
    _write('%s/shared/in.txt' % b.pw_dir, 'shared input\n', b)
    _write('%s/shared/job.sh' % b.pw_dir, JOB, b, 0o755)
    _write('%s/big/notes.txt' % b.pw_dir, 'written before the export\n', b)
    _write('%s/big/job.sh' % b.pw_dir, JOB, b, 0o755)
    os.makedirs('%s/long' % a.pw_dir)
    os.chown('%s/long' % a.pw_dir, a.pw_uid, a.pw_gid)
    clusters = {}
    clusters['A'] = world.home.submit(SUBMIT_A.format(home=a.pw_dir), a.pw_name, cwd=a.pw_dir)
    clusters['B'] = world.home.submit(SUBMIT_B.format(home=b.pw_dir), b.pw_name, cwd=b.pw_dir)
    clusters['C'] = world.home.submit(SUBMIT_C.format(home=b.pw_dir), b.pw_name, cwd=b.pw_dir)
    clusters['D'] = world.home.submit(SUBMIT_LONG.format(home=a.pw_dir), a.pw_name, cwd=a.pw_dir)
    return clusters


class Controller(object):
    """ansible-playbook as the controller, with an inventory of the schedd host and the sites."""

    def __init__(self, world, name):
        self.world = world
        self.dir = os.path.join(world.base, name)
        os.makedirs(self.dir)
        self.collections = collections_path(self.dir)
        self.inventory = os.path.join(self.dir, 'inventory.yml')
        self.runs = 0

    def write_inventory(self, run_id, sites, **common):
        sshd = self.world.sshd
        schedd = dict(sshd.host_vars('root', '127.0.0.1'), ansible_python_interpreter=SCHEDD_PYTHON,
                      lumberjack_schedd_dir=os.path.join(self.dir, 'schedd'))
        hosts = {}
        for name, address, settings in sites:
            hosts[name] = dict(sshd.host_vars(self.world.site_user.pw_name, address),
                               ansible_python_interpreter='/usr/bin/python3', **settings)
        pool = {'NUM_CPUS': 4, 'SCHEDD_INTERVAL': 5, 'NEGOTIATOR_INTERVAL': 2, 'NEGOTIATOR_CYCLE_DELAY': 2,
                'UPDATE_INTERVAL': 5, 'STARTER_UPDATE_INTERVAL': 5, 'MASTER_UPDATE_INTERVAL': 5,
                'RUNBENCHMARKS': 0}
        inventory = {'all': {
            'vars': dict({'lumberjack_run_id': run_id, 'lumberjack_pool_config': pool,
                          'lumberjack_poll_interval': 5}, **common),
            'children': {
                'lumberjack_schedds': {'hosts': {'schedd': schedd}},
                'lumberjack_sites': {'hosts': hosts},
            }}}
        with open(self.inventory, 'w') as f:
            yaml.safe_dump(inventory, f, sort_keys=False)

    def start(self, playbook, extra=None):
        self.runs += 1
        log = open(os.path.join(self.dir, 'run-%02d-%s.log' % (self.runs, playbook)), 'w')
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=self.collections, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='false',
                   ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='false', ANSIBLE_HOST_KEY_CHECKING='false',
                   ANSIBLE_LOCAL_TEMP=os.path.join(self.dir, 'tmp'), ANSIBLE_FORKS='10')
        env.pop('PYTHONPATH', None)
        argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', self.inventory,
                'hepcloud.lumberjack.%s' % playbook]
        for k, v in (extra or {}).items():
            argv += ['-e', '%s=%s' % (k, json.dumps(v))]
        proc = subprocess.Popen(argv, cwd=self.dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        proc.log_path = log.name
        log.close()
        return proc

    def run(self, playbook, expect_failure=False, timeout=900, extra=None):
        proc = self.start(playbook, extra)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        with open(proc.log_path) as f:
            out = f.read()
        if expect_failure:
            assert proc.returncode != 0, out[-6000:]
        else:
            assert proc.returncode == 0, out[-8000:]
        return out

    def record(self, run_id, site):
        path = os.path.join(self.dir, 'schedd', run_id, site, 'run.json')
        if not os.path.exists(path):
            return {}
        with open(path) as f:
            return json.load(f)


def recap(out):
    """{host: {'ok': n, 'changed': n, 'failed': n, ...}} from the PLAY RECAP."""
    hosts = {}
    for line in out.split('PLAY RECAP')[-1].splitlines():
        m = re.match(r'^(\S+)\s+:\s+(.*)$', line.strip())
        if m:
            hosts[m.group(1)] = dict((k, int(v)) for k, v in re.findall(r'(\w+)=(\d+)', m.group(2)))
    return hosts


def home_jobs(world, clusters):
    constraint = 'member(ClusterId, {%s})' % ', '.join(str(c) for c in clusters)
    jobs = dict(('%s.%s' % (j['ClusterId'], j['ProcId']), j) for j in world.home.history(constraint, ATTRS))
    jobs.update(('%s.%s' % (j['ClusterId'], j['ProcId']), j) for j in world.home.jobs(constraint, ATTRS))
    return jobs


def owner_of(path):
    return pwd.getpwuid(os.stat(path).st_uid).pw_name


def site_settings(world, base, jobs, staging, walltime='00:10:00', drain_margin=30):
    return {'lumberjack_base_dir': base, 'lumberjack_site_jobs': jobs, 'lumberjack_staging': staging,
            'lumberjack_scheduler': 'slurm', 'lumberjack_condor_release_dir': '/opt/condor',
            'lumberjack_batch': {'walltime': walltime, 'drain_margin': drain_margin, 'poll_interval': 5,
                                 'startup_timeout': 120}}


def test_round_trip_two_sites_resumed_after_the_controller_is_killed(world):
    a, b = world.owners
    clusters = _prepare_jobs(world)
    ctl = Controller(world, 'two-sites')
    site_a = os.path.join(world.site_user.pw_dir, 'scratch-a')
    site_b = os.path.join(world.site_user.pw_dir, 'scratch-b')
    ctl.write_inventory('rt1', [
        ('site-a', '127.0.0.2', site_settings(world, site_a, [clusters['A'], clusters['B'], clusters['C']], 'relay')),
        ('site-b', '127.0.0.3', site_settings(world, site_b, [clusters['D']], 'push', walltime='00:02:30',
                                              drain_margin=100)),
    ])

    # the controller is killed while it waits for the pilots
    proc = ctl.start('round_trip')
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if all('launched' in ctl.record('rt1', s).get('phases', {}) for s in ('site-a', 'site-b')):
            break
        time.sleep(1)
    assert proc.poll() is None, open(proc.log_path).read()[-6000:]
    time.sleep(3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = dict((s, ctl.record('rt1', s)) for s in ('site-a', 'site-b'))
    for s in ('site-a', 'site-b'):
        assert 'finished' not in first[s]['phases'], first[s]
        assert first[s]['values']['batch_job_id']

    # the re-run finishes the run: no second export, no second pilot
    out = ctl.run('round_trip')
    for s in ('site-a', 'site-b'):
        record = ctl.record('rt1', s)
        assert record['phases']['exported'] == first[s]['phases']['exported']
        assert record['phases']['launched'] == first[s]['phases']['launched']
        assert record['values']['batch_job_id'] == first[s]['values']['batch_job_id']
        assert 'imported' in record['phases'] and 'reported' in record['phases']
        run_dir = os.path.join(site_a if s == 'site-a' else site_b, 'rt1-%s' % s)
        assert len([n for n in os.listdir(run_dir) if n.startswith('pilot-') and n.endswith('.out')]) == 1

    # every job of site-a came back completed with its exit code and run time; nothing lost or duplicated
    ids_a = ['%d.%d' % (c, p) for c, n in ((clusters['A'], 8), (clusters['B'], 10), (clusters['C'], 2))
             for p in range(n)]
    done = home_jobs(world, [clusters['A'], clusters['B'], clusters['C']])
    assert sorted(done) == sorted(ids_a)
    for jid, job in done.items():
        code = '3' if jid == '%d.2' % clusters['B'] else '0'
        assert (job['JobStatus'], job['ExitCode'], job['Managed']) == ('4', code, 'undefined'), (jid, job)
        assert float(job['RemoteWallClockTime']) > 0, (jid, job)
    assert sorted(ctl.record('rt1', 'site-a')['values']['imported']) == sorted(ids_a)

    # outputs in their original Iwds, owned by their owners
    for p in range(8):
        iwd = '%s/run/p%d' % (a.pw_dir, p)
        with open(os.path.join(iwd, 'result.a')) as f:
            text = f.read()
        assert 'input of proc %d' % p in text and 'shared input with a space' in text
        with open(os.path.join(iwd, 'in.txt')) as f:
            assert f.read() == 'input of proc %d\n' % p      # an input is never overwritten
        for name in ('result.a', 'out.txt', 'err.txt'):
            assert owner_of(os.path.join(iwd, name)) == a.pw_name
    for p in range(10):
        assert owner_of('%s/shared/out.%d' % (b.pw_dir, p)) == b.pw_name
        with open('%s/shared/result.p%d' % (b.pw_dir, p)) as f:
            assert 'p%d ran as %s' % (p, world.site_user.pw_name) in f.read()
    assert os.path.getsize('%s/big/big.out' % b.pw_dir) == 200000000
    assert owner_of('%s/big/big.out' % b.pw_dir) == b.pw_name
    with open('%s/big/notes.txt' % b.pw_dir) as f:
        assert f.read() == 'written before the export\n'
    # the user logs at home hold the submit events and, appended once, the site's
    with open('%s/run/jobs.log' % a.pw_dir) as f:
        log = f.read()
    assert log.count('Job submitted from host') == 8 and log.count('Job terminated') == 8

    # site-b's jobs hit the walltime: the pilot drained, they are reported and idle again at home
    record_b = ctl.record('rt1', 'site-b')
    assert record_b['values']['pilot']['outcome'] == 'walltime'
    long_jobs = home_jobs(world, [clusters['D']])
    assert sorted(long_jobs) == ['%d.0' % clusters['D'], '%d.1' % clusters['D']]
    for job in long_jobs.values():
        assert (job['JobStatus'], job['Managed']) == ('1', 'undefined'), job
    assert sorted(record_b['values']['unfinished']) == sorted(long_jobs)

    # the report
    with open(os.path.join(ctl.dir, 'schedd', 'rt1', 'report.json')) as f:
        report = json.load(f)
    assert set(report['sites']) >= {'site-a', 'site-b'} or len(report['sites']) == 2
    assert os.path.exists(os.path.join(ctl.dir, 'schedd', 'rt1', 'report.html'))
    assert 'site-a: 20 jobs' in out

    # a finished run changes nothing
    out = ctl.run('round_trip')
    assert all(r['changed'] == 0 and r['failed'] == 0 for r in recap(out).values()), recap(out)


def test_a_job_selected_by_two_sites_stops_the_preflight_and_nothing_is_exported(world):
    a = world.owners[0]
    _write('%s/overlap/in.txt' % a.pw_dir, 'x\n', a)
    cluster = world.home.submit(SUBMIT_LONG.format(home=a.pw_dir).replace('/long', '/overlap'), a.pw_name,
                                cwd=a.pw_dir)
    ctl = Controller(world, 'overlap')
    base = os.path.join(world.site_user.pw_dir, 'scratch-overlap')
    ctl.write_inventory('rt-overlap', [
        ('site-a', '127.0.0.2', site_settings(world, base + '-a', [cluster], 'relay')),
        ('site-b', '127.0.0.3', site_settings(world, base + '-b', 'ClusterId == %d' % cluster, 'relay')),
    ])
    out = ctl.run('round_trip', expect_failure=True)
    assert 'are selected by another site too' in out and '%d.0' % cluster in out
    jobs = home_jobs(world, [cluster])
    assert len(jobs) == 2 and all(j['Managed'] == 'undefined' and j['JobStatus'] == '1' for j in jobs.values())
    for site in ('site-a', 'site-b'):
        assert not os.path.exists(os.path.join(ctl.dir, 'schedd', 'rt-overlap', site, 'export', a.pw_name,
                                               'job_queue.log'))
        assert 'exported' not in ctl.record('rt-overlap', site).get('phases', {})
    world.home.run(['condor_rm', str(cluster)])


def test_abort_after_the_launch_brings_the_jobs_back_idle(world):
    a = world.owners[0]
    os.makedirs('%s/abort' % a.pw_dir)
    os.chown('%s/abort' % a.pw_dir, a.pw_uid, a.pw_gid)
    cluster = world.home.submit(SUBMIT_LONG.format(home=a.pw_dir).replace('/long', '/abort'), a.pw_name,
                                cwd=a.pw_dir)
    ctl = Controller(world, 'abort')
    base = os.path.join(world.site_user.pw_dir, 'scratch-abort')
    # the site fetches from the schedd host (pull) with a key of its own
    key = os.path.join(world.site_user.pw_dir, 'pull_key')
    subprocess.run(['cp', world.sshd.key, key], check=True)
    os.chown(key, world.site_user.pw_uid, world.site_user.pw_gid)
    settings = site_settings(world, base, [cluster], 'pull')
    settings['lumberjack_pull_ssh'] = 'ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null ' \
                                      '-p %d -i %s' % (world.sshd.port, key)
    ctl.write_inventory('rt-abort', [('site-a', '127.0.0.2', settings)], lumberjack_wait=False)
    ctl.run('round_trip')
    record = ctl.record('rt-abort', 'site-a')
    assert 'launched' in record['phases'] and 'finished' not in record['phases']
    job_id = record['values']['batch_job_id']
    jobs = home_jobs(world, [cluster])
    assert all(j['Managed'] == 'External' for j in jobs.values())

    out = ctl.run('abort')
    assert recap(out)['site-a']['changed'] > 0
    jobs = home_jobs(world, [cluster])
    assert len(jobs) == 2 and all((j['JobStatus'], j['Managed']) == ('1', 'undefined') for j in jobs.values()), jobs
    assert not os.path.exists(os.path.join(base, 'rt-abort-site-a'))
    assert job_id not in world.slurm.run('squeue', '-h', '-o', '%i').stdout.split()
    assert 'aborted' in ctl.record('rt-abort', 'site-a')['phases']
    # an aborted run stays aborted, and says so
    out = ctl.run('abort')
    assert recap(out)['site-a']['changed'] == 0
    out = ctl.run('round_trip', expect_failure=True)
    assert 'was aborted here' in out
    world.home.run(['condor_rm', str(cluster)])
