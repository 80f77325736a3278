# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Batch schedulers behind one interface: the registry and what every backend shares.

A backend (one file per scheduler beside this one) turns a JobSpec (the module's resource options) into the
scheduler's command line, submits, queries, lists the user's active jobs by name and cancels. It runs the
scheduler's commands only through a Runner, which retries what may pass on a second try, and it reports a
job as a JobStatus whose state is one of STATES. This file and the backends import nothing but the Python
standard library (they run on HPC login nodes, Python 3.8 or later); the Ansible module is the caller.

The rule all backends keep: a job is reported completed only when the scheduler (or an exit record) says
so. A command that failed, an empty answer, or a job the scheduler has forgotten is never a completion; it
is a TransientError (the caller tries again) or the state 'unknown'.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shlex
import time

SCHEDULERS = ('slurm', 'pbs', 'lsf', 'flux', 'sge', 'local')

QUEUED = 'queued'
RUNNING = 'running'
COMPLETED = 'completed'
FAILED = 'failed'
CANCELLED = 'cancelled'
UNKNOWN = 'unknown'
STATES = (QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED, UNKNOWN)
ACTIVE = (QUEUED, RUNNING)
TERMINAL = (COMPLETED, FAILED, CANCELLED)


class BatchError(Exception):
    """Bad input or a scheduler's refusal: the module fails with this message."""


class TransientError(BatchError):
    """A scheduler command failed in a way that may pass when tried again (no answer, time-out)."""


# ------------------------------------------------------------------------------------------------- values
_WALLTIME_UNITS = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400}


def parse_walltime(value):
    """Seconds from a walltime: 'HH:MM:SS', 'D-HH:MM:SS', 'D-HH:MM', a number with a unit ('90m', '2h',
    '1d', '45s') or a bare number of minutes. Raises BatchError for anything else."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise BatchError('walltime: %r is not a duration' % (value,))
    if isinstance(value, int):
        seconds = value * 60
    else:
        text = str(value).strip()
        m = re.match(r'^(?:(\d+)-)?(\d+):(\d{1,2})(?::(\d{1,2}))?$', text)
        if m:
            days, hours, minutes, secs = m.groups()
            if secs is None and days is None:
                raise BatchError(
                    "walltime %r is ambiguous (H:MM or M:SS?): write HH:MM:SS, D-HH:MM or a number with a unit"
                    % text)
            if int(minutes) > 59 or int(secs or 0) > 59:
                raise BatchError('walltime %r: minutes and seconds must be below 60' % text)
            seconds = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(secs or 0)
        else:
            m = re.match(r'^(\d+)\s*([smhd]?)$', text.lower())
            if not m:
                raise BatchError(
                    "walltime %r is not a duration: use HH:MM:SS, D-HH:MM:SS, D-HH:MM, a number with a unit "
                    "(45s, 90m, 2h, 1d) or a number of minutes" % text)
            seconds = int(m.group(1)) * _WALLTIME_UNITS[m.group(2) or 'm']
    if seconds <= 0:
        raise BatchError('walltime %r must be longer than zero' % (value,))
    return seconds


def format_hms(seconds):
    """'HH:MM:SS' with hours past 24 when needed (PBS, Grid Engine)."""
    return '%02d:%02d:%02d' % (seconds // 3600, seconds % 3600 // 60, seconds % 60)


def format_dhms(seconds):
    """'D-HH:MM:SS' or 'HH:MM:SS' (Slurm)."""
    days, rest = divmod(seconds, 86400)
    return ('%d-' % days if days else '') + format_hms(rest)


_MEMORY_UNITS = {'': 1, 'k': 1.0 / 1024, 'm': 1, 'g': 1024, 't': 1024 * 1024}


def parse_memory(value):
    """MiB from '4G', '4096M', '4GB', '512MiB', '2T', '1048576K' or a bare number of MiB."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise BatchError('memory: %r is not a size' % (value,))
    if isinstance(value, int):
        mib = value
    else:
        m = re.match(r'^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$', str(value).strip().lower())
        if not m:
            raise BatchError("memory %r is not a size: use a number of MiB or a number with K, M, G or T" % (value,))
        mib = float(m.group(1)) * _MEMORY_UNITS[m.group(2)]
        mib = int(mib) if mib == int(mib) else int(mib) + 1
    if mib <= 0:
        raise BatchError('memory %r must be more than zero' % (value,))
    return mib


def split_exit_code(value):
    """(exit_code, signal) from the forms schedulers write: '3:0' (Slurm), '0', '', None, '271' is left as is."""
    if value is None:
        return None, None
    text = str(value).strip()
    if not text or text in ('-', 'N/A', '(null)'):
        return None, None
    m = re.match(r'^(-?\d+)(?::(\d+))?$', text)
    if not m:
        return None, None
    code = int(m.group(1))
    signal = int(m.group(2)) if m.group(2) else None
    if signal:
        return 128 + signal, signal
    return code, None


def aggregate_state(states):
    """One state for several (the tasks of an array): active if any is, else the worst ending."""
    states = list(states)
    if not states:
        return UNKNOWN
    if RUNNING in states:
        return RUNNING
    if QUEUED in states:
        return QUEUED
    if UNKNOWN in states:
        return UNKNOWN
    if FAILED in states:
        return FAILED
    if CANCELLED in states:
        return CANCELLED
    return COMPLETED


class JobStatus:
    """What a query learned about one job (an array job: its tasks in `tasks`)."""

    def __init__(self, job_id, state, exit_code=None, native_state=None, name=None, reason=None, signal=None,
                 tasks=None, source=None):
        if state not in STATES:
            raise ValueError('bad state %r' % state)
        self.job_id = job_id
        self.state = state
        self.exit_code = exit_code
        self.signal = signal
        self.native_state = native_state
        self.name = name
        self.reason = reason
        self.tasks = tasks or []
        self.source = source

    @classmethod
    def combine(cls, job_id, records, source=None):
        """A JobStatus for a job from the JobStatus of its parts (array tasks, sub-jobs)."""
        if len(records) == 1:
            r = records[0]
            r.job_id = job_id
            r.source = r.source or source
            return r
        state = aggregate_state(r.state for r in records)
        codes = [r.exit_code for r in records if r.exit_code is not None]
        exit_code = None
        if state in TERMINAL and codes:
            exit_code = max(codes, key=abs)
        native = sorted(set(r.native_state for r in records if r.native_state))
        name = next((r.name for r in records if r.name), None)
        return cls(job_id, state, exit_code=exit_code, native_state=','.join(native) or None, name=name,
                   tasks=[r.as_dict() for r in records], source=source)

    def as_dict(self):
        d = dict(job_id=self.job_id, state=self.state, exit_code=self.exit_code, native_state=self.native_state)
        for key in ('signal', 'name', 'reason', 'source'):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        if self.tasks:
            d['tasks'] = self.tasks
        return d

    def result_fields(self):
        """as_dict() for a module's result (without the internal 'source')."""
        d = self.as_dict()
        d.pop('source', None)
        return d

    def __repr__(self):
        return 'JobStatus(%r)' % self.as_dict()


# ------------------------------------------------------------------------------------------------- running
class CommandResult:
    def __init__(self, argv, rc, stdout, stderr):
        self.argv = argv
        self.rc = rc
        self.stdout = stdout or ''
        self.stderr = stderr or ''

    @property
    def output(self):
        return (self.stdout + '\n' + self.stderr).strip()

    def describe(self):
        return '%s exited with %s: %s' % (' '.join(shlex.quote(a) for a in self.argv), self.rc,
                                          self.output[-2000:] or '(no output)')


# Messages that mean "no answer this time" (a controller that is busy, restarting or out of reach).
TRANSIENT_PATTERNS = (
    'timed out', 'time out', 'timeout', 'try again', 'temporarily', 'unable to contact', 'connection refused',
    'connection reset', 'not responding', 'communication', 'socket', 'unreachable', 'busy', 'cannot connect',
    'unable to connect', 'no route to host', 'resource temporarily unavailable', 'slurmctld', 'batch system',
    'lsf is down', 'lim is down', 'mbatchd', 'pbs_server', 'qmaster', 'broker', 'interrupted system call',
)


def looks_transient(result):
    text = result.output.lower()
    return any(p in text for p in TRANSIENT_PATTERNS)


class Runner:
    """Runs commands through a run function (AnsibleModule.run_command's signature) and keeps a log.

    run(..., retry=True) tries a failed command again `retries` times, waiting `delay`, then twice that,
    and so on, while `transient(result)` says the failure may pass. Submissions are never retried here: a
    submission that timed out may still have been accepted, and a second one would be a duplicate.
    """

    def __init__(self, run_function, retries=3, delay=2.0, sleep=time.sleep, environ=None):
        self._run = run_function
        self.retries = retries
        self.delay = delay
        self.sleep = sleep
        self.environ = dict(environ or {})
        self.log = []

    def run(self, argv, data=None, cwd=None, env=None, retry=True, transient=looks_transient):
        environ = dict(self.environ)
        environ.update(env or {})
        attempts = 1 + (self.retries if retry else 0)
        delay = self.delay
        result = None
        for attempt in range(attempts):
            rc, out, err = self._run(argv, data=data, cwd=cwd, environ_update=environ or None)
            result = CommandResult(list(argv), rc, out, err)
            self.log.append(dict(command=list(argv), rc=rc, stderr=(err or '')[-500:]))
            if rc == 0 or attempt == attempts - 1 or not transient(result):
                return result
            self.sleep(delay)
            delay *= 2
        return result


def ansible_run_function(module):
    """Adapts AnsibleModule.run_command: no ~ or $VAR expansion in arguments, text out."""
    def run(argv, data=None, cwd=None, environ_update=None):
        return module.run_command(argv, data=data, cwd=cwd, environ_update=environ_update,
                                  expand_user_and_vars=False, binary_data=data is not None)
    return run


# ------------------------------------------------------------------------------------------------- the job
class JobSpec:
    """The request, normalised: walltime in seconds, memory in MiB, paths absolute."""

    FIELDS = ('script', 'arguments', 'name', 'nodes', 'ntasks', 'tasks_per_node', 'cpus_per_task', 'memory',
              'gpus', 'walltime', 'partition', 'account', 'reservation', 'constraint', 'exclusive', 'array',
              'output', 'error', 'chdir', 'directives', 'environment')

    def __init__(self, **kwargs):
        unknown = set(kwargs) - set(self.FIELDS)
        if unknown:
            raise ValueError('unknown job fields %s' % sorted(unknown))
        for f in self.FIELDS:
            setattr(self, f, kwargs.get(f))
        self.arguments = [str(a) for a in (self.arguments or [])]
        self.directives = list(self.directives or [])
        self.environment = dict((str(k), '' if v is None else str(v)) for k, v in (self.environment or {}).items())
        self.walltime = parse_walltime(self.walltime)
        self.memory = parse_memory(self.memory)
        for f in ('nodes', 'ntasks', 'tasks_per_node', 'cpus_per_task'):
            v = getattr(self, f)
            if v is not None and v < 1:
                raise BatchError('%s must be 1 or more, not %s' % (f, v))
        if self.gpus is not None and self.gpus < 0:
            raise BatchError('gpus must be 0 or more, not %s' % self.gpus)
        for k in self.environment:
            if not re.match(r'^[A-Za-z_][A-Za-z0-9_]*$', k):
                raise BatchError('environment: %r is not a valid variable name' % k)
        if self.array is not None:
            self.array = str(self.array).strip()
            if not re.match(r'^[0-9][0-9,:%\-]*$', self.array):
                raise BatchError("array %r is not an index range such as '0-9', '1,3,5' or '1-100%%10'" % self.array)

    def total_tasks(self):
        """ntasks, else nodes x tasks_per_node, else None."""
        if self.ntasks:
            return self.ntasks
        if self.tasks_per_node:
            return (self.nodes or 1) * self.tasks_per_node
        return None

    def tasks_on_a_node(self):
        """Tasks per node: tasks_per_node, else ntasks spread over nodes (rounded up), else 1."""
        if self.tasks_per_node:
            return self.tasks_per_node
        if self.ntasks:
            nodes = self.nodes or 1
            return -(-self.ntasks // nodes)
        return 1

    def extra_args(self, prefix=None):
        """The raw directives as argument lists; a leading '#SBATCH'-style prefix is dropped."""
        out = []
        for d in self.directives:
            text = str(d).strip()
            if prefix and text.startswith(prefix):
                text = text[len(prefix):].strip()
            try:
                out.append(shlex.split(text))
            except ValueError as e:
                raise BatchError('directive %r cannot be split into arguments: %s' % (d, e))
        return out


class Submission:
    """What a submission runs: the argv, the directive lines it stands for, stdin, cwd and environment (and
    the JobSpec, for a backend that runs the job itself)."""

    def __init__(self, argv, directives, stdin_path=None, cwd=None, env=None, spec=None):
        self.argv = argv
        self.directives = directives
        self.stdin_path = stdin_path
        self.cwd = cwd
        self.env = env or {}
        self.spec = spec

    def command_line(self):
        line = ' '.join(shlex.quote(a) for a in self.argv)
        if self.stdin_path:
            line += ' < ' + shlex.quote(self.stdin_path)
        return line


class Backend:
    """The common part of every scheduler backend. A backend sets:

    name                 the scheduler option's value
    commands             role -> executable name: 'submit', 'status', 'cancel', ...
    directive_prefix     '#SBATCH', '#PBS', ... (for the returned directive lines)

    and implements build_submission(spec), parse_submit_output(result), status(job_id),
    find_active(name) and cancel_argv(job_id). Options a scheduler cannot express are refused with
    BatchError (unsupported(...)) rather than silently dropped.
    """

    name = None
    commands = {}
    directive_prefix = None
    # Seconds a job may be unknown to the scheduler right after it ended before a wait believes it: how long
    # the scheduler may take to write the job's accounting record.
    unknown_grace = 0

    def __init__(self, runner, which, warn=None, user=None, options=None):
        """which(command) -> absolute path or None; warn(message); options: backend-specific settings."""
        self.runner = runner
        self._which = which
        self.warn = warn or (lambda msg: None)
        self.user = user or _current_user()
        self.options = options or {}
        self._paths = {}

    # --- commands
    def bin(self, role):
        name = self.commands[role]
        if name not in self._paths:
            path = self._which(name)
            if not path:
                raise BatchError(
                    "%s not found on this host (needed by the %s backend to %s jobs): install the scheduler's "
                    "client commands or set bin_dir" % (name, self.name, role))
            self._paths[name] = path
        return self._paths[name]

    def check_commands(self, roles):
        for role in roles:
            self.bin(role)

    def unsupported(self, spec, fields, why=''):
        for f in fields:
            v = getattr(spec, f)
            if v not in (None, False, [], {}, ''):
                raise BatchError('%s is not supported by the %s backend%s' % (f, self.name, why and ': ' + why))

    @staticmethod
    def command_line(head, args_groups, tail=()):
        """head, then every option group, then tail: the submit command line of a backend."""
        argv = list(head)
        for group in args_groups:
            argv.extend(group)
        argv.extend(tail)
        return argv

    def directive_lines(self, args_groups):
        return ['%s %s' % (self.directive_prefix, ' '.join(shlex.quote(a) for a in g)) for g in args_groups]

    # --- the operations
    def build_submission(self, spec):
        raise NotImplementedError

    def parse_submit_output(self, result):
        raise NotImplementedError

    def submit(self, submission):
        data = None
        if submission.stdin_path:
            with open(submission.stdin_path, 'rb') as f:
                data = f.read()
        result = self.runner.run(submission.argv, data=data, cwd=submission.cwd, env=submission.env, retry=False)
        if result.rc != 0:
            raise BatchError('submission failed: ' + result.describe())
        return self.parse_submit_output(result)

    def status(self, job_id):
        raise NotImplementedError

    def find_active(self, name):
        """JobStatus of this user's queued or running jobs called name."""
        raise NotImplementedError

    def cancel_argv(self, job_id):
        raise NotImplementedError

    def cancel(self, job_id):
        """Ask the scheduler to cancel; returns the CommandResult (the caller re-reads the state)."""
        return self.runner.run(self.cancel_argv(job_id))


def _current_user():
    try:
        import pwd
        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        return os.environ.get('USER') or os.environ.get('LOGNAME') or ''


def get_backend(name):
    """The Backend class for a scheduler name; BatchError for an unknown one."""
    # imported here, not at the top, because each backend imports this file
    if name == 'slurm':
        from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import slurm as mod
    elif name == 'pbs':
        from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import pbs as mod
    elif name == 'lsf':
        from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import lsf as mod
    elif name == 'flux':
        from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import flux as mod
    elif name == 'sge':
        from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import sge as mod
    elif name == 'local':
        from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import local as mod
    else:
        raise BatchError('unknown scheduler %r: choose one of %s' % (name, ', '.join(SCHEDULERS)))
    return mod.BACKEND


# ------------------------------------------------------------------------------------------------- modules
# The options of the doc fragment hepcloud.lumberjack._batch (DOCUMENTATION and WAIT), for argument_spec.
COMMON_ARGUMENT_SPEC = dict(
    scheduler=dict(type='str', required=True, choices=list(SCHEDULERS)),
    bin_dir=dict(type='path'),
    retries=dict(type='int', default=3),
    retry_delay=dict(type='float', default=2.0),
    slurm_accounting=dict(type='str', default='auto', choices=['auto', 'yes', 'no']),
    pbs_flavor=dict(type='str', default='auto', choices=['auto', 'pbspro', 'torque']),
    sge_pe=dict(type='str', default='smp'),
    local_state_dir=dict(type='path', default='~/.lumberjack/local-jobs'),
)
WAIT_ARGUMENT_SPEC = dict(
    wait=dict(type='bool', default=False),
    wait_timeout=dict(type='int', default=3600),
    poll_interval=dict(type='float', default=10.0),
)


def backend_from_module(module, sleep=time.sleep):
    """(backend, poller) for an AnsibleModule whose params include COMMON_ARGUMENT_SPEC's options."""
    p = module.params
    if p['retries'] < 0 or p['retry_delay'] < 0:
        raise BatchError('retries and retry_delay must not be negative')
    cls = get_backend(p['scheduler'])
    bin_dir = p.get('bin_dir')

    def which(name):
        return module.get_bin_path(name, required=False, opt_dirs=[bin_dir] if bin_dir else [])

    runner = Runner(ansible_run_function(module), retries=p['retries'], delay=p['retry_delay'], sleep=sleep)
    options = dict(accounting=p['slurm_accounting'], flavor=p['pbs_flavor'], pe=p['sge_pe'],
                   state_dir=p['local_state_dir'])
    backend = cls(runner, which, warn=module.warn, options=options)
    return backend, Poller(backend, retries=p['retries'], delay=p['retry_delay'], sleep=sleep)


# ------------------------------------------------------------------------------------------------- polling
class Poller:
    """Queries a job's state with tolerance, and waits for it to end.

    query(): a TransientError, or 'unknown' for a job that was known a moment ago, is asked again up to
    `retries` times (delay doubling) before it is believed. wait(): polls every `interval` seconds until
    the state is terminal; a poll that fails is counted, not believed, and `max_errors` failures in a row
    end the wait with an error; 'unknown' must be seen `unknown_polls` times in a row, and for at least the
    backend's `unknown_grace` seconds, to end it.
    """

    def __init__(self, backend, retries=3, delay=2.0, sleep=time.sleep, clock=time.time):
        self.backend = backend
        self.retries = retries
        self.delay = delay
        self.sleep = sleep
        self.clock = clock

    def query(self, job_id):
        delay = self.delay
        last_error = None
        status = None
        for attempt in range(self.retries + 1):
            try:
                status = self.backend.status(job_id)
                last_error = None
                if status.state != UNKNOWN:
                    return status
            except TransientError as e:
                last_error = e
            if attempt < self.retries:
                self.sleep(delay)
                delay *= 2
        if last_error is not None:
            raise last_error
        return status

    def wait(self, job_id, timeout, interval, unknown_polls=3, max_errors=None, on_poll=None, ready=None):
        """The final JobStatus; raises BatchError on timeout (with the last state) or persistent errors.

        ready: a cheap local check (no scheduler query) that the job is about to end, e.g. that it wrote its
        result file: looked at every second between polls; once true, the scheduler is asked every second.
        """
        max_errors = max_errors or self.retries + 1
        grace = getattr(self.backend, 'unknown_grace', 0)
        deadline = self.clock() + timeout
        errors = 0
        unknowns = 0
        unknown_since = None
        status = None
        while True:
            try:
                status = self.backend.status(job_id)
                errors = 0
            except TransientError as e:
                errors += 1
                if errors >= max_errors:
                    raise BatchError('gave up waiting for job %s after %d failed status queries in a row: %s'
                                     % (job_id, errors, e))
            if status is not None and on_poll:
                on_poll(status)
            if status is not None and errors == 0:
                if status.state in TERMINAL:
                    return status
                if status.state == UNKNOWN:
                    unknowns += 1
                    unknown_since = self.clock() if unknown_since is None else unknown_since
                    if unknowns >= unknown_polls and self.clock() - unknown_since >= grace:
                        return status
                else:
                    unknowns, unknown_since = 0, None
            if self.clock() >= deadline:
                err = WaitTimeout('timed out after %ss waiting for job %s (last state: %s)' % (
                    timeout, job_id, status.state if status else 'never answered'))
                err.status = status
                raise err
            self._pause(max(0.0, min(interval, deadline - self.clock())), ready)

    def _pause(self, seconds, ready):
        if ready is None:
            self.sleep(seconds)
            return
        end = self.clock() + seconds
        if ready():
            end = min(end, self.clock() + 1.0)
        while self.clock() < end:
            self.sleep(min(1.0, end - self.clock()))
            if ready():
                return


class WaitTimeout(BatchError):
    """wait_timeout passed; .status is the last JobStatus seen (or None)."""
    status = None


def run_manager(module, manager):
    """exit_json with what manager.run() returns; fail_json naming the scheduler on a BatchError, with the
    last state seen when a wait timed out."""
    try:
        result = manager.run()
    except WaitTimeout as e:
        extra = e.status.result_fields() if e.status is not None else {}
        module.fail_json(msg=str(e), scheduler=module.params['scheduler'], **extra)
    except BatchError as e:
        module.fail_json(msg=str(e), scheduler=module.params['scheduler'])
    module.exit_json(**result)
