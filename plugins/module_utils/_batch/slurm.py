# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Slurm: sbatch, squeue, sacct, scontrol and scancel.

Status comes from two places. squeue knows the jobs slurmctld still holds: every queued or running job
and, for MinJobAge seconds (300 by default), the ones that ended. sacct knows every job that slurmdbd has
recorded, but only where accounting is set up, and it may lag a second behind a new job. So a query asks
squeue first; a job it shows as queued or running is taken as is. A job squeue shows as ended, or no longer
knows, or a squeue that failed, is looked up in sacct; an ended job that sacct does not have gets its exit
code from scontrol. A job that neither knows is looked up in the job completion log, where slurmctld writes
one to a text file (JobCompType=jobcomp/filetxt) the user can read; a job none of them knows is 'unknown',
never 'completed'. When sacct fails (slurmdbd down) squeue's answer stands alone, and the next query tries
sacct again; when squeue fails and sacct answers, sacct's answer is used. Both failing is a TransientError.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import (
    ACTIVE, CANCELLED, COMPLETED, FAILED, QUEUED, RUNNING, UNKNOWN,
    Backend, BatchError, JobStatus, Submission, TransientError, format_dhms, split_exit_code,
)

# Slurm's job states (squeue %T and sacct State; sacct adds "by UID" to CANCELLED) -> ours.
STATE_MAP = {
    'PENDING': QUEUED, 'REQUEUED': QUEUED, 'REQUEUE_FED': QUEUED, 'REQUEUE_HOLD': QUEUED,
    'RESV_DEL_HOLD': QUEUED, 'SPECIAL_EXIT': QUEUED,
    'RUNNING': RUNNING, 'CONFIGURING': RUNNING, 'COMPLETING': RUNNING, 'SUSPENDED': RUNNING,
    'STOPPED': RUNNING, 'SIGNALING': RUNNING, 'STAGE_OUT': RUNNING, 'RESIZING': RUNNING,
    'POWER_UP_NODE': RUNNING, 'UPDATE_DB': RUNNING,
    'COMPLETED': COMPLETED,
    'FAILED': FAILED, 'TIMEOUT': FAILED, 'NODE_FAIL': FAILED, 'OUT_OF_MEMORY': FAILED, 'BOOT_FAIL': FAILED,
    'DEADLINE': FAILED, 'PREEMPTED': FAILED,
    'CANCELLED': CANCELLED, 'REVOKED': CANCELLED,
}

SQUEUE_FORMAT = '%i|%j|%T|%r'
SACCT_FIELDS = 'JobID,JobName,State,ExitCode'


def normalise(native):
    word = (native or '').split()[0].rstrip('+') if (native or '').split() else ''
    return STATE_MAP.get(word.upper(), UNKNOWN), word or None


def forgotten(result):
    """squeue/scontrol's answer for a job id slurmctld no longer (or never) had."""
    return 'invalid job id' in result.output.lower()


def belongs(record_id, job_id):
    """Whether an id squeue/sacct printed ('123', '123_4', '123_[5-9]', '123+0') is part of job_id."""
    if record_id == job_id:
        return True
    if '_' in job_id or '+' in job_id:
        return False
    return re.match(r'^%s[_+]' % re.escape(job_id), record_id) is not None


class SlurmBackend(Backend):
    name = 'slurm'
    commands = {'submit': 'sbatch', 'status': 'squeue', 'accounting': 'sacct', 'control': 'scontrol',
                'cancel': 'scancel'}
    directive_prefix = '#SBATCH'

    def __init__(self, *args, **kwargs):
        super(SlurmBackend, self).__init__(*args, **kwargs)
        # None: not known yet; False: sacct said accounting is disabled (not asked again in this run)
        self.accounting = None if self.options.get('accounting', 'auto') == 'auto' else (
            self.options.get('accounting') == 'yes')
        self._jobcomp = None  # the job completion log's path; '' when there is none this user can read

    # ------------------------------------------------------------------ submit
    def build_submission(self, spec):
        opts = []
        if spec.name:
            opts.append(['--job-name=%s' % spec.name])
        if spec.nodes:
            opts.append(['--nodes=%d' % spec.nodes])
        if spec.ntasks:
            opts.append(['--ntasks=%d' % spec.ntasks])
        if spec.tasks_per_node:
            opts.append(['--ntasks-per-node=%d' % spec.tasks_per_node])
        if spec.cpus_per_task:
            opts.append(['--cpus-per-task=%d' % spec.cpus_per_task])
        if spec.memory:
            opts.append(['--mem=%dM' % spec.memory])
        if spec.gpus:
            opts.append(['--gres=gpu:%d' % spec.gpus])
        if spec.walltime:
            opts.append(['--time=%s' % format_dhms(spec.walltime)])
        if spec.partition:
            opts.append(['--partition=%s' % spec.partition])
        if spec.account:
            opts.append(['--account=%s' % spec.account])
        if spec.reservation:
            opts.append(['--reservation=%s' % spec.reservation])
        if spec.constraint:
            opts.append(['--constraint=%s' % spec.constraint])
        if spec.exclusive:
            opts.append(['--exclusive'])
        if spec.array:
            opts.append(['--array=%s' % spec.array])
        if spec.output:
            opts.append(['--output=%s' % spec.output])
        if spec.error:
            opts.append(['--error=%s' % spec.error])
        if spec.chdir:
            opts.append(['--chdir=%s' % spec.chdir])
        if spec.environment:
            # the values travel in sbatch's own environment, so commas and quotes in them are safe
            opts.append(['--export=ALL,%s' % ','.join(sorted(spec.environment))])
        opts.extend(spec.extra_args(self.directive_prefix))
        argv = self.command_line([self.bin('submit'), '--parsable'], opts, [spec.script] + list(spec.arguments))
        return Submission(argv, self.directive_lines(opts), cwd=spec.chdir, env=spec.environment)

    def parse_submit_output(self, result):
        # --parsable: "JOBID" or "JOBID;CLUSTER"
        for line in reversed(result.stdout.strip().splitlines()):
            m = re.match(r'^\s*(\d+)(?:;\S+)?\s*$', line)
            if m:
                return m.group(1)
        raise BatchError('sbatch did not print a job id: ' + result.describe())

    # ------------------------------------------------------------------ status
    def _squeue(self, job_id):
        """(records, ok): records [] when squeue no longer knows the job; ok False when squeue failed."""
        r = self.runner.run([self.bin('status'), '-h', '-r', '-j', job_id, '-t', 'all', '-o', SQUEUE_FORMAT])
        if r.rc != 0:
            return ([], True) if forgotten(r) else (None, False)
        return self.parse_squeue(r.stdout, job_id), True

    @staticmethod
    def parse_squeue(text, job_id=None):
        out = []
        for line in text.splitlines():
            parts = line.strip().split('|')
            if len(parts) < 3 or (job_id and not belongs(parts[0], job_id)):
                continue
            state, native = normalise(parts[2])
            reason = parts[3] if len(parts) > 3 and parts[3] not in ('None', '') else None
            out.append(JobStatus(parts[0], state, native_state=native, name=parts[1], reason=reason,
                                 source='squeue'))
        return out

    def _sacct(self, job_id):
        """(records, how): how is 'ok', 'off' (accounting is not set up) or 'failed' (no answer)."""
        if self.accounting is False:
            return None, 'off'
        r = self.runner.run([self.bin('accounting'), '-n', '-P', '-X', '-j', job_id, '-o', SACCT_FIELDS])
        if r.rc != 0:
            text = r.output.lower()
            if 'accounting storage is disabled' in text or 'accounting_storage/none' in text:
                self.accounting = False
                return None, 'off'
            return None, 'failed'
        return self.parse_sacct(r.stdout, job_id), 'ok'

    @staticmethod
    def parse_sacct(text, job_id=None):
        out = []
        for line in text.splitlines():
            parts = line.strip().split('|')
            if len(parts) < 4 or (job_id and not belongs(parts[0], job_id)):
                continue
            state, native = normalise(parts[2])
            code, signal = split_exit_code(parts[3]) if state not in (QUEUED, RUNNING) else (None, None)
            out.append(JobStatus(parts[0], state, exit_code=code, signal=signal, native_state=native,
                                 name=parts[1], source='sacct'))
        return out

    def _scontrol_exit_codes(self, job_id):
        """{record id: (exit_code, signal)} from scontrol for jobs slurmctld still holds."""
        r = self.runner.run([self.bin('control'), '-o', 'show', 'job', job_id])
        if r.rc != 0:
            return {}
        return self.parse_scontrol(r.stdout)

    @staticmethod
    def parse_scontrol(text):
        codes = {}
        for line in text.splitlines():
            m_id = re.search(r'(?:^|\s)JobId=(\d+)', line)
            m_code = re.search(r'(?:^|\s)ExitCode=(\S+)', line)
            if not (m_id and m_code):
                continue
            key = m_id.group(1)
            m_arr = re.search(r'(?:^|\s)ArrayJobId=(\d+)', line)
            m_task = re.search(r'(?:^|\s)ArrayTaskId=(\d+)(?:\s|$)', line)
            if m_arr and m_task:
                key = '%s_%s' % (m_arr.group(1), m_task.group(1))
            codes[key] = split_exit_code(m_code.group(1))
        return codes

    def _jobcomp_path(self):
        """JobCompLoc when slurmctld writes its job completion log to a text file this user can read."""
        if self._jobcomp is None:
            self._jobcomp = ''
            r = self.runner.run([self.bin('control'), 'show', 'config'])
            kind = re.search(r'^JobCompType\s*=\s*(\S+)', r.stdout, re.M)
            where = re.search(r'^JobCompLoc\s*=\s*(\S+)', r.stdout, re.M)
            if r.rc == 0 and kind and kind.group(1) == 'jobcomp/filetxt' and where and \
                    os.access(where.group(1), os.R_OK):
                self._jobcomp = where.group(1)
        return self._jobcomp

    def _jobcomp_records(self, job_id):
        """JobStatus from the job completion log (jobcomp/filetxt): an exit record without slurmdbd."""
        path = self._jobcomp_path()
        if not path:
            return []
        found = {}
        try:
            with open(path, errors='replace') as f:
                for line in f:
                    if 'JobId=%s ' % job_id.split('_')[0] not in line and 'ArrayJobId=%s ' % job_id not in line:
                        continue
                    fields = dict(re.findall(r'(?:^|\s)(\w+)=(\S*)', line))
                    key = fields.get('JobId', '')
                    if fields.get('ArrayJobId') and fields.get('ArrayTaskId'):
                        key = '%s_%s' % (fields['ArrayJobId'], fields['ArrayTaskId'])
                    if not belongs(key, job_id) and fields.get('JobId') != job_id:
                        continue
                    state, native = normalise(fields.get('JobState'))
                    code, signal = split_exit_code(fields.get('ExitCode'))
                    # a later line for the same id (ids start again on a new cluster) replaces an earlier one
                    found[key] = JobStatus(key, state, exit_code=code, signal=signal, native_state=native,
                                           name=fields.get('Name'), source='jobcomp')
        except (IOError, OSError):
            return []
        return list(found.values())

    def status(self, job_id):
        job_id = str(job_id)
        live, squeue_ok = self._squeue(job_id)
        if live and any(r.state in ACTIVE for r in live):
            # queued or running (an array with some tasks still to run is active as a whole)
            return JobStatus.combine(job_id, live, source='squeue')
        recorded, sacct = self._sacct(job_id)
        if live:
            # ended, still in slurmctld's memory: squeue's list of jobs (or array tasks) stands, each with its
            # accounting record where sacct has one (right after an array ends sacct may still show a single
            # placeholder record for the whole array), else with the exit code from scontrol
            by_id = dict((r.job_id, r) for r in recorded or [])
            merged = [by_id.get(r.job_id, r) for r in live]
            if any(r.source == 'squeue' for r in merged):
                codes = self._scontrol_exit_codes(job_id)
                for r in merged:
                    if r.source == 'squeue' and r.job_id in codes:
                        r.exit_code, r.signal = codes[r.job_id]
            return JobStatus.combine(job_id, merged, source='sacct' if recorded else 'squeue')
        if recorded:
            tasks = [r for r in recorded if r.job_id != job_id]
            return JobStatus.combine(job_id, tasks or recorded, source='sacct')
        completed = self._jobcomp_records(job_id)
        if completed:
            return JobStatus.combine(job_id, completed, source='jobcomp')
        if not squeue_ok or sacct == 'failed':
            raise TransientError('no answer about job %s (%s): %s' % (
                job_id, 'squeue failed' if not squeue_ok else 'squeue no longer knows it and sacct failed',
                '; '.join('%s rc=%s %s' % (e['command'][0], e['rc'], e['stderr'].strip())
                          for e in self.runner.log[-2:])))
        why = ('slurmctld no longer knows job %s and accounting (sacct) has no record of it' if sacct == 'ok'
               else 'slurmctld no longer knows job %s, accounting (sacct) is not set up and no job completion '
                    'log has it')
        return JobStatus(job_id, UNKNOWN, reason=why % job_id, source='squeue')

    # ------------------------------------------------------------------ by name, cancel
    def find_active(self, name):
        r = self.runner.run([self.bin('status'), '-h', '-r', '--name=%s' % name, '-u', self.user, '-t', 'all',
                             '-o', SQUEUE_FORMAT])
        if r.rc != 0:
            raise TransientError('cannot list the jobs called %s: %s' % (name, r.describe()))
        jobs = {}
        for rec in self.parse_squeue(r.stdout):
            if rec.name != name or rec.state not in ACTIVE:
                continue
            jobs.setdefault(re.split(r'[_+]', rec.job_id)[0], []).append(rec)
        return [JobStatus.combine(base, recs, source='squeue') for base, recs in sorted(jobs.items())]

    def cancel_argv(self, job_id):
        return [self.bin('cancel'), str(job_id)]


BACKEND = SlurmBackend
