#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: batch_job
short_description: Submit, cancel and follow a batch job on Slurm, PBS, LSF, Flux, Grid Engine or the host itself
version_added: 0.1.0
description:
  - Submits an existing job script to the host's batch scheduler with resource options turned into the
    scheduler's command-line options; the script itself is not changed or rendered. The directive lines the
    options stand for (C(#SBATCH --nodes=2), C(#PBS -l walltime=01:00:00), ...) are returned too.
  - With O(state=absent) cancels a job; with O(state=query) reports its state, like M(hepcloud.lumberjack.batch_job_info).
  - States are normalised over all schedulers to V(queued), V(running), V(completed), V(failed), V(cancelled)
    and V(unknown). A job is reported V(completed) only when the scheduler or an exit record says so, never
    because a status command failed or the scheduler forgot the job.
  - With O(unique=true) a queued or running job of the same user with the same O(name) is reported instead of
    submitting a second one, so a second identical run changes nothing.
  - Uses only the Python standard library on the host.
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - hepcloud.lumberjack._batch
  - hepcloud.lumberjack._batch.wait
attributes:
  check_mode:
    support: full
    details:
      - Nothing is submitted or cancelled; RV(command) and RV(directives) show what would be run. Status and
        listing commands, which change nothing, still run so that C(changed) is predicted right.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
options:
  state:
    description:
      - V(submitted) submits O(script) (or, with O(unique=true), finds the job already submitted).
      - V(absent) cancels the job O(job_id), or every queued or running job of the user called O(name).
      - V(query) reports the state of O(job_id), or of the user's queued or running job called O(name).
    type: str
    default: submitted
    choices: [submitted, absent, query]
  script:
    description:
      - Path of the job script on the host; required with O(state=submitted). A relative path is taken relative
        to O(chdir).
      - Directives inside the script still apply; options given here are passed on the command line, which
        overrides them.
    type: path
  arguments:
    description:
      - Arguments for the script. Not supported by PBS Professional and LSF, whose submission commands take
        none for a script.
    type: list
    elements: str
    default: []
  name:
    description:
      - The job name. With O(unique=true) it identifies the job; with O(state=absent) or O(state=query) and no
        O(job_id), it selects the user's queued or running jobs of that name.
    type: str
  unique:
    description:
      - Do not submit when the user already has a queued or running job called O(name); report that job.
    type: bool
    default: false
  job_id:
    description:
      - The scheduler's job id, for O(state=absent) and O(state=query).
    type: str
  nodes:
    description: Number of nodes.
    type: int
  ntasks:
    description: Total number of tasks (MPI ranks, processes).
    type: int
  tasks_per_node:
    description: Tasks on each node.
    type: int
  cpus_per_task:
    description: CPUs (cores) for each task. CPUs on a node are O(tasks_per_node) times O(cpus_per_task).
    type: int
  memory:
    description:
      - Memory on each node, as a number of MiB or with a unit (V(4G), V(4096M), V(1T)).
      - Grid Engine has no per-node memory request; it gets C(h_vmem) per slot (this divided by the slots on a
        node).
    type: str
  gpus:
    description: GPUs on each node.
    type: int
  walltime:
    description:
      - The job's time limit, as V(HH:MM:SS), V(D-HH:MM:SS), V(D-HH:MM), a number with a unit (V(45s),
        V(90m), V(2h), V(1d)) or a number of minutes. Other forms (V(1:30) is H:MM or M:SS?) are refused.
      - The V(local) scheduler enforces it itself (SIGTERM, then SIGKILL ten seconds later).
    type: str
  partition:
    description: The partition (Slurm) or queue (the others).
    type: str
    aliases: [queue]
  account:
    description: The account or project charged (Slurm, PBS and Grid Engine C(-A), LSF C(-P), Flux bank).
    type: str
  reservation:
    description: An advance reservation to run in.
    type: str
  constraint:
    description:
      - Node features the job needs (Slurm C(--constraint), LSF C(select[]), Flux C(--requires)); for PBS
        appended to the node request (C(:feature) or C(:name=value)), for Grid Engine a C(-l) resource request.
    type: str
  exclusive:
    description: Ask for whole nodes, not shared with other jobs.
    type: bool
    default: false
  array:
    description:
      - Submit a job array with these task indices (V(0-9), V(1,3,5), V(1-100%10) to run at most 10 at once
        where the scheduler supports a limit).
    type: str
  output:
    description: File for the job's standard output (the scheduler's own patterns, such as C(%j), apply).
    type: str
  error:
    description: File for the job's standard error; without it most schedulers write it beside O(output).
    type: str
  chdir:
    description:
      - Working directory of the job, and of the submission command. Must exist.
    type: path
  directives:
    description:
      - Further scheduler options, each a string as it would follow the directive prefix in a script
        (V(--qos=debug), V(-l place=scatter), V(-app big)). A leading prefix (V(#SBATCH) ...) is dropped.
        Each is split like a shell would and passed before the script.
    type: list
    elements: str
    default: []
  environment:
    description:
      - Variables set in the job's environment. They are passed through the submission command's own
        environment, so values with commas or quotes are safe, and named on its command line where the
        scheduler needs that (Slurm C(--export=ALL,NAME), PBS and Grid Engine C(-v NAME)); LSF and Flux copy
        the submission environment into the job as a whole.
    type: dict
    default: {}
  job_id_file:
    description:
      - With O(state=submitted), write the job id (of the job submitted, or of the one found with O(unique)) to
        this file, followed by a newline, as soon as it is known (before any wait), atomically and with mode
        0644. A file that already holds that id is left alone.
      - A later task, or a later run that finds the job ended, reads which job this was without asking the
        scheduler.
    type: path
    version_added: 0.2.0
  wait_file:
    description:
      - With O(wait), a file on this host that the job writes as its last act (a result file). Between the
        polls of O(poll_interval) it is looked for every second, and once it is written (during the wait; an
        older file does not count) the scheduler is asked every second, so the end of the job is seen within
        seconds however long O(poll_interval) is.
    type: path
notes:
  - The options become command-line options of the submission command; the returned RV(directives) are the
    same options written as script directives, for the record or to copy into a script.
  - Option mapping, by scheduler - V(slurm) C(--job-name --nodes --ntasks --ntasks-per-node --cpus-per-task
    --mem --gres=gpu:N --time --partition --account --reservation --constraint --exclusive --array --output
    --error --chdir --export); V(pbs) PBS Professional C(-N -l select=N:ncpus=C:mpiprocs=T:mem=M:ngpus=G
    -l place=excl -l walltime -q -A -J -o -e -v), Torque C(-N -l nodes=N:ppn=C:gpus=G -l mem -n -l walltime -q
    -A -t -o -e -d -v -F); V(lsf) C(-J -n -R span[ptile=P] -R rusage[mem=M] -gpu -W -q -P -U -R select[] -x -o
    -e -cwd), an array as C(-J name[1-10]); V(flux) C(--job-name -N -n -c -g -t -q --setattr=system.bank
    --requires --exclusive --output --error); V(sge) C(-N -pe PE SLOTS -l h_vmem -l gpu -l h_rt
    -l exclusive=true -q -A -ar -t -tc -o -e -wd -v).
  - Cancelled jobs - PBS, LSF and Grid Engine keep no record that tells a cancelled job from one a limit
    killed; once such a job has left the queue it is reported V(failed) with the signal.
seealso:
  - module: hepcloud.lumberjack.batch_job_info
"""

EXAMPLES = r"""
- name: Submit the pilot to Slurm, once
  hepcloud.lumberjack.batch_job:
    scheduler: slurm
    script: /scratch/lumberjack/run-42/pilot.sh
    name: lumberjack-run-42
    unique: true
    nodes: 2
    tasks_per_node: 1
    cpus_per_task: 64
    memory: 200G
    walltime: "12:00:00"
    partition: regular
    account: m1234
    constraint: cpu
    output: /scratch/lumberjack/run-42/pilot-%j.out
    environment:
      LUMBERJACK_RUN: run-42
  register: pilot

- name: Show what would be submitted to PBS, without submitting
  hepcloud.lumberjack.batch_job:
    scheduler: pbs
    script: /home/alice/job.sh
    nodes: 1
    cpus_per_task: 8
    walltime: 2h
    queue: workq
  check_mode: true
  register: preview

- name: Submit and wait for the job to end
  hepcloud.lumberjack.batch_job:
    scheduler: slurm
    script: /home/alice/job.sh
    wait: true
    wait_timeout: 7200
    poll_interval: 30
  register: finished

- name: Cancel the pilot
  hepcloud.lumberjack.batch_job:
    scheduler: slurm
    job_id: "{{ pilot.job_id }}"
    state: absent
"""

RETURN = r"""
wait_file_content:
  description:
    - The text of O(wait_file) once the wait ended (its first 1 MiB, undecodable bytes replaced); null when the
      file is not there.
  returned: with O(wait) and O(wait_file)
  type: str
  sample: "outcome=finished\njobs=20\n"
job_id:
  description: The scheduler's job id (an array job's id). Null in check mode when nothing was submitted.
  returned: success
  type: str
  sample: "4242"
state:
  description:
    - The job's normalised state, V(queued), V(running), V(completed), V(failed), V(cancelled) or V(unknown)
      (the scheduler does not know the job, and no record tells how it ended).
    - Null in check mode when nothing was submitted.
  returned: success
  type: str
  sample: running
exit_code:
  description:
    - The job's exit code once it has ended, where the scheduler reports one; 128 plus the signal number when
      it was killed by a signal. For an array, the largest among the tasks.
  returned: success
  type: int
  sample: 0
signal:
  description: The signal that ended the job, where the scheduler reports one.
  returned: when known
  type: int
  sample: 15
native_state:
  description: The scheduler's own state word (C(PENDING), C(R), C(PEND), C(qw), ...).
  returned: success
  type: str
  sample: PENDING
reason:
  description: Why the job waits, or why its state is unknown.
  returned: when known
  type: str
tasks:
  description: The states of the tasks of an array job, each a dictionary like the job's own.
  returned: for array jobs the scheduler lists task by task
  type: list
  elements: dict
jobs:
  description: With O(state=absent) and O(name), every job that was (or in check mode would be) cancelled.
  returned: when O(state=absent)
  type: list
  elements: dict
command:
  description:
    - The command that submitted (or in check mode would submit) the job, as a list of arguments; with
      O(state=absent), the cancel command of the last job cancelled.
  returned: when a command was built
  type: list
  elements: str
  sample: [/usr/bin/sbatch, --parsable, --job-name=pilot, --nodes=2, --time=12:00:00, /scratch/pilot.sh]
command_line:
  description: RV(command) as one shell-quoted line (for LSF with the script on standard input, C(< script)).
  returned: when a command was built
  type: str
  sample: /usr/bin/sbatch --parsable --job-name=pilot --nodes=2 --time=12:00:00 /scratch/pilot.sh
directives:
  description: The submission's options written as the scheduler's script directives.
  returned: with O(state=submitted)
  type: list
  elements: str
  sample: ["#SBATCH --job-name=pilot", "#SBATCH --nodes=2", "#SBATCH --time=12:00:00"]
existing:
  description: Whether O(unique=true) found the job already queued or running (nothing was submitted).
  returned: with O(state=submitted)
  type: bool
  sample: false
scheduler:
  description: The O(scheduler) used.
  returned: always
  type: str
  sample: slurm
"""

import os
import shlex
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import (
    ACTIVE, CANCELLED, COMMON_ARGUMENT_SPEC, TERMINAL, UNKNOWN, WAIT_ARGUMENT_SPEC,
    BatchError, JobSpec, JobStatus, TransientError, backend_from_module, run_manager,
)
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._io import AtomicFile

# a result file is small; the limit keeps a wrong path (a huge log) out of the task's result
WAIT_FILE_LIMIT = 1 << 20


def read_text(path, limit):
    """The first `limit` bytes of `path` as text, or None when it cannot be read."""
    try:
        with open(path, 'rb') as f:
            return f.read(limit).decode('utf-8', 'replace')
    except (IOError, OSError):
        return None


class BatchJobManager(object):
    """Submits, cancels or queries one job for the module; every outcome is a dict for exit_json."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.check_mode = module.check_mode
        self.backend, self.poller = backend_from_module(module)
        self.result = dict(changed=False, scheduler=self.params['scheduler'])

    def run(self):
        state = self.params['state']
        if state == 'submitted':
            self.submitted()
        elif state == 'absent':
            self.absent()
        else:
            self.query()
        return self.result

    def put(self, status):
        """The job's fields (job_id, state, exit_code, native_state, ...) into the result."""
        self.result.update(status.result_fields())

    def wait(self, job_id):
        p = self.params
        ready = None
        if p['wait_file']:
            since = time.time() - 1

            def ready():
                # written during this wait: a result left by an earlier job does not count
                try:
                    return os.stat(p['wait_file']).st_mtime >= since
                except OSError:
                    return False
        status = self.poller.wait(job_id, p['wait_timeout'], p['poll_interval'], ready=ready)
        if p['wait_file']:
            self.result['wait_file_content'] = read_text(p['wait_file'], WAIT_FILE_LIMIT)
        return status

    # ------------------------------------------------------------------ submitted
    def job_spec(self):
        p = self.params
        chdir = p['chdir']
        if chdir and not os.path.isdir(chdir):
            raise BatchError('chdir %s is not a directory on this host' % chdir)
        script = p['script']
        if not os.path.isabs(script):
            script = os.path.join(chdir or os.getcwd(), script)
        script = os.path.abspath(script)
        if not os.path.isfile(script):
            raise BatchError('script %s is not a file on this host' % script)
        fields = dict((f, p[f]) for f in JobSpec.FIELDS if f in p)
        fields.update(script=script, chdir=chdir)
        return JobSpec(**fields)

    def submitted(self):
        spec = self.job_spec()
        id_file = self.params['job_id_file']
        if id_file and (os.path.isdir(id_file) or not os.path.isdir(os.path.dirname(os.path.abspath(id_file)))):
            # found out before anything is submitted
            raise BatchError('job_id_file %s is a directory, or its directory does not exist' % id_file)
        self.backend.check_commands(['submit', 'status'])
        submission = self.backend.build_submission(spec)
        self.result.update(command=submission.argv, command_line=submission.command_line(),
                           directives=submission.directives, existing=False, job_id=None, state=None,
                           exit_code=None)
        if self.params['unique']:
            existing = self.backend.find_active(self.params['name'])
            if existing:
                if len(existing) > 1:
                    self.module.warn('%d queued or running jobs are called %s; reporting the first' % (
                        len(existing), self.params['name']))
                self.result['existing'] = True
                if self.write_job_id(existing[0].job_id):
                    self.result['changed'] = True
                self.report(existing[0].job_id, existing[0])
                return
        if self.check_mode:
            self.result['changed'] = True
            return
        job_id = self.backend.submit(submission)
        self.result.update(changed=True, job_id=job_id)
        self.write_job_id(job_id)
        self.report(job_id)

    def write_job_id(self, job_id):
        """The job id into job_id_file; whether the file changed (in check mode: would change)."""
        path = self.params['job_id_file']
        if not path:
            return False
        content = ('%s\n' % job_id).encode('utf-8')
        try:
            with open(path, 'rb') as f:
                if f.read(len(content) + 1) == content:
                    return False
        except (IOError, OSError):
            pass
        if self.check_mode:
            return True
        try:
            with AtomicFile(path, mode=0o644) as f:
                f.write(content)
        except (IOError, OSError) as e:
            raise BatchError('job %s was submitted, but its id could not be written to job_id_file %s: %s'
                             % (job_id, path, e))
        return True

    def report(self, job_id, status=None):
        """The job's state into the result: waited for with wait=true, else as it is now."""
        if self.params['wait'] and not self.check_mode:
            status = self.wait(job_id)
        elif status is None:
            try:
                status = self.backend.status(job_id)
            except TransientError as e:
                self.module.warn('the state of job %s could not be read: %s' % (job_id, e))
                self.result.update(job_id=job_id, state=UNKNOWN)
                return
        self.put(status)
        self.result['job_id'] = job_id

    # ------------------------------------------------------------------ absent
    def absent(self):
        self.backend.check_commands(['status', 'cancel'])
        if self.params['job_id']:
            targets = [self.poller.query(self.params['job_id'])]
        else:
            targets = self.backend.find_active(self.params['name'])
        jobs = []
        for status in targets:
            if status.state in ACTIVE:
                status, cancelled = self.cancel(status.job_id)
                self.result['changed'] = self.result['changed'] or cancelled
            jobs.append(status.result_fields())
        self.result['jobs'] = jobs
        if self.params['job_id']:
            self.put(status)

    def cancel(self, job_id):
        """Cancel one active job: (its state afterwards, whether it was cancelled); check mode: (as it is, True)."""
        argv = self.backend.cancel_argv(job_id)
        self.result.update(command=argv, command_line=' '.join(shlex.quote(a) for a in argv))
        if self.check_mode:
            return self.poller.query(job_id), True
        r = self.backend.cancel(job_id)
        status = self.poller.query(job_id)
        if r.rc != 0:
            if status.state in ACTIVE:
                raise BatchError('cannot cancel job %s: %s' % (job_id, r.describe()))
            # it ended on its own between the query and the cancel: nothing was changed for this job
            self.module.warn('job %s ended (%s) before it could be cancelled' % (job_id, status.state))
            return status, False
        if status.state == UNKNOWN:
            # the scheduler accepted the cancel and dropped the job before its accounting has a record of it
            # (Grid Engine's qacct lags qstat): it was cancelled here
            status = JobStatus(job_id, CANCELLED, native_state=status.native_state, name=status.name,
                               reason='cancelled by this task; the scheduler no longer shows it', source='cancel')
        if self.params['wait'] and status.state not in TERMINAL:
            status = self.wait(job_id)
        return status, True

    # ------------------------------------------------------------------ query
    def query(self):
        self.backend.check_commands(['status'])
        job_id = self.params['job_id']
        if not job_id:
            found = self.backend.find_active(self.params['name'])
            if not found:
                self.result.update(job_id=None, state=UNKNOWN, exit_code=None,
                                   reason='no queued or running job called %s' % self.params['name'])
                return
            job_id = found[0].job_id
        status = self.wait(job_id) if self.params['wait'] else self.poller.query(job_id)
        self.put(status)


def main():
    argument_spec = dict(
        state=dict(type='str', default='submitted', choices=['submitted', 'absent', 'query']),
        script=dict(type='path'),
        arguments=dict(type='list', elements='str', default=[]),
        name=dict(type='str'),
        unique=dict(type='bool', default=False),
        job_id=dict(type='str'),
        nodes=dict(type='int'),
        ntasks=dict(type='int'),
        tasks_per_node=dict(type='int'),
        cpus_per_task=dict(type='int'),
        memory=dict(type='str'),
        gpus=dict(type='int'),
        walltime=dict(type='str'),
        partition=dict(type='str', aliases=['queue']),
        account=dict(type='str'),
        reservation=dict(type='str'),
        constraint=dict(type='str'),
        exclusive=dict(type='bool', default=False),
        array=dict(type='str'),
        output=dict(type='str'),
        error=dict(type='str'),
        chdir=dict(type='path'),
        directives=dict(type='list', elements='str', default=[]),
        environment=dict(type='dict', default={}),
        wait_file=dict(type='path'),
        job_id_file=dict(type='path'),
    )
    argument_spec.update(COMMON_ARGUMENT_SPEC)
    argument_spec.update(WAIT_ARGUMENT_SPEC)
    module = AnsibleModule(
        argument_spec=argument_spec,
        required_if=[
            ('state', 'submitted', ['script']),
            ('state', 'absent', ['job_id', 'name'], True),
            ('state', 'query', ['job_id', 'name'], True),
            ('unique', True, ['name']),
        ],
        supports_check_mode=True,
    )
    run_manager(module, BatchJobManager(module))


if __name__ == '__main__':
    main()
