# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A real OpenSSH server on loopback addresses, for tests whose inventory hosts are reached over ssh.

    with LoopbackSshd(base_dir, addresses=('127.0.0.1', '127.0.0.2'), users=('root', 'hpcuser'),
                      environment={'SLURM_CONF': ...}) as sshd:
        sshd.key          the private key the client (the controller) logs in with, as root
        sshd.port         the port it listens on, on every address
        sshd.host_vars(user, address)   inventory variables that reach user@address

Every user logs in with the client's key, listed in the test's own directory (no home directory is touched).
`environment` is set for every session (sshd's SetEnv), as a site's login environment would set it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import socket
import subprocess
import time

SSHD = '/usr/sbin/sshd'


def sshd_missing():
    """Why the tests cannot run an sshd here, or None."""
    if not os.path.exists(SSHD) or shutil.which('ssh') is None:
        return 'openssh-server and openssh-client are needed (the inventory hosts are reached over a real sshd)'
    if os.geteuid() != 0:
        return 'sshd on loopback, with logins as several users, needs root'
    return None


def free_port(address='127.0.0.1'):
    s = socket.socket()
    s.bind((address, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _unlock(user):
    """With UsePAM no, sshd refuses an account whose password field is locked ("!")."""
    with open('/etc/shadow') as f:
        locked = any(line.split(':')[0] == user and line.split(':')[1].startswith('!') for line in f)
    if locked:
        subprocess.run(['usermod', '-p', '*', user], check=True)


class LoopbackSshd(object):

    def __init__(self, base_dir, addresses=('127.0.0.1',), users=('root',), environment=None):
        self.dir = os.path.join(str(base_dir), 'sshd')
        self.addresses = list(addresses)
        self.users = list(users)
        self.environment = dict(environment or {})
        self.port = None
        self.key = os.path.join(self.dir, 'client_ed25519')
        self.known_hosts = os.path.join(self.dir, 'known_hosts')
        self.log = os.path.join(self.dir, 'sshd.log')
        self._proc = None
        self._log = None

    def start(self, timeout=30):
        os.makedirs(self.dir, mode=0o755)
        host_key = os.path.join(self.dir, 'host_ed25519')
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', host_key], check=True)
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'lumberjack-test', '-f', self.key],
                       check=True)
        with open(self.key + '.pub') as f:
            public = f.read()
        # the keys live in the test's directory (root-owned, read by sshd), not in anybody's home
        keys_dir = os.path.join(self.dir, 'authorized_keys')
        os.mkdir(keys_dir, 0o755)
        for user in self.users:
            with open(os.path.join(keys_dir, user), 'w') as f:
                f.write(public)
            os.chmod(os.path.join(keys_dir, user), 0o644)
            _unlock(user)
        self.port = free_port()
        config = os.path.join(self.dir, 'sshd_config')
        lines = ['Port %d' % self.port] + ['ListenAddress %s' % a for a in self.addresses] + [
            'HostKey %s' % host_key,
            'PidFile %s' % os.path.join(self.dir, 'sshd.pid'),
            'AuthorizedKeysFile %s/%%u' % keys_dir,
            'PubkeyAuthentication yes',
            'PasswordAuthentication no',
            'KbdInteractiveAuthentication no',
            'UsePAM no',
            'PermitRootLogin prohibit-password',
            'AllowUsers %s' % ' '.join(self.users),
            # the keys sit under /tmp (mode 1777), which StrictModes refuses as a parent directory
            'StrictModes no',
            'MaxStartups 100',
            'MaxSessions 100',
            'LogLevel VERBOSE',
            'Subsystem sftp internal-sftp',
        ]
        if self.environment:
            lines.append('SetEnv %s' % ' '.join('%s=%s' % kv for kv in sorted(self.environment.items())))
        with open(config, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        if not os.path.isdir('/run/sshd'):
            os.mkdir('/run/sshd', 0o755)          # sshd's privilege separation directory (systemd creates it)
        self._log = open(self.log, 'w')
        self._proc = subprocess.Popen([SSHD, '-D', '-e', '-f', config], stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        pending = list(self.addresses)
        while pending and time.time() < deadline and self._proc.poll() is None:
            try:
                socket.create_connection((pending[0], self.port), 1).close()
                pending.pop(0)
            except OSError:
                time.sleep(0.2)
        if pending:
            self.stop()
            with open(self.log) as f:
                raise RuntimeError('sshd did not listen on %s port %d: %s' % (pending, self.port, f.read()[-2000:]))
        return self

    def ssh_args(self):
        return ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=%s' % self.known_hosts]

    def host_vars(self, user, address):
        """Inventory variables for reaching user@address through this sshd."""
        return {
            'ansible_host': address,
            'ansible_port': self.port,
            'ansible_user': user,
            'ansible_connection': 'ssh',
            'ansible_ssh_private_key_file': self.key,
            'ansible_ssh_common_args': ' '.join(self.ssh_args()),
        }

    def stop(self):
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
