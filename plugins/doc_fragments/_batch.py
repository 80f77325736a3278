# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # The scheduler and how its commands are run (batch_job, batch_job_info)
    DOCUMENTATION = r"""
options:
  scheduler:
    description:
      - The batch system of the host.
      - V(slurm) runs C(sbatch), C(squeue), C(sacct), C(scontrol) and C(scancel); V(pbs) runs C(qsub), C(qstat) and
        C(qdel) of PBS Professional, OpenPBS or Torque; V(lsf) runs C(bsub), C(bjobs) and C(bkill); V(flux) runs
        C(flux batch), C(flux jobs) and C(flux cancel); V(sge) runs C(qsub), C(qstat), C(qacct) and C(qdel) of
        Grid Engine; V(local) runs the script on the host itself, in the background, and keeps its state in
        O(local_state_dir).
    type: str
    required: true
    choices: [slurm, pbs, lsf, flux, sge, local]
  bin_dir:
    description:
      - A directory searched first for the scheduler's commands, for sites where they are not on E(PATH).
    type: path
  retries:
    description:
      - How often a status or cancel command that failed in a way that may pass (no answer from the
        controller, a time-out) is tried again, and how often a job the scheduler suddenly does not know is
        looked up again, before the answer is believed.
      - Submissions are never retried, since a submission that timed out may have been accepted.
    type: int
    default: 3
  retry_delay:
    description:
      - Seconds before the first retry; each further retry waits twice as long as the one before.
    type: float
    default: 2.0
  slurm_accounting:
    description:
      - Whether C(sacct) (Slurm accounting through slurmdbd) is asked about jobs that C(squeue) no longer shows.
      - V(auto) asks it and stops asking when it says accounting is disabled.
    type: str
    default: auto
    choices: [auto, 'yes', 'no']
  pbs_flavor:
    description:
      - Which PBS the host has. V(auto) asks C(qstat --version).
      - V(pbspro) covers PBS Professional and OpenPBS (C(qstat -x) shows ended jobs); V(torque) covers Torque
        (ended jobs stay visible for C(keep_completed) seconds).
    type: str
    default: auto
    choices: [auto, pbspro, torque]
  sge_pe:
    description:
      - The Grid Engine parallel environment that gives a job more than one slot (C(qsub -pe NAME SLOTS)).
        Names are site-specific (C(qconf -spl) lists them).
    type: str
    default: smp
  local_state_dir:
    description:
      - Where the V(local) scheduler keeps one directory per job (its command, process id and exit record).
    type: path
    default: ~/.lumberjack/local-jobs
"""

    # Waiting for a job to end (batch_job, batch_job_info)
    WAIT = r"""
options:
  wait:
    description:
      - Wait until the job has ended (completed, failed or cancelled) and return its final state and exit
        code.
      - A poll that fails is not believed. The next poll asks again, and when O(retries) more fail in a row
        the wait ends with an error, never with a made-up state.
      - A job the scheduler no longer knows, with no accounting record, ends the wait as V(unknown) after
        three polls in a row say so (on Grid Engine, whose accounting records come late, after a minute).
      - The module does not fail because the job failed; check RV(state) and RV(exit_code).
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait before giving up; the module then fails and reports the last state seen.
    type: int
    default: 3600
  poll_interval:
    description:
      - Seconds between two status queries while waiting.
    type: float
    default: 10
"""
