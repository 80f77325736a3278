# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Job history as CSV: rows, the incremental state, and the per-user per-day summary (standard library only).

The jobs CSV has one row per finished job, in CompletionDate order, with the chosen job attributes as
columns (time attributes as ISO 8601 UTC). Beside it a JSON state file remembers the last CompletionDate
written and the GlobalJobIds written with that date, so the next run appends only newer jobs. The summary
is recomputed from the jobs CSV, read row by row.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import datetime
import io
import json
import re

DEFAULT_COLUMNS = ['GlobalJobId', 'ClusterId', 'ProcId', 'Owner', 'QDate', 'JobStartDate', 'CompletionDate',
                   'RemoteWallClockTime', 'RequestCpus', 'CpusProvisioned', 'RequestMemory', 'MemoryUsage',
                   'ResidentSetSize', 'ExitCode', 'ExitBySignal']
TIME_ATTRIBUTES = ['QDate', 'JobStartDate', 'JobCurrentStartDate', 'CompletionDate', 'EnteredCurrentStatus',
                   'LastMatchTime', 'JobCurrentStartExecutingDate', 'LastSuspensionTime', 'ShadowBday',
                   'JobLastStartDate', 'LastVacateTime', 'JobFinishedHookDone', 'LastHoldReleaseTime',
                   'LastRemoteStatusUpdate']
# columns the summary is computed from
SUMMARY_REQUIRED = ['GlobalJobId', 'Owner', 'CompletionDate', 'RemoteWallClockTime', 'RequestCpus']
SUMMARY_OPTIONAL = ['CpusProvisioned', 'MemoryUsage', 'ResidentSetSize', 'ExitCode']
SUMMARY_COLUMNS = ['day', 'user', 'jobs', 'core_hours', 'wall_hours', 'mean_memory_mb', 'exit_codes']
STATE_VERSION = 1


class HistoryError(Exception):
    """A CSV or state file that cannot be used as it is; the message says how to fix it."""


def iso(epoch):
    """Seconds since the epoch as ISO 8601 UTC ('2026-11-22T05:30:00Z'); '' for 0 or nothing."""
    if epoch in (None, ''):
        return ''
    try:
        value = int(float(epoch))
    except (TypeError, ValueError):
        return str(epoch)
    if value <= 0:
        return ''
    return datetime.datetime.fromtimestamp(value, UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


class _UTC(datetime.tzinfo):
    def utcoffset(self, dt):
        return datetime.timedelta(0)

    def tzname(self, dt):
        return 'UTC'

    def dst(self, dt):
        return datetime.timedelta(0)


UTC = _UTC()
_DATE = re.compile(r'^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?\s*(Z|[+-]\d{2}:?\d{2})?$')


def parse_time(text):
    """Seconds since the epoch of an ISO 8601 date or date-time (UTC unless it says otherwise), or of a
    number of seconds. ValueError when it is neither."""
    text = str(text).strip()
    if re.match(r'^\d+(\.\d+)?$', text):
        return int(float(text))
    m = _DATE.match(text)
    if not m:
        raise ValueError('%r is not an ISO 8601 date (YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM]) nor seconds since '
                         'the epoch' % text)
    y, mo, d, h, mi, s, tz = m.groups()
    dt = datetime.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), tzinfo=UTC)
    epoch = int((dt - datetime.datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())
    if tz and tz != 'Z':
        sign = 1 if tz[0] == '+' else -1
        digits = tz[1:].replace(':', '')
        epoch -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return epoch


def cell(value):
    """A job attribute's value as CSV text."""
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float):
        if value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, (list, tuple)):
        return ' '.join(cell(v) for v in value)
    return str(value)


def row(job, columns, time_columns):
    """The CSV row of a job (a dict of attribute values)."""
    out = []
    for c in columns:
        v = job.get(c)
        out.append(iso(v) if c in time_columns and v not in (None, '') else cell(v))
    return out


def csv_line(values):
    buf = io.StringIO()
    csv.writer(buf, lineterminator='\n').writerow(values)
    return buf.getvalue()


def read_header(path):
    """The header of a CSV file (a list), or None when the file is empty."""
    with open(path, newline='') as f:
        for values in csv.reader(f):
            return values
    return None


def check_header(path, columns):
    header = read_header(path)
    if header is None:
        return False
    if header != list(columns):
        raise HistoryError(
            '%s has the columns %s, not the chosen columns %s: set columns to the file\'s header to keep '
            'appending to it, or move %s (and its state file) away to start a new file with these columns'
            % (path, ','.join(header), ','.join(columns), path))
    return True


def iter_rows(path):
    """The data rows of a CSV file as dicts (header names as keys), one at a time."""
    with open(path, newline='') as f:
        reader = csv.DictReader(f)
        for number, values in enumerate(reader, 2):
            values['_line'] = number
            yield values


# -- state ----------------------------------------------------------------------------------------------
class State(object):
    """Where the last run stopped: the highest CompletionDate written, and the GlobalJobIds written with a
    CompletionDate in the last `lookback` seconds before it (a job can reach the history a little after
    jobs that completed later; those are found again by the next run and told apart by their id)."""

    def __init__(self, last_completion=0, recent=None, rows=0, lookback=0):
        self.last_completion = int(last_completion)
        self.recent = dict((str(k), int(v)) for k, v in (recent or {}).items())
        self.rows = int(rows)
        self.lookback = max(0, int(lookback))

    @property
    def floor(self):
        """The earliest CompletionDate the next run looks at again."""
        return self.last_completion - self.lookback

    def as_dict(self):
        return dict(version=STATE_VERSION, last_completion=self.last_completion,
                    last_completion_iso=iso(self.last_completion), lookback=self.lookback,
                    recent_jobs=self.recent, rows=self.rows)

    def text(self):
        return json.dumps(self.as_dict(), indent=2, sort_keys=True) + '\n'

    def add(self, completion, job_id):
        completion = int(completion)
        self.recent[str(job_id)] = completion
        if completion > self.last_completion:
            self.last_completion = completion
        self.rows += 1
        if len(self.recent) > 1024 and len(self.recent) % 1024 == 0:
            self.prune()

    def prune(self):
        floor = self.floor
        self.recent = dict((k, v) for k, v in self.recent.items() if v >= floor)

    def seen(self, job_id):
        return str(job_id) in self.recent

    def constraint(self):
        """ClassAd constraint of the jobs the next run reads (those already written are skipped by id)."""
        if not self.last_completion:
            return None
        return 'CompletionDate >= %d' % self.floor


def load_state(path, lookback):
    with open(path) as f:
        try:
            data = json.load(f)
        except ValueError as e:
            raise HistoryError('state file %s is not JSON (%s): remove it; it is rebuilt from the CSV' % (path, e))
    if not isinstance(data, dict) or data.get('version') != STATE_VERSION:
        raise HistoryError('state file %s is not a state file of this module (version %s): remove it; it is '
                           'rebuilt from the CSV' % (path, STATE_VERSION))
    try:
        state = State(data['last_completion'], data.get('recent_jobs') or {}, data.get('rows', 0), lookback)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise HistoryError('state file %s lacks last_completion or recent_jobs: remove it; it is rebuilt from '
                           'the CSV' % path)
    if lookback > int(data.get('lookback') or 0):
        # a longer lookback than the ids were kept for: rebuild from the CSV to know them all
        return None
    state.prune()
    return state


def state_from_csv(path, time_columns, lookback):
    """The state of a jobs CSV, read from the file itself (when the state file is missing)."""
    state = State(lookback=lookback)
    for r in iter_rows(path):
        if 'CompletionDate' not in r or 'GlobalJobId' not in r:
            raise HistoryError('%s has no CompletionDate or GlobalJobId column: the incremental export needs both'
                               % path)
        value = r['CompletionDate']
        completion = parse_time(value) if 'CompletionDate' in time_columns else int(float(value or 0))
        state.add(completion, r['GlobalJobId'])
    state.prune()
    return state


# -- summary ------------------------------------------------------------------------------------------------
def _number(text):
    if text in (None, ''):
        return None
    try:
        return float(text)
    except ValueError:
        return None


class Summary(object):
    """Per (day, user): jobs, core-hours, wall-hours, mean memory (MB), counts by exit code."""

    def __init__(self):
        self.cells = {}

    def add(self, day, user, wall_seconds, cpus, memory_mb, exit_code):
        c = self.cells.setdefault((day, user), dict(jobs=0, core=0.0, wall=0.0, mem_sum=0.0, mem_n=0, codes={}))
        c['jobs'] += 1
        wall = wall_seconds or 0.0
        c['wall'] += wall / 3600.0
        c['core'] += wall * (cpus if cpus is not None else 1.0) / 3600.0
        if memory_mb is not None:
            c['mem_sum'] += memory_mb
            c['mem_n'] += 1
        key = exit_code if exit_code is not None else 'none'
        c['codes'][key] = c['codes'].get(key, 0) + 1

    def rows(self):
        for (day, user) in sorted(self.cells):
            c = self.cells[(day, user)]
            mean = ('%.1f' % (c['mem_sum'] / c['mem_n'])) if c['mem_n'] else ''
            codes = ' '.join('%s:%d' % (k, c['codes'][k]) for k in sorted(c['codes'], key=_code_order))
            yield [day, user, str(c['jobs']), '%.4f' % c['core'], '%.4f' % c['wall'], mean, codes]

    def text(self):
        return csv_line(SUMMARY_COLUMNS) + ''.join(csv_line(r) for r in self.rows())


def _code_order(code):
    return (1, 0) if code == 'none' else (0, code)


def summarize(path, time_columns):
    """The Summary of a jobs CSV, read row by row."""
    summary = Summary()
    for r in iter_rows(path):
        completion = r.get('CompletionDate')
        if not completion:
            continue
        epoch = parse_time(completion) if 'CompletionDate' in time_columns else int(float(completion))
        day = iso(epoch)[:10]
        cpus = _number(r.get('CpusProvisioned'))
        if cpus is None:
            cpus = _number(r.get('RequestCpus'))
        memory = _number(r.get('MemoryUsage'))
        if memory is None:
            rss = _number(r.get('ResidentSetSize'))
            memory = rss / 1024.0 if rss is not None else None
        code = _number(r.get('ExitCode'))
        summary.add(day, r.get('Owner') or '', _number(r.get('RemoteWallClockTime')), cpus, memory,
                    int(code) if code is not None else None)
    return summary


def missing_summary_columns(columns):
    return [c for c in SUMMARY_REQUIRED if c not in columns]
