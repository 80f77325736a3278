# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""run_report as Ansible runs it: the files it writes, changed honestly, check mode, errors."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat

from ansible_collections.hepcloud.lumberjack.plugins.modules import run_report
from ansible_collections.hepcloud.lumberjack.tests.unit.plugins.module_utils.test_report import write_record
from ansible_collections.hepcloud.lumberjack.tests.unit.plugins.modules.queue_module_support import snapshot
from ansible_collections.hepcloud.lumberjack.tests.unit.utils.module_runner import run_module


def run(args, check_mode=False):
    return run_module(run_report.main, args, check_mode=check_mode)


def records(tmp_path, sample):
    a = write_record(tmp_path, 'site-a', phases={'exported': '2026-01-01T10:00:00Z',
                                                 'imported': '2026-01-01T10:01:52Z'}, values={
        'returned_log': sample('hpc_after_run'), 'imported': ['6.0', '6.1', '7.0', '7.1'],
        'not_imported': {'7.2': 'held <at> the site & not run'}, 'bytes_in': 12300000, 'bytes_out': 210000000,
        'owners': {'lumber': {'jobs': ['6.0', '6.1', '7.0', '7.1', '7.2'], 'export_dir': '/x'}}})
    return [a, str(tmp_path / 'site-b' / 'run.json')]


def test_writes_the_report_once_and_then_reports_no_change(tmp_path, sample):
    dest = tmp_path / 'report'
    dest.mkdir()
    args = dict(records=records(tmp_path, sample), dest_dir=str(dest), run_id='r1')
    r = run(args)
    assert r['changed'] is True
    assert r['json_path'] == str(dest / 'report.json') and r['html_path'] == str(dest / 'report.html')
    assert r['summary'].splitlines() == [
        'site-a: 5 jobs, 4 completed, 0 unfinished, 1 failed; in 12.3 MB, out 210.0 MB; 1m52s',
        '%s: no run record' % args['records'][1],
        'total: 5 jobs, 4 completed, 0 unfinished, 1 failed; in 12.3 MB, out 210.0 MB']
    assert r['totals']['jobs'] == 5 and r['totals']['failed'] == 1 and r['totals']['sites_with_failures'] == 1
    assert r['report_time'] == '2026-01-01T10:01:52Z'
    assert [s['site'] for s in r['sites']] == ['site-a', args['records'][1]]
    assert r['sites'][1]['failures'] == [{'phase': None, 'reason': 'no run record'}]
    rows = dict((j['job'], j) for j in r['sites'][0]['jobs'])
    assert rows['7.2']['home'] == 'not imported: held <at> the site & not run' and rows['7.2']['status'] == 'held'
    on_disk = json.loads((dest / 'report.json').read_text())
    assert on_disk['sites'] == r['sites'] and on_disk['totals'] == r['totals'] and on_disk['run_id'] == 'r1'
    page = (dest / 'report.html').read_text()
    assert 'held &lt;at&gt; the site &amp; not run' in page and '<at>' not in page
    for name in ('report.json', 'report.html'):
        assert stat.S_IMODE(os.stat(str(dest / name)).st_mode) == 0o644
    before = snapshot(str(dest))
    r = run(args)
    assert r['changed'] is False and snapshot(str(dest)) == before
    # a record that moves on changes the report
    with open(args['records'][0]) as f:
        record = json.load(f)
    record['phases']['reported'] = '2026-01-01T10:02:00Z'
    with open(args['records'][0], 'w') as f:
        json.dump(record, f)
    r = run(args, check_mode=True)
    assert r['changed'] is True and snapshot(str(dest)) == before
    r = run(args)
    assert r['changed'] is True and json.loads((dest / 'report.json').read_text())['report_time'] == \
        '2026-01-01T10:02:00Z'
    # a file that lost its mode is put right
    os.chmod(str(dest / 'report.html'), 0o600)
    assert run(args, check_mode=True)['changed'] is True
    assert run(args)['changed'] is True and stat.S_IMODE(os.stat(str(dest / 'report.html')).st_mode) == 0o644
    assert run(args)['changed'] is False


def test_check_mode_writes_nothing(tmp_path, sample):
    dest = tmp_path / 'report'
    dest.mkdir()
    r = run(dict(records=records(tmp_path, sample), dest_dir=str(dest), run_id='r1'), check_mode=True)
    assert r['changed'] is True and r['totals']['jobs'] == 5 and 'site-a: 5 jobs' in r['summary']
    assert os.listdir(str(dest)) == []


def test_errors_name_the_file(tmp_path, sample):
    dest = tmp_path / 'report'
    dest.mkdir()
    paths = records(tmp_path, sample)
    other = write_record(tmp_path, 'site-c', run_id='r0')
    r = run(dict(records=paths + [other], dest_dir=str(dest), run_id='r1'))
    assert r['failed'] and "the run record %s belongs to run 'r0', not 'r1'" % other in r['msg']
    assert os.listdir(str(dest)) == []
    r = run(dict(records=paths, dest_dir=str(tmp_path / 'nowhere'), run_id='r1'))
    assert r['failed'] and 'dest_dir %s is not a directory' % (tmp_path / 'nowhere') in r['msg']
