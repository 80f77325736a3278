# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the pilot suite: an ordinary site account, real exports from a real home pool, and run
directories laid out as the run-directory contract says (what minicondor_sandbox writes)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'support'))

from condor_pool import PersonalPool, condor_available, install_layout  # noqa: E402  pylint: disable=wrong-import-position,import-error

UID_DOMAIN = 'lumberjack.test'
SUBMIT = '''\
executable = /bin/sh
transfer_executable = false
arguments = "-c 'echo job $(Cluster).$(Process) ran as $(id -un); sleep {seconds}'"
output = out.$(Cluster).$(Process)
error = err.$(Cluster).$(Process)
should_transfer_files = NO
request_memory = 16
request_disk = 1024
queue {count}
'''


def need_condor():
    if os.geteuid() != 0:
        pytest.skip('the pilot suite needs root (it creates a site account and runs a home pool)')
    if not condor_available():
        pytest.skip('condor_master is not on PATH: the pilot suite runs the real HTCondor (/opt/condor)')
    for program in ('useradd', 'sudo'):
        if not shutil.which(program):
            pytest.skip('%s is missing: the suite runs the role as an ordinary account' % program)


@pytest.fixture(scope='session')
def base():
    d = tempfile.mkdtemp(prefix='lj-pilot-it-', dir='/tmp')
    os.chmod(d, 0o755)
    yield d
    # LJ_KEEP_PILOT_DIR=1 keeps the run directories (configs, daemon logs, pilot output) for a look
    if not os.environ.get('LJ_KEEP_PILOT_DIR'):
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope='session')
def site_user():
    """The ordinary account that owns the run directories and runs the pilot (no root)."""
    need_condor()
    name = 'ljpilot%s' % secrets.token_hex(3)
    subprocess.run(['useradd', '--create-home', '--shell', '/bin/sh', '--user-group', name], check=True)
    pw = pwd.getpwnam(name)
    os.chmod(pw.pw_dir, 0o755)
    yield pw
    subprocess.run(['pkill', '-KILL', '-u', name], check=False)
    subprocess.run(['userdel', '--remove', name], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Exports(object):
    """Logs exported by a real home schedd: `short` (cluster of 2 one-second jobs), `mixed` (one one-second
    job and one 600-second job, in two clusters)."""


@pytest.fixture(scope='session')
def exports(base, site_user):
    e = Exports()
    e.work = os.path.join(site_user.pw_dir, 'work')
    os.makedirs(e.work)
    os.chown(e.work, site_user.pw_uid, site_user.pw_gid)
    pool = PersonalPool(os.path.join(base, 'home'), name='home', daemons=('COLLECTOR', 'SCHEDD'),
                        uid_domain=UID_DOMAIN)
    pool.start()
    try:
        short = pool.submit(SUBMIT.format(seconds=1, count=2), site_user.pw_name, cwd=e.work)
        quick = pool.submit(SUBMIT.format(seconds=1, count=1), site_user.pw_name, cwd=e.work)
        long_ = pool.submit(SUBMIT.format(seconds=600, count=1), site_user.pw_name, cwd=e.work)
        e.short = _export(pool, base, 'short', [short], site_user)
        e.mixed = _export(pool, base, 'mixed', [quick, long_], site_user)
        e.short_ids = ['%d.0' % short, '%d.1' % short]
        e.quick_id, e.long_id = '%d.0' % quick, '%d.0' % long_
    finally:
        pool.stop()
    return e


def _export(pool, base, name, clusters, user):
    d = os.path.join(base, 'export-' + name)
    os.mkdir(d)
    os.chown(d, user.pw_uid, user.pw_gid)
    code = ('import sys, htcondor2\n'
            'r = htcondor2.Schedd().export_jobs(%r, %r, "/tmp/lj-pilot-unused-spool")\n'
            'assert r["ActionResult"] == 1, r\n' % (['%d.0' % c for c in clusters], d))
    pool.run([sys.executable, '-c', code])
    return os.path.join(d, 'job_queue.log')


def condor_config_text(run_dir, run_id, uid_domain=UID_DOMAIN):
    """The run directory's condor_config as the run-directory contract describes it: a personal pool run by
    the site account, everything under RUN_DIR, a collector on a dynamic port that writes its address file."""
    local = os.path.join(run_dir, 'local_dir')
    lines = ['%s = %s' % kv for kv in install_layout()] + [
        'LOCAL_DIR = %s' % local,
        'LOCAL_CONFIG_FILE =',
        'LOCAL_CONFIG_DIR =',
        'REQUIRE_LOCAL_CONFIG_FILE = False',
        'LOG = $(LOCAL_DIR)/log',
        'SPOOL = $(LOCAL_DIR)/spool',
        'EXECUTE = $(LOCAL_DIR)/execute',
        'LOCK = $(LOCAL_DIR)/lock',
        'RUN = $(LOCAL_DIR)/run',
        'SEC_PASSWORD_DIRECTORY = %s/passwords.d' % local,
        'SEC_TOKEN_SYSTEM_DIRECTORY = %s/tokens.d' % local,
        'DAEMON_LIST = MASTER COLLECTOR NEGOTIATOR SCHEDD STARTD',
        'CONDOR_HOST = 127.0.0.1',
        'COLLECTOR_HOST = $(CONDOR_HOST):0',
        'COLLECTOR_ADDRESS_FILE = $(LOG)/.collector_address',
        'NETWORK_INTERFACE = 127.0.0.1',
        'BIND_ALL_INTERFACES = False',
        'ENABLE_IPV6 = False',
        'USE_SHARED_PORT = False',
        'COLLECTOR_NAME = %s' % run_id,
        'MASTER_NAME = %s' % run_id,
        'SCHEDD_NAME = %s' % run_id,
        'STARTD_NAME = %s' % run_id,
        'UID_DOMAIN = %s' % uid_domain,
        'FILESYSTEM_DOMAIN = %s' % uid_domain,
        'TRUST_DOMAIN = %s' % uid_domain,
        'use security:recommended',
        'ALLOW_DAEMON = $(ALLOW_DAEMON) $(USERNAME)@*',
        'ALLOW_NEGOTIATOR = $(ALLOW_NEGOTIATOR) $(USERNAME)@*',
        'ALLOW_ADMINISTRATOR = $(ALLOW_ADMINISTRATOR) $(USERNAME)@*',
        'SCHEDD_INTERVAL = 5',
        'NEGOTIATOR_INTERVAL = 2',
        'NEGOTIATOR_CYCLE_DELAY = 5',
        'UPDATE_INTERVAL = 5',
        'STARTER_UPDATE_INTERVAL = 5',
        'SHADOW_QUEUE_UPDATE_INTERVAL = 5',
        'RUNBENCHMARKS = 0',
        'START = TRUE',
        'SUSPEND = FALSE',
        'PREEMPT = FALSE',
        'KILL = FALSE',
        'WANT_SUSPEND = FALSE',
        'WANT_VACATE = FALSE',
        'MASTER_UPDATE_INTERVAL = 5',
    ]
    return '\n'.join(lines) + '\n'


def make_run_dir(parent, user, job_log):
    """RUN_DIR = parent/run-XXXX owned by `user`: condor_config, local_dir/{log,spool,...}, sandbox/ and the
    exported log as local_dir/spool/job_queue.log (0600)."""
    run_id = 'run-%s' % secrets.token_hex(3)
    run_dir = os.path.join(parent, run_id)
    local = os.path.join(run_dir, 'local_dir')
    dirs = [run_dir, local, os.path.join(run_dir, 'sandbox')] + [
        os.path.join(local, d) for d in ('log', 'spool', 'execute', 'lock', 'run', 'passwords.d', 'tokens.d')]
    for d in dirs:
        os.makedirs(d)
        os.chmod(d, 0o700 if d.endswith('.d') else 0o755)
        os.chown(d, user.pw_uid, user.pw_gid)
    config = os.path.join(run_dir, 'condor_config')
    with open(config, 'w') as f:
        f.write(condor_config_text(run_dir, run_id))
    os.chmod(config, 0o644)
    os.chown(config, user.pw_uid, user.pw_gid)
    dest = os.path.join(local, 'spool', 'job_queue.log')
    shutil.copyfile(job_log, dest)
    os.chmod(dest, 0o600)
    os.chown(dest, user.pw_uid, user.pw_gid)
    return run_dir


def run_processes(run_dir):
    """Pids of processes started from RUN_DIR/condor_config (daemons, shadows, starters) or running its
    pilot."""
    marker = ('CONDOR_CONFIG=%s/condor_config' % run_dir).encode()
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open('/proc/%s/environ' % entry, 'rb') as f:
                if marker in f.read().split(b'\0'):
                    found.append(int(entry))
        except (IOError, OSError):
            continue
    return found


def wait_no_processes(run_dir, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        left = run_processes(run_dir)
        if not left:
            return []
        time.sleep(1)
    return run_processes(run_dir)


def read_result(run_dir):
    with open(os.path.join(run_dir, 'pilot.result')) as f:
        return dict(line.split('=', 1) for line in f.read().splitlines() if '=' in line)


def job_states(job_log):
    """{job id: JobStatus} from a job_queue.log, through the collection's own engine."""
    from ansible_collections.hepcloud.lumberjack.plugins.module_utils import _queue_log as ql
    state = ql.replay(job_log)
    return dict((ql.job_id(k), int(state.job_attr(k, 'JobStatus', 1))) for k in state.job_keys())


@pytest.fixture
def sites(base, site_user):
    """A shared-storage area owned by the site account for this test's run directories."""
    d = tempfile.mkdtemp(prefix='sites-', dir=base)
    os.chmod(d, 0o755)
    os.chown(d, site_user.pw_uid, site_user.pw_gid)
    return d
