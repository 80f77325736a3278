# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the pilot suite on stand-ins: run directories whose pool is simulated by the executables in
condor/bin and condor/sbin beside this file (stand-ins for HTCondor's commands, tests only). No HTCondor and
no root are needed; Slurm, when installed, is the real one."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import secrets
import sys
import tempfile

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'support'))

from pilot_run_dir import base_dir  # noqa: E402  pylint: disable=wrong-import-position,import-error
from slurm_cluster import start_or_skip  # noqa: E402  pylint: disable=wrong-import-position,import-error


@pytest.fixture(scope='session')
def base():
    yield from base_dir('lj-pilot-standins-')


class RunDirs(object):
    """make(jobs, **knobs): a run directory laid out as the pilot expects it, for the stand-in pool.

    jobs: {"C.P": seconds the job runs, negative for never}; knobs: STANDIN_* settings of the stand-ins
    written into condor_config (STANDIN_MASTER_START = die, STANDIN_SCHEDD_ON_OFF = ignore)."""

    def __init__(self, parent):
        self.parent = parent

    def make(self, jobs, **knobs):
        run_dir = os.path.join(self.parent, 'run-%s' % secrets.token_hex(3))
        local = os.path.join(run_dir, 'local_dir')
        for d in ('log', 'spool', 'run', 'execute', 'lock'):
            os.makedirs(os.path.join(local, d))
        with open(os.path.join(run_dir, 'condor_config'), 'w') as f:
            f.write('# for the stand-in condor commands of tests/integration/pilot_standins\n')
            f.write('LOCAL_DIR = %s\n' % local)
            for d in ('LOG', 'SPOOL', 'RUN', 'EXECUTE', 'LOCK'):
                f.write('%s = %s/%s\n' % (d, local, d.lower()))
            for k, v in sorted(knobs.items()):
                f.write('%s = %s\n' % (k, v))
        clusters = sorted(set(int(j.split('.')[0]) for j in jobs))
        lines = ['107 1 CreationTimestamp 1700000000', '101 0.0 (empty) (empty)', '105 ']
        for c in clusters:
            lines += ['101 0%d.-1 (empty) (empty)' % c, '103 0%d.-1 JobStatus 1' % c]
        for job, seconds in sorted(jobs.items()):
            lines += ['101 %s Job Machine' % job, '103 %s StandInSeconds %d' % (job, seconds)]
        lines.append('106 ')
        with open(os.path.join(local, 'spool', 'job_queue.log'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
        os.chmod(os.path.join(local, 'spool', 'job_queue.log'), 0o600)
        return run_dir


@pytest.fixture
def run_dirs(base):
    return RunDirs(tempfile.mkdtemp(prefix='sites-', dir=base))


@pytest.fixture(scope='module')
def slurm(request):
    return start_or_skip(request, accounting=False, min_job_age=300)
