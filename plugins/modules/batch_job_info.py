#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: batch_job_info
short_description: Report the normalised state and exit code of a batch job
version_added: 0.1.0
description:
  - Reports a job's state on Slurm, PBS, LSF, Flux, Grid Engine or the V(local) scheduler, normalised to
    V(queued), V(running), V(completed), V(failed), V(cancelled) or V(unknown), with its exit code once it has
    ended. Optionally waits for it to end.
  - Status polling is tolerant - a status command that fails in a way that may pass is tried again, and a job
    the scheduler suddenly does not know is looked up again (on Slurm in C(sacct) as well as C(squeue)) before
    it is reported V(unknown). A job is never reported V(completed) because a command failed.
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
      - The module changes nothing; it runs the same way in check mode.
  diff_mode:
    support: N/A
  platform:
    support: full
    platforms: posix
options:
  job_id:
    description:
      - The scheduler's job id, as M(hepcloud.lumberjack.batch_job) returned it.
    type: str
  name:
    description:
      - Without O(job_id), report the user's queued or running jobs of this name (in RV(jobs); the first of
        them also at the top level).
    type: str
seealso:
  - module: hepcloud.lumberjack.batch_job
"""

EXAMPLES = r"""
- name: Read the pilot's state
  hepcloud.lumberjack.batch_job_info:
    scheduler: slurm
    job_id: "{{ pilot.job_id }}"
  register: pilot_state

- name: Wait up to a day for the pilot to end, asking every five minutes
  hepcloud.lumberjack.batch_job_info:
    scheduler: slurm
    job_id: "{{ pilot.job_id }}"
    wait: true
    wait_timeout: 86400
    poll_interval: 300
  register: pilot_end

- name: Fail unless it completed
  ansible.builtin.assert:
    that: pilot_end.state == 'completed' and pilot_end.exit_code == 0
"""

RETURN = r"""
job_id:
  description: The job's id; null when O(name) matched no queued or running job.
  returned: success
  type: str
  sample: "4242"
state:
  description:
    - V(queued), V(running), V(completed), V(failed), V(cancelled) or V(unknown) (the scheduler no longer
      knows the job and no accounting or exit record tells how it ended).
  returned: success
  type: str
  sample: completed
exit_code:
  description:
    - The exit code once the job has ended, where the scheduler reports one; 128 plus the signal number when
      a signal ended it. For an array, the largest among the tasks.
  returned: success
  type: int
  sample: 0
signal:
  description: The signal that ended the job, where the scheduler reports one.
  returned: when known
  type: int
native_state:
  description: The scheduler's own state word.
  returned: success
  type: str
  sample: COMPLETED
reason:
  description: Why the job waits, or why its state is unknown.
  returned: when known
  type: str
tasks:
  description: The states of the tasks of an array job.
  returned: for array jobs the scheduler lists task by task
  type: list
  elements: dict
jobs:
  description: With O(name) and no O(job_id), every queued or running job of that name.
  returned: when O(name) is used without O(job_id)
  type: list
  elements: dict
scheduler:
  description: The O(scheduler) used.
  returned: always
  type: str
  sample: slurm
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import (
    COMMON_ARGUMENT_SPEC, UNKNOWN, WAIT_ARGUMENT_SPEC,
    backend_from_module, run_manager,
)


class BatchJobInfo(object):
    """Reads one job's state (or the active jobs of a name) for the module."""

    def __init__(self, module):
        self.params = module.params
        self.backend, self.poller = backend_from_module(module)
        self.result = dict(changed=False, scheduler=self.params['scheduler'])

    def put(self, status):
        self.result.update(status.result_fields())

    def run(self):
        p = self.params
        self.backend.check_commands(['status'])
        job_id = p['job_id']
        if not job_id:
            found = self.backend.find_active(p['name'])
            self.result['jobs'] = [s.result_fields() for s in found]
            if not found:
                self.result.update(job_id=None, state=UNKNOWN, exit_code=None,
                                   reason='no queued or running job called %s' % p['name'])
                return self.result
            job_id = found[0].job_id
        if p['wait']:
            status = self.poller.wait(job_id, p['wait_timeout'], p['poll_interval'])
        else:
            status = self.poller.query(job_id)
        self.put(status)
        return self.result


def main():
    argument_spec = dict(
        job_id=dict(type='str'),
        name=dict(type='str'),
    )
    argument_spec.update(COMMON_ARGUMENT_SPEC)
    argument_spec.update(WAIT_ARGUMENT_SPEC)
    module = AnsibleModule(
        argument_spec=argument_spec,
        required_one_of=[('job_id', 'name')],
        supports_check_mode=True,
    )
    run_manager(module, BatchJobInfo(module))


if __name__ == '__main__':
    main()
