# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A real one-host Grid Engine cell in a temporary SGE_ROOT, for tests. Needs root and Debian's gridengine-master,
gridengine-exec and gridengine-client.

    cell = SGECluster().start()
    env = cell.env()          # SGE_ROOT, SGE_CELL, the ports and PATH for qsub, qstat, qacct, qdel
    ...
    cell.stop()

Debian's packages put one cell under /var/lib/gridengine; this builds a private one instead, so nothing of the
system's is changed and several can run side by side: a temporary SGE_ROOT whose bin/, lib/ and utilbin/ point at
the packaged programs, Grid Engine's own installer (inst_sge -m -auto) for qmaster, with free ports, classic spooling inside
the directory and root as the admin user. Two things need help on a machine whose hostname resolves to 127.0.0.1,
as containers often do: the installer refuses such a host (its check is switched off in a private copy of util/),
and qmaster sees connections from 127.0.0.1 as 'localhost' rather than the hostname (a host_aliases file maps
one to the other). Then it lets root submit (min_uid, min_gid), schedules every second, writes accounting at once
and has one queue, all.q, with 4 slots and the parallel environments make, smp and mpi.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import socket
import subprocess
import tempfile
import time

PACKAGED_ROOT = '/var/lib/gridengine'
PACKAGED_BIN = '/usr/lib/gridengine'
PACKAGED_UTIL = '/usr/share/gridengine/util'
SLOTS = 4


def _free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]
    finally:
        s.close()


def missing_requirements():
    """Why a cell cannot start here (a sentence for pytest.skip), or None."""
    if os.geteuid() != 0:
        return 'the Grid Engine test cell needs root'
    for path in (os.path.join(PACKAGED_BIN, 'sge_qmaster'), os.path.join(PACKAGED_BIN, 'sge_execd'),
                 os.path.join(PACKAGED_BIN, 'qsub'), os.path.join(PACKAGED_ROOT, 'inst_sge'),
                 os.path.join(PACKAGED_UTIL, 'install_modules', 'inst_common.sh')):
        if not os.path.exists(path):
            return '%s is not installed (Debian packages gridengine-master, gridengine-exec, gridengine-client)' % path
    return None


class SGEClusterError(Exception):
    pass


class SGECluster:
    """One qmaster and one execd on this host, in a temporary SGE_ROOT."""

    def __init__(self, base_dir=None, timeout=300):
        self.root = tempfile.mkdtemp(prefix='lj-sge-', dir=base_dir)
        os.chmod(self.root, 0o755)
        self.cell = 'default'
        self.host = socket.gethostname()
        self.qmaster_port = _free_port()
        self.execd_port = _free_port()
        self.timeout = timeout
        self.arch = None

    # ---------------------------------------------------------------- public
    def env(self, base=None):
        env = dict(os.environ if base is None else base)
        env.update(SGE_ROOT=self.root, SGE_CELL=self.cell, SGE_QMASTER_PORT=str(self.qmaster_port),
                   SGE_EXECD_PORT=str(self.execd_port), PATH=self.bin_dir + ':' + env.get('PATH', '/usr/bin:/bin'))
        return env

    @property
    def bin_dir(self):
        return os.path.join(self.root, 'bin', self.arch or 'lx-amd64')

    def run(self, *args, **kwargs):
        kwargs.setdefault('env', self.env())
        kwargs.setdefault('capture_output', True)
        kwargs.setdefault('text', True)
        kwargs.setdefault('timeout', 60)
        return subprocess.run(list(args), check=kwargs.pop('check', False), **kwargs)

    def start(self):
        try:
            self._build_root()
            self._install()
            self._configure()
        except BaseException:
            self.stop(keep_dir=bool(os.environ.get('LJ_KEEP_SGE_DIR')))
            raise
        return self

    def stop(self, keep_dir=False):
        """Shut the execd and qmaster down (politely, then by their pid files), then remove the directory."""
        if os.path.isdir(os.path.join(self.root, self.cell, 'common')):
            self.run('qconf', '-ke', 'all', timeout=30)
            self.run('qconf', '-km', timeout=30)
        for pid_file in self._execd_pid_files() + [os.path.join(self.root, self.cell, 'spool', 'qmaster', 'qmaster.pid')]:
            self._kill(pid_file)
        if not keep_dir:
            shutil.rmtree(self.root, ignore_errors=True)

    def log(self):
        path = os.path.join(self.root, self.cell, 'spool', 'qmaster', 'messages')
        try:
            with open(path) as f:
                return f.read()[-3000:]
        except (IOError, OSError):
            return ''

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---------------------------------------------------------------- building
    def _build_root(self):
        for name in os.listdir(PACKAGED_ROOT):
            if name not in (self.cell, 'bin', 'util'):
                os.symlink(os.path.join(PACKAGED_ROOT, name), os.path.join(self.root, name))
        shutil.copytree(PACKAGED_UTIL, os.path.join(self.root, 'util'), symlinks=True)
        self.arch = subprocess.run([os.path.join(self.root, 'util', 'arch')], capture_output=True, text=True,
                                   check=True).stdout.strip()
        os.makedirs(self.bin_dir)
        for name in os.listdir(PACKAGED_BIN):
            os.symlink(os.path.join(PACKAGED_BIN, name), os.path.join(self.bin_dir, name))
        # the installer insists on every client program, qmon and qmake among them, which Debian packages apart
        for name in ('qmake', 'qmon', 'qtcsh'):
            path = os.path.join(self.bin_dir, name)
            if not os.path.exists(path):
                with open(path, 'w') as f:
                    f.write('#!/bin/sh\necho "%s is not installed" >&2\nexit 1\n' % name)
                os.chmod(path, 0o755)
        # the installer refuses a host whose name resolves to 127.0.0.1; the daemons themselves do not mind
        common = os.path.join(self.root, 'util', 'install_modules', 'inst_common.sh')
        with open(common) as f:
            text = f.read()
        if 'CheckForLocalHostResolving()\n{' not in text:
            raise SGEClusterError('unexpected %s: cannot switch off its local hostname check' % common)
        text = text.replace('CheckForLocalHostResolving()\n{', 'CheckForLocalHostResolving()\n{\n   return 0', 1)
        with open(common, 'w') as f:
            f.write(text)

    def _install(self):
        conf = os.path.join(self.root, 'inst.conf')
        values = dict(
            SGE_ROOT=self.root, SGE_QMASTER_PORT=self.qmaster_port, SGE_EXECD_PORT=self.execd_port,
            SGE_ENABLE_SMF='false', SGE_CLUSTER_NAME='lj%d' % self.qmaster_port, SGE_JMX_PORT='', SGE_JMX_SSL='false',
            SGE_JMX_SSL_CLIENT='false', SGE_JMX_SSL_KEYSTORE='', SGE_JMX_SSL_KEYSTORE_PW='', SGE_JVM_LIB_PATH='',
            SGE_ADDITIONAL_JVM_ARGS='', CELL_NAME=self.cell, ADMIN_USER='root',
            QMASTER_SPOOL_DIR=os.path.join(self.root, self.cell, 'spool', 'qmaster'),
            EXECD_SPOOL_DIR=os.path.join(self.root, self.cell, 'spool'), GID_RANGE='20000-20100',
            SPOOLING_METHOD='classic', DB_SPOOLING_DIR='spooldb', PAR_EXECD_INST_COUNT='20',
            ADMIN_HOST_LIST=self.host, SUBMIT_HOST_LIST=self.host, EXEC_HOST_LIST=self.host, EXECD_SPOOL_DIR_LOCAL='',
            HOSTNAME_RESOLVING='true', SHELL_NAME='ssh', COPY_COMMAND='scp', DEFAULT_DOMAIN='none', ADMIN_MAIL='none',
            ADD_TO_RC='false', SET_FILE_PERMS='false', RESCHEDULE_JOBS='wait', SCHEDD_CONF='1', SHADOW_HOST='',
            EXEC_HOST_LIST_RM='', REMOVE_RC='false', WINDOWS_SUPPORT='false', WIN_ADMIN_NAME='Administrator',
            WIN_DOMAIN_ACCESS='false', CSP_RECREATE='true', CSP_COPY_CERTS='false', CSP_COUNTRY_CODE='DE',
            CSP_STATE='Germany', CSP_LOCATION='Building', CSP_ORGA='Organisation', CSP_ORGA_UNIT='Unit',
            CSP_MAIL_ADDRESS='none@example.org')
        with open(conf, 'w') as f:
            for key, value in values.items():
                f.write('%s="%s"\n' % (key, value))
        common = os.path.join(self.root, self.cell, 'common')
        log = open(os.path.join(self.root, 'install.out'), 'w')
        try:
            proc = subprocess.Popen(['./inst_sge', '-m', '-auto', conf], cwd=self.root, env=self.env(),
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            # qmaster must see 127.0.0.1 ('localhost') as this host from its first start: the alias goes in as
            # soon as the installer has made the cell's directory
            aliased = False
            deadline = time.time() + self.timeout
            while proc.poll() is None and time.time() < deadline:
                if not aliased and os.path.isdir(common):
                    self._write(os.path.join(common, 'host_aliases'), '%s localhost\n' % self.host)
                    aliased = True
                time.sleep(0.05)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
                raise SGEClusterError('inst_sge did not finish in %ss' % self.timeout)
        finally:
            log.close()
        if not os.path.isdir(common):
            raise SGEClusterError('inst_sge made no cell: %s' % self._read(os.path.join(self.root, 'install.out')))
        self._write(os.path.join(common, 'host_aliases'), '%s localhost\n' % self.host)
        self._write(os.path.join(common, 'act_qmaster'), self.host + '\n')
        if self.run('qconf', '-sh').returncode != 0:
            # the installer lost the race: start qmaster again, now with the alias
            self._kill(os.path.join(self.root, self.cell, 'spool', 'qmaster', 'qmaster.pid'))
            for stale in ('lock', 'qmaster.pid'):
                if os.path.exists(os.path.join(self.root, self.cell, 'spool', 'qmaster', stale)):
                    os.remove(os.path.join(self.root, self.cell, 'spool', 'qmaster', stale))
            self._daemon('sge_qmaster')
        self._wait('qmaster', lambda: self.run('qconf', '-sh').returncode == 0)

    def _configure(self):
        def edit(args, *seds):
            script = os.path.join(self.root, 'edit.sh')
            self._write(script, '#!/bin/sh\nsed -i %s "$1"\n' % ' '.join("-e '%s'" % s for s in seds), 0o755)
            env = self.env()
            env['EDITOR'] = script
            r = self.run('qconf', *args, env=env)
            said = r.stdout + r.stderr
            if r.returncode != 0 and 'already exists' not in said and 'not modified' not in said:
                raise SGEClusterError('qconf %s failed: %s %s' % (' '.join(args), r.stdout, r.stderr))

        # root may submit; the execution daemon reads this when it starts, so it comes first
        edit(['-mconf'], 's/^min_uid .*/min_uid 0/', 's/^min_gid .*/min_gid 0/',
             's/flush_time=[0-9:]*/flush_time=00:00:01/')
        edit(['-msconf'], 's/^schedule_interval .*/schedule_interval 0:0:1/')
        self.run('qconf', '-as', self.host)
        if self.run('qconf', '-se', self.host).returncode != 0:
            edit(['-ae'], 's/^hostname .*/hostname %s/' % self.host)
        if self.run('qconf', '-shgrp', '@allhosts').returncode != 0:
            edit(['-ahgrp', '@allhosts'], 's/^group_name .*/group_name @allhosts/', 's/^hostlist .*/hostlist %s/' % self.host)
        # the installer makes @allhosts empty when no execution daemon was installed with it
        edit(['-mhgrp', '@allhosts'], 's/^hostlist .*/hostlist %s/' % self.host)
        if self.run('qconf', '-sq', 'all.q').returncode != 0:
            edit(['-aq', 'all.q'], 's/^qname .*/qname all.q/', 's/^hostlist .*/hostlist @allhosts/')
        edit(['-mq', 'all.q'], 's/^slots .*/slots %d/' % SLOTS, 's/^pe_list .*/pe_list make smp mpi/',
             's|^shell .*|shell /bin/sh|', 's/^load_thresholds .*/load_thresholds NONE/')
        # a fresh execution daemon, so that it runs with the configuration above
        self.run('qconf', '-ke', self.host)
        for pid_file in self._execd_pid_files():
            self._kill(pid_file)
        os.makedirs(os.path.join(self.root, self.cell, 'spool', self.host), exist_ok=True)
        self._daemon('sge_execd')

        def queue_ready():
            r = self.run('qstat', '-f', '-q', 'all.q')
            lines = [line for line in r.stdout.splitlines() if line.startswith('all.q@')]
            return r.returncode == 0 and lines and len(lines[0].split()) == 5
        self._wait('the execution daemon (all.q without error or alarm states)', queue_ready)

    # ---------------------------------------------------------------- helpers
    def _execd_pid_files(self):
        # the execution daemon names its spool directory after the host, or 'localhost' when it resolves so
        return [os.path.join(self.root, self.cell, 'spool', h, 'execd.pid') for h in (self.host, 'localhost')]

    def _daemon(self, name):
        """Start a Grid Engine daemon; it puts itself in the background and writes its pid file."""
        r = self.run(os.path.join(self.bin_dir, name))
        if r.returncode != 0:
            raise SGEClusterError('%s did not start: %s %s' % (name, r.stdout, r.stderr))

    def _wait(self, what, predicate):
        deadline = time.time() + self.timeout
        while time.time() < deadline:
            if predicate():
                return
            time.sleep(0.5)
        raise SGEClusterError('timed out waiting for %s in %s:\n%s' % (what, self.root, self.log()))

    @staticmethod
    def _kill(pid_file):
        try:
            with open(pid_file) as f:
                pid = int(f.read().strip())
        except (IOError, OSError, ValueError):
            return
        for sig, wait in ((15, 10), (9, 5)):
            try:
                os.kill(pid, sig)
            except OSError:
                return
            deadline = time.time() + wait
            while time.time() < deadline:
                try:
                    with open('/proc/%d/stat' % pid) as f:
                        if f.read().rsplit(')', 1)[1].split()[0] in ('Z', 'X'):
                            return
                except (IOError, OSError):
                    return
                time.sleep(0.1)

    @staticmethod
    def _write(path, text, mode=0o644):
        with open(path, 'w') as f:
            f.write(text)
        os.chmod(path, mode)

    @staticmethod
    def _read(path):
        try:
            with open(path, errors='replace') as f:
                return f.read()[-3000:]
        except (IOError, OSError):
            return ''
