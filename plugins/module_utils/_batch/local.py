# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""local: the script runs on the host itself, in the background, for small sites and tests.

Each job has a directory STATE_DIR/ID (default ~/.lumberjack/local-jobs/ID) holding job.json (what was
started: the command, name, pid, the process's start time) and, once it has ended, exit.json (the exit
code or signal, written by the watcher that started it). The watcher is a small Python process in a new
session (detached from Ansible, like nohup): it starts the script in its own process group, enforces the
walltime, and writes exit.json when the script ends. So a query works across module runs: exit.json
present -> the job ended, with that code; watcher alive -> running; neither -> unknown (the host was
rebooted or the watcher was killed: no record proves how the job ended). Cancel writes a 'cancelled'
marker, then signals the job's process group (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os
import signal
import sys
import time

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import (
    CANCELLED, COMPLETED, FAILED, RUNNING, UNKNOWN,
    Backend, BatchError, CommandResult, JobStatus, Submission,
)

DEFAULT_STATE_DIR = '~/.lumberjack/local-jobs'
CANCEL_GRACE = 10

# The watcher, written to JOBDIR/watcher.py and run as [python, watcher.py, jobdir, walltime seconds or 0,
# output, error, command...]. It detaches itself first (fork, new session, standard streams on /dev/null) and
# the parent prints the detached process's pid, which is also its process group, and exits.
WATCHER = r'''
import json, os, signal, subprocess, sys, time
d, walltime, out, err, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
pid = os.fork()
if pid:
    print(pid)
    sys.exit(0)
os.setsid()
null = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)
signal.signal(signal.SIGTERM, lambda signum, frame: None)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
record = {'exit_code': None, 'signal': None, 'timed_out': False}
try:
    fo = open(out, 'ab')
    fe = fo if err == out else open(err, 'ab')
    child = subprocess.Popen(cmd, stdin=null, stdout=fo, stderr=fe)
except Exception as e:
    record['exit_code'] = 127
    record['error'] = str(e)
else:
    start = time.time()
    kill_at = None
    while True:
        try:
            rc = child.wait(1)
            break
        except subprocess.TimeoutExpired:
            pass
        if walltime and time.time() - start > walltime and kill_at is None:
            record['timed_out'] = True
            os.killpg(0, signal.SIGTERM)
            kill_at = time.time() + 10
        if kill_at is not None and time.time() > kill_at:
            child.kill()
    if rc < 0:
        record['signal'] = -rc
        record['exit_code'] = 128 - rc
    else:
        record['exit_code'] = rc
record['finished'] = time.time()
tmp = os.path.join(d, 'exit.json.tmp')
with open(tmp, 'w') as f:
    json.dump(record, f)
os.rename(tmp, os.path.join(d, 'exit.json'))
'''


def _proc_stat(pid):
    """(state letter, start time in clock ticks since boot) from /proc, or (None, None)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            stat = f.read()
        fields = stat[stat.rindex(')') + 2:].split()
        return fields[0], fields[19]
    except (IOError, OSError, ValueError, IndexError):
        return None, None


def _proc_start_time(pid):
    return _proc_stat(pid)[1]


def _alive(pid, start_time):
    """Whether the process started as pid at start_time still runs (not a zombie, not a reused pid)."""
    try:
        os.kill(pid, 0)
    except OSError as e:
        if e.errno != errno.EPERM:
            return False
    state, now = _proc_stat(pid)
    if state is None:
        return True  # no /proc here: the signal test is all there is
    return state not in ('Z', 'X') and (start_time is None or now == start_time)


class LocalBackend(Backend):
    name = 'local'
    commands = {}
    directive_prefix = '#'

    def __init__(self, *args, **kwargs):
        super(LocalBackend, self).__init__(*args, **kwargs)
        self.state_dir = os.path.abspath(os.path.expanduser(self.options.get('state_dir') or DEFAULT_STATE_DIR))
        self.python = self.options.get('python') or sys.executable

    def bin(self, role):
        return self.python

    def check_commands(self, roles):
        return None

    # ------------------------------------------------------------------ submit
    def build_submission(self, spec):
        self.unsupported(spec, ['array'], 'it runs one process per job')
        ignored = [f for f in ('nodes', 'ntasks', 'tasks_per_node', 'cpus_per_task', 'memory', 'gpus', 'partition',
                               'account', 'reservation', 'constraint', 'exclusive', 'directives')
                   if getattr(spec, f) not in (None, False, [], {})]
        if ignored:
            self.warn('the local backend runs the script on this host as is; ignored: %s' % ', '.join(ignored))
        if os.access(spec.script, os.X_OK):
            command = [spec.script]
        else:
            command = ['/bin/sh', spec.script]
        command += spec.arguments
        lines = []
        if spec.name:
            lines.append(['name', spec.name])
        if spec.walltime:
            lines.append(['walltime', '%ds' % spec.walltime])
        for f in ('output', 'error', 'chdir'):
            if getattr(spec, f):
                lines.append([f, getattr(spec, f)])
        return Submission(command, ['# %s: %s' % (k, v) for k, v in lines], cwd=spec.chdir, env=spec.environment,
                          spec=spec)

    def submit(self, submission):
        spec = submission.spec
        try:
            job_id, jobdir = self._new_job_dir()
        except (IOError, OSError) as e:
            raise BatchError('cannot create a job directory under %s: %s' % (self.state_dir, e))
        out = (spec.output or os.path.join(jobdir, 'stdout')).replace('%j', job_id)
        err = (spec.error or (spec.output and out) or os.path.join(jobdir, 'stderr')).replace('%j', job_id)
        cwd = spec.chdir or os.path.expanduser('~')
        env = dict(spec.environment)
        env['LUMBERJACK_LOCAL_JOB_ID'] = job_id
        watcher = os.path.join(jobdir, 'watcher.py')
        with open(watcher, 'w') as f:
            f.write(WATCHER.lstrip())
        argv = [self.python, watcher, jobdir, str(spec.walltime or 0), out, err] + submission.argv
        r = self.runner.run(argv, cwd=cwd, env=env, retry=False)
        if r.rc != 0 or not r.stdout.strip().isdigit():
            raise BatchError('cannot start %s: %s' % (submission.command_line(), r.describe()))
        pid = int(r.stdout.strip())
        record = dict(job_id=job_id, name=spec.name, command=submission.argv, pid=pid,
                      start_time=_proc_start_time(pid), submitted=time.time(), output=out, error=err, cwd=cwd)
        self._write_json(os.path.join(jobdir, 'job.json'), record)
        return job_id

    def _new_job_dir(self):
        if not os.path.isdir(self.state_dir):
            os.makedirs(self.state_dir, 0o700)
        taken = [int(n) for n in os.listdir(self.state_dir) if n.isdigit()]
        n = max(taken) + 1 if taken else 1
        while True:
            path = os.path.join(self.state_dir, str(n))
            try:
                os.mkdir(path, 0o700)
                return str(n), path
            except OSError as e:
                if e.errno != errno.EEXIST:
                    raise
                n += 1

    @staticmethod
    def _write_json(path, data):
        tmp = path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(data, f)
        os.rename(tmp, path)

    @staticmethod
    def _read_json(path):
        try:
            with open(path) as f:
                return json.load(f)
        except (IOError, OSError, ValueError):
            return None

    # ------------------------------------------------------------------ status
    def _jobdir(self, job_id):
        job_id = str(job_id)
        if not job_id.isdigit():
            raise BatchError('%r is not a job id of the local backend (a number)' % job_id)
        return os.path.join(self.state_dir, job_id)

    def status(self, job_id):
        jobdir = self._jobdir(job_id)
        job = self._read_json(os.path.join(jobdir, 'job.json'))
        if job is None:
            return JobStatus(str(job_id), UNKNOWN, reason='no job %s in %s' % (job_id, self.state_dir),
                             source='local')
        cancelled = os.path.exists(os.path.join(jobdir, 'cancelled'))
        ended = self._read_json(os.path.join(jobdir, 'exit.json'))
        name = job.get('name')
        if ended is not None:
            code, sig = ended.get('exit_code'), ended.get('signal')
            if cancelled:
                state, native = CANCELLED, 'CANCELLED'
            elif ended.get('timed_out'):
                state, native = FAILED, 'TIMEOUT'
            elif code == 0:
                state, native = COMPLETED, 'EXITED'
            else:
                state, native = FAILED, 'EXITED'
            return JobStatus(str(job_id), state, exit_code=code, signal=sig, native_state=native, name=name,
                             reason=ended.get('error'), source='local')
        if _alive(job['pid'], job.get('start_time')):
            return JobStatus(str(job_id), RUNNING, native_state='RUNNING', name=name, source='local')
        # the watcher may have written exit.json between the two reads
        if os.path.exists(os.path.join(jobdir, 'exit.json')):
            return self.status(job_id)
        if cancelled:
            return JobStatus(str(job_id), CANCELLED, native_state='CANCELLED', name=name, source='local')
        return JobStatus(str(job_id), UNKNOWN, native_state='GONE', name=name, source='local',
                         reason='the process of job %s is gone and left no exit record' % job_id)

    def find_active(self, name):
        if not os.path.isdir(self.state_dir):
            return []
        found = []
        for n in sorted((d for d in os.listdir(self.state_dir) if d.isdigit()), key=int):
            job = self._read_json(os.path.join(self.state_dir, n, 'job.json'))
            if job and job.get('name') == name:
                st = self.status(n)
                if st.state == RUNNING:
                    found.append(st)
        return found

    # ------------------------------------------------------------------ cancel
    def cancel_argv(self, job_id):
        job = self._read_json(os.path.join(self._jobdir(job_id), 'job.json')) or {}
        return ['kill', '-TERM', '--', '-%s' % job.get('pid', '?')]

    def cancel(self, job_id):
        jobdir = self._jobdir(job_id)
        job = self._read_json(os.path.join(jobdir, 'job.json'))
        argv = self.cancel_argv(job_id)
        if job is None:
            return CommandResult(argv, 1, '', 'no job %s' % job_id)
        with open(os.path.join(jobdir, 'cancelled'), 'w') as f:
            f.write('%f\n' % time.time())
        pid, start = job['pid'], job.get('start_time')
        if not _alive(pid, start):
            return CommandResult(argv, 0, '', '')
        try:
            os.killpg(pid, signal.SIGTERM)
        except OSError as e:
            return CommandResult(argv, 1, '', str(e))
        deadline = time.time() + CANCEL_GRACE
        while time.time() < deadline:
            if os.path.exists(os.path.join(jobdir, 'exit.json')) or not _alive(pid, start):
                break
            time.sleep(0.2)
        else:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        self.runner.log.append(dict(command=argv, rc=0, stderr=''))
        return CommandResult(argv, 0, '', '')


BACKEND = LocalBackend
