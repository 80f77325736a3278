# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""condor_token through ansible-playbook: a token fetched over a real sshd from the access point's
condor_token_fetch, and a token given by value, stored 0600 in the user's tokens directory.

The access point is the suite's personal pool; an sshd of the test's own (loopback, a free port, its own host
key, the user's key authorized, CONDOR_CONFIG of the pool set for the sessions) stands in for the login to it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import socket
import stat
import subprocess
import time

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.modules.condor_token import parse_token
from ansible_collections.hepcloud.lumberjack.tests.support.condor_pool import free_port, which

MODULE = 'hepcloud.lumberjack.condor_token'
SSHD = '/usr/sbin/sshd'


def _as_user(ap, argv):
    return subprocess.run(['sudo', '-u', ap.user, '-H'] + argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=True)


def _wait_port(port, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(('127.0.0.1', port), 1).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


@pytest.fixture(scope='module')
def sshd(ap):
    if not os.path.exists(SSHD) or shutil.which('ssh') is None:
        pytest.skip('openssh-server and openssh-client are needed to fetch a token over ssh')
    d = os.path.join(ap.base, 'sshd')
    os.mkdir(d, 0o700)
    host_key = os.path.join(d, 'host_ed25519')
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', host_key], check=True)
    # the user logs in with a key of their own; with UsePAM no, sshd refuses a locked ("!") password
    subprocess.run(['usermod', '-p', '*', ap.user], check=True)
    ssh_dir = os.path.join(ap.home, '.ssh')
    if not os.path.isdir(ssh_dir):
        _as_user(ap, ['mkdir', '-m', '700', ssh_dir])
    key = os.path.join(ssh_dir, 'id_ap')
    if not os.path.exists(key):
        _as_user(ap, ['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', key])
    _as_user(ap, ['cp', key + '.pub', os.path.join(ssh_dir, 'authorized_keys')])
    _as_user(ap, ['chmod', '600', os.path.join(ssh_dir, 'authorized_keys')])
    port = free_port()
    config = os.path.join(d, 'sshd_config')
    with open(config, 'w') as f:
        f.write('\n'.join([
            'Port %d' % port,
            'ListenAddress 127.0.0.1',
            'HostKey %s' % host_key,
            'PidFile %s' % os.path.join(d, 'sshd.pid'),
            'AuthorizedKeysFile .ssh/authorized_keys',
            'PubkeyAuthentication yes',
            'PasswordAuthentication no',
            'KbdInteractiveAuthentication no',
            'UsePAM no',
            'PermitRootLogin no',
            'AllowUsers %s' % ap.user,
            'StrictModes yes',
            'SetEnv CONDOR_CONFIG=%s' % ap.pool.config_file,
            'LogLevel VERBOSE',
        ]) + '\n')
    if not os.path.isdir('/run/sshd'):
        os.mkdir('/run/sshd', 0o755)          # sshd's privilege separation directory (systemd creates it)
    log = open(os.path.join(d, 'sshd.log'), 'w')
    proc = subprocess.Popen([SSHD, '-D', '-e', '-f', config], stdout=log, stderr=subprocess.STDOUT)
    try:
        if not _wait_port(port, proc):
            with open(os.path.join(d, 'sshd.log')) as f:
                pytest.fail('sshd did not start on port %d: %s' % (port, f.read()[-2000:]))
        yield dict(port=port, key=key, log=os.path.join(d, 'sshd.log'),
                   args=['-p', str(port), '-i', key, '-o', 'StrictHostKeyChecking=accept-new',
                         '-o', 'UserKnownHostsFile=%s' % os.path.join(ssh_dir, 'known_hosts')])
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def token_file_state(path):
    st = os.stat(path)
    with open(path) as f:
        return stat.S_IMODE(st.st_mode), st.st_uid, f.read().strip()


def fetch_args(ap, sshd, **more):
    args = dict(name='ap-fetched', access_point='%s@127.0.0.1' % ap.user, ssh_args=sshd['args'],
                fetch_command=which('condor_token_fetch'))
    args.update(more)
    return args


def test_fetch_over_ssh(ap, sshd):
    path = os.path.join(ap.home, '.condor', 'tokens.d', 'ap-fetched')
    args = fetch_args(ap, sshd)

    r = ap.runner.task(MODULE, args, become_user=ap.user, check_mode=True)
    assert r['changed'] is True and r['fetched'] is True
    assert not os.path.exists(path)

    r = ap.runner.task(MODULE, args, become_user=ap.user)
    assert r['changed'] is True and r['fetched'] is True, r
    assert r['path'] == path
    mode, uid, token = token_file_state(path)
    assert (mode, uid) == (0o600, ap.uid)
    claims = parse_token(token)
    assert claims['sub'] == '%s@%s' % (ap.user, ap.pool.uid_domain)
    assert r['identity'] == claims['sub']
    assert token not in r['_output']
    with open(sshd['log']) as f:
        assert 'Accepted publickey for %s' % ap.user in f.read()

    # a stored, valid token is not fetched again
    r = ap.runner.task(MODULE, args, become_user=ap.user)
    assert r['changed'] is False and r['fetched'] is False
    assert token_file_state(path)[2] == token

    # the fetched token is accepted by the access point's schedd (condor_job authenticates with it)
    r = ap.runner.task('hepcloud.lumberjack.condor_job', dict(
        condor_config=ap.client_config, pool=ap.pool.collector_host, token_file=path, batch_name='with-fetched',
        description={'executable': '/bin/true'}, submit_dir=ap.work), become_user=ap.user, check_mode=True)
    assert r['identity'] == claims['sub']

    # force fetches a new one; a limited lifetime shows as the expiry
    r = ap.runner.task(MODULE, dict(args, force=True, lifetime=3600), become_user=ap.user)
    assert r['changed'] is True and r['fetched'] is True
    assert token_file_state(path)[2] != token
    assert 0 < r['expires'] - time.time() <= 3600 + 60

    # renew_before longer than the lifetime left: fetched again
    r = ap.runner.task(MODULE, dict(args, renew_before=7200), become_user=ap.user)
    assert r['changed'] is True and r['fetched'] is True


def test_fetch_failure_is_clear(ap, sshd):
    args = fetch_args(ap, sshd, name='ap-broken', fetch_command='/nonexistent/condor_token_fetch')
    r = ap.runner.task(MODULE, args, become_user=ap.user, expect_failure=True)
    assert 'fetching a token from %s@127.0.0.1 failed' % ap.user in r['msg']
    assert not os.path.exists(os.path.join(ap.home, '.condor', 'tokens.d', 'ap-broken'))


def test_token_by_value(ap):
    tokens = os.path.join(ap.base, 'value-tokens')
    os.mkdir(tokens, 0o755)
    os.chown(tokens, ap.uid, ap.gid)
    path = os.path.join(tokens, 'ap')
    token = ap.pool.run(['condor_token_create', '-identity', '%s@%s' % (ap.user, ap.pool.uid_domain),
                         '-lifetime', '600']).stdout.strip()
    args = dict(name='ap', token=token, tokens_dir=tokens)

    r = ap.runner.task(MODULE, args, become_user=ap.user, check_mode=True)
    assert r['changed'] is True and not os.path.exists(path)

    r = ap.runner.task(MODULE, args, become_user=ap.user)
    assert r['changed'] is True and r['fetched'] is False
    assert token_file_state(path) == (0o600, ap.uid, token)
    assert token not in r['_output']
    assert r['identity'] == '%s@%s' % (ap.user, ap.pool.uid_domain)

    r = ap.runner.task(MODULE, args, become_user=ap.user)
    assert r['changed'] is False

    # a token file others may read is made private, even with the same content
    os.chmod(path, 0o644)
    r = ap.runner.task(MODULE, args, become_user=ap.user)
    assert r['changed'] is True
    assert token_file_state(path) == (0o600, ap.uid, token)

    r = ap.runner.task(MODULE, dict(args, token='not-a-token'), become_user=ap.user, expect_failure=True)
    assert 'not an IDTOKEN' in r['msg']
    assert token_file_state(path)[2] == token

    r = ap.runner.task(MODULE, dict(name='ap', tokens_dir=tokens, state='absent'), become_user=ap.user, check_mode=True)
    assert r['changed'] is True and os.path.exists(path)
    r = ap.runner.task(MODULE, dict(name='ap', tokens_dir=tokens, state='absent'), become_user=ap.user)
    assert r['changed'] is True and not os.path.exists(path)
    r = ap.runner.task(MODULE, dict(name='ap', tokens_dir=tokens, state='absent'), become_user=ap.user)
    assert r['changed'] is False
