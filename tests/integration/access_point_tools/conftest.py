# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the access point tools suite: two real local users, a real personal HTCondor pool (with a
startd, so jobs run and reach the history) and a runner of real ansible-playbook tasks."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid

import pytest

from ansible_collections.hepcloud.lumberjack.tests.support.condor_pool import PersonalPool, condor_available
from ansible_collections.hepcloud.lumberjack.tests.support.playbook import PlaybookRunner

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))


def _skip_reason():
    if os.geteuid() != 0:
        return 'creating users and starting an HTCondor pool needs root'
    if not condor_available():
        return ('condor_master is not on PATH: this suite starts a real HTCondor pool (install HTCondor, e.g. in '
                '/opt/condor, and put its bin and sbin on PATH)')
    return None


class User(object):

    def __init__(self, name):
        self.name = name
        pw = pwd.getpwnam(name)
        self.uid, self.gid, self.home = pw.pw_uid, pw.pw_gid, pw.pw_dir

    def file(self, relpath, text, mode=0o644):
        path = os.path.join(self.home, relpath)
        if not os.path.isdir(os.path.dirname(path)):
            os.makedirs(os.path.dirname(path))
            os.chown(os.path.dirname(path), self.uid, self.gid)
        with open(path, 'w') as f:
            f.write(text)
        os.chmod(path, mode)
        os.chown(path, self.uid, self.gid)
        return path


@pytest.fixture(scope='session')
def base():
    why = _skip_reason()
    if why:
        pytest.skip(why)
    path = tempfile.mkdtemp(prefix='ljtest-ap-', dir='/tmp')
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope='session')
def users(base):
    """Two ordinary local users with homes, removed afterwards."""
    tag = uuid.uuid4().hex[:6]
    names = ['ljap-a-%s' % tag, 'ljap-b-%s' % tag]
    made = []
    try:
        for name in names:
            subprocess.check_call(['useradd', '--create-home', '--shell', '/bin/sh', '--user-group', name])
            made.append(name)
            user = User(name)
            os.chmod(user.home, 0o755)
        yield [User(n) for n in names]
    finally:
        for name in made:
            subprocess.call(['userdel', '--remove', name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope='session')
def pool(base, users):
    p = PersonalPool(os.path.join(base, 'pool'), name='ap')
    try:
        p.start()
        yield p
    finally:
        p.stop()


@pytest.fixture(scope='session')
def runner(base):
    return PlaybookRunner(os.path.join(base, 'ansible'), collection_root=ROOT)
