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

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'support'))

from condor_pool import PersonalPool, condor_available  # noqa: E402  pylint: disable=wrong-import-position,import-error
from pilot_run_dir import UID_DOMAIN, export_queue  # noqa: E402  pylint: disable=wrong-import-position,import-error

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
    return export_queue(pool, os.path.join(base, 'export-' + name), clusters, user)


@pytest.fixture
def sites(base, site_user):
    """A shared-storage area owned by the site account for this test's run directories."""
    d = tempfile.mkdtemp(prefix='sites-', dir=base)
    os.chmod(d, 0o755)
    os.chown(d, site_user.pw_uid, site_user.pw_gid)
    return d
