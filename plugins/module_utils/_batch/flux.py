# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Flux: flux batch, flux jobs and flux cancel.

`flux batch` starts a Flux instance on the allocation and runs the script in it. Resources are slots:
ntasks slots of cpus_per_task cores (-n, -c), on -N nodes; GPUs are per slot (-g), so the per-node count
must divide evenly. Flux has no memory request, no reservations and no job arrays (--cc submits separate
jobs), so those are refused. Job ids are printed in F58 form; FLUX_F58_FORCE_ASCII=1 makes them plain ASCII
('f' for 'ƒ'). The job inherits the submission's working directory and environment.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import (
    ACTIVE, CANCELLED, COMPLETED, FAILED, QUEUED, RUNNING, UNKNOWN,
    Backend, BatchError, JobStatus, Submission, TransientError, looks_transient,
)

STATE_MAP = {
    'NEW': QUEUED, 'DEPEND': QUEUED, 'PRIORITY': QUEUED, 'SCHED': QUEUED,
    'RUN': RUNNING, 'CLEANUP': RUNNING,
}
RESULT_MAP = {'COMPLETED': COMPLETED, 'FAILED': FAILED, 'TIMEOUT': FAILED, 'CANCELED': CANCELLED,
              'CANCELLED': CANCELLED}
JOBS_FORMAT = '{id.f58}|{state}|{result}|{returncode}|{name}'
ASCII = {'FLUX_F58_FORCE_ASCII': '1'}


def parse_jobs(text):
    out = []
    for line in text.splitlines():
        parts = line.strip().split('|', 4)
        if len(parts) < 5:
            continue
        job_id, native, result, code, name = parts
        native = native.strip().upper()
        result = result.strip().upper()
        if native == 'INACTIVE':
            state = RESULT_MAP.get(result, UNKNOWN)
        else:
            state = STATE_MAP.get(native, UNKNOWN)
        exit_code = signal = None
        if state not in ACTIVE and re.match(r'^-?\d+$', code.strip()):
            # returncode: the highest job shell exit code; -N when signal N killed the job shell; -128 for a
            # job cancelled before it started (flux-jobs(1)). A task killed by signal N makes the job shell
            # exit with 128 + N (143 for a flux cancel of a running job, 142 for a timeout), which flux jobs
            # itself reports as that signal.
            rc = int(code)
            if rc > 128:
                exit_code, signal = rc, rc - 128
            elif rc >= 0:
                exit_code = rc
            elif rc != -128:
                signal, exit_code = -rc, 128 - rc
        out.append(JobStatus(job_id.strip(), state, exit_code=exit_code, signal=signal,
                             native_state=result if native == 'INACTIVE' and result else native,
                             name=name, source='flux jobs'))
    return out


class FluxBackend(Backend):
    name = 'flux'
    commands = {'submit': 'flux', 'status': 'flux', 'cancel': 'flux'}
    directive_prefix = '#flux:'

    def build_submission(self, spec):
        self.unsupported(spec, ['memory'], 'Flux schedules no memory')
        self.unsupported(spec, ['reservation'], 'Flux has no advance reservations')
        self.unsupported(spec, ['array'], 'Flux has no job arrays (flux batch --cc submits separate jobs)')
        opts = []
        if spec.name:
            opts.append(['--job-name=%s' % spec.name])
        if spec.nodes:
            opts.append(['-N', str(spec.nodes)])
        tasks = spec.total_tasks()
        if tasks:
            opts.append(['-n', str(tasks)])
        if spec.cpus_per_task:
            opts.append(['-c', str(spec.cpus_per_task)])
        if spec.gpus:
            per_node = spec.tasks_on_a_node()
            if spec.gpus % per_node:
                raise BatchError('Flux gives GPUs per task slot: gpus (%d per node) must be a multiple of the '
                                 'tasks on a node (%d)' % (spec.gpus, per_node))
            opts.append(['-g', str(spec.gpus // per_node)])
        if spec.walltime:
            opts.append(['-t', '%ds' % spec.walltime])
        if spec.partition:
            opts.append(['-q', spec.partition])
        if spec.account:
            opts.append(['--setattr=system.bank=%s' % spec.account])
        if spec.constraint:
            opts.append(['--requires=%s' % spec.constraint])
        if spec.exclusive:
            opts.append(['--exclusive'])
        if spec.output:
            opts.append(['--output=%s' % spec.output])
        if spec.error:
            opts.append(['--error=%s' % spec.error])
        opts.extend(spec.extra_args(self.directive_prefix))
        argv = self.command_line([self.bin('submit'), 'batch'], opts, [spec.script] + list(spec.arguments))
        env = dict(ASCII)
        env.update(spec.environment)
        return Submission(argv, self.directive_lines(opts), cwd=spec.chdir, env=env)

    def parse_submit_output(self, result):
        for line in reversed(result.stdout.strip().splitlines()):
            if re.match(r'^\s*(?:f|\u0192)[1-9A-HJ-NP-Za-km-z]+\s*$', line) or re.match(r'^\s*\d+\s*$', line):
                return line.strip()
        raise BatchError('flux batch did not print a job id: ' + result.describe())

    def status(self, job_id):
        job_id = str(job_id)
        r = self.runner.run([self.bin('status'), 'jobs', '-n', '--format=' + JOBS_FORMAT, job_id], env=ASCII)
        records = parse_jobs(r.stdout) if r.rc == 0 else []
        if not records:
            text = r.output.lower()
            # flux-core >= 0.80 exits 1 with "JobID ID unknown" when it knows none of the ids (older ones exit 0)
            forgotten = ('job not found' in text or 'unknown job' in text or 'invalid jobid' in text or
                         re.search(r'\bjob\b.*\bnot found', text) is not None or
                         re.search(r'\bjobid \S+ unknown', text) is not None)
            if r.rc == 0 or (forgotten and not looks_transient(r)):
                return JobStatus(job_id, UNKNOWN, source='flux jobs',
                                 reason='flux jobs does not know job %s' % job_id)
            raise TransientError('flux jobs failed for job %s: %s' % (job_id, r.describe()))
        return JobStatus.combine(job_id, records, source='flux jobs')

    def find_active(self, name):
        r = self.runner.run([self.bin('status'), 'jobs', '-n', '--filter=pending,running', '--name=%s' % name,
                             '--format=' + JOBS_FORMAT], env=ASCII)
        if r.rc != 0:
            raise TransientError('cannot list the jobs called %s: %s' % (name, r.describe()))
        return [rec for rec in parse_jobs(r.stdout) if rec.name == name and rec.state in ACTIVE]

    def cancel_argv(self, job_id):
        return [self.bin('cancel'), 'cancel', str(job_id)]

    def cancel(self, job_id):
        return self.runner.run(self.cancel_argv(job_id), env=ASCII)


BACKEND = FluxBackend
