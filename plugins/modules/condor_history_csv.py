#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: condor_history_csv
short_description: Export the finished jobs of an HTCondor schedd's history as CSV, with a usage summary
version_added: 0.1.0
description:
  - Reads the job history of a local or remote condor_schedd (C(htcondor2.Schedd.history)) and appends the
    completed jobs (C(JobStatus == 4)) that are not in O(dest) yet to it, one row per job, with the
    O(columns) as columns. Time attributes are written as ISO 8601 UTC.
  - "Incremental: a state file beside O(dest) remembers the last C(CompletionDate) written and the
    C(GlobalJobId)s written in the O(lookback_seconds) before it, so each run appends only the jobs not
    written yet. A run that finds nothing new changes no file and reports C(changed: false)."
  - The history is read in time windows (O(window_hours)), one query per window, so only one window of jobs
    is held in memory; the rows are written to a temporary copy of O(dest) that replaces it atomically.
  - With O(summary_dest), a summary CSV per day (of C(CompletionDate), UTC) and user (C(Owner)) is
    recomputed from O(dest), read row by row, with the columns C(day), C(user), C(jobs), C(core_hours)
    (C(RemoteWallClockTime) times C(CpusProvisioned), else C(RequestCpus)), C(wall_hours),
    C(mean_memory_mb) (C(MemoryUsage), else C(ResidentSetSize) / 1024) and C(exit_codes) (counts by
    C(ExitCode), as C(code:count) separated by spaces; C(none) counts jobs without one).
  - With O(chart_dest), a PNG bar chart of the core-hours per user per day (needs matplotlib).
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
extends_documentation_fragment:
  - hepcloud.lumberjack._schedd
attributes:
  check_mode:
    support: full
    description: Counts the jobs that would be appended; no file is written.
  diff_mode:
    support: none
    description: No diff is produced (the files can be large).
  platform:
    support: full
    platforms: posix
    description: Runs where the bindings can reach the schedd (its host, or any client of the pool).
options:
  dest:
    description:
      - Path of the jobs CSV. Created with a header row when it does not exist; appended to otherwise.
      - An existing file whose header differs from O(columns) is refused.
    type: path
    required: true
  columns:
    description:
      - Job attributes to write, in this order; the header row has these names.
      - C(GlobalJobId) and C(CompletionDate) are required (the incremental export keys on them); the
        summary also needs C(Owner), C(RemoteWallClockTime) and C(RequestCpus), and uses C(CpusProvisioned),
        C(MemoryUsage), C(ResidentSetSize) and C(ExitCode) when present.
      - An attribute a job does not have is an empty cell.
    type: list
    elements: str
    default: [GlobalJobId, ClusterId, ProcId, Owner, QDate, JobStartDate, CompletionDate, RemoteWallClockTime,
              RequestCpus, CpusProvisioned, RequestMemory, MemoryUsage, ResidentSetSize, ExitCode, ExitBySignal]
  time_columns:
    description:
      - Which of the O(columns) are times (seconds since the epoch) written as ISO 8601 UTC
        (C(2026-11-22T05:30:00Z)); 0 is written as an empty cell.
    type: list
    elements: str
    default: [QDate, JobStartDate, JobCurrentStartDate, CompletionDate, EnteredCurrentStatus, LastMatchTime,
              JobCurrentStartExecutingDate, LastSuspensionTime, ShadowBday, JobLastStartDate, LastVacateTime,
              JobFinishedHookDone, LastHoldReleaseTime, LastRemoteStatusUpdate]
  constraint:
    description:
      - A ClassAd constraint the jobs must also match, for example C(Owner == "alice").
    type: str
    default: 'true'
  since:
    description:
      - Only jobs completed at or after this time, as ISO 8601 (C(2026-11-01), C(2026-11-01T08:00:00Z))
        or seconds since the epoch.
      - Used when there is no state yet (the first run); afterwards the state decides.
      - Without it the first run exports the whole history.
    type: str
  state_file:
    description:
      - Path of the state file. Defaults to O(dest) with C(.state.json) appended.
      - When it is missing but O(dest) exists, the state is rebuilt from O(dest).
    type: path
  summary_dest:
    description:
      - Path of the summary CSV, rewritten (atomically) only when its content changes.
    type: path
  chart_dest:
    description:
      - Path of a PNG chart of the core-hours per user per day, redrawn when the summary changes or the
        chart is missing. Needs the Python package matplotlib on the host that runs the module.
    type: path
  lookback_seconds:
    description:
      - A job reaches the history when it leaves the queue, which can be a little after jobs that completed
        later. Each run reads again the jobs completed up to this many seconds before the last
        C(CompletionDate) written, and appends those it has not written yet; the state file keeps the
        C(GlobalJobId)s of that span.
    type: int
    default: 600
  window_hours:
    description:
      - Width of the time window each history query covers. A window with no job doubles the next one.
    type: int
    default: 24
requirements:
  - matplotlib, only with O(chart_dest).
notes:
  - A job that reaches the history more than O(lookback_seconds) after a later-completed job was exported
    (for example one kept in the queue with C(LeaveJobInQueue)) is not exported by later runs; raise
    O(lookback_seconds) for such jobs.
  - Rows are appended in the order they are found, by C(CompletionDate) within a run; a job found by the
    lookback comes after the rows of the previous run.
  - Jobs removed (C(JobStatus == 3)) are not exported.
seealso:
  - name: condor_history
    description: The condor_history manual page.
    link: https://htcondor.readthedocs.io/en/latest/man-pages/condor_history.html
'''

EXAMPLES = r'''
- name: Append yesterday's finished jobs to the accounting CSV, with a summary
  hepcloud.lumberjack.condor_history_csv:
    dest: /var/lib/accounting/jobs.csv
    summary_dest: /var/lib/accounting/summary.csv
    since: "2026-01-01"

- name: Only the jobs of one project, from a remote schedd, a few columns
  hepcloud.lumberjack.condor_history_csv:
    dest: /srv/reports/cms-jobs.csv
    constraint: 'ProjectName == "cms"'
    columns: [GlobalJobId, Owner, CompletionDate, RemoteWallClockTime, RequestCpus, ExitCode]
    pool: cm.example.org
    schedd_name: submit1.example.org
'''

RETURN = r'''
appended:
  description: Number of jobs appended to O(dest) (or that would be, in check mode).
  returned: always
  type: int
  sample: 12
rows:
  description: Number of job rows in O(dest) after the run.
  returned: always
  type: int
  sample: 1280
last_completion:
  description: The latest C(CompletionDate) in O(dest), ISO 8601 UTC (empty when there is none).
  returned: always
  type: str
  sample: "2026-11-22T05:30:00Z"
state_file:
  description: Path of the state file.
  returned: always
  type: str
summary:
  description: The summary rows (as in O(summary_dest)).
  returned: when O(summary_dest) is given
  type: list
  elements: dict
  sample: [{"day": "2026-11-22", "user": "alice", "jobs": "3", "core_hours": "0.0125", "wall_hours": "0.0125",
            "mean_memory_mb": "2.0", "exit_codes": "0:2 3:1"}]
queries:
  description: Number of history queries made.
  returned: always
  type: int
'''

import os
import shutil
import time
import traceback

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.hepcloud.lumberjack.plugins.module_utils import _history as hist
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._io import AtomicFile, remove_quietly
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._schedd import ScheddClient

FINISHED = 'JobStatus == 4 && CompletionDate > 0'


class HistoryExport(object):

    def __init__(self, client):
        self.client = client
        self.module = client.module
        self.p = client.params
        self.queries = 0
        self.columns = list(self.p['columns'])
        self.time_columns = set(self.p['time_columns'])
        self.projection = list(self.columns)
        for extra in ('GlobalJobId', 'CompletionDate', 'ResidentSetSize'):
            if extra not in self.projection:
                self.projection.append(extra)

    def fail(self, msg, **kwargs):
        self.client.fail(msg, **kwargs)

    # -- options ----------------------------------------------------------------------------------------
    def validate(self):
        p = self.p
        if not self.columns or len(set(self.columns)) != len(self.columns):
            self.fail('columns must name each attribute once (got %s)' % ', '.join(self.columns))
        for needed in ('GlobalJobId', 'CompletionDate'):
            if needed not in self.columns:
                self.fail('columns must include %s: the incremental export keys on GlobalJobId and CompletionDate'
                          % needed)
        if p['summary_dest'] or p['chart_dest']:
            missing = hist.missing_summary_columns(self.columns)
            if missing:
                self.fail('the summary needs the columns %s: add them to columns, or drop summary_dest and '
                          'chart_dest' % ', '.join(missing))
        if p['window_hours'] < 1:
            self.fail('window_hours must be at least 1')
        if p['lookback_seconds'] < 0:
            self.fail('lookback_seconds must not be negative')
        if p['chart_dest']:
            try:
                import matplotlib  # pylint: disable=import-outside-toplevel,unused-import # noqa: F401
            except ImportError:
                self.fail(missing_required_lib('matplotlib', reason='to draw chart_dest'),
                          exception=traceback.format_exc())
        for name in ('dest', 'summary_dest', 'chart_dest', 'state_file'):
            path = p[name]
            if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
                self.fail('%s %s: its directory does not exist' % (name, path))
        self.since = None
        if p['since']:
            try:
                self.since = hist.parse_time(p['since'])
            except ValueError as e:
                self.fail('since: %s' % to_native(e))
        self.client.check_constraint(p['constraint'])

    # -- history ------------------------------------------------------------------------------------------
    def history(self, constraint, match=-1):
        self.queries += 1
        try:
            return self.client.schedd.history(constraint=constraint, projection=self.projection, match=match)
        except Exception as e:  # pylint: disable=broad-except
            self.fail('reading the history of the schedd failed: %s (constraint %s)' % (to_native(e), constraint))

    def base(self):
        return '(%s) && (%s)' % (FINISHED, self.p['constraint'])

    def any_before(self, t):
        return bool(self.history('%s && CompletionDate <= %d' % (self.base(), t), match=1))

    def windows(self, lower_expr, lower, upper):
        """Yield the new jobs, oldest first, one window of history at a time."""
        width = self.p['window_hours'] * 3600
        if lower is None:
            # no state and no since: find a time before every finished job, going back exponentially
            back = width
            while self.any_before(upper - back):
                back *= 2
            lower = upper - back
            lower_expr = 'CompletionDate > %d' % lower
        start = lower
        first = True
        while start < upper:
            end = min(start + width, upper)
            low = lower_expr if first else 'CompletionDate > %d' % start
            ads = self.history('%s && (%s) && CompletionDate <= %d' % (self.base(), low, end))
            jobs = [self.job(ad) for ad in ads]
            jobs.sort(key=lambda j: (int(j.get('CompletionDate') or 0), str(j.get('GlobalJobId'))))
            yield from jobs
            width = self.p['window_hours'] * 3600 if jobs else width * 2
            start = end
            first = False

    def new_jobs(self, state, lower_expr, lower, upper):
        """The jobs of the windows that are not written yet (the lookback finds written ones again)."""
        for job in self.windows(lower_expr, lower, upper):
            if not state.seen(job.get('GlobalJobId')):
                yield job

    def job(self, ad):
        job = {}
        for attr in self.projection:
            if attr not in ad:
                continue
            value = ad[attr]
            if type(value).__name__ == 'ExprTree':
                try:
                    value = ad.eval(attr)
                except Exception:  # pylint: disable=broad-except
                    value = None
            if type(value).__name__ == 'Value':     # classad2.Value.Undefined / Error
                value = None
            job[attr] = value
        return job

    # -- run --------------------------------------------------------------------------------------------------
    def run(self):
        self.validate()
        p = self.p
        dest = os.path.abspath(p['dest'])
        state_path = os.path.abspath(p['state_file'] or dest + '.state.json')
        result = dict(changed=False, appended=0, state_file=state_path)

        exists = os.path.exists(dest)
        has_header = False
        if exists:
            if not os.path.isfile(dest):
                self.fail('dest %s is not a file' % dest)
            try:
                has_header = hist.check_header(dest, self.columns)
            except hist.HistoryError as e:
                self.fail(to_native(e))
            except (IOError, OSError, UnicodeDecodeError) as e:
                self.fail('dest %s cannot be read: %s' % (dest, to_native(e)))
        state = None
        lookback = p['lookback_seconds']
        try:
            if os.path.exists(state_path) and exists:
                state = hist.load_state(state_path, lookback)
                if state is None:
                    self.module.warn('lookback_seconds grew: the state is rebuilt from %s' % dest)
            if state is None and exists:
                state = hist.state_from_csv(dest, self.time_columns, lookback)
                if state.rows and not os.path.exists(state_path):
                    self.module.warn('state file %s is missing: rebuilt from %s (%d rows)'
                                     % (state_path, dest, state.rows))
            elif not exists and os.path.exists(state_path):
                self.module.warn('state file %s belongs to a CSV that is gone (%s): starting afresh'
                                 % (state_path, dest))
        except hist.HistoryError as e:
            self.fail(to_native(e))
        except (ValueError, KeyError) as e:
            self.fail('%s: cannot read the CompletionDate of a row (%s): fix the row, or move the file away'
                      % (dest, to_native(e)))
        if state is None or not state.last_completion:
            rows_before = state.rows if state else 0
            state = hist.State(rows=rows_before, lookback=lookback)
            if self.since is not None:
                lower_expr, lower = 'CompletionDate >= %d' % self.since, self.since - 1
            else:
                lower_expr, lower = None, None
        else:
            lower_expr, lower = state.constraint(), state.floor - 1

        upper = int(time.time())
        appended, written = self.append(dest, has_header, exists, state, lower_expr, lower, upper)
        result.update(appended=appended, rows=state.rows, last_completion=hist.iso(state.last_completion))
        result['changed'] = written
        state.prune()
        new_state = state.text()
        if _read(state_path) != new_state:
            result['changed'] = True
            if not self.module.check_mode:
                self.write(state_path, new_state, like=dest)
        if p['summary_dest'] or p['chart_dest']:
            self.summarize(dest, appended, result)
        result['queries'] = self.queries
        self.client.exit(**result)

    def append(self, dest, has_header, exists, state, lower_expr, lower, upper):
        """Append the new jobs to a temporary copy of dest, then replace dest with it.

        Returns (jobs appended, whether dest is (or would be) written)."""
        count = 0
        if self.module.check_mode:
            for job in self.new_jobs(state, lower_expr, lower, upper):
                state.add(job.get('CompletionDate') or 0, str(job.get('GlobalJobId')))
                count += 1
            return count, bool(count) or not has_header
        tmp = AtomicFile(dest, like=dest if exists else None, mode=0o644, binary=False, commit=False)
        try:
            with tmp as out:
                if exists:
                    with open(dest) as f:
                        shutil.copyfileobj(f, out)
                if not has_header:
                    out.write(hist.csv_line(self.columns))
                for job in self.new_jobs(state, lower_expr, lower, upper):
                    out.write(hist.csv_line(hist.row(job, self.columns, self.time_columns)))
                    state.add(job.get('CompletionDate') or 0, str(job.get('GlobalJobId')))
                    count += 1
            written = bool(count) or not has_header
            if written:
                os.rename(tmp.name, dest)
            else:
                remove_quietly(tmp.name)
        except (IOError, OSError) as e:
            remove_quietly(tmp.name)
            self.fail('cannot write %s: %s' % (dest, to_native(e)))
        return count, written

    def write(self, path, text, like=None):
        try:
            with AtomicFile(path, like=path if os.path.exists(path) else like, mode=0o644, binary=False) as f:
                f.write(text)
        except (IOError, OSError) as e:
            self.fail('cannot write %s: %s' % (path, to_native(e)))

    def summarize(self, dest, appended, result):
        p = self.p
        if os.path.exists(dest):
            try:
                summary = hist.summarize(dest, self.time_columns)
            except ValueError as e:
                self.fail('%s: a row cannot be summarized (%s): fix it, or move the file away' % (dest, to_native(e)))
        else:
            summary = hist.Summary()
            if self.module.check_mode:
                self.module.warn('check mode: the summary is computed from the jobs already in %s' % dest)
        text = summary.text()
        rows = list(summary.rows())
        result['summary'] = [dict(zip(hist.SUMMARY_COLUMNS, r)) for r in rows]
        changed = False
        if p['summary_dest']:
            path = os.path.abspath(p['summary_dest'])
            if _read(path) != text:
                changed = True
                if not self.module.check_mode:
                    self.write(path, text, like=dest)
        if p['chart_dest']:
            path = os.path.abspath(p['chart_dest'])
            if changed or appended or not os.path.exists(path):
                changed = True
                if not self.module.check_mode:
                    self.chart(path, rows)
        if changed:
            result['changed'] = True

    def chart(self, path, rows):
        import matplotlib  # pylint: disable=import-outside-toplevel
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
        days = sorted(set(r[0] for r in rows))
        users = sorted(set(r[1] for r in rows))
        values = dict(((r[0], r[1]), float(r[3])) for r in rows)
        fig, ax = plt.subplots(figsize=(max(6, len(days) * 0.5), 4))
        bottom = [0.0] * len(days)
        for user in users:
            heights = [values.get((d, user), 0.0) for d in days]
            ax.bar(days, heights, bottom=bottom, label=user)
            bottom = [b + h for b, h in zip(bottom, heights)]
        ax.set_ylabel('core-hours')
        ax.set_title('Core-hours per user per day')
        ax.legend()
        fig.autofmt_xdate()
        tmp = AtomicFile(path, mode=0o644, commit=True)
        with tmp as f:
            fig.savefig(f, format='png')
        plt.close(fig)


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except (IOError, OSError):
        return None


def main():
    client = ScheddClient(
        argument_spec=dict(
            dest=dict(type='path', required=True),
            columns=dict(type='list', elements='str', default=list(hist.DEFAULT_COLUMNS)),
            time_columns=dict(type='list', elements='str', default=list(hist.TIME_ATTRIBUTES)),
            constraint=dict(type='str', default='true'),
            since=dict(type='str'),
            state_file=dict(type='path'),
            summary_dest=dict(type='path'),
            chart_dest=dict(type='path'),
            window_hours=dict(type='int', default=24),
            lookback_seconds=dict(type='int', default=600),
        ),
        supports_check_mode=True,
    )
    HistoryExport(client).run()


if __name__ == '__main__':
    main()
