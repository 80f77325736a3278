# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared fixtures of the unit tests.

job_queue.log engine: the real samples in tests/data and log files to write.
Schedd modules: real local users, shared scratch directories, the fake schedd.
"""

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

DATA_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'data'))
SAMPLE_NAMES = ('spooled_submit', 'export_two_clusters', 'hpc_after_run')


def sample_path(name):
    path = os.path.join(DATA_DIR, name + '.job_queue.log')
    if not os.path.isfile(path):
        raise LookupError('no sample %s in %s' % (name, DATA_DIR))
    return path


@pytest.fixture
def sample():
    """sample('export_two_clusters') -> path of tests/data/export_two_clusters.job_queue.log (read only)."""
    return sample_path


@pytest.fixture(params=SAMPLE_NAMES)
def any_sample(request):
    """Each real sample in turn: (name, path)."""
    return request.param, sample_path(request.param)


@pytest.fixture
def write_log(tmp_path):
    """write_log(lines_or_bytes, newline=True, name='job_queue.log') -> path of a new log file.

    A list of str lines is joined with newlines (and ends with one unless newline=False); bytes or str are
    written as they are (str as UTF-8)."""
    counter = [0]

    def write(content, newline=True, name=None):
        counter[0] += 1
        path = tmp_path / (name or 'job_queue-%d.log' % counter[0])
        if isinstance(content, (list, tuple)):
            content = '\n'.join(content) + ('\n' if newline and content else '')
        if not isinstance(content, bytes):
            content = content.encode('utf-8', 'surrogateescape')
        path.write_bytes(content)
        return str(path)

    return write


class ScratchLog(object):
    """Files that each hypothesis example overwrites: write(data, name='log') -> path."""

    def __init__(self, directory):
        self.directory = directory

    def path(self, name='log'):
        return str(self.directory / (name + '.job_queue.log'))

    def write(self, data, name='log'):
        if not isinstance(data, bytes):
            data = data.encode('utf-8', 'surrogateescape')
        path = self.path(name)
        with open(path, 'wb') as f:
            f.write(data)
        return path


@pytest.fixture(scope='session')
def scratch_log(tmp_path_factory):
    """A ScratchLog for property tests (session scoped: hypothesis runs many examples per test call)."""
    return ScratchLog(tmp_path_factory.mktemp('scratch'))


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
