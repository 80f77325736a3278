# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PBS: PBS Professional / OpenPBS and Torque, through qsub, qstat, qselect and qdel.

The two differ where it matters here. PBS Professional asks for resources in chunks
(-l select=2:ncpus=8:mpiprocs=4:mem=4000mb), keeps ended jobs in its history for qstat -x (job_state F,
Exit_status), has no option for the working directory, and takes no arguments for a job script. Torque asks
for -l nodes=2:ppn=8 and -l mem (for the whole job), shows ended jobs as job_state C with exit_status for
keep_completed seconds (its qstat -x means XML, not history), and has -d and -F. `pbs_flavor: auto` tells
them apart by `qstat --version` (PBS Professional prints "pbs_version = ...").

Exit status, both: the script's exit code; 256 + N when signal N killed it (so a qdel shows 271); a negative
number when the batch system could not start the job (JOB_EXEC_* codes). An ended job with no exit status
never ran: it was deleted while queued.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import (
    ACTIVE, CANCELLED, COMPLETED, FAILED, QUEUED, RUNNING, UNKNOWN,
    Backend, BatchError, JobStatus, Submission, TransientError, format_hms,
)

STATE_MAP = {
    'Q': QUEUED, 'H': QUEUED, 'W': QUEUED, 'T': QUEUED, 'M': QUEUED,
    'R': RUNNING, 'E': RUNNING, 'B': RUNNING, 'S': RUNNING, 'U': RUNNING,
    'F': COMPLETED, 'C': COMPLETED, 'X': COMPLETED,
}


def parse_qstat_full(text):
    """[{'Job Id': ..., attribute: value}] from `qstat -f` (continuation lines joined)."""
    jobs = []
    current = None
    key = None
    for line in text.splitlines():
        if line.startswith('Job Id:'):
            current = {'Job Id': line.split(':', 1)[1].strip()}
            jobs.append(current)
            key = None
            continue
        if current is None or not line.strip():
            continue
        m = re.match(r'^\s{4}(\S+) = (.*)$', line)
        if m:
            key = m.group(1)
            current[key] = m.group(2)
        elif key is not None and (line.startswith('\t') or line.startswith('  ')):
            current[key] += line.strip()
    return jobs


def exit_status(value):
    """(exit_code, signal, reason) from Exit_status / exit_status."""
    if value is None or not re.match(r'^-?\d+$', value.strip()):
        return None, None, None
    code = int(value)
    if code > 256:
        return 128 + code - 256, code - 256, None
    if code < 0:
        return code, None, 'the batch system could not run the job (JOB_EXEC code %d)' % code
    return code, None, None


def job_status(attrs):
    native = attrs.get('job_state', '').strip()
    state = STATE_MAP.get(native, UNKNOWN)
    raw = attrs.get('Exit_status', attrs.get('exit_status'))
    code, signal, reason = exit_status(raw)
    if state == COMPLETED:
        if raw is None:
            state, reason = CANCELLED, 'the job ended without running (deleted while queued)'
        elif code != 0:
            state = FAILED
    else:
        code = signal = None
    if reason is None and state in ACTIVE:
        comment = attrs.get('comment')
        reason = comment.strip() if comment else None
    return JobStatus(attrs['Job Id'], state, exit_code=code, signal=signal, native_state=native or None,
                     name=attrs.get('Job_Name'), reason=reason, source='qstat')


def is_subjob(job_id):
    return re.match(r'^\d+\[\d+\]', job_id) is not None


class PBSBackend(Backend):
    name = 'pbs'
    commands = {'submit': 'qsub', 'status': 'qstat', 'select': 'qselect', 'cancel': 'qdel'}
    directive_prefix = '#PBS'

    def __init__(self, *args, **kwargs):
        super(PBSBackend, self).__init__(*args, **kwargs)
        flavor = self.options.get('flavor') or 'auto'
        self._flavor = None if flavor == 'auto' else flavor

    @property
    def flavor(self):
        if self._flavor is None:
            r = self.runner.run([self.bin('status'), '--version'])
            text = r.output.lower()
            if 'pbs_version' in text:
                self._flavor = 'pbspro'
            elif 'version' in text and r.rc == 0:
                self._flavor = 'torque'
            else:
                raise BatchError('cannot tell PBS Professional from Torque (qstat --version said: %s); set '
                                 'pbs_flavor' % (r.output or 'nothing'))
        return self._flavor

    # ------------------------------------------------------------------ submit
    def build_submission(self, spec):
        pro = self.flavor == 'pbspro'
        opts = []
        if spec.name:
            opts.append(['-N', spec.name])
        nodes = spec.nodes or 1
        per_node = spec.tasks_on_a_node()
        cpus = per_node * (spec.cpus_per_task or 1)
        sized = any(getattr(spec, f) for f in ('nodes', 'ntasks', 'tasks_per_node', 'cpus_per_task', 'memory',
                                               'gpus', 'constraint'))
        if pro:
            if spec.arguments:
                raise BatchError('arguments are not supported by PBS Professional: qsub takes none for a job '
                                 'script; pass values in environment')
            if sized:
                chunk = 'select=%d:ncpus=%d:mpiprocs=%d' % (nodes, cpus, per_node)
                if spec.memory:
                    chunk += ':mem=%dmb' % spec.memory
                if spec.gpus:
                    chunk += ':ngpus=%d' % spec.gpus
                if spec.constraint:
                    chunk += ':' + spec.constraint
                opts.append(['-l', chunk])
            if spec.exclusive:
                opts.append(['-l', 'place=scatter:excl' if nodes > 1 else 'place=excl'])
        else:
            if sized:
                request = 'nodes=%d:ppn=%d' % (nodes, cpus)
                if spec.gpus:
                    request += ':gpus=%d' % spec.gpus
                if spec.constraint:
                    request += ':' + spec.constraint
                opts.append(['-l', request])
                if spec.memory:
                    opts.append(['-l', 'mem=%dmb' % (spec.memory * nodes)])
            if spec.exclusive:
                opts.append(['-n'])
        if spec.walltime:
            opts.append(['-l', 'walltime=%s' % format_hms(spec.walltime)])
        if spec.reservation and spec.partition:
            raise BatchError('PBS runs a reservation as a queue: give reservation or partition/queue, not both')
        if spec.reservation:
            opts.append(['-q', spec.reservation] if pro else ['-W', 'x=FLAGS:ADVRES:%s' % spec.reservation])
        if spec.partition:
            opts.append(['-q', spec.partition])
        if spec.account:
            opts.append(['-A', spec.account])
        if spec.array:
            opts.append(['-J' if pro else '-t', spec.array])
        if spec.output:
            opts.append(['-o', spec.output])
        if spec.error:
            opts.append(['-e', spec.error])
        if spec.chdir:
            if pro:
                self.warn('PBS Professional starts a job in the home directory; qsub runs in %s, so the job '
                          'finds it in $PBS_O_WORKDIR' % spec.chdir)
            else:
                opts.append(['-d', spec.chdir])
        if spec.environment:
            opts.append(['-v', ','.join(sorted(spec.environment))])
        if spec.arguments and not pro:
            opts.append(['-F', ' '.join(spec.arguments)])
        opts.extend(spec.extra_args(self.directive_prefix))
        argv = self.command_line([self.bin('submit')], opts, [spec.script])
        return Submission(argv, self.directive_lines(opts), cwd=spec.chdir, env=spec.environment)

    def parse_submit_output(self, result):
        for line in reversed(result.stdout.strip().splitlines()):
            m = re.match(r'^\s*(\d+(?:\[\])?(?:\.\S+)?)\s*$', line)
            if m:
                return m.group(1)
        raise BatchError('qsub did not print a job id: ' + result.describe())

    # ------------------------------------------------------------------ status
    def status_argv(self, job_id):
        argv = [self.bin('status'), '-f']
        if self.flavor == 'pbspro':
            argv.append('-x')
        if '[]' in job_id:
            argv.append('-t')
        return argv + [job_id]

    def status(self, job_id):
        job_id = str(job_id)
        r = self.runner.run(self.status_argv(job_id))
        if r.rc != 0 and 'unknown job id' not in r.output.lower():
            raise TransientError('qstat failed for job %s: %s' % (job_id, r.describe()))
        jobs = parse_qstat_full(r.stdout) if r.rc == 0 else []
        if not jobs:
            return JobStatus(job_id, UNKNOWN, source='qstat',
                             reason='qstat no longer knows job %s (%s)' % (
                                 job_id, 'its history has expired' if self.flavor == 'pbspro'
                                 else 'ended jobs stay only keep_completed seconds'))
        subjobs = [j for j in jobs if is_subjob(j['Job Id'])]
        records = [job_status(j) for j in (subjobs or jobs)]
        return JobStatus.combine(job_id, records, source='qstat')

    # ------------------------------------------------------------------ by name, cancel
    def find_active(self, name):
        r = self.runner.run([self.bin('select'), '-u', self.user, '-N', name])
        if r.rc != 0:
            raise TransientError('cannot list the jobs called %s: %s' % (name, r.describe()))
        found = []
        for job_id in r.stdout.split():
            st = self.status(job_id)
            if st.state in ACTIVE:
                found.append(st)
        return found

    def cancel_argv(self, job_id):
        return [self.bin('cancel'), str(job_id)]


BACKEND = PBSBackend
