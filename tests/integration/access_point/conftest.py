# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The access point of the suite: a real personal pool, an ordinary user with a token of it, a client config
with nothing but the collector and IDTOKENS."""

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

JOB = '''#!/bin/sh
echo "job $1 ran as $(id -un)"
echo "input: $(cat in.txt)"
echo "result of job $1" > result.txt
'''


def _skip_reason():
    if not condor_available():
        return ('condor_master is not on PATH: this suite starts a real HTCondor pool (install HTCondor, '
                'e.g. in /opt/condor, and put its bin and sbin on PATH)')
    if os.geteuid() != 0:
        return 'starting an HTCondor pool and creating users needs root'
    if shutil.which('sudo') is None:
        return 'the modules run as an ordinary user through sudo (become)'
    return None


def _repo():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


class AccessPoint(object):
    pass


def _chown(path, uid, gid):
    os.chown(path, uid, gid)


@pytest.fixture(scope='session')
def ap_user():
    """An ordinary local user with a home directory others may enter."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    user = 'ljap-%s' % uuid.uuid4().hex[:8]
    subprocess.check_call(['useradd', '--create-home', '--shell', '/bin/sh', '--user-group', user])
    try:
        yield user
    finally:
        subprocess.call(['userdel', '--remove', user], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope='session')
def ap(ap_user):
    a = AccessPoint()
    a.user = ap_user
    pw = pwd.getpwnam(a.user)
    a.uid, a.gid, a.home = pw.pw_uid, pw.pw_gid, pw.pw_dir
    os.chmod(a.home, 0o755)
    a.base = tempfile.mkdtemp(prefix='ljtest-ap-', dir='/tmp')
    os.chmod(a.base, 0o755)
    a.oauth_dir = os.path.join(a.base, 'ap', 'local', 'oauth_credentials')
    a.pool = PersonalPool(os.path.join(a.base, 'ap'), name='ap',
                          daemons=('COLLECTOR', 'NEGOTIATOR', 'SCHEDD', 'STARTD', 'CREDD'),
                          config={'SEC_CREDENTIAL_DIRECTORY_OAUTH': a.oauth_dir})
    try:
        a.pool.prepare()
        # the credd's OAuth directory: root's, the daemon group may enter (as an HTCondor package sets it up)
        os.mkdir(a.oauth_dir)
        os.chown(a.oauth_dir, 0, pwd.getpwnam(a.pool.condor_user).pw_gid)
        os.chmod(a.oauth_dir, 0o2770)
        a.pool.start()

        def credd_listed():
            argv = ['condor_status', '-any', '-constraint', 'MyType == "CredD"', '-af', 'Name']
            return a.pool.run(argv, check=False).stdout.strip()
        a.pool.wait_for(credd_listed, timeout=60, what='the credd in the collector')
        # the token, minted by the access point for the user, in the user's own tokens directory
        a.token = a.pool.run(['condor_token_create', '-identity', '%s@%s' % (a.user, a.pool.uid_domain)]).stdout.strip()
        tokens = os.path.join(a.home, '.condor', 'tokens.d')
        os.makedirs(tokens, 0o700)
        for path in (os.path.dirname(tokens), tokens):
            _chown(path, a.uid, a.gid)
            os.chmod(path, 0o700)
        a.token_file = os.path.join(tokens, 'ap')
        fd = os.open(a.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'w') as f:
            f.write(a.token + '\n')
        _chown(a.token_file, a.uid, a.gid)
        # the client knows the collector and offers IDTOKENS, nothing else
        a.client_config = os.path.join(a.base, 'client_config')
        with open(a.client_config, 'w') as f:
            f.write('COLLECTOR_HOST = %s\nSEC_CLIENT_AUTHENTICATION_METHODS = IDTOKENS\n' % a.pool.collector_host)
        os.chmod(a.client_config, 0o644)
        # the submit directory: the job script and its input
        a.work = os.path.join(a.home, 'work')
        os.mkdir(a.work)
        with open(os.path.join(a.work, 'job.sh'), 'w') as f:
            f.write(JOB)
        with open(os.path.join(a.work, 'in.txt'), 'w') as f:
            f.write('hello from the submit host\n')
        os.chmod(os.path.join(a.work, 'job.sh'), 0o755)
        for name in ('', 'job.sh', 'in.txt'):
            _chown(os.path.join(a.work, name), a.uid, a.gid)
        a.runner = PlaybookRunner(os.path.join(a.base, 'ansible'), collection_root=_repo())
        proc = subprocess.run(['sudo', '-u', a.user, '-H', a.runner.python, '-c', 'import htcondor2, ansible'],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
        if proc.returncode != 0:
            pytest.fail('%s cannot use %s to import htcondor2 (%s): the virtual environment and every directory '
                        'above it must be readable by other users' % (a.user, a.runner.python, proc.stdout.strip()[-300:]))
        yield a
    finally:
        a.pool.stop()
        shutil.rmtree(a.base, ignore_errors=True)
