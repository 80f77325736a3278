# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the glidein suite: a real home pool without a startd, a real one-node Slurm, a pilot owner and a
job submitter (ordinary users created for the session), and an IDTOKEN minted by the home pool."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'support'))

from condor_pool import PersonalPool, condor_available  # noqa: E402  pylint: disable=wrong-import-position,import-error
from slurm_cluster import start_or_skip  # noqa: E402  pylint: disable=wrong-import-position,import-error

UID_DOMAIN = 'lumberjack.test'
PILOT_AUTHZ = ('ADVERTISE_STARTD', 'ADVERTISE_MASTER', 'READ', 'DAEMON')


def _need_root_tools():
    if os.geteuid() != 0:
        pytest.skip('the glidein suite runs as root (it starts daemons and creates users)')
    if not condor_available():
        pytest.skip('condor_master is not on PATH: HTCondor is not installed (or /opt/condor/sbin is not on PATH)')
    for tool in ('useradd', 'sudo'):
        if not shutil.which(tool):
            pytest.skip('%s is missing: the suite creates users and becomes them' % tool)


@pytest.fixture(scope='session')
def slurm(request):
    _need_root_tools()
    return start_or_skip(request, accounting=False, min_job_age=2)


@pytest.fixture(scope='session')
def home(request, tmp_path_factory):
    """The home pool: collector, negotiator and schedd, no startd, started as root."""
    _need_root_tools()
    root = tempfile.mkdtemp(prefix='lj-glidein-home-')
    os.chmod(root, 0o755)
    pool = PersonalPool(os.path.join(root, 'pool'), name='home', daemons=('COLLECTOR', 'NEGOTIATOR', 'SCHEDD'),
                        uid_domain=UID_DOMAIN)
    request.addfinalizer(lambda: shutil.rmtree(root, ignore_errors=True))
    request.addfinalizer(pool.stop)
    pool.start()
    return pool


@pytest.fixture(scope='session')
def idtoken(home):
    """A token for the pilots' daemons, signed by the home pool (the identity and authz of the facts file)."""
    args = ['condor_token_create', '-identity', 'condor@%s' % UID_DOMAIN, '-lifetime', '3600']
    for authz in PILOT_AUTHZ:
        args += ['-authz', authz]
    token = home.run(args).stdout.strip()
    assert token.count('.') == 2, 'condor_token_create printed no token: %r' % token
    return token


def _user(request, prefix, before_removal=None):
    """An ordinary account, removed after the session: first `before_removal()`, then whatever the account
    still runs (jobs, shadows) is given 45 s to end and killed, so that userdel can remove it."""
    name = '%s%s' % (prefix, secrets.token_hex(3))
    subprocess.run(['useradd', '--create-home', '--shell', '/bin/bash', name], check=True)
    user = pwd.getpwnam(name)

    def remove():
        if before_removal is not None:
            before_removal(user)
        deadline = time.time() + 45
        while _processes_of(user.pw_uid) and time.time() < deadline:
            time.sleep(1)
        for pid in _processes_of(user.pw_uid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(1)
        subprocess.run(['userdel', '--remove', name], check=False, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    request.addfinalizer(remove)
    return user


def _processes_of(uid):
    pids = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                if os.stat('/proc/' + entry).st_uid == uid:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


@pytest.fixture(scope='session')
def pilot_user(request, slurm):
    """The site account the pilots run as (an ordinary user). After the session, while Slurm still runs, its
    pilots are cancelled (a failed test may leave some) before the account is removed."""
    _need_root_tools()
    return _user(request, 'ljpilot', before_removal=lambda user: slurm.run('scancel', '-u', user.pw_name))


@pytest.fixture(scope='session')
def submitter(request, home):
    """A user who submits jobs to the home schedd; its jobs are removed before the account is."""
    return _user(request, 'ljsub', before_removal=lambda user: home.run(
        ['condor_rm', '-all'], user=user.pw_name, check=False))


@pytest.fixture(scope='session')
def workdir(request):
    d = tempfile.mkdtemp(prefix='lj-glidein-it-')
    os.chmod(d, 0o755)
    request.addfinalizer(lambda: shutil.rmtree(d, ignore_errors=True))
    return d
