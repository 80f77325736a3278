# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The report of a round trip: per-job rows from a returned job queue, per-site phases, totals, HTML and JSON."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils import _queue_log as ql
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._report import (
    ReportError, build_report, format_bytes, format_duration, load_record, render_html, render_json, summary)

HELD_7_2 = ('Cannot access initial working directory /tmp/condor-lj-iwd/7/2/cluster7.proc2.subproc0: '
            'No such file or directory')


def write_record(tmp_path, name, phases=None, values=None, run_id='r1', site=None):
    path = tmp_path / (name + '.json')
    path.write_text(json.dumps(dict(run_id=run_id, site=site or name, created='2026-01-01T10:00:00Z',
                                    phases=phases or {}, values=values or {})))
    return str(path)


def engine_log(tmp_path, jobs):
    """A job_queue.log written with the engine: jobs = {"C.P": {attribute: python value}}; cluster ads empty."""
    records = [ql.Record(ql.OP_SEQUENCE, '1', 'CreationTimestamp', '1700000000')]
    for cluster in sorted(set(ql.split_key(k)[0] for k in jobs)):
        records.append(ql.new_ad('0%d.-1' % cluster))
    for key, attrs in jobs.items():
        records.append(ql.new_ad(key))
        records += [ql.set_attribute(key, n, ql.literal(v)) for n, v in attrs.items()]
    path = tmp_path / 'returned.job_queue.log'
    with open(str(path), 'w', newline='\n') as f:
        ql.write_records(f, records)
    return str(path)


def by_job(site):
    return dict((j['job'], j) for j in site['jobs'])


def test_jobs_from_the_real_returned_log_with_their_outcome_at_home(tmp_path, sample):
    path = write_record(tmp_path, 'site-a', phases={
        'preflight': '2026-01-01T10:00:00Z', 'exported': '2026-01-01T10:00:05Z', 'staged_out': '2026-01-01T10:01:52Z',
        'finished': '2026-01-01T10:01:40Z'}, values={
        'exported_jobs': ['6.0', '6.1', '7.0', '7.1', '7.2'], 'returned_log': sample('hpc_after_run'),
        'imported': ['6.0', '6.1', '7.0'], 'unexported': ['7.1'], 'not_imported': {'7.2': 'held at the site'},
        'bytes_in': 12300000, 'files_in': 4, 'bytes_out': 210000000, 'files_out': 7})
    report = build_report([path], 'r1')
    site = report['sites'][0]
    assert site['site'] == 'site-a' and site['found'] and site['returned_log_read']
    jobs = by_job(site)
    assert [j['job'] for j in site['jobs']] == ['6.0', '6.1', '7.0', '7.1', '7.2']
    assert jobs['6.0'] == dict(job='6.0', owner='lumber', status='completed', exit_code=0, wall_time=3.0,
                               hold_reason=None, home='imported', result='completed', in_log=True)
    assert jobs['7.1']['home'] == 'unexported' and jobs['7.1']['result'] == 'completed'
    assert jobs['7.2']['status'] == 'held' and jobs['7.2']['hold_reason'] == HELD_7_2
    assert jobs['7.2']['result'] == 'failed' and jobs['7.2']['home'] == 'not imported: held at the site'
    assert site['counts'] == dict(jobs=5, completed=4, unfinished=0, failed=1, status_unknown=0)
    # phases in the order reached, each with the seconds since the one before
    assert [(p['phase'], p['duration']) for p in site['phases']] == [
        ('preflight', None), ('exported', 5), ('finished', 95), ('staged_out', 12)]
    assert site['elapsed'] == 112 and report['report_time'] == '2026-01-01T10:01:52Z'
    assert summary(report) == 'site-a: 5 jobs, 4 completed, 0 unfinished, 1 failed; in 12.3 MB, out 210.0 MB; 1m52s'


def test_statuses_exit_codes_and_totals_across_sites(tmp_path):
    log = engine_log(tmp_path, {
        '12.0': {'JobStatus': 4, 'ExitCode': 0, 'RemoteWallClockTime': 60.5, 'Owner': 'alice'},
        '12.1': {'JobStatus': 4, 'ExitCode': 3, 'RemoteWallClockTime': 7.0, 'Owner': 'alice'},
        '12.2': {'JobStatus': 1, 'Owner': 'alice'},
        '12.10': {'JobStatus': 2, 'Owner': 'alice'},
        '13.0': {'JobStatus': 5, 'HoldReason': 'disk quota exceeded', 'Owner': 'bob'}})
    a = write_record(tmp_path, 'site-a', phases={'launched': '2026-01-01T10:00:00Z'}, values={
        'returned_log': log, 'exported_jobs': ['12.0', '12.1', '12.2', '12.10', '13.0'],
        'bytes_in': 1000, 'bytes_out': 500})
    # site b: no returned log; statuses from the record where it has them, unknown otherwise
    b = write_record(tmp_path, 'site-b', phases={'launched': '2026-01-01T11:00:00Z'}, values={
        'exported_jobs': ['20.1', '20.0'], 'unfinished': {'20.1': 'idle'}, 'bytes_in': 24,
        'owners': {'carol': {'jobs': ['20.0', '20.1'], 'export_dir': '/x'}},
        'returned_log': str(tmp_path / 'not-there.log'),
        'pilot': {'outcome': 'walltime', 'reason': 'killed by slurm at the time limit'}})
    report = build_report([a, b], 'r1')
    sa, sb = report['sites']
    rows = by_job(sa)
    assert [j['job'] for j in sa['jobs']] == ['12.0', '12.1', '12.2', '12.10', '13.0']   # numeric order
    assert (rows['12.1']['status'], rows['12.1']['exit_code'], rows['12.1']['result']) == ('completed', 3, 'failed')
    assert (rows['12.2']['status'], rows['12.2']['result']) == ('idle', 'unfinished')
    assert (rows['12.10']['status'], rows['12.10']['result']) == ('running', 'unfinished')
    assert rows['13.0']['owner'] == 'bob' and rows['13.0']['hold_reason'] == 'disk quota exceeded'
    assert rows['12.0']['wall_time'] == 60.5 and rows['12.0']['home'] is None
    assert sa['counts'] == dict(jobs=5, completed=1, unfinished=2, failed=2, status_unknown=0)
    assert not sb['returned_log_read']
    assert [(j['job'], j['status'], j['owner'], j['in_log']) for j in sb['jobs']] == [
        ('20.0', 'unknown', 'carol', False), ('20.1', 'idle', 'carol', False)]
    assert sb['counts'] == dict(jobs=2, completed=0, unfinished=2, failed=0, status_unknown=1)
    assert sb['failures'] == [{'phase': 'pilot', 'reason': 'walltime: killed by slurm at the time limit'}]
    assert report['totals'] == dict(sites=2, sites_with_failures=1, jobs=7, completed=1, unfinished=4, failed=2,
                                    status_unknown=1, bytes_in=1024, files_in=0, bytes_out=500, files_out=0)
    assert report['report_time'] == '2026-01-01T11:00:00Z'
    lines = summary(report).splitlines()
    assert lines == [
        'site-a: 5 jobs, 1 completed, 2 unfinished, 2 failed; in 1.0 kB, out 500 B; 0s',
        'site-b: 2 jobs, 0 completed, 2 unfinished, 0 failed; in 24 B, out n/a; 0s; '
        'failed: pilot: walltime: killed by slurm at the time limit',
        'total: 7 jobs, 1 completed, 4 unfinished, 2 failed; in 1.0 kB, out 500 B']


def test_unfinished_jobs_left_exported_after_the_import_are_reported_kept(tmp_path):
    log = engine_log(tmp_path, {
        '30.0': {'JobStatus': 4, 'ExitCode': 0, 'Owner': 'alice'},
        '30.1': {'JobStatus': 2, 'Owner': 'alice'}})
    path = write_record(tmp_path, 'site-b', phases={'imported': '2026-01-01T10:00:00Z'}, values={
        'returned_log': log, 'exported_jobs': ['30.0', '30.1'], 'imported': ['30.0'],
        'unfinished': {'30.1': 'running'}, 'unexported': []})
    rows = by_job(build_report([path], 'r1')['sites'][0])
    assert rows['30.0']['home'] == 'imported'
    assert (rows['30.1']['home'], rows['30.1']['result']) == ('kept exported', 'unfinished')
    # before the import, an unfinished job has no outcome at home yet
    before = write_record(tmp_path, 'site-c', phases={'finished': '2026-01-01T10:00:00Z'}, values={
        'returned_log': log, 'exported_jobs': ['30.0', '30.1'], 'unfinished': {'30.1': 'running'}})
    assert by_job(build_report([before], 'r1')['sites'][0])['30.1']['home'] is None


def test_missing_record_and_recorded_failures(tmp_path):
    missing = str(tmp_path / 'site-x' / 'run.json')
    a = write_record(tmp_path, 'site-a', values={'failures': [{'phase': 'stage_in', 'reason': 'rsync: exit 23'},
                                                              {'phase': 'launch', 'reason': 'sbatch refused'}]})
    report = build_report([missing, a], 'r1')
    gone, sa = report['sites']
    assert gone['site'] == missing and gone['record'] == missing and not gone['found']
    assert gone['failures'] == [{'phase': None, 'reason': 'no run record'}] and gone['jobs'] == []
    assert sa['failures'] == [{'phase': 'stage_in', 'reason': 'rsync: exit 23'},
                              {'phase': 'launch', 'reason': 'sbatch refused'}]
    assert report['report_time'] is None and report['totals']['sites_with_failures'] == 2
    assert summary(report).splitlines() == [
        '%s: no run record' % missing,
        'site-a: 0 jobs, 0 completed, 0 unfinished, 0 failed; in n/a, out n/a; n/a; '
        'failed: stage_in: rsync: exit 23 (and 1 more)',
        'total: 0 jobs, 0 completed, 0 unfinished, 0 failed; in 0 B, out 0 B']
    assert 'no run record' in render_html(report).decode('utf-8')


def test_an_unreadable_returned_log_is_a_failure_of_the_site(tmp_path):
    bad = tmp_path / 'bad.log'
    bad.write_text('103 1.0 JobStatus 4\n')   # an attribute of an ad the log never created
    a = write_record(tmp_path, 'site-a', values={'returned_log': str(bad), 'exported_jobs': ['1.0']})
    site = build_report([a], 'r1')['sites'][0]
    assert not site['returned_log_read'] and [j['status'] for j in site['jobs']] == ['unknown']
    assert len(site['failures']) == 1 and site['failures'][0]['phase'] == 'report'
    assert str(bad) in site['failures'][0]['reason']


def test_records_of_another_run_or_not_records_fail_naming_the_file(tmp_path):
    other = write_record(tmp_path, 'site-a', run_id='r0')
    with pytest.raises(ReportError, match=re.escape("%s belongs to run 'r0', not 'r1'" % other)):
        build_report([other], 'r1')
    junk = tmp_path / 'junk.json'
    junk.write_text('not json')
    with pytest.raises(ReportError, match=re.escape('%s is not a run record (not JSON' % junk)):
        load_record(str(junk), 'r1')
    junk.write_text('{"run_id": "r1"}')
    with pytest.raises(ReportError, match='no phases and values'):
        load_record(str(junk), 'r1')
    assert load_record(str(tmp_path / 'none.json'), 'r1') is None
    one = write_record(tmp_path, 'one', site='site-a')
    two = write_record(tmp_path, 'two', site='site-a')
    with pytest.raises(ReportError, match='both of site site-a'):
        build_report([one, two], 'r1')


def test_html_is_escaped_and_self_contained_and_json_is_stable(tmp_path):
    log = engine_log(tmp_path, {'1.0': {'JobStatus': 5, 'Owner': 'x<b>&y',
                                        'HoldReason': 'a <script>alert(1)</script> & "q"'}})
    a = write_record(tmp_path, 'site-<a>&', phases={'exported': '2026-01-01T10:00:00Z'}, values={
        'returned_log': log, 'not_imported': {'1.0': 'held <here> & there'},
        'failures': [{'phase': 'stage_in', 'reason': '<img src=x> & more'}],
        'pilot': {'outcome': 'failed', 'reason': '<exit 1>', 'host': 'n<1>'}})
    report = build_report([a], 'r1')
    page = render_html(report).decode('utf-8')
    assert page == render_html(build_report([a], 'r1')).decode('utf-8')
    for raw in ('x<b>&y', '<script>', '<img', 'site-<a>&', '<here>', '<exit 1>', 'n<1>'):
        assert raw not in page
    for escaped in ('x&lt;b&gt;&amp;y', 'a &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;',
                    'site-&lt;a&gt;&amp;', 'not imported: held &lt;here&gt; &amp; there',
                    '&lt;img src=x&gt; &amp; more', 'failed - &lt;exit 1&gt;', 'n&lt;1&gt;'):
        assert escaped in page
    # one file: inline style, no script, nothing fetched from elsewhere
    assert '<style>' in page and '<script' not in page.lower()
    assert not re.search(r'(src|href)\s*=|<link|@import|url\(', page.replace('src=x&gt;', ''))
    data = render_json(report)
    assert data == render_json(build_report([a], 'r1'))
    assert json.loads(data.decode('utf-8')) == report
    assert data.decode('utf-8') == json.dumps(report, indent=1, sort_keys=True) + '\n'
    assert by_job(report['sites'][0])['1.0']['owner'] == 'x<b>&y'


@pytest.mark.parametrize('n, text', [(None, 'n/a'), (0, '0 B'), (999, '999 B'), (1000, '1.0 kB'),
                                     (12345678, '12.3 MB'), (999960000, '1.0 GB'), (210 * 10 ** 6, '210.0 MB')])
def test_format_bytes(n, text):
    assert format_bytes(n) == text


@pytest.mark.parametrize('s, text', [(None, 'n/a'), (0, '0s'), (59.6, '1m00s'), (112, '1m52s'),
                                     (7380, '2h03m'), (90000, '1d01h')])
def test_format_duration(s, text):
    assert format_duration(s) == text
