# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The batch_submit role and its pilot (lumberjack-pilot.sh) with stand-ins for HTCondor's commands: no real
daemon runs, so this suite needs neither HTCondor nor root. The stand-ins (condor/bin, condor/sbin) simulate
a pool from files in the run directory: jobs that end after a number of seconds or never, a schedd that
ignores condor_off, a condor_master that dies at start. The role runs through a real ansible-playbook with the
local scheduler, and with a real one-node Slurm when it is installed (skipped, saying why, otherwise).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess
import time

import pytest

from pilot_run_dir import job_states, read_result  # pylint: disable=import-error
from playbook import Playbook  # pylint: disable=import-error

HERE = os.path.dirname(os.path.abspath(__file__))
STANDINS = os.path.join(HERE, 'condor')   # bin/ and sbin/: the stand-ins, as batch_submit_condor_bin_dir
PILOT = os.path.join(HERE, '..', '..', '..', 'roles', 'batch_submit', 'files', 'lumberjack-pilot.sh')
ROLE = 'hepcloud.lumberjack.batch_submit'
RESULT_KEYS = {'outcome', 'reason', 'jobs_total', 'jobs_completed', 'jobs_removed', 'jobs_held', 'jobs_unfinished',
               'started', 'ended', 'walltime_end', 'batch_job_id', 'schedd_stop', 'master_stop', 'nodes_stop'}
REGISTER = ('batch_submit_job_id', 'batch_submit_result', 'batch_submit_job', 'batch_submit_submission')


def environment(extra=None):
    """The stand-ins first on PATH, for these tests only (the pilot puts LJ_CONDOR_BIN_DIR first too)."""
    env = dict(PATH='%s/bin:%s/sbin:%s' % (STANDINS, STANDINS, os.environ.get('PATH', '/usr/bin:/bin')))
    env.update(extra or {})
    return env


def run_role(play, base, run_dir, **variables):
    v = dict(batch_submit_run_dir=run_dir, batch_submit_condor_bin_dir=STANDINS, batch_submit_scheduler='local',
             batch_submit_walltime='10m', batch_submit_wait=True, batch_submit_poll_interval=1,
             batch_submit_wait_poll_interval=1, batch_submit_startup_timeout=20, batch_submit_stop_timeout=10,
             batch_submit_local_state_dir=os.path.join(base, 'local-jobs'))
    v.update(variables)
    task = {'name': 'Run batch_submit', 'ansible.builtin.include_role': {'name': ROLE}, 'vars': v}
    return play.run([task], register=REGISTER)


def processes(run_dir):
    """Pids of processes of the run: anything with the run's CONDOR_CONFIG in its environment (the stand-in
    daemons and clients) or the run directory on its command line (the pilot)."""
    marker = ('CONDOR_CONFIG=%s/condor_config' % run_dir).encode()
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open('/proc/%s/environ' % entry, 'rb') as f:
                environ = f.read().split(b'\0')
            with open('/proc/%s/cmdline' % entry, 'rb') as f:
                cmdline = f.read()
        except (IOError, OSError):
            continue
        if marker in environ or run_dir.encode() in cmdline:
            found.append(int(entry))
    return found


def assert_nothing_left(run_dir, timeout=10):
    deadline = time.time() + timeout
    while processes(run_dir) and time.time() < deadline:
        time.sleep(0.5)
    assert processes(run_dir) == [], 'processes of the run are left'


def calls(run_dir):
    """The stand-ins' command lines, in the order they ran."""
    with open(os.path.join(run_dir, 'standin-calls.log')) as f:
        return f.read().splitlines()


def check_result(r, run_dir, **expected):
    """pilot.result has every key, equals the role's batch_submit_result, and has the values expected."""
    result = r['batch_submit_result']
    assert set(result) == RESULT_KEYS, result
    assert result == read_result(run_dir)
    for k, v in expected.items():
        assert result[k] == v, (k, result)
    assert int(result['started']) <= int(result['ended']) <= int(time.time())
    assert result['batch_job_id'] == r['batch_submit_job_id'] and result['batch_job_id']
    return result


# ------------------------------------------------------------------------------------------------ local
def test_local_every_job_finishes(base, run_dirs):
    run_dir = run_dirs.make({'1.0': 1, '1.1': 2})
    r = run_role(Playbook(base, environment()), base, run_dir)
    job = r['batch_submit_job']
    assert job['state'] == 'completed' and job['exit_code'] == 0, job
    result = check_result(r, run_dir, outcome='finished', jobs_total='2', jobs_completed='2', jobs_removed='0',
                          jobs_held='0', jobs_unfinished='0', schedd_stop='clean', master_stop='clean',
                          nodes_stop='none')
    assert result['reason'] == 'every job has ended (2 completed, 0 removed, 0 held)'
    # 10m from the pilot's start (the local scheduler has no end time of its own)
    assert int(result['walltime_end']) == int(result['started']) + 600
    assert job_states(os.path.join(run_dir, 'local_dir', 'spool', 'job_queue.log')) == {'1.0': 4, '1.1': 4}
    c = calls(run_dir)
    # a clean stop: the schedd first (not -fast: it compacts the log), then the master
    assert c.index('condor_off -schedd') < c.index('condor_off -fast -master')
    assert 'condor_off -fast -schedd' not in c
    # the stand-in schedd removes its pid file only when it exits on condor_off
    assert not os.path.exists(os.path.join(run_dir, 'local_dir', 'run', 'schedd.pid'))
    assert_nothing_left(run_dir)


def test_local_walltime_margin_drains(base, run_dirs):
    run_dir = run_dirs.make({'1.0': 1, '2.0': -1})
    # 70 s of walltime and a 64 s margin: the pilot drains 6 s after its start, the second job never ends
    r = run_role(Playbook(base, environment()), base, run_dir, batch_submit_walltime='70s',
                 batch_submit_drain_margin=64)
    job = r['batch_submit_job']
    assert job['exit_code'] == 3, job
    result = check_result(r, run_dir, outcome='walltime', jobs_total='2', jobs_completed='1', jobs_removed='0',
                          jobs_held='0', jobs_unfinished='1', schedd_stop='clean', master_stop='clean',
                          nodes_stop='none')
    assert result['reason'].startswith('walltime margin reached: ') and 'margin 64s' in result['reason']
    assert int(result['walltime_end']) == int(result['started']) + 70
    assert int(result['ended']) < int(result['walltime_end'])
    assert job_states(os.path.join(run_dir, 'local_dir', 'spool', 'job_queue.log')) == {'1.0': 4, '2.0': 2}
    assert 'condor_off -schedd' in calls(run_dir)
    assert_nothing_left(run_dir)


def test_local_schedd_ignoring_condor_off_is_killed_and_fails(base, run_dirs):
    run_dir = run_dirs.make({'1.0': 1}, STANDIN_SCHEDD_ON_OFF='ignore')
    r = run_role(Playbook(base, environment()), base, run_dir, batch_submit_stop_timeout=3,
                 batch_submit_fail_on_pilot_failure=False)
    job = r['batch_submit_job']
    assert job['exit_code'] == 1, job
    result = check_result(r, run_dir, outcome='failed', jobs_total='1', jobs_completed='1', jobs_removed='0',
                          jobs_held='0', jobs_unfinished='0', schedd_stop='killed', master_stop='clean',
                          nodes_stop='none')
    assert result['reason'].startswith('every job has ended (1 completed, 0 removed, 0 held); ')
    assert result['reason'].endswith('the schedd had to be killed, %s/local_dir/spool/job_queue.log may be '
                                     'inconsistent' % run_dir)
    # it waited for the schedd (3 s) before it killed it
    assert int(result['ended']) - int(result['started']) >= 3
    assert_nothing_left(run_dir)


def test_local_failed_pilot_fails_the_role(base, run_dirs):
    run_dir = run_dirs.make({'1.0': 1}, STANDIN_SCHEDD_ON_OFF='ignore')
    with pytest.raises(AssertionError) as e:
        run_role(Playbook(base, environment()), base, run_dir, batch_submit_stop_timeout=2)
    assert 'failed: every job has ended' in str(e.value) and 'the schedd had to be killed' in str(e.value)
    assert read_result(run_dir)['outcome'] == 'failed'
    assert_nothing_left(run_dir)


def test_local_master_dying_at_start(base, run_dirs):
    run_dir = run_dirs.make({'1.0': 1, '1.1': 1}, STANDIN_MASTER_START='die')
    r = run_role(Playbook(base, environment()), base, run_dir, batch_submit_fail_on_pilot_failure=False)
    job = r['batch_submit_job']
    assert job['exit_code'] == 1, job
    result = check_result(r, run_dir, outcome='failed', jobs_total='2', jobs_completed='0', jobs_removed='0',
                          jobs_held='0', jobs_unfinished='2', master_stop='exited', schedd_stop='exited',
                          nodes_stop='none')
    assert result['reason'] == ('condor_master exited during start-up; see the logs in %s/local_dir/log' % run_dir)
    # the pilot never asked a pool that was not there to stop
    assert [c for c in calls(run_dir) if c.startswith('condor_off')] == []
    with open(os.path.join(run_dir, 'local_dir', 'log', 'MasterLog')) as f:
        assert 'exiting at start' in f.read()
    assert_nothing_left(run_dir)


def test_pilot_master_dying_at_start_reports_nothing_running(run_dirs):
    """The pilot run directly: a master that died at start leaves no schedd running and was not stopped."""
    run_dir = run_dirs.make({'1.0': 1}, STANDIN_MASTER_START='die')
    env_file = os.path.join(run_dir, 'pilot.env')
    with open(env_file, 'w') as f:
        f.write('LJ_RUN_DIR=%s\nLJ_CONDOR_BIN_DIR=%s\n' % (run_dir, STANDINS))
    p = subprocess.run(['bash', os.path.abspath(PILOT), env_file], capture_output=True, text=True, timeout=60,
                       check=False)
    assert p.returncode == 1, p.stderr
    result = read_result(run_dir)
    assert result['outcome'] == 'failed'
    assert_nothing_left(run_dir)
    assert (result['schedd_stop'], result['master_stop']) == ('exited', 'exited'), result


# ------------------------------------------------------------------------------------------------ Slurm
def test_slurm_every_job_finishes(base, run_dirs, slurm):
    run_dir = run_dirs.make({'1.0': 1, '1.1': 2})
    play = Playbook(base, environment(dict(SLURM_CONF=slurm.conf)), log=lambda: slurm.log('slurmctld'))
    r = run_role(play, base, run_dir, batch_submit_scheduler='slurm')
    job = r['batch_submit_job']
    assert job['state'] == 'completed' and job['exit_code'] == 0, job
    result = check_result(r, run_dir, outcome='finished', jobs_total='2', jobs_completed='2', jobs_removed='0',
                          jobs_held='0', jobs_unfinished='0', schedd_stop='clean', master_stop='clean',
                          nodes_stop='none')
    # the end of the allocation came from Slurm: its start plus the 10 minute limit
    assert abs(int(result['walltime_end']) - int(result['started']) - 600) <= 60
    assert job_states(os.path.join(run_dir, 'local_dir', 'spool', 'job_queue.log')) == {'1.0': 4, '1.1': 4}
    assert_nothing_left(run_dir)


def test_slurm_walltime_margin_drains(base, run_dirs, slurm):
    run_dir = run_dirs.make({'1.0': 1, '2.0': -1})
    play = Playbook(base, environment(dict(SLURM_CONF=slurm.conf)), log=lambda: slurm.log('slurmctld'))
    # a 2 minute allocation and a 114 s margin: the pilot drains about 6 s after the job starts
    r = run_role(play, base, run_dir, batch_submit_scheduler='slurm', batch_submit_walltime='2m',
                 batch_submit_drain_margin=114)
    job = r['batch_submit_job']
    assert job['exit_code'] == 3, job
    result = check_result(r, run_dir, outcome='walltime', jobs_total='2', jobs_completed='1', jobs_removed='0',
                          jobs_held='0', jobs_unfinished='1', schedd_stop='clean', master_stop='clean',
                          nodes_stop='none')
    assert result['reason'].startswith('walltime margin reached: ')
    assert int(result['ended']) < int(result['walltime_end'])
    assert_nothing_left(run_dir)
