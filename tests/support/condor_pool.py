# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A throw-away personal HTCondor pool for tests that need real daemons.

    from ansible_collections.hepcloud.lumberjack.tests.support.condor_pool import PersonalPool, condor_available

    if not condor_available():
        pytest.skip('condor_master is not on PATH: ...')
    with PersonalPool(tmp_path / 'home', name='home') as pool:     # start() on enter, stop() on exit
        pool.submit(SUBMIT_TEXT, user='ljtest-alice', cwd='/home/ljtest-alice')
        pool.run(['condor_q', '-totals'])

What the pool is (the settings that made pools come up reliably on Debian 12 with HTCondor 25):

* One directory per pool holds everything: ``condor_config`` (the only configuration read: no
  LOCAL_CONFIG_FILE, nothing from /etc/condor), and LOCAL_DIR with ``log spool execute lock run``,
  ``passwords.d`` (the pool signing key) and ``tokens.d``.
* Loopback only, no shared port, a free collector port chosen per pool, so several pools run side by side on
  a shared machine without touching the network.
* ``use security:recommended``: local users authenticate with FS, daemons with each other as the account
  they run as. ``root@*`` and ``condor@*`` are administrators, so ``condor_off`` works as root.
* Started as root by default: the daemons switch to the ``condor`` account (CONDOR_IDS) and jobs run as
  their Owner, so job owners must be real local users. With ``user=NAME`` the whole pool runs as that
  ordinary account instead (an HPC-site minicondor): then jobs run as that account, and the pool lets
  ``NAME@*`` act as daemon, negotiator and administrator.
* Fast negotiation and update cycles, no benchmarks, START = TRUE and no preemption.
* UID_DOMAIN / FILESYSTEM_DOMAIN / TRUST_DOMAIN are fixed (``uid_domain``). Two pools that exchange a
  Lumberjack export must use the same UID_DOMAIN, or the second schedd renames the jobs' User and cannot
  finish them.

Up means: ``condor_status -collector`` / ``-schedd`` / ``-startd`` each list an ad for the daemons the pool
runs, and ``condor_q -totals`` answers. ``stop()`` sends ``condor_off -master`` and waits for the master to
exit; if it does not, every process started from this pool's configuration is killed (found by its
CONDOR_CONFIG environment, by pid), so a failing test never leaves daemons behind.

The module depends only on the Python standard library. It must run as root (it creates daemon
directories owned by another account and switches users to submit jobs).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time

CONDOR_PREFIX_DIRS = ('/opt/condor/bin', '/opt/condor/sbin')
LOCAL_SUBDIRS = ('log', 'spool', 'execute', 'lock', 'run')
ALL_DAEMONS = ('MASTER', 'COLLECTOR', 'NEGOTIATOR', 'SCHEDD', 'STARTD')
DEFAULT_UID_DOMAIN = 'lumberjack.test'


class PoolError(Exception):
    """A pool that could not be started, did not answer, or a command against it that failed."""


def condor_path():
    """PATH with the HTCondor install prefix (/opt/condor) appended when it exists."""
    path = os.environ.get('PATH', '/usr/bin:/bin')
    extra = [d for d in CONDOR_PREFIX_DIRS if os.path.isdir(d) and d not in path.split(os.pathsep)]
    return os.pathsep.join([path] + extra)


def which(program):
    """Where a program is on condor_path(), or None."""
    for d in condor_path().split(os.pathsep):
        candidate = os.path.join(d, program)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def condor_available():
    """True when condor_master is on PATH: the condition for the real-pool suites (scripts/test puts
    /opt/condor/bin and /opt/condor/sbin on PATH)."""
    return shutil.which('condor_master') is not None


def free_port(host='127.0.0.1'):
    """A TCP port nobody listens on right now (bind to port 0 and let the kernel choose)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


SYSTEM_CONFIG = '/etc/condor/condor_config'
LAYOUT_KNOBS = ('RELEASE_DIR', 'BIN', 'SBIN', 'LIB', 'LIBEXEC')


def install_layout():
    """[(knob, path)] locating the HTCondor installation whose condor_master is on PATH.

    A packaged HTCondor (condor_master in /usr/sbin) says in its own configuration where LIB and LIBEXEC are
    (/usr/lib64/condor, /usr/libexec/condor, ...): ask it with condor_config_val. A tarball install (such as
    /opt/condor) is RELEASE_DIR = the prefix, with HTCondor's defaults for the rest."""
    master = os.path.realpath(which('condor_master'))
    prefix = os.path.dirname(os.path.dirname(master))
    ccv = which('condor_config_val')
    if os.path.isfile(SYSTEM_CONFIG) and ccv and prefix == '/usr':
        env = dict((k, v) for k, v in os.environ.items() if not k.startswith('_CONDOR_'))
        env['CONDOR_CONFIG'] = SYSTEM_CONFIG
        proc = subprocess.run([ccv] + list(LAYOUT_KNOBS), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=60, check=False)
        values = proc.stdout.split('\n')
        if proc.returncode == 0 and len(values) >= len(LAYOUT_KNOBS):
            return list(zip(LAYOUT_KNOBS, [v.strip() for v in values[:len(LAYOUT_KNOBS)]]))
    layout = [('RELEASE_DIR', prefix)]
    if os.path.isdir(os.path.join(prefix, 'libexec', 'condor')):
        layout.append(('LIBEXEC', os.path.join(prefix, 'libexec', 'condor')))
    return layout


def user_ids(user):
    """(uid, gid, supplementary gids, home) of a local account."""
    pw = pwd.getpwnam(user)
    groups = os.getgrouplist(pw.pw_name, pw.pw_gid)
    return pw.pw_uid, pw.pw_gid, groups, pw.pw_dir


def demote(user):
    """A preexec_fn that turns a child process into `user` (groups, gid, then uid) with its HOME (the working
    directory is the caller's `cwd`)."""
    uid, gid, groups, home = user_ids(user)

    def _demote():
        os.setgroups(groups)
        os.setgid(gid)
        os.setuid(uid)
        os.environ['HOME'] = home
        os.environ['USER'] = os.environ['LOGNAME'] = user
    return _demote


class PersonalPool(object):
    """A personal HTCondor pool in its own directory. See the module docstring for what it sets up.

    root_dir   directory of the pool (created; must be reachable by the daemon account and job owners)
    name       a short label, used in the daemons' names and messages
    daemons    DAEMON_LIST (MASTER is always included). A submit-only pool: ('COLLECTOR', 'SCHEDD').
    config     extra configuration: a dict {knob: value} or text, appended after the defaults
    user       None to start as root with daemons running as `condor_user`; or an ordinary account that
               runs the whole pool (then `condor_user` is ignored)
    condor_user the daemon account when started as root (CONDOR_IDS)
    uid_domain UID_DOMAIN, FILESYSTEM_DOMAIN and TRUST_DOMAIN
    """

    def __init__(self, root_dir, name='pool', daemons=ALL_DAEMONS, config=None, user=None,
                 condor_user='condor', uid_domain=DEFAULT_UID_DOMAIN):
        self.root_dir = os.path.abspath(str(root_dir))
        self.name = name
        self.daemons = ['MASTER'] + [d.upper() for d in daemons if d.upper() != 'MASTER']
        self.extra_config = config
        self.user = user
        self.condor_user = condor_user
        self.uid_domain = uid_domain
        self.local_dir = os.path.join(self.root_dir, 'local')
        self.config_file = os.path.join(self.root_dir, 'condor_config')
        self.port = None
        self.master = None
        self._master_log = None
        self._prepared = False

    # -- paths -------------------------------------------------------------------------------------
    @property
    def spool(self):
        return os.path.join(self.local_dir, 'spool')

    @property
    def log_dir(self):
        return os.path.join(self.local_dir, 'log')

    @property
    def execute(self):
        return os.path.join(self.local_dir, 'execute')

    @property
    def collector_host(self):
        return '127.0.0.1:%d' % self.port

    @property
    def daemon_account(self):
        return self.user or self.condor_user

    # -- environment -------------------------------------------------------------------------------
    def env(self, extra=None):
        """The environment for HTCondor tools (and the bindings) talking to this pool."""
        env = dict(os.environ)
        for k in list(env):
            if k.startswith('_CONDOR_'):
                del env[k]
        env['CONDOR_CONFIG'] = self.config_file
        env['PATH'] = condor_path()
        if extra:
            env.update(extra)
        return env

    def run(self, args, user=None, check=True, timeout=120, cwd=None, input_text=None, env=None):
        """Run a command against this pool (as `user` when given); returns CompletedProcess (text)."""
        preexec = demote(user) if user else None
        if cwd is None and user:
            cwd = user_ids(user)[3]
        proc = subprocess.run(args, env=self.env(env), cwd=cwd, preexec_fn=preexec, input=input_text,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise PoolError('%s pool: %s%s failed (rc=%d)\nstdout: %s\nstderr: %s' % (
                self.name, ' '.join(args), (' as ' + user) if user else '', proc.returncode,
                proc.stdout.strip(), proc.stderr.strip()))
        return proc

    # -- configuration -----------------------------------------------------------------------------
    def _config_text(self):
        if self.user:
            security = '\n'.join([
                'use security:recommended',
                'ALLOW_DAEMON = $(ALLOW_DAEMON) $(USERNAME)@*',
                'ALLOW_NEGOTIATOR = $(ALLOW_NEGOTIATOR) $(USERNAME)@*',
                'ALLOW_ADMINISTRATOR = $(ALLOW_ADMINISTRATOR) $(USERNAME)@* root@*',
            ])
            ids = ''
        else:
            uid, gid = user_ids(self.condor_user)[:2]
            security = '\n'.join([
                'use security:recommended',
                'ALLOW_ADMINISTRATOR = $(ALLOW_ADMINISTRATOR) root@* %s@*' % self.condor_user,
            ])
            ids = 'CONDOR_IDS = %d.%d' % (uid, gid)
        local = self.local_dir
        lines = [
            '# personal pool "%s" (tests/support/condor_pool.py)' % self.name,
        ] + ['%s = %s' % kv for kv in install_layout()] + [
            'LOCAL_DIR = %s' % local,
            'LOCAL_CONFIG_FILE =',
            'LOCAL_CONFIG_DIR =',
            'REQUIRE_LOCAL_CONFIG_FILE = False',
            'LOG = $(LOCAL_DIR)/log',
            'SPOOL = $(LOCAL_DIR)/spool',
            'EXECUTE = $(LOCAL_DIR)/execute',
            'LOCK = $(LOCAL_DIR)/lock',
            'RUN = $(LOCAL_DIR)/run',
            'SEC_PASSWORD_DIRECTORY = $(LOCAL_DIR)/passwords.d',
            'SEC_TOKEN_SYSTEM_DIRECTORY = $(LOCAL_DIR)/tokens.d',
            ids,
            'DAEMON_LIST = %s' % ' '.join(self.daemons),
            'CONDOR_HOST = 127.0.0.1',
            'COLLECTOR_HOST = 127.0.0.1:%d' % self.port,
            'NETWORK_INTERFACE = 127.0.0.1',
            'BIND_ALL_INTERFACES = False',
            'ENABLE_IPV6 = False',
            'USE_SHARED_PORT = False',
            'COLLECTOR_NAME = %s' % self.name,
            'MASTER_NAME = %s@127.0.0.1' % self.name,
            'SCHEDD_NAME = %s@127.0.0.1' % self.name,
            'STARTD_NAME = %s@127.0.0.1' % self.name,
            'UID_DOMAIN = %s' % self.uid_domain,
            'FILESYSTEM_DOMAIN = %s' % self.uid_domain,
            'TRUST_DOMAIN = %s' % self.uid_domain,
            security,
            'SCHEDD_INTERVAL = 5',
            'NEGOTIATOR_INTERVAL = 2',
            'NEGOTIATOR_CYCLE_DELAY = 5',
            'UPDATE_INTERVAL = 5',
            'STARTER_UPDATE_INTERVAL = 5',
            'RUNBENCHMARKS = 0',
            'START = TRUE',
            'SUSPEND = FALSE',
            'PREEMPT = FALSE',
            'KILL = FALSE',
            'CONTINUE = TRUE',
            'WANT_SUSPEND = FALSE',
            'WANT_VACATE = FALSE',
            'STARTD_NOCLAIM_SHUTDOWN = 0',
            'MASTER_UPDATE_INTERVAL = 5',
        ]
        extra = self.extra_config
        if isinstance(extra, dict):
            lines.extend('%s = %s' % (k, v) for k, v in extra.items())
        elif extra:
            lines.append(str(extra))
        return '\n'.join(line for line in lines if line is not None) + '\n'

    def prepare(self):
        """Create the directories and the configuration without starting anything.

        Call it before start() to put files into the pool first (for example an exported job_queue.log into
        `spool`, owned by `daemon_account`, mode 0600)."""
        if self._prepared:
            return self
        if os.geteuid() != 0:
            raise PoolError('PersonalPool must run as root')
        if which('condor_master') is None:
            raise PoolError('condor_master is neither on PATH nor in /opt/condor')
        self.port = free_port()
        owner = self.daemon_account
        try:
            uid, gid = user_ids(owner)[:2]
        except KeyError:
            raise PoolError('there is no local account %r to run the daemons as: create it (HTCondor packages do) '
                            'or pass condor_user= or user=' % owner)
        os.makedirs(self.local_dir)
        os.chmod(self.root_dir, 0o755)
        os.chmod(self.local_dir, 0o755)
        for sub in LOCAL_SUBDIRS:
            path = os.path.join(self.local_dir, sub)
            os.mkdir(path)
            os.chown(path, uid, gid)
            os.chmod(path, 0o755)
        for sub in ('passwords.d', 'tokens.d'):
            path = os.path.join(self.local_dir, sub)
            os.mkdir(path, 0o700)
            if self.user:
                os.chown(path, uid, gid)
        with open(self.config_file, 'w') as f:
            f.write(self._config_text())
        os.chmod(self.config_file, 0o644)
        self._prepared = True
        return self

    def install_file(self, src, name='job_queue.log', mode=0o600):
        """Copy a file into SPOOL owned by the daemon account (e.g. an exported job_queue.log)."""
        self.prepare()
        dest = os.path.join(self.spool, name)
        shutil.copyfile(str(src), dest)
        uid, gid = user_ids(self.daemon_account)[:2]
        os.chown(dest, uid, gid)
        os.chmod(dest, mode)
        return dest

    # -- life cycle --------------------------------------------------------------------------------
    def start(self, timeout=90):
        """Start condor_master (in the foreground, as a child of this process) and wait until it is up."""
        self.prepare()
        self._master_log = open(os.path.join(self.root_dir, 'master.stdout'), 'w')
        preexec = demote(self.user) if self.user else None
        self.master = subprocess.Popen([which('condor_master'), '-f'], env=self.env(), cwd=self.root_dir,
                                       stdout=self._master_log, stderr=subprocess.STDOUT,
                                       preexec_fn=preexec, start_new_session=True)
        try:
            self.wait_ready(timeout)
        except Exception:
            self.stop()
            raise
        return self

    def _answers(self, args):
        try:
            proc = self.run(args, check=False, timeout=30)
        except subprocess.TimeoutExpired:
            return False
        return proc.returncode == 0 and proc.stdout.strip() != ''

    def wait_ready(self, timeout=90):
        """Wait until every daemon of the pool is in the collector and the schedd answers condor_q."""
        probes = [['condor_status', '-collector', '-af', 'Name']]
        if 'SCHEDD' in self.daemons:
            probes.append(['condor_status', '-schedd', '-af', 'Name'])
        if 'STARTD' in self.daemons:
            probes.append(['condor_status', '-startd', '-af', 'Name'])
        if 'SCHEDD' in self.daemons:
            probes.append(['condor_q', '-totals', '-allusers'])
        deadline = time.time() + timeout
        pending = list(probes)
        while pending:
            if self.master.poll() is not None:
                raise PoolError('%s pool: condor_master exited with %s; see %s' % (
                    self.name, self.master.returncode, self.log_dir))
            pending = [p for p in pending if not self._answers(p)]
            if not pending:
                break
            if time.time() > deadline:
                raise PoolError('%s pool: not up after %ds, still waiting for: %s; logs in %s' % (
                    self.name, timeout, ', '.join(' '.join(p) for p in pending), self.log_dir))
            time.sleep(1)
        return self

    def pids(self):
        """Pids of every process started from this pool's configuration (daemons, shadows, starters)."""
        marker = ('CONDOR_CONFIG=%s' % self.config_file).encode()
        found = []
        for entry in os.listdir('/proc'):
            if not entry.isdigit():
                continue
            try:
                with open('/proc/%s/environ' % entry, 'rb') as f:
                    if marker in f.read().split(b'\0'):
                        found.append(int(entry))
            except (IOError, OSError):
                continue
        return [p for p in found if p != os.getpid()]

    def stop(self, timeout=60):
        """condor_off -master, wait for the master; kill what is left of this pool if it does not go."""
        if self.master is None:
            return
        if self.master.poll() is None:
            try:
                self.run(['condor_off', '-master'], check=False, timeout=30)
            except subprocess.TimeoutExpired:
                pass
            try:
                self.master.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        leftovers = self.pids()
        if self.master.poll() is None:
            leftovers.append(self.master.pid)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not leftovers:
                break
            for pid in leftovers:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            time.sleep(3)
            leftovers = [p for p in leftovers if _alive(p)]
        if self.master.poll() is None:
            self.master.wait(10)
        self.master = None
        if self._master_log:
            self._master_log.close()
            self._master_log = None

    def stop_schedd(self, timeout=60):
        """condor_off -schedd and wait until its ad leaves the master's children (the log is compacted)."""
        self.run(['condor_off', '-schedd'], timeout=30)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not [p for p in self.pids() if _cmdline(p).startswith('condor_schedd')]:
                return
            time.sleep(1)
        raise PoolError('%s pool: condor_schedd still runs %ds after condor_off -schedd' % (self.name, timeout))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- jobs --------------------------------------------------------------------------------------
    def submit(self, submit_text, user, cwd=None):
        """condor_submit as `user` (in `cwd`, default the user's home); returns the cluster id."""
        proc = self.run(['condor_submit', '-terse'], user=user, cwd=cwd, input_text=submit_text)
        first = proc.stdout.strip().split()[0]          # "12.0 - 12.2"
        return int(first.split('.')[0])

    def jobs(self, constraint='true', attrs=('ClusterId', 'ProcId', 'JobStatus')):
        """Job ads from condor_q as dicts (values as condor_q -af prints them)."""
        proc = self.run(['condor_q', '-allusers', '-constraint', constraint, '-af:t'] + list(attrs))
        rows = []
        for line in proc.stdout.splitlines():
            if line.strip():
                rows.append(dict(zip(attrs, line.split('\t'))))
        return rows

    def history(self, constraint='true', attrs=('ClusterId', 'ProcId', 'JobStatus')):
        proc = self.run(['condor_history', '-constraint', constraint, '-af:t'] + list(attrs))
        return [dict(zip(attrs, line.split('\t'))) for line in proc.stdout.splitlines() if line.strip()]

    def wait_for(self, predicate, timeout=180, interval=2, what='condition'):
        """Poll predicate() until it returns a true value; raise PoolError with `what` on timeout."""
        deadline = time.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.time() > deadline:
                raise PoolError('%s pool: timed out after %ds waiting for %s' % (self.name, timeout, what))
            time.sleep(interval)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(') ')[-1].split()[0] != 'Z'
    except (IOError, OSError):
        return False


def _cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return os.path.basename(f.read().split(b'\0')[0].decode('utf-8', 'replace'))
    except (IOError, OSError):
        return ''
