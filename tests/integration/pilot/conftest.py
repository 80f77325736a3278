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

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'support'))

from condor_pool import condor_available  # noqa: E402  pylint: disable=wrong-import-position,import-error
from pilot_run_dir import base_dir, export_samples, sites_dir  # noqa: E402  pylint: disable=wrong-import-position,import-error


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
    yield from base_dir('lj-pilot-it-')


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


@pytest.fixture(scope='session')
def exports(base, site_user):
    return export_samples(base, site_user)


@pytest.fixture
def sites(base, site_user):
    return sites_dir(base, site_user)
