# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run directories for the pilot suite, laid out as the run-directory contract says (what minicondor_sandbox
writes), and what the tests look at afterwards: the processes of a run, pilot.result, job states in a log.

Needs root to create files owned by the site account. Standard library and the collection's own engine only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import secrets
import shutil
import sys
import tempfile
import time

from condor_pool import PersonalPool, install_layout  # pylint: disable=import-error

UID_DOMAIN = 'lumberjack.test'

# the pilot suites' jobs: each says where it ran and as whom, then sleeps
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


def base_dir(prefix):
    """A session's scratch directory under /tmp (a generator for a fixture to yield from); LJ_KEEP_PILOT_DIR=1
    keeps it (configs, daemon logs, pilot output) for a look."""
    d = tempfile.mkdtemp(prefix=prefix, dir='/tmp')
    os.chmod(d, 0o755)
    yield d
    if not os.environ.get('LJ_KEEP_PILOT_DIR'):
        shutil.rmtree(d, ignore_errors=True)


def sites_dir(base, user):
    """A shared-storage area owned by the site account `user` for one test's run directories."""
    d = tempfile.mkdtemp(prefix='sites-', dir=base)
    os.chmod(d, 0o755)
    os.chown(d, user.pw_uid, user.pw_gid)
    return d


class Exports(object):
    """Logs exported by a real home schedd: `short` (cluster of 2 one-second jobs), `mixed` (one one-second
    job and one 600-second job, in two clusters); `work` is the jobs' directory (their Iwd)."""


def export_samples(base, user):
    """Submit the sample jobs as `user` (Iwd ~user/work) to a throw-away home pool under `base`, export them
    as `short` and `mixed`, stop the pool; returns the Exports."""
    e = Exports()
    e.work = os.path.join(user.pw_dir, 'work')
    os.makedirs(e.work)
    os.chown(e.work, user.pw_uid, user.pw_gid)
    pool = PersonalPool(os.path.join(base, 'home'), name='home', daemons=('COLLECTOR', 'SCHEDD'),
                        uid_domain=UID_DOMAIN)
    pool.start()
    try:
        short = pool.submit(SUBMIT.format(seconds=1, count=2), user.pw_name, cwd=e.work)
        quick = pool.submit(SUBMIT.format(seconds=1, count=1), user.pw_name, cwd=e.work)
        long_ = pool.submit(SUBMIT.format(seconds=600, count=1), user.pw_name, cwd=e.work)
        e.short = export_queue(pool, os.path.join(base, 'export-short'), [short], user)
        e.mixed = export_queue(pool, os.path.join(base, 'export-mixed'), [quick, long_], user)
        e.short_ids = ['%d.0' % short, '%d.1' % short]
        e.quick_id, e.long_id = '%d.0' % quick, '%d.0' % long_
    finally:
        pool.stop()
    return e


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


def export_queue(pool, directory, clusters, user):
    """Export the clusters (ids) of a running home `pool` into `directory` (made, owned by `user`) with
    Schedd.export_jobs, as the export role does; returns the exported job_queue.log."""
    os.mkdir(directory)
    os.chown(directory, user.pw_uid, user.pw_gid)
    code = ('import sys, htcondor2\n'
            'r = htcondor2.Schedd().export_jobs(%r, %r, "/tmp/lj-pilot-unused-spool")\n'
            'assert r["ActionResult"] == 1, r\n' % (['%d.0' % c for c in clusters], directory))
    pool.run([sys.executable, '-c', code])
    return os.path.join(directory, 'job_queue.log')


def make_run_dir(parent, user, job_log, run_id=None):
    """RUN_DIR = parent/RUN_ID (default run-XXXX) owned by `user`: condor_config, local_dir/{log,spool,...},
    sandbox/ and the exported log as local_dir/spool/job_queue.log (0600)."""
    run_id = run_id or 'run-%s' % secrets.token_hex(3)
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


def command_names(pids):
    """The command names of those of `pids` that still run."""
    names = []
    for pid in pids:
        try:
            with open('/proc/%d/comm' % pid) as f:
                names.append(f.read().strip())
        except (IOError, OSError):
            continue
    return names


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
