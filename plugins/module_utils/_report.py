# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The report of a round trip: per site and job, from the sites' run records and their returned job queues.

Standard library only (it runs on the schedd host, which may lack the HTCondor bindings):

    report = build_report(record_paths, run_id)      # a dict, the same data as report.json
    render_json(report), render_html(report)         # bytes, stable for the same records
    summary(report)                                  # one line per site

A run record is the JSON that run_record writes (run_id, site, phases: {phase: time}, values: {...}).
A missing record file is a site with the failure "no run record". Per-job rows come from the site's
returned job_queue.log (values.returned_log) when it exists, else from values.exported_jobs with status
unknown; each job also gets its outcome at home (values.imported, unexported, not_imported).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import html
import json
import os
import time

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_log import (
    QueueLogError, job_id, replay, split_key, unquote)

# The phases of a round trip in their order (as run_record records them).
PHASES = ('preflight', 'exported', 'staged_in', 'launched', 'finished', 'staged_out', 'imported', 'reported',
          'aborted')

JOB_STATUS = {1: 'idle', 2: 'running', 3: 'removed', 4: 'completed', 5: 'held', 6: 'transferring_output',
              7: 'suspended'}

TIME_FORMAT = '%Y-%m-%dT%H:%M:%SZ'
MAX_SUMMARY_REASON = 120


class ReportError(Exception):
    """A record that cannot be reported on; the message names the file and what to do."""


# ---------------------------------------------------------------------------------------------- values

def _int(value):
    """An int from a recorded value (an int, or its text), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == int(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _list(value):
    return [str(x) for x in value] if isinstance(value, list) else []


def _dict(value):
    return value if isinstance(value, dict) else {}


def parse_time(text):
    """Seconds since the epoch of a recorded time ("2026-11-22T10:00:03Z"), else None."""
    if not isinstance(text, str):
        return None
    try:
        return calendar.timegm(time.strptime(text, TIME_FORMAT))
    except ValueError:
        return None


def job_sort_key(job):
    try:
        return (0, split_key(job), '')
    except ValueError:
        return (1, (0, 0), job)


def format_bytes(n):
    """1234567 -> "1.2 MB" (decimal units); None -> "n/a"."""
    if n is None:
        return 'n/a'
    if n < 1000:
        return '%d B' % n
    value = float(n)
    for unit in ('kB', 'MB', 'GB', 'TB', 'PB'):
        value /= 1000.0
        if value < 999.95 or unit == 'PB':
            return '%.1f %s' % (value, unit)
    return '%d B' % n  # not reached


def format_duration(seconds):
    """112 -> "1m52s", 7380 -> "2h03m", 45 -> "45s"; None -> "n/a"."""
    if seconds is None:
        return 'n/a'
    s = int(round(seconds))
    if s < 60:
        return '%ds' % s
    if s < 3600:
        return '%dm%02ds' % (s // 60, s % 60)
    if s < 86400:
        return '%dh%02dm' % (s // 3600, s % 3600 // 60)
    return '%dd%02dh' % (s // 86400, s % 86400 // 3600)


# ---------------------------------------------------------------------------------------------- records

def load_record(path, run_id):
    """The record at `path`, or None when there is no file; ReportError when it is not a record of run_id."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except (IOError, OSError) as e:
        if not os.path.exists(path):
            return None
        raise ReportError('cannot read the run record %s: %s' % (path, e))
    try:
        record = json.loads(data.decode('utf-8'))
    except ValueError as e:
        raise ReportError('%s is not a run record (not JSON: %s): give the records that run_record wrote'
                          % (path, e))
    if not isinstance(record, dict) or not isinstance(record.get('phases'), dict) \
            or not isinstance(record.get('values'), dict):
        raise ReportError('%s is not a run record (no phases and values): give the records that run_record wrote'
                          % path)
    if record.get('run_id') != run_id:
        raise ReportError('the run record %s belongs to run %r, not %r: give the records of run %s only'
                          % (path, record.get('run_id'), run_id, run_id))
    return record


def _phase_rows(phases):
    """[{phase, time, duration}] in the order they were reached; duration: seconds since the phase before."""
    rows = []
    for name, when in phases.items():
        order = PHASES.index(name) if name in PHASES else len(PHASES)
        rows.append((parse_time(when), order, str(name), when))
    # by time (phases reached in the same second in round-trip order); unreadable times last
    rows.sort(key=lambda r: (r[0] is None, r[0] or 0, r[1], r[2]))
    out = []
    previous = None
    for seconds, _order, name, when in rows:
        duration = None
        if seconds is not None and previous is not None:
            duration = seconds - previous
        out.append(dict(phase=name, time=when if isinstance(when, str) else None, duration=duration))
        if seconds is not None:
            previous = seconds
    return out


def _float(value):
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _text(value):
    """A ClassAd string literal's text; any other value (an expression) as written; None stays None."""
    if value is None:
        return None
    text = unquote(value)
    return value if text is None else text


def _jobs_from_log(path):
    """{job id: row} from a returned job_queue.log."""
    state = replay(path)
    jobs = {}
    for key in state.job_keys():
        raw_status = state.job_attr(key, 'JobStatus')
        status = JOB_STATUS.get(_int(raw_status), 'unknown') if raw_status is not None else 'unknown'
        owner = state.job_attr(key, 'Owner')
        hold = state.job_attr(key, 'HoldReason') if status == 'held' else None
        jobs[job_id(key)] = dict(
            status=status,
            exit_code=_int(state.job_attr(key, 'ExitCode')),
            wall_time=_float(state.job_attr(key, 'RemoteWallClockTime')),
            owner=_text(owner),
            hold_reason=_text(hold),
            in_log=True)
    return jobs


def _job_class(row):
    """completed, failed (held or a nonzero exit code) or unfinished (everything else, unknown too)."""
    if row['status'] == 'held' or (row['exit_code'] is not None and row['exit_code'] != 0):
        return 'failed'
    if row['status'] == 'completed':
        return 'completed'
    return 'unfinished'


def site_report(path, record):
    """The per-site data of one record (None: the record file is missing)."""
    if record is None:
        return dict(record=path, site=path, found=False, scheduler=None, batch_job_id=None, staging=None,
                    phases=[], elapsed=None, bytes_in=None, files_in=None, bytes_out=None, files_out=None,
                    pilot={}, returned_log=None, returned_log_read=False, owners=[],
                    failures=[dict(phase=None, reason='no run record')], jobs=[],
                    counts=dict(jobs=0, completed=0, unfinished=0, failed=0, status_unknown=0))
    values = record['values']
    failures = []
    for f in values.get('failures') or []:
        if isinstance(f, dict):
            failures.append(dict(phase=f.get('phase'), reason=str(f.get('reason', ''))))
        else:
            failures.append(dict(phase=None, reason=str(f)))
    pilot = _dict(values.get('pilot'))
    if pilot.get('outcome') not in (None, 'finished'):
        reason = pilot.get('reason') or 'no reason recorded'
        failures.append(dict(phase='pilot', reason='%s: %s' % (pilot.get('outcome'), reason)))

    owners = _dict(values.get('owners'))
    owner_of = {}
    for owner in sorted(owners):
        for job in _list(_dict(owners[owner]).get('jobs')):
            owner_of.setdefault(job, owner)

    returned_log = values.get('returned_log') if isinstance(values.get('returned_log'), str) else None
    log_jobs = {}
    log_read = False
    if returned_log and os.path.isfile(returned_log):
        try:
            log_jobs = _jobs_from_log(returned_log)
            log_read = True
        except (QueueLogError, IOError, OSError, UnicodeError) as e:
            failures.append(dict(phase='report', reason='the returned job queue cannot be read: %s' % e))

    unfinished = _dict(values.get('unfinished'))
    imported = set(_list(values.get('imported')))
    unexported = set(_list(values.get('unexported')))
    not_imported = _dict(values.get('not_imported'))
    rows = []
    for job in sorted(set(log_jobs) | set(_list(values.get('exported_jobs'))), key=job_sort_key):
        row = log_jobs.get(job)
        if row is None:
            status = unfinished.get(job)
            row = dict(status=str(status) if status is not None else 'unknown', exit_code=None, wall_time=None,
                       owner=None, hold_reason=None, in_log=False)
        row = dict(row, job=job)
        if row['owner'] is None:
            row['owner'] = owner_of.get(job)
        if job in imported:
            row['home'] = 'imported'
        elif job in unexported:
            row['home'] = 'unexported'
        elif job in not_imported:
            row['home'] = 'not imported: %s' % not_imported[job]
        elif job in unfinished and 'imported' in values:
            # the import is done and left it exported (lumberjack_unfinished=keep): a later run takes it over
            row['home'] = 'kept exported'
        else:
            row['home'] = None
        row['result'] = _job_class(row)
        rows.append(row)

    counts = dict(jobs=len(rows), completed=0, unfinished=0, failed=0,
                  status_unknown=sum(1 for r in rows if r['status'] == 'unknown'))
    for r in rows:
        counts[r['result']] += 1
    phases = _phase_rows(_dict(record.get('phases')))
    times = [parse_time(p['time']) for p in phases if parse_time(p['time']) is not None]
    return dict(
        record=path, site=str(record.get('site') or path), found=True,
        scheduler=values.get('scheduler'), batch_job_id=values.get('batch_job_id'), staging=values.get('staging'),
        phases=phases, elapsed=(max(times) - min(times)) if times else None,
        bytes_in=_int(values.get('bytes_in')), files_in=_int(values.get('files_in')),
        bytes_out=_int(values.get('bytes_out')), files_out=_int(values.get('files_out')),
        pilot=pilot, returned_log=returned_log, returned_log_read=log_read, owners=sorted(owners),
        failures=failures, jobs=rows, counts=counts)


def build_report(paths, run_id):
    """The report of run_id over the records at `paths` (in that order)."""
    sites = []
    seen = {}
    newest = None
    for path in paths:
        record = load_record(path, run_id)
        site = site_report(path, record)
        if record is not None:
            if site['site'] in seen:
                raise ReportError('the run records %s and %s are both of site %s: give one record per site'
                                  % (seen[site['site']], path, site['site']))
            seen[site['site']] = path
            for when in _dict(record.get('phases')).values():
                if parse_time(when) is not None and (newest is None or parse_time(when) > parse_time(newest)):
                    newest = when
        sites.append(site)
    totals = dict(sites=len(sites), sites_with_failures=sum(1 for s in sites if s['failures']))
    for name in ('jobs', 'completed', 'unfinished', 'failed', 'status_unknown'):
        totals[name] = sum(s['counts'][name] for s in sites)
    for name in ('bytes_in', 'files_in', 'bytes_out', 'files_out'):
        totals[name] = sum(s[name] or 0 for s in sites)
    return dict(run_id=run_id, report_time=newest, sites=sites, totals=totals)


# ---------------------------------------------------------------------------------------------- output

def render_json(report):
    return (json.dumps(report, indent=1, sort_keys=True) + '\n').encode('utf-8')


def _site_line(site):
    c = site['counts']
    if not site['found']:
        return '%s: no run record' % site['site']
    line = '%s: %d jobs, %d completed, %d unfinished, %d failed; in %s, out %s; %s' % (
        site['site'], c['jobs'], c['completed'], c['unfinished'], c['failed'],
        format_bytes(site['bytes_in']), format_bytes(site['bytes_out']), format_duration(site['elapsed']))
    if site['failures']:
        first = site['failures'][0]
        reason = ('%s: %s' % (first['phase'], first['reason'])) if first['phase'] else first['reason']
        if len(reason) > MAX_SUMMARY_REASON:
            reason = reason[:MAX_SUMMARY_REASON - 3] + '...'
        more = ' (and %d more)' % (len(site['failures']) - 1) if len(site['failures']) > 1 else ''
        line += '; failed: %s%s' % (reason, more)
    return line


def summary(report):
    """One line per site (and a total line when there are several)."""
    lines = [_site_line(s) for s in report['sites']]
    t = report['totals']
    if len(report['sites']) > 1:
        lines.append('total: %d jobs, %d completed, %d unfinished, %d failed; in %s, out %s' % (
            t['jobs'], t['completed'], t['unfinished'], t['failed'], format_bytes(t['bytes_in']),
            format_bytes(t['bytes_out'])))
    return '\n'.join(lines)


_CSS = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.2em; margin-top: 2em; } h3 { font-size: 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1em 0; }
th, td { border: 1px solid #bbb; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
th { background: #eee; }
td.num { text-align: right; }
tr.failed td { background: #fde2e2; }
tr.unfinished td { background: #fff6d6; }
.failures { color: #a00; }
.small { color: #666; font-size: 0.9em; }
"""


def _e(value):
    if value is None:
        return ''
    return html.escape(str(value), quote=True)


def _table(headers, rows, classes=None):
    out = ['<table>', '<tr>' + ''.join('<th>%s</th>' % _e(h) for h in headers) + '</tr>']
    for i, row in enumerate(rows):
        cls = ' class="%s"' % _e(classes[i]) if classes and classes[i] else ''
        cells = []
        for cell in row:
            if isinstance(cell, (int, float)) and not isinstance(cell, bool):
                cells.append('<td class="num">%s</td>' % _e(cell))
            else:
                cells.append('<td>%s</td>' % _e(cell))
        out.append('<tr%s>%s</tr>' % (cls, ''.join(cells)))
    out.append('</table>')
    return out


def _pairs(pairs):
    return ['<table>'] + ['<tr><th>%s</th><td>%s</td></tr>' % (_e(k), _e(v)) for k, v in pairs] + ['</table>']


def _site_html(site):
    out = ['<h2>%s</h2>' % _e(site['site']), '<p class="small">record: %s</p>' % _e(site['record'])]
    if site['failures']:
        out.append('<ul class="failures">')
        for f in site['failures']:
            out.append('<li>%s%s</li>' % ('<b>%s</b>: ' % _e(f['phase']) if f['phase'] else '', _e(f['reason'])))
        out.append('</ul>')
    if not site['found']:
        return out
    c = site['counts']
    pilot = site['pilot']
    pairs = [('scheduler', site['scheduler']), ('batch job', site['batch_job_id']), ('staging', site['staging']),
             ('pilot', ' - '.join(str(x) for x in (pilot.get('outcome'), pilot.get('reason')) if x)),
             ('jobs', '%d: %d completed, %d unfinished, %d failed' % (c['jobs'], c['completed'], c['unfinished'],
                                                                      c['failed'])),
             ('staged in', '%s in %s files' % (format_bytes(site['bytes_in']),
                                               'n/a' if site['files_in'] is None else site['files_in'])),
             ('staged out', '%s in %s files' % (format_bytes(site['bytes_out']),
                                                'n/a' if site['files_out'] is None else site['files_out'])),
             ('elapsed', format_duration(site['elapsed'])),
             ('returned job queue', (site['returned_log'] or 'none recorded') +
              ('' if site['returned_log_read'] or not site['returned_log'] else ' (not read)'))]
    for key in sorted(k for k in pilot if k not in ('outcome', 'reason')):
        pairs.append(('pilot %s' % key, json.dumps(pilot[key], sort_keys=True)
                      if isinstance(pilot[key], (dict, list)) else pilot[key]))
    out += _pairs(pairs)
    if site['phases']:
        out.append('<h3>Phases</h3>')
        out += _table(['phase', 'reached', 'after'],
                      [(p['phase'], p['time'], format_duration(p['duration']) if p['duration'] is not None else '')
                       for p in site['phases']])
    if site['jobs']:
        out.append('<h3>Jobs</h3>')
        out += _table(['job', 'owner', 'status', 'exit code', 'wall time', 'at home', 'hold reason'],
                      [(j['job'], j['owner'], j['status'], j['exit_code'],
                        format_duration(j['wall_time']) if j['wall_time'] is not None else '', j['home'],
                        j['hold_reason']) for j in site['jobs']],
                      classes=[j['result'] if j['result'] != 'completed' else None for j in site['jobs']])
    return out


def render_html(report):
    t = report['totals']
    title = 'Lumberjack run %s' % report['run_id']
    out = ['<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">',
           '<title>%s</title>' % _e(title), '<style>%s</style>' % _CSS, '</head>', '<body>',
           '<h1>%s</h1>' % _e(title),
           '<p class="small">as of %s</p>' % _e(report['report_time'] or 'no phase recorded')]
    out += _table(['sites', 'jobs', 'completed', 'unfinished', 'failed', 'staged in', 'staged out'],
                  [(t['sites'], t['jobs'], t['completed'], t['unfinished'], t['failed'],
                    format_bytes(t['bytes_in']), format_bytes(t['bytes_out']))])
    out += ['<pre>%s</pre>' % _e(summary(report))]
    for site in report['sites']:
        out += _site_html(site)
    out += ['</body>', '</html>']
    return ('\n'.join(out) + '\n').encode('utf-8')
