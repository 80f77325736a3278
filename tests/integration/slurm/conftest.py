# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the suites that run batch_job through ansible-playbook against a real one-node Slurm."""

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

from playbook import Playbook  # noqa: E402  pylint: disable=wrong-import-position,import-error
from slurm_cluster import start_or_skip  # noqa: E402  pylint: disable=wrong-import-position,import-error


@pytest.fixture(scope='session')
def slurm(request):
    """A cluster with accounting (slurmdbd + MariaDB), so sacct answers; it forgets ended jobs quickly."""
    return start_or_skip(request, accounting=True, min_job_age=2)


@pytest.fixture(scope='session')
def slurm_no_accounting(request):
    """A cluster without accounting that forgets ended jobs quickly (MinJobAge=2)."""
    return start_or_skip(request, accounting=False, min_job_age=2)


@pytest.fixture(scope='session')
def slurm_jobcomp(request):
    """A cluster without accounting that writes a job completion log (jobcomp/filetxt)."""
    return start_or_skip(request, accounting=False, jobcomp=True, min_job_age=2)


@pytest.fixture
def fresh_slurm(request):
    """A cluster of its own (with accounting), for a test that stops and starts its daemons."""
    return start_or_skip(request, accounting=True, min_job_age=300)


@pytest.fixture(scope='session')
def workdir(request):
    """A directory every user can read (job scripts) with a subdirectory per user for outputs."""
    d = tempfile.mkdtemp(prefix='lj-slurm-it-')
    os.chmod(d, 0o755)
    request.addfinalizer(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


@pytest.fixture(scope='session')
def ordinary_user(request):
    """An ordinary user (ljtest...), created for the session and removed after it."""
    if os.geteuid() != 0 or not shutil.which('useradd') or not shutil.which('sudo'):
        pytest.skip('creating a test user and becoming it needs root, useradd and sudo')
    name = 'ljtest%s' % secrets.token_hex(3)
    subprocess.run(['useradd', '--create-home', '--shell', '/bin/sh', name], check=True)
    request.addfinalizer(lambda: subprocess.run(['userdel', '--remove', name], check=False,
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return pwd.getpwnam(name)


@pytest.fixture
def play(slurm, workdir):
    return Playbook(workdir, dict(SLURM_CONF=slurm.conf), log=lambda: slurm.log('slurmctld'))


@pytest.fixture
def play_no_accounting(slurm_no_accounting, workdir):
    return Playbook(workdir, dict(SLURM_CONF=slurm_no_accounting.conf), log=lambda: slurm_no_accounting.log('slurmctld'))
