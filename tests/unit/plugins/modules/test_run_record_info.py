# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""run_record_info: which recorded run holds an exported job (own, kept for a later run, busy, unclaimed)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil

from ansible_collections.hepcloud.lumberjack.plugins.modules import run_record_info
from ansible_collections.hepcloud.lumberjack.tests.unit.utils.module_runner import run_module

DATA = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'data')
# jobs 6.0, 6.1, 7.0, 7.1, 7.2 (see tests/data/README.md)
EXPORT_LOG = os.path.join(DATA, 'export_two_clusters.job_queue.log')


def record(base, run_id, site, phases, **values):
    d = base / run_id / site
    d.mkdir(parents=True)
    (d / 'run.json').write_text(json.dumps(dict(
        run_id=run_id, site=site, created=min(phases.values()) if phases else '2026-11-20T00:00:00Z',
        phases=phases, values=values)))
    return d


def run(base, jobs, run_id='run-new', check_mode=False):
    return run_module(run_record_info.main, dict(dir=str(base), jobs=jobs, run_id=run_id), check_mode=check_mode)


FINISHED = {'preflight': '2026-11-20T10:00:00Z', 'exported': '2026-11-20T10:00:05Z',
            'imported': '2026-11-20T10:05:00Z', 'reported': '2026-11-20T10:05:01Z'}


def test_kept_jobs_of_a_finished_run_can_be_taken_over(tmp_path):
    record(tmp_path, 'run-old', 'site-b', FINISHED, exported_jobs=['7.0', '7.1'],
           unfinished={'7.0': 'idle', '7.1': 'running'}, unexported=[])
    result = run(tmp_path, ['7.0', '7.1'])
    assert not result['changed']
    assert result['kept'] == ['7.0', '7.1'] and result['busy'] == {} and result['own'] == []
    assert result['claims']['7.0'] == dict(run_id='run-old', site='site-b', phase='reported', kept=True)


def test_unexported_or_finished_jobs_are_not_kept(tmp_path):
    record(tmp_path, 'run-old', 'site-b', FINISHED, exported_jobs=['7.0', '7.1', '7.2'],
           unfinished={'7.0': 'idle', '7.1': 'idle'}, unexported=['7.1'])
    result = run(tmp_path, ['7.0', '7.1', '7.2'])
    assert result['kept'] == ['7.0']
    # 7.1 was un-exported and 7.2 imported: if the schedd shows them exported, that run did not let them go
    assert sorted(result['busy']) == ['7.1', '7.2']
    assert result['busy']['7.2'] == 'run run-old at site site-b, phase reported'


def test_a_run_in_progress_keeps_its_jobs(tmp_path):
    record(tmp_path, 'run-old', 'site-a', {'preflight': '2026-11-20T10:00:00Z', 'exported': '2026-11-20T10:00:05Z',
                                           'launched': '2026-11-20T10:01:00Z'}, exported_jobs=['6.0'])
    result = run(tmp_path, ['6.0'])
    assert result['busy'] == {'6.0': 'run run-old at site site-a, phase launched'} and result['kept'] == []


def test_the_latest_run_holds_a_job_it_took_over(tmp_path):
    record(tmp_path, 'run-old', 'site-b', FINISHED, exported_jobs=['7.0'], unfinished={'7.0': 'idle'},
           unexported=[])
    record(tmp_path, 'run-new', 'site-b', {'preflight': '2026-11-21T09:00:00Z', 'exported': '2026-11-21T09:00:04Z'},
           exported_jobs=['7.0'], adopted={'7.0': 'run-old'})
    result = run(tmp_path, ['7.0'])
    assert result['own'] == ['7.0'] and result['kept'] == [] and result['busy'] == {}
    # and a third run finds it busy with the second
    third = run(tmp_path, ['7.0'], run_id='run-third')
    assert third['busy'] == {'7.0': 'run run-new at site site-b, phase exported'}


def test_a_run_cut_off_before_recording_its_export_holds_what_its_export_log_holds(tmp_path):
    d = record(tmp_path, 'run-new', 'site-a', {'preflight': '2026-11-21T09:00:00Z'})
    (d / 'export' / 'alice').mkdir(parents=True)
    shutil.copy(EXPORT_LOG, str(d / 'export' / 'alice' / 'job_queue.log'))
    result = run(tmp_path, ['6.0', '7.2', '9.0'])
    assert result['own'] == ['6.0', '7.2'] and result['unclaimed'] == ['9.0']
    other = run(tmp_path, ['6.1'], run_id='run-other', check_mode=True)
    assert other['busy'] == {'6.1': 'run run-new at site site-a, phase preflight'}


def test_unreadable_records_are_skipped_with_a_warning(tmp_path):
    (tmp_path / 'run-x' / 'site-a').mkdir(parents=True)
    (tmp_path / 'run-x' / 'site-a' / 'run.json').write_text(u'{not json')
    result = run(tmp_path, ['1.0'])
    assert result['unclaimed'] == ['1.0'] and result['claims'] == {}
    assert any('run-x/site-a/run.json' in w and 'cannot be read' in w for w in result['warnings'])


def test_no_runs_at_all(tmp_path):
    result = run(tmp_path / 'missing', ['1.0', '1.1'])
    assert result['unclaimed'] == ['1.0', '1.1'] and result['own'] == [] and result['kept'] == []
