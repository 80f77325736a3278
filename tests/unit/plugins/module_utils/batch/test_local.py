# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The local backend for real: scripts run on this machine, state in a temporary directory."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import BatchError, JobSpec, Runner, get_backend


def run(argv, data=None, cwd=None, environ_update=None):
    env = dict(os.environ)
    env.update(environ_update or {})
    p = subprocess.run(argv, input=data, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def local(tmp_path):
    warnings = []
    backend = get_backend('local')(Runner(run, retries=0), lambda c: None, warn=warnings.append,
                                   options=dict(state_dir=str(tmp_path / 'jobs'), python=sys.executable))
    backend.warnings = warnings
    return backend


def script(tmp_path, body, name='job.sh', mode=0o755):
    path = tmp_path / name
    path.write_text('#!/bin/sh\n' + body + '\n')
    path.chmod(mode)
    return str(path)


def wait_ended(backend, job_id, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = backend.status(job_id)
        if st.state != 'running':
            return st
        time.sleep(0.1)
    raise AssertionError('job %s still running' % job_id)


def gone(pid, timeout=5):
    """Whether pid has ended (a zombie counts: nothing may reap orphans in a container)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open('/proc/%d/stat' % pid) as f:
                if f.read().rsplit(')', 1)[1].split()[0] in ('Z', 'X'):
                    return True
        except IOError:
            return True
        time.sleep(0.05)
    return False


def submit(backend, **fields):
    return backend.submit(backend.build_submission(JobSpec(**fields)))


def test_completed_with_output_environment_and_arguments(local, tmp_path):
    path = script(tmp_path, 'echo "$1 $GREETING $LUMBERJACK_LOCAL_JOB_ID"; pwd; echo oops >&2')
    job = submit(local, script=path, arguments=['hello'], environment={'GREETING': 'a,b "c"'}, chdir=str(tmp_path),
                 name='t')
    assert job == '1'
    st = wait_ended(local, job)
    assert (st.state, st.exit_code, st.native_state, st.name) == ('completed', 0, 'EXITED', 't')
    jobdir = tmp_path / 'jobs' / '1'
    assert (jobdir / 'stdout').read_text() == 'hello a,b "c" 1\n%s\n' % tmp_path
    assert (jobdir / 'stderr').read_text() == 'oops\n'
    assert submit(local, script=path) == '2'


def test_failed_exit_code_and_output_file_pattern(local, tmp_path):
    path = script(tmp_path, 'echo out; exit 7', mode=0o644)  # not executable: run with /bin/sh
    job = submit(local, script=path, output=str(tmp_path / 'job-%j.log'))
    st = wait_ended(local, job)
    assert (st.state, st.exit_code) == ('failed', 7)
    assert (tmp_path / ('job-%s.log' % job)).read_text() == 'out\n'


def test_cancel_kills_the_process_group(local, tmp_path):
    marker = tmp_path / 'child.pid'
    path = script(tmp_path, 'sleep 300 & echo $! > %s; wait' % marker)
    job = submit(local, script=path, name='long')
    assert local.status(job).state == 'running'
    assert [s.job_id for s in local.find_active('long')] == [job]
    deadline = time.time() + 10
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.05)
    child = int(marker.read_text())
    assert local.cancel(job).rc == 0
    st = wait_ended(local, job)
    assert (st.state, st.signal) == ('cancelled', 15)
    assert gone(child)
    assert local.find_active('long') == []


def test_walltime_is_enforced(local, tmp_path):
    job = submit(local, script=script(tmp_path, 'sleep 30'), walltime='1s')
    st = wait_ended(local, job, timeout=30)
    assert (st.state, st.native_state, st.signal) == ('failed', 'TIMEOUT', 15)


def test_a_job_whose_process_vanished_is_unknown_not_completed(local, tmp_path):
    job = submit(local, script=script(tmp_path, 'sleep 30'))
    record = json.loads((tmp_path / 'jobs' / job / 'job.json').read_text())
    os.killpg(record['pid'], 9)  # no watcher left to write an exit record
    deadline = time.time() + 10
    while local.status(job).state == 'running' and time.time() < deadline:
        time.sleep(0.05)
    st = local.status(job)
    assert st.state == 'unknown' and 'no exit record' in st.reason


def test_unknown_job_ids(local):
    assert local.status('99').state == 'unknown'
    with pytest.raises(BatchError, match='not a job id'):
        local.status('../etc')


def test_resources_are_ignored_with_a_warning_and_arrays_refused(local, tmp_path):
    sub = local.build_submission(JobSpec(script='/bin/true', nodes=2, memory='1G', walltime='2h', name='x'))
    assert local.warnings and 'nodes, memory' in local.warnings[0]
    assert sub.directives == ['# name: x', '# walltime: 7200s']
    with pytest.raises(BatchError, match='array is not supported'):
        local.build_submission(JobSpec(script='/bin/true', array='1-3'))


def test_state_survives_a_new_backend(local, tmp_path):
    job = submit(local, script=script(tmp_path, 'exit 0'))
    wait_ended(local, job)
    again = get_backend('local')(Runner(run), lambda c: None, options=dict(state_dir=str(tmp_path / 'jobs')))
    assert again.status(job).state == 'completed'
