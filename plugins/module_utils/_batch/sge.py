# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Grid Engine (Son of Grid Engine, Sun/Oracle/Univa GE): qsub, qstat, qacct and qdel.

qstat shows a job while qmaster holds it; once it has ended, qacct reads its record from the accounting
file (failed and exit_status, one record per array task). A job in neither is 'unknown'. Slots: tasks times
cpus_per_task through a parallel environment (sge_pe, 'smp' by default; names are site-specific); memory is
h_vmem, which Grid Engine counts per slot; GPUs and exclusive nodes are the common site complexes 'gpu' and
'exclusive'.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import xml.etree.ElementTree as ET

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import (
    ACTIVE, CANCELLED, COMPLETED, FAILED, QUEUED, RUNNING, UNKNOWN,
    Backend, BatchError, JobStatus, Submission, TransientError, format_hms,
)


def normalise(code):
    """Our state for a qstat state code: d (being deleted) and E (error) first, then running, then waiting."""
    if 'd' in code:
        return CANCELLED
    if 'E' in code:
        return FAILED
    if any(c in code for c in 'rtRsST'):
        return RUNNING
    if any(c in code for c in 'qwh'):
        return QUEUED
    return UNKNOWN


def parse_qstat_xml(text):
    """JobStatus for each job (or array task) in `qstat -xml` output."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise TransientError('qstat -xml printed something that is not XML: %s' % e)
    out = []
    for job in root.iter('job_list'):
        number = (job.findtext('JB_job_number') or '').strip()
        code = (job.findtext('state') or '').strip()
        tasks = (job.findtext('tasks') or '').strip()
        job_id = '%s.%s' % (number, tasks) if tasks else number
        st = JobStatus(job_id, normalise(code), native_state=code or None, name=job.findtext('JB_name'),
                       source='qstat')
        st.owner = job.findtext('JB_owner')
        st.number = number
        out.append(st)
    return out


def parse_qacct(text):
    """JobStatus for each accounting record in `qacct -j` output."""
    out = []
    for block in re.split(r'^=+\s*$', text, flags=re.M):
        fields = {}
        for line in block.splitlines():
            m = re.match(r'^(\w+)\s+(.*?)\s*$', line)
            if m:
                fields[m.group(1)] = m.group(2)
        if 'jobnumber' not in fields:
            continue
        task = fields.get('taskid', 'undefined')
        job_id = fields['jobnumber'] + ('' if task in ('undefined', '') else '.' + task)
        failed = fields.get('failed', '0').split(':')[0].strip()
        code = fields.get('exit_status', '').split()[0] if fields.get('exit_status') else ''
        exit_code = int(code) if code.lstrip('-').isdigit() else None
        signal = exit_code - 128 if exit_code is not None and exit_code > 128 else None
        ok = failed == '0' and exit_code == 0
        reason = None if failed == '0' else 'failed: %s' % fields.get('failed')
        out.append(JobStatus(job_id, COMPLETED if ok else FAILED, exit_code=exit_code, signal=signal,
                             native_state='failed=%s' % failed, name=fields.get('jobname'), reason=reason,
                             source='qacct'))
    return out


class SGEBackend(Backend):
    name = 'sge'
    commands = {'submit': 'qsub', 'status': 'qstat', 'accounting': 'qacct', 'cancel': 'qdel'}
    directive_prefix = '#$'
    # qmaster writes the accounting record some seconds after a job has left qstat (reporting_params
    # flush_time, 15 s by default)
    unknown_grace = 60

    def build_submission(self, spec):
        opts = []
        if spec.name:
            opts.append(['-N', spec.name])
        tasks = spec.total_tasks() or (spec.nodes or 1) * spec.tasks_on_a_node()
        slots = tasks * (spec.cpus_per_task or 1)
        if slots > 1:
            opts.append(['-pe', self.options.get('pe') or 'smp', str(slots)])
        if spec.memory:
            per_slot = -(-spec.memory // (spec.tasks_on_a_node() * (spec.cpus_per_task or 1)))
            opts.append(['-l', 'h_vmem=%dM' % per_slot])
        if spec.gpus:
            opts.append(['-l', 'gpu=%d' % spec.gpus])
        if spec.walltime:
            opts.append(['-l', 'h_rt=%s' % format_hms(spec.walltime)])
        if spec.exclusive:
            opts.append(['-l', 'exclusive=true'])
        if spec.constraint:
            opts.append(['-l', spec.constraint])
        if spec.partition:
            opts.append(['-q', spec.partition])
        if spec.account:
            opts.append(['-A', spec.account])
        if spec.reservation:
            opts.append(['-ar', spec.reservation])
        if spec.array:
            indices, _sep, limit = spec.array.partition('%')
            if ',' in indices:
                raise BatchError('Grid Engine arrays are ranges (n-m or n-m:step), not lists: %s' % spec.array)
            opts.append(['-t', indices])
            if limit:
                opts.append(['-tc', limit])
        if spec.output:
            opts.append(['-o', spec.output])
        if spec.error:
            opts.append(['-e', spec.error])
        if spec.chdir:
            opts.append(['-wd', spec.chdir])
        if spec.environment:
            opts.append(['-v', ','.join(sorted(spec.environment))])
        opts.extend(spec.extra_args(self.directive_prefix))
        argv = self.command_line([self.bin('submit'), '-terse'], opts, [spec.script] + list(spec.arguments))
        return Submission(argv, self.directive_lines(opts), cwd=spec.chdir, env=spec.environment)

    def parse_submit_output(self, result):
        # -terse: "123", or "123.1-10:1" for an array
        for line in reversed(result.stdout.strip().splitlines()):
            m = re.match(r'^\s*(\d+)(?:\.\S+)?\s*$', line)
            if m:
                return m.group(1)
        m = re.search(r'Your job(?:-array)? (\d+)', result.stdout)
        if m:
            return m.group(1)
        raise BatchError('qsub did not print a job id: ' + result.describe())

    def _qstat(self, user):
        r = self.runner.run([self.bin('status'), '-xml', '-u', user])
        if r.rc != 0:
            raise TransientError('qstat failed: %s' % r.describe())
        return parse_qstat_xml(r.stdout)

    def status(self, job_id):
        job_id = str(job_id)
        number = job_id.split('.', 1)[0]
        live = [s for s in self._qstat('*') if s.number == number and
                (s.job_id == job_id or '.' not in job_id)]
        if live and any(s.state in ACTIVE for s in live):
            return JobStatus.combine(job_id, live, source='qstat')
        r = self.runner.run([self.bin('accounting'), '-j', number])
        if r.rc == 0:
            records = [s for s in parse_qacct(r.stdout) if s.job_id == job_id or '.' not in job_id]
            if records:
                if len(records) > 1 and '.' not in job_id and all('.' not in s.job_id for s in records):
                    # the same job number run more than once (a rescheduled job): the last record counts
                    records = records[-1:]
                return JobStatus.combine(job_id, records, source='qacct')
        elif 'not found' not in r.output.lower() and 'no jobs running since startup' not in r.output.lower():
            if not live:
                raise TransientError('qacct failed for job %s: %s' % (job_id, r.describe()))
        if live:
            return JobStatus.combine(job_id, live, source='qstat')
        return JobStatus(job_id, UNKNOWN, source='qstat',
                         reason='qstat no longer shows job %s and qacct has no record of it (yet)' % job_id)

    def find_active(self, name):
        jobs = {}
        for s in self._qstat(self.user):
            if s.name == name and s.state in ACTIVE:
                jobs.setdefault(s.number, []).append(s)
        return [JobStatus.combine(n, recs, source='qstat')
                for n, recs in sorted(jobs.items(), key=lambda item: int(item[0]))]

    def cancel_argv(self, job_id):
        return [self.bin('cancel'), str(job_id)]


BACKEND = SGEBackend
