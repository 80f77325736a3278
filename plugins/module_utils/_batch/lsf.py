# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""IBM Spectrum LSF: bsub, bjobs and bkill.

The script goes to bsub on standard input (`bsub [options] < script`), the way LSF reads #BSUB lines in a
script; the options on the command line override them. Slots are cores: tasks times cpus_per_task in all,
`span[ptile=...]` of them on each node; memory is reserved per slot (rusage[mem]). bjobs shows ended jobs for
CLEAN_PERIOD (an hour by default); after that a job is 'not found' and its state unknown.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import (
    ACTIVE, COMPLETED, FAILED, QUEUED, RUNNING, UNKNOWN,
    Backend, BatchError, JobStatus, Submission, TransientError,
)

STATE_MAP = {
    'PEND': QUEUED, 'PSUSP': QUEUED, 'WAIT': QUEUED,
    'RUN': RUNNING, 'USUSP': RUNNING, 'SSUSP': RUNNING, 'PROV': RUNNING,
    'DONE': COMPLETED,
    'EXIT': FAILED,
    'UNKWN': UNKNOWN, 'ZOMBI': UNKNOWN,
}
# bjobs -o: the fields with '|' between them (job_name last)
BJOBS_FORMAT = "jobid jobindex stat exit_code job_name delimiter='|'"


def parse_bjobs(text):
    out = []
    for line in text.splitlines():
        parts = line.strip().split('|')
        if len(parts) < 5 or not parts[0].isdigit():
            continue
        job_id, index, native, code, name = parts[0], parts[1], parts[2].strip(), parts[3].strip(), parts[4]
        if index not in ('', '0', '-'):
            job_id = '%s[%s]' % (job_id, index)
        state = STATE_MAP.get(native, UNKNOWN)
        exit_code = signal = None
        if state == COMPLETED:
            exit_code = 0
        elif state == FAILED:
            if code.isdigit():
                exit_code = int(code)
                if exit_code > 128:
                    # bkill's SIGINT, SIGTERM, SIGKILL look like a limit's: a killed job stays 'failed'
                    signal = exit_code - 128
        out.append(JobStatus(job_id, state, exit_code=exit_code, signal=signal, native_state=native,
                             name=name, source='bjobs'))
    return out


def not_found(result):
    return 'is not found' in result.output.lower() or 'no unfinished job found' in result.output.lower()


class LSFBackend(Backend):
    name = 'lsf'
    commands = {'submit': 'bsub', 'status': 'bjobs', 'cancel': 'bkill'}
    directive_prefix = '#BSUB'

    def build_submission(self, spec):
        if spec.arguments:
            raise BatchError('arguments are not supported by the lsf backend: bsub reads the script from '
                             'standard input; pass values in environment')
        opts = []
        name = spec.name
        if spec.array:
            if '%' in spec.array:
                indices, limit = spec.array.split('%', 1)
                array = '[%s]%%%s' % (indices, limit)
            else:
                array = '[%s]' % spec.array
            name = (name or 'job') + array
        if name:
            opts.append(['-J', name])
        cpt = spec.cpus_per_task or 1
        tasks = spec.total_tasks() or (spec.nodes or 1) * spec.tasks_on_a_node()
        slots = tasks * cpt
        if slots > 1 or spec.nodes:
            opts.append(['-n', str(slots)])
        if spec.nodes or spec.tasks_per_node:
            opts.append(['-R', 'span[ptile=%d]' % (spec.tasks_on_a_node() * cpt)])
        if spec.memory:
            per_slot = -(-spec.memory // (spec.tasks_on_a_node() * cpt))
            opts.append(['-R', 'rusage[mem=%dMB]' % per_slot])
        if spec.gpus:
            opts.append(['-gpu', 'num=%d' % spec.gpus])
        if spec.walltime:
            minutes = -(-spec.walltime // 60)
            opts.append(['-W', '%d:%02d' % (minutes // 60, minutes % 60)])
        if spec.partition:
            opts.append(['-q', spec.partition])
        if spec.account:
            opts.append(['-P', spec.account])
        if spec.reservation:
            opts.append(['-U', spec.reservation])
        if spec.constraint:
            opts.append(['-R', 'select[%s]' % spec.constraint])
        if spec.exclusive:
            opts.append(['-x'])
        if spec.output:
            opts.append(['-o', spec.output])
        if spec.error:
            opts.append(['-e', spec.error])
        if spec.chdir:
            opts.append(['-cwd', spec.chdir])
        opts.extend(spec.extra_args(self.directive_prefix))
        argv = self.command_line([self.bin('submit')], opts)
        # bsub copies the submission environment into the job, so environment travels in bsub's own
        return Submission(argv, self.directive_lines(opts), stdin_path=spec.script, cwd=spec.chdir,
                          env=spec.environment)

    def parse_submit_output(self, result):
        m = re.search(r'Job <(\d+)> is submitted', result.stdout)
        if not m:
            raise BatchError('bsub did not print a job id: ' + result.describe())
        return m.group(1)

    def status(self, job_id):
        job_id = str(job_id)
        r = self.runner.run([self.bin('status'), '-a', '-noheader', '-o', BJOBS_FORMAT, job_id])
        records = parse_bjobs(r.stdout)
        if not records:
            if r.rc == 0 or not_found(r):
                return JobStatus(job_id, UNKNOWN, source='bjobs',
                                 reason='bjobs no longer knows job %s (ended jobs are kept for CLEAN_PERIOD)'
                                 % job_id)
            raise TransientError('bjobs failed for job %s: %s' % (job_id, r.describe()))
        return JobStatus.combine(job_id, records, source='bjobs')

    def find_active(self, name):
        r = self.runner.run([self.bin('status'), '-noheader', '-o', BJOBS_FORMAT, '-J', name])
        records = parse_bjobs(r.stdout)
        if not records and r.rc != 0 and not not_found(r):
            raise TransientError('cannot list the jobs called %s: %s' % (name, r.describe()))
        jobs = {}
        for rec in records:
            base = rec.job_id.split('[')[0]
            if re.sub(r'\[.*$', '', rec.name or '') == name and rec.state in ACTIVE:
                jobs.setdefault(base, []).append(rec)
        return [JobStatus.combine(base, recs, source='bjobs') for base, recs in sorted(jobs.items())]

    def cancel_argv(self, job_id):
        return [self.bin('cancel'), str(job_id)]


BACKEND = LSFBackend
