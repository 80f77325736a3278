# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A real Slurm cluster on loopback, for tests. Needs root and Debian's slurm-wlm and munge.

    cluster = SlurmCluster(accounting=True)   # accounting: slurmdbd + a private MariaDB, so sacct works
    cluster = SlurmCluster(nodes=2)           # two nodes: two slurmd on this host, each its own port
    cluster = SlurmCluster(gpus_per_node=2)   # GRES gpu:2 on each node (character devices stand in for GPUs)
    cluster.start()
    env = cluster.env()                       # SLURM_CONF for the client commands
    ...
    cluster.stop()

Everything lives in one temporary directory: slurm.conf, cgroup.conf, a munge key and socket, the state and
spool directories, the logs and (with accounting) the MariaDB data directory. No daemon is started through
systemd and none listens anywhere but on 127.0.0.1, on ports that were free when the cluster started, so
several clusters (other test runs on the same machine) can run side by side. munged runs as the munge
user, slurmctld, slurmd and slurmdbd as root (SlurmUser=root), MariaDB as mysql.

The node is declared with more CPUs than the machine may have (SlurmdParameters=config_overrides), so tests
can ask for several tasks on a two-core machine; nothing is pinned (TaskPlugin=task/none,
ProctrackType=proctrack/linuxproc), so the oversubscription is harmless.

With nodes=N, N slurmd run on this host, each as a node of its own (its name, port and spool directory), so a
job of several nodes really gets them: srun starts one task per node, each sees its node in SLURMD_NODENAME,
though all share this host's name.

With gpus_per_node=K, each node has the generic resource gpu:K, backed by K character devices of this host
(/dev/null, /dev/zero, ...: Slurm counts GPUs by their device files, and no GPU is here). Slurm grants them
as it would GPUs: a job asking for some gets SLURM_GPUS_ON_NODE and CUDA_VISIBLE_DEVICES.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time

NODE_CPUS = 4
NODE_MEMORY_MB = 2000
# character devices every host has, standing in for GPU device files in gres.conf
GPU_STAND_IN_DEVICES = ('/dev/null', '/dev/zero', '/dev/full', '/dev/urandom')


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]
    finally:
        s.close()


def missing_requirements(accounting=False):
    """Why a cluster cannot start here (a sentence for pytest.skip), or None."""
    if os.geteuid() != 0:
        return 'the Slurm test cluster needs root (it runs munged, slurmctld and slurmd)'
    needed = ['slurmctld', 'slurmd', 'munged', 'sbatch', 'squeue', 'scontrol', 'sinfo']
    if accounting:
        needed += ['slurmdbd', 'mariadbd', 'mariadb-install-db', 'mariadb', 'sacct', 'sacctmgr']
    for name in needed:
        if not shutil.which(name, path=os.environ.get('PATH', '') + ':/usr/sbin:/sbin'):
            return '%s is not installed (Debian packages slurm-wlm, munge%s)' % (
                name, ', slurmdbd, mariadb-server' if accounting else '')
    for user in ['munge'] + (['mysql'] if accounting else []):
        try:
            pwd.getpwnam(user)
        except KeyError:
            return 'there is no %s user (is the package installed?)' % user
    return None


def start_or_skip(request, **kwargs):
    """A SlurmCluster(**kwargs) started for a pytest fixture (`request`), stopped when the fixture ends; the
    test skips, saying why, when this host cannot run one."""
    import pytest  # only the test suites call this
    why = missing_requirements(accounting=kwargs.get('accounting', False))
    if why:
        pytest.skip(why)
    cluster = SlurmCluster(**kwargs)
    request.addfinalizer(cluster.stop)
    cluster.start()
    return cluster


def _which(name):
    return shutil.which(name, path=os.environ.get('PATH', '') + ':/usr/sbin:/sbin') or name


class SlurmClusterError(Exception):
    pass


class SlurmCluster:
    """One slurmctld + one slurmd per node (+ optionally slurmdbd and MariaDB) in a temporary directory."""

    def __init__(self, accounting=False, min_job_age=300, base_dir=None, start_timeout=60, jobcomp=False, nodes=1,
                 gpus_per_node=0, kill_wait=5):
        self.accounting = accounting
        # seconds between a cancelled job's SIGTERM and its SIGKILL (Slurm's own default is 30)
        self.kill_wait = kill_wait
        self.gpus_per_node = gpus_per_node
        self.jobcomp = jobcomp
        self.min_job_age = min_job_age
        self.start_timeout = start_timeout
        self.suffix = secrets.token_hex(3)
        self.cluster_name = 'lj%s' % self.suffix
        self.node_name = 'ljnode%s' % self.suffix
        # one node keeps the plain name; several are NAME1, NAME2, ...
        self.node_names = [self.node_name] if nodes == 1 else ['%s%d' % (self.node_name, i + 1) for i in range(nodes)]
        self.partition = 'debug'
        self.dir = tempfile.mkdtemp(prefix='lj-slurm-', dir=base_dir)
        # client commands run by ordinary users read slurm.conf and talk to the munge socket
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, 'slurm.conf')
        self.munge_dir = os.path.join(self.dir, 'munge')
        self.munge_socket = os.path.join(self.munge_dir, 'munge.socket')
        self.ports = {}
        self._procs = []
        self.started = False

    # ---------------------------------------------------------------- public
    def env(self, base=None):
        """The environment for Slurm's client commands (a copy of base or os.environ)."""
        env = dict(os.environ if base is None else base)
        env['SLURM_CONF'] = self.conf
        return env

    def run(self, *args, **kwargs):
        """Run a Slurm client command against this cluster; returns CompletedProcess (text)."""
        kwargs.setdefault('env', self.env())
        kwargs.setdefault('capture_output', True)
        kwargs.setdefault('text', True)
        kwargs.setdefault('timeout', 60)
        return subprocess.run(list(args), check=kwargs.pop('check', False), **kwargs)

    def start(self):
        try:
            self._write_configs()
            self._start_munge()
            if self.accounting:
                self._start_mariadb()
                self._start_slurmdbd()
            self._start_slurmctld()
            self._start_slurmd()
            self._wait_node_idle()
        except BaseException:
            # LJ_KEEP_SLURM_DIR=1 keeps the directory (configs and logs) of a cluster that failed to start
            self.stop(keep_dir=bool(os.environ.get('LJ_KEEP_SLURM_DIR')))
            raise
        self.started = True
        return self

    def stop(self, keep_dir=False):
        """Cancel what still runs, stop every daemon this cluster started (its own children, newest first), then
        remove the directory. Jobs go first: a slurmd stopped under running jobs leaves their scripts orphaned
        (and their users impossible to delete)."""
        if self.started:
            self._cancel_all_jobs()
        for proc in reversed(self._procs):
            self._terminate(proc)
        self._procs = []
        self.started = False
        if not keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _cancel_all_jobs(self, timeout=30):
        """scancel every job still known (as root) and wait until squeue lists none, at most `timeout` s."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                listed = self.run('squeue', '--noheader', '--format=%i', timeout=15)
            except (OSError, subprocess.TimeoutExpired):
                return
            ids = listed.stdout.split() if listed.returncode == 0 else []
            if not ids:
                return
            try:
                self.run('scancel', *ids, timeout=15)
            except (OSError, subprocess.TimeoutExpired):
                return
            time.sleep(1)

    @staticmethod
    def _terminate(proc):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def log(self, name):
        """The text of one daemon's log (slurmctld, slurmd, slurmdbd, munged, mariadb), for failure messages."""
        path = os.path.join(self.dir, 'log', name + '.log')
        try:
            with open(path) as f:
                return f.read()
        except (IOError, OSError):
            return ''

    def stop_daemon(self, name):
        """Stop one daemon (slurmctld, slurmd, slurmdbd): the clients then fail as they do when it is down."""
        for proc in list(self._procs):
            if proc.lj_name == name:
                self._terminate(proc)
                self._procs.remove(proc)

    def stop_slurmdbd(self):
        self.stop_daemon('slurmdbd')

    def restart_slurmctld(self):
        """Start slurmctld again after stop_daemon('slurmctld'); it recovers its jobs from the state directory."""
        self._start_slurmctld()

    def wait_job_gone(self, job_id, timeout=60):
        """Wait until slurmctld has purged a finished job (squeue no longer knows it)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.run('squeue', '-h', '-j', str(job_id), '-t', 'all', '-o', '%i')
            if r.returncode != 0 or not r.stdout.strip():
                return True
            time.sleep(1)
        return False

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---------------------------------------------------------------- config
    def _write_configs(self):
        for sub in ('log', 'run', 'state', 'spool'):
            os.makedirs(os.path.join(self.dir, sub))
            os.chmod(os.path.join(self.dir, sub), 0o755)
        for name in ('slurmctld', 'slurmd', 'slurmdbd', 'mariadb'):
            self.ports[name] = free_port()
        d = self.dir
        lines = [
            '# one-node test cluster, written by tests/support/slurm_cluster.py',
            'ClusterName=%s' % self.cluster_name,
            'SlurmctldHost=localhost(127.0.0.1)',
            'SlurmctldPort=%d' % self.ports['slurmctld'],
            'SlurmdPort=%d' % self.ports['slurmd'],
            'SlurmUser=root',
            'SlurmdUser=root',
            'AuthType=auth/munge',
            'CredType=cred/munge',
            'AuthInfo=socket=%s' % self.munge_socket,
            'StateSaveLocation=%s/state' % d,
            'SlurmdSpoolDir=%s/spool/%%n' % d,
            'SlurmctldPidFile=%s/run/slurmctld.pid' % d,
            'SlurmdPidFile=%s/run/slurmd-%%n.pid' % d,
            'SlurmctldLogFile=%s/log/slurmctld.log' % d,
            'SlurmdLogFile=%s/log/slurmd.log' % d,
            'SlurmctldDebug=info',
            'SlurmdDebug=info',
            'ProctrackType=proctrack/linuxproc',
            'TaskPlugin=task/none',
            'MpiDefault=none',
            'SwitchType=switch/none',
            'LaunchParameters=use_interactive_step',
            'SelectType=select/cons_tres',
            'SelectTypeParameters=CR_CPU',
            'SchedulerType=sched/backfill',
            'SlurmdParameters=config_overrides',
            'ReturnToService=2',
            'MinJobAge=%d' % self.min_job_age,
            'KillWait=%d' % self.kill_wait,
            'InactiveLimit=0',
            'SlurmctldTimeout=30',
            'SlurmdTimeout=60',
            'MessageTimeout=20',
            'PlugStackConfig=%s/plugstack.conf' % d,
        ]
        # jobcomp: slurmctld appends a line per ended job to a text file (a record without slurmdbd)
        lines += (['JobCompType=jobcomp/filetxt', 'JobCompLoc=%s/log/jobcomp.txt' % d] if self.jobcomp
                  else ['JobCompType=jobcomp/none'])
        if self.accounting:
            lines += [
                'AccountingStorageType=accounting_storage/slurmdbd',
                'AccountingStorageHost=localhost',
                'AccountingStoragePort=%d' % self.ports['slurmdbd'],
                # with slurmdbd, this names the munge socket the accounting connection authenticates through
                'AccountingStoragePass=%s' % self.munge_socket,
                'JobAcctGatherType=jobacct_gather/linux',
                'JobAcctGatherFrequency=30',
            ]
        else:
            lines += ['AccountingStorageType=accounting_storage/none', 'JobAcctGatherType=jobacct_gather/none']
        gres = ''
        if self.gpus_per_node:
            lines.append('GresTypes=gpu')
            gres = ' Gres=gpu:%d' % self.gpus_per_node
        for name in self.node_names:
            # several nodes on this host: each slurmd needs a port of its own
            port = ' Port=%d' % free_port() if len(self.node_names) > 1 else ''
            lines.append('NodeName=%s NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=%d RealMemory=%d%s%s State=UNKNOWN'
                         % (name, NODE_CPUS, NODE_MEMORY_MB, port, gres))
        lines.append('PartitionName=%s Nodes=%s Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO'
                     % (self.partition, ','.join(self.node_names)))
        self._write(self.conf, '\n'.join(lines) + '\n', 0o644)
        if self.gpus_per_node:
            devices = GPU_STAND_IN_DEVICES[:self.gpus_per_node]
            if len(devices) < self.gpus_per_node:
                raise SlurmClusterError('at most %d GPUs per node' % len(GPU_STAND_IN_DEVICES))
            self._write(os.path.join(d, 'gres.conf'), 'AutoDetect=off\n' + ''.join(
                'NodeName=%s Name=gpu File=%s\n' % (n, dev) for n in self.node_names for dev in devices), 0o644)
        # cgroup.conf: read by some plugins even when none of the cgroup plugins is in use
        self._write(os.path.join(d, 'cgroup.conf'), 'CgroupAutomount=no\nConstrainCores=no\nConstrainRAMSpace=no\n',
                    0o644)
        # an empty plug-in stack, so the system's /etc/slurm/plugstack.conf is not read
        self._write(os.path.join(d, 'plugstack.conf'), '', 0o644)
        if self.accounting:
            self.db_password = secrets.token_hex(12)
            self.db_name = 'slurm_acct_%s' % self.suffix
            dbd = [
                'DbdHost=localhost',
                'DbdAddr=127.0.0.1',
                'DbdPort=%d' % self.ports['slurmdbd'],
                'SlurmUser=root',
                'AuthType=auth/munge',
                'AuthInfo=socket=%s' % self.munge_socket,
                'PidFile=%s/run/slurmdbd.pid' % d,
                'LogFile=%s/log/slurmdbd.log' % d,
                'DebugLevel=info',
                'StorageType=accounting_storage/mysql',
                'StorageHost=127.0.0.1',
                'StoragePort=%d' % self.ports['mariadb'],
                'StorageUser=slurm',
                'StoragePass=%s' % self.db_password,
                'StorageLoc=%s' % self.db_name,
            ]
            # slurmdbd refuses a slurmdbd.conf that others can read
            self._write(os.path.join(d, 'slurmdbd.conf'), '\n'.join(dbd) + '\n', 0o600)

    @staticmethod
    def _write(path, text, mode):
        with open(path, 'w') as f:
            f.write(text)
        os.chmod(path, mode)

    # ---------------------------------------------------------------- daemons
    def _spawn(self, argv, name, user=None, env=None):
        """Start a daemon in the foreground as a child (so it is ours to stop), its output in log/NAME.out."""
        out = open(os.path.join(self.dir, 'log', name + '.out'), 'ab')
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    env=env or self.env(), cwd=self.dir, start_new_session=True,
                                    user=user, group=user, extra_groups=[] if user else None)
        finally:
            out.close()
        proc.lj_name = name
        self._procs.append(proc)
        return proc

    def _check_alive(self, proc):
        if proc.poll() is not None:
            raise SlurmClusterError('%s exited with %s:\n%s\n%s' % (
                proc.lj_name, proc.returncode, self._read(os.path.join(self.dir, 'log', proc.lj_name + '.out')),
                self.log(proc.lj_name)[-3000:]))

    @staticmethod
    def _read(path):
        try:
            with open(path, errors='replace') as f:
                return f.read()[-3000:]
        except (IOError, OSError):
            return ''

    def _wait(self, what, predicate, procs=(), timeout=None):
        deadline = time.time() + (timeout or self.start_timeout)
        while time.time() < deadline:
            for proc in procs:
                self._check_alive(proc)
            if predicate():
                return
            time.sleep(0.25)
        raise SlurmClusterError('timed out waiting for %s in %s; its log ends:\n%s' % (
            what, self.dir, self.log(what.split()[0])[-3000:]))

    def _start_munge(self):
        os.makedirs(self.munge_dir)
        munge = pwd.getpwnam('munge')
        key = os.path.join(self.munge_dir, 'munge.key')
        with open(key, 'wb') as f:
            f.write(secrets.token_bytes(1024))
        os.chmod(key, 0o600)
        for path in (self.munge_dir, key):
            os.chown(path, munge.pw_uid, munge.pw_gid)
        os.chmod(self.munge_dir, 0o755)
        proc = self._spawn([_which('munged'), '--foreground', '--force', '--socket=' + self.munge_socket,
                            '--key-file=' + key, '--pid-file=' + os.path.join(self.munge_dir, 'munged.pid'),
                            '--log-file=' + os.path.join(self.munge_dir, 'munged.log'),
                            '--seed-file=' + os.path.join(self.munge_dir, 'munged.seed'),
                            '--num-threads=2'], 'munged', user='munge')
        self._wait('munged', lambda: os.path.exists(self.munge_socket), [proc])

    def _start_mariadb(self):
        data = os.path.join(self.dir, 'mariadb')
        os.makedirs(data)
        mysql = pwd.getpwnam('mysql')
        os.chown(data, mysql.pw_uid, mysql.pw_gid)
        self.db_socket = os.path.join(data, 'mysqld.sock')
        r = subprocess.run([_which('mariadb-install-db'), '--no-defaults', '--datadir=' + data, '--user=mysql',
                            '--auth-root-authentication-method=normal', '--skip-test-db',
                            '--skip-name-resolve'], capture_output=True, text=True, timeout=300, check=False)
        if r.returncode != 0:
            raise SlurmClusterError('mariadb-install-db failed: %s%s' % (r.stdout[-2000:], r.stderr[-2000:]))
        proc = self._spawn([_which('mariadbd'), '--no-defaults', '--user=mysql', '--datadir=' + data,
                            '--socket=' + self.db_socket, '--port=%d' % self.ports['mariadb'],
                            '--bind-address=127.0.0.1', '--skip-name-resolve', '--skip-log-bin',
                            '--pid-file=' + os.path.join(data, 'mariadbd.pid'),
                            '--log-error=' + os.path.join(self.dir, 'log', 'mariadb.log'),
                            '--innodb-buffer-pool-size=32M', '--innodb-log-file-size=16M',
                            '--innodb-flush-log-at-trx-commit=0', '--innodb-lock-wait-timeout=900',
                            '--max-connections=50'], 'mariadb')
        self._wait('mariadb', lambda: os.path.exists(self.db_socket), [proc], timeout=120)
        sql = ("CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '%s'; "
               "GRANT ALL ON `%s`.* TO 'slurm'@'127.0.0.1'; "
               "GRANT ALL ON `%s\\_%%`.* TO 'slurm'@'127.0.0.1'; FLUSH PRIVILEGES;"
               % (self.db_password, self.db_name, self.db_name))
        deadline = time.time() + 60
        while True:
            r = subprocess.run([_which('mariadb'), '--no-defaults', '-S', self.db_socket, '-uroot', '-e', sql],
                               capture_output=True, text=True, timeout=60, check=False)
            if r.returncode == 0:
                break
            self._check_alive(proc)
            if time.time() > deadline:
                raise SlurmClusterError('cannot set up the accounting database: %s' % r.stderr)
            time.sleep(0.5)

    def _start_slurmdbd(self):
        # slurmdbd reads slurmdbd.conf from the directory of $SLURM_CONF (like cgroup.conf and plugstack.conf)
        proc = self._spawn([_which('slurmdbd'), '-D'], 'slurmdbd')

        def ready():
            r = self.run('sacctmgr', '-n', '-P', 'show', 'cluster', 'format=cluster', timeout=30)
            return r.returncode == 0
        self._wait('slurmdbd', ready, [proc], timeout=120)
        r = self.run('sacctmgr', '-i', 'add', 'cluster', self.cluster_name, timeout=60)
        if r.returncode != 0 and 'already exists' not in (r.stdout + r.stderr):
            raise SlurmClusterError('sacctmgr add cluster failed: %s %s' % (r.stdout, r.stderr))

    def _start_slurmctld(self):
        proc = self._spawn([_which('slurmctld'), '-D', '-i', '-f', self.conf], 'slurmctld')
        self._wait('slurmctld', lambda: self.run('scontrol', 'ping', timeout=20).returncode == 0, [proc])

    def _start_slurmd(self):
        self._slurmds = []
        for name in self.node_names:
            os.makedirs(os.path.join(self.dir, 'spool', name))
            self._slurmds.append(self._spawn([_which('slurmd'), '-D', '-N', name, '-f', self.conf], 'slurmd'))

    def _wait_node_idle(self):
        def idle():
            r = self.run('sinfo', '-h', '-N', '-n', ','.join(self.node_names), '-o', '%T', timeout=20)
            states = [line.strip().rstrip('*') for line in r.stdout.splitlines() if line.strip()]
            return r.returncode == 0 and states == ['idle'] * len(self.node_names)
        self._wait('node(s) %s to be idle' % ', '.join(self.node_names), idle, self._slurmds)
