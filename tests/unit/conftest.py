# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the unit tests: real local users, shared scratch directories, the fake schedd."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import subprocess
import sys
import tempfile
import uuid

import pytest

from ansible_collections.hepcloud.lumberjack.tests.unit.utils.fake_htcondor import FakeQueue, make_module


def _useradd(name):
    subprocess.check_call(['useradd', '--create-home', '--shell', '/bin/sh', '--user-group', name])
    home = os.path.expanduser('~' + name)
    os.chmod(home, 0o755)


def _userdel(name):
    subprocess.call(['userdel', '--remove', name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Users(object):
    """Two ordinary local users, created once for the whole test run (names start with ljtest)."""

    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.alice = 'ljtest-%s-a' % tag
        self.bob = 'ljtest-%s-b' % tag


@pytest.fixture(scope='session')
def users():
    if os.geteuid() != 0:
        pytest.skip('these tests create local users and switch to them: run them as root')
    if not shutil.which('useradd'):
        pytest.skip('useradd is not available')
    u = Users()
    created = []
    try:
        for name in (u.alice, u.bob):
            _useradd(name)
            created.append(name)
        yield u
    finally:
        for name in created:
            _userdel(name)


@pytest.fixture(scope='session')
def condor_config():
    """An empty HTCondor configuration every user can read (the fake schedd does not need more)."""
    d = tempfile.mkdtemp(prefix='ljtest-unit-config-', dir='/tmp')
    os.chmod(d, 0o755)
    path = os.path.join(d, 'condor_config')
    with open(path, 'w') as f:
        f.write('# empty: the unit tests talk to a fake schedd\n')
    os.chmod(path, 0o644)
    yield path
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def workdir():
    """A scratch directory every user can create files in, like /tmp (pytest's tmp_path is private to root)."""
    d = tempfile.mkdtemp(prefix='ljtest-unit-', dir='/tmp')
    os.chmod(d, 0o1777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(autouse=True)
def _restore_environment():
    """The modules set CONDOR_CONFIG and _CONDOR_* before importing the bindings; undo it after each test."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def queue(monkeypatch):
    """The fake schedd's queue, installed as the htcondor2 module the modules import."""
    q = FakeQueue()
    monkeypatch.setitem(sys.modules, 'htcondor2', make_module(q))
    return q
