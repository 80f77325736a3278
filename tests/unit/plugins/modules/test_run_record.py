# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""run_record: the JSON record that makes a round trip resumable."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat

from ansible_collections.hepcloud.lumberjack.plugins.modules import run_record
from ansible_collections.hepcloud.lumberjack.tests.unit.utils.module_runner import run_module


def run(args, check_mode=False):
    return run_module(run_record.main, args, check_mode=check_mode)


def test_phases_and_values_are_recorded_once(tmp_path):
    path = str(tmp_path / 'run.json')
    base = dict(path=path, run_id='run7', site='site-a')
    r = run(dict(path=path, state='query'))
    assert r['changed'] is False and r['exists'] is False and r['record'] == {} and r['phases'] == []
    r = run(dict(base, phase='exported', values={'exported_jobs': ['12.0', '12.1']}), check_mode=True)
    assert r['changed'] is True and r['phases'] == ['exported'] and not os.path.exists(path)
    r = run(dict(base, phase='exported', values={'exported_jobs': ['12.0', '12.1']}))
    assert r['changed'] is True and r['exists'] is True and r['phases'] == ['exported']
    with open(path) as f:
        on_disk = json.load(f)
    assert on_disk == r['record'] and on_disk['values'] == {'exported_jobs': ['12.0', '12.1']}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    first = on_disk['phases']['exported']
    # the same phase and values again: nothing changes, the first time stays
    r = run(dict(base, phase='exported', values={'exported_jobs': ['12.0', '12.1']}))
    assert r['changed'] is False and r['record']['phases']['exported'] == first
    # phases come back in round-trip order, whatever order they were reached in
    run(dict(base, phase='launched', values={'batch_job_id': '4711'}))
    r = run(dict(base, phase='staged_in'))
    assert r['phases'] == ['exported', 'staged_in', 'launched']
    r = run(dict(path=path, state='query'))
    assert r['changed'] is False and r['record']['values']['batch_job_id'] == '4711'


def test_several_phases_at_once(tmp_path):
    path = str(tmp_path / 'run.json')
    base = dict(path=path, run_id='run7', site='site-a')
    run(dict(base, phase='imported'))
    r = run(dict(base, phase=['imported', 'reported'], values={'imported': ['12.0']}))
    assert r['changed'] is True and r['phases'] == ['imported', 'reported']
    assert run(dict(base, phase=['imported', 'reported']))['changed'] is False
    r = run(dict(base, phase=['reported', 'no-such-phase']))
    assert r['failed'] is True and 'no-such-phase' in r['msg']


def test_a_recorded_value_is_not_replaced_silently(tmp_path):
    path = str(tmp_path / 'run.json')
    base = dict(path=path, run_id='run7', site='site-a')
    run(dict(base, phase='launched', values={'batch_job_id': '4711', 'batch_state': 'queued'}))
    with open(path, 'rb') as f:
        before = f.read()
    r = run(dict(base, values={'batch_job_id': '4712'}))
    assert r['failed'] and 'already records batch_job_id with other values' in r['msg']
    assert r['recorded'] == {'batch_job_id': '4711'}
    r = run(dict(base, values={'batch_state': 'running'}), check_mode=True)
    assert r['failed']
    with open(path, 'rb') as f:
        assert f.read() == before
    r = run(dict(base, values={'batch_state': 'running'}, replace=['batch_state']))
    assert r['changed'] is True and r['record']['values']['batch_state'] == 'running'


def test_a_record_of_another_run_or_not_a_record_is_left_alone(tmp_path):
    path = tmp_path / 'run.json'
    run(dict(path=str(path), run_id='run7', site='site-a', phase='exported'))
    r = run(dict(path=str(path), run_id='run8', site='site-a', phase='exported'))
    assert r['failed'] and "run_id 'run7', not 'run8'" in r['msg']
    r = run(dict(path=str(path), run_id='run7', site='site-b'))
    assert r['failed'] and "site 'site-a', not 'site-b'" in r['msg']
    path.write_text('{"something": "else"}')
    r = run(dict(path=str(path), run_id='run7', site='site-a'))
    assert r['failed'] and 'is not a run record' in r['msg']
    path.write_text('not json')
    r = run(dict(path=str(path), state='query'))
    assert r['failed'] and 'not JSON' in r['msg']
    assert path.read_text() == 'not json'
    r = run(dict(path=str(tmp_path / 'missing' / 'run.json'), run_id='run7', site='site-a'))
    assert r['failed'] and 'does not exist' in r['msg']
    r = run(dict(path=str(tmp_path / 'x.json'), phase='exported'))
    assert r['failed'] and 'run_id is required' in r['msg']
