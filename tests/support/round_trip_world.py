# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A schedd host and HPC sites on one machine, reached over a real sshd on loopback (the round-trip suite,
its benchmark and the demo use it).

- the schedd host is root@127.0.0.1: a real personal HTCondor (collector and schedd) whose condor_config is
  where HTCondor looks by default (/etc/condor/condor_config, put back afterwards), with jobs of two ordinary
  owners;
- the sites are an ordinary account (no root, no sudo, Debian's /usr/bin/python3 without the htcondor
  bindings) at 127.0.0.2 and 127.0.0.3, with their own base directories, submitting to a real one-node Slurm;
  the pilot starts the minicondor from the same HTCondor binaries (/opt/condor), given by path;
- the controller is this process's ansible-playbook, as root, with the inventory the test writes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile

import yaml

from ansible_collections.hepcloud.lumberjack.tests.support.condor_pool import PersonalPool, condor_available
from ansible_collections.hepcloud.lumberjack.tests.support.playbook import ROOT, collections_path
from ansible_collections.hepcloud.lumberjack.tests.support.slurm_cluster import SlurmCluster, missing_requirements
from ansible_collections.hepcloud.lumberjack.tests.support.sshd import LoopbackSshd, sshd_missing

ETC_CONFIG = '/etc/condor/condor_config'


def missing():
    """Why this machine cannot build the world, or None."""
    return _reason()


def _reason():
    if os.geteuid() != 0:
        return 'the round-trip suite needs root (users, an sshd, a home pool and Slurm)'
    if not condor_available():
        return ('condor_master is not on PATH: the round-trip suite runs real HTCondor pools (install HTCondor, '
                'e.g. in /opt/condor)')
    for program in ('useradd', 'sudo', 'rsync', 'tar'):
        if shutil.which(program) is None:
            return '%s is missing' % program
    return sshd_missing() or missing_requirements()


def _add_user(prefix):
    name = '%s%s' % (prefix, secrets.token_hex(3))
    subprocess.run(['useradd', '--create-home', '--shell', '/bin/sh', '--user-group', name], check=True)
    pw = pwd.getpwnam(name)
    os.chmod(pw.pw_dir, 0o755)
    return pw


class World(object):
    pass


@contextlib.contextmanager
def round_trip_world(keep_env='LJ_KEEP_ROUND_TRIP_DIR'):
    """Yields a World: base, owners (two pwd entries), site_user, slurm, home (the schedd's pool), sshd."""
    w = World()
    w.base = tempfile.mkdtemp(prefix='lj-roundtrip-', dir='/tmp')
    os.chmod(w.base, 0o755)
    users = []
    saved_config = None
    w.slurm = w.home = w.sshd = None
    try:
        w.owners = [_add_user('ljown'), _add_user('ljown')]
        w.site_user = _add_user('ljhpc')
        users = w.owners + [w.site_user]
        w.slurm = SlurmCluster(base_dir=w.base).start()
        w.home = PersonalPool(os.path.join(w.base, 'home'), name='home', daemons=('COLLECTOR', 'SCHEDD'))
        w.home.start()
        # the schedd host's own HTCondor: the modules find it without condor_config
        if os.path.exists(ETC_CONFIG):
            saved_config = ETC_CONFIG + '.lumberjack-test-saved'
            os.rename(ETC_CONFIG, saved_config)
        os.makedirs(os.path.dirname(ETC_CONFIG), exist_ok=True)
        with open(ETC_CONFIG, 'w') as f:
            f.write('include : %s\n' % w.home.config_file)
        w.sshd = LoopbackSshd(w.base, addresses=('127.0.0.1', '127.0.0.2', '127.0.0.3'),
                              users=('root', w.site_user.pw_name),
                              environment={'SLURM_CONF': w.slurm.conf}).start()
        yield w
    finally:
        if w.sshd:
            w.sshd.stop()
        if w.slurm:
            w.slurm.stop()
        if w.home:
            w.home.stop()
        if os.path.exists(ETC_CONFIG):
            os.remove(ETC_CONFIG)
        if saved_config:
            os.rename(saved_config, ETC_CONFIG)
        for pw in users:
            subprocess.run(['pkill', '-KILL', '-u', pw.pw_name], check=False)
            subprocess.run(['userdel', '--remove', pw.pw_name], check=False, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        if not os.environ.get(keep_env):
            shutil.rmtree(w.base, ignore_errors=True)


SCHEDD_PYTHON = os.path.join(ROOT, '.venv', 'bin', 'python')
ATTRS = ('ClusterId', 'ProcId', 'JobStatus', 'ExitCode', 'Managed', 'ManagedManager', 'Owner', 'RemoteWallClockTime')


# the sites' minicondors: short cycles, so the suite's jobs start and end quickly
POOL_CONFIG = {'NUM_CPUS': 4, 'SCHEDD_INTERVAL': 5, 'NEGOTIATOR_INTERVAL': 2, 'NEGOTIATOR_CYCLE_DELAY': 2,
               'UPDATE_INTERVAL': 5, 'STARTER_UPDATE_INTERVAL': 5, 'MASTER_UPDATE_INTERVAL': 5, 'RUNBENCHMARKS': 0}


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
        inventory = {'all': {
            'vars': dict({'lumberjack_run_id': run_id, 'lumberjack_pool_config': POOL_CONFIG,
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
                   ANSIBLE_LOCAL_TEMP=os.path.join(self.dir, 'tmp'), ANSIBLE_FORKS='10', ANSIBLE_PIPELINING='true')
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
