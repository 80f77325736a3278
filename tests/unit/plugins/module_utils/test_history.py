# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils import _history as hist

COLUMNS = ['GlobalJobId', 'Owner', 'CompletionDate', 'RemoteWallClockTime', 'RequestCpus', 'CpusProvisioned',
           'MemoryUsage', 'ResidentSetSize', 'ExitCode']
TIMES = set(['CompletionDate'])
DAY1 = 1763769600          # 2025-11-22T00:00:00Z
DAY2 = DAY1 + 86400


def test_iso_and_back():
    assert hist.iso(DAY1 + 3723) == '2025-11-22T01:02:03Z'
    assert hist.iso(0) == '' and hist.iso(None) == ''
    assert hist.parse_time('2025-11-22T01:02:03Z') == DAY1 + 3723
    assert hist.parse_time('2025-11-22') == DAY1
    assert hist.parse_time('2025-11-22T03:02:03+02:00') == DAY1 + 3723
    assert hist.parse_time('2025-11-21 20:02-05:00') == DAY1 + 3720
    assert hist.parse_time(str(DAY1)) == DAY1
    with pytest.raises(ValueError):
        hist.parse_time('yesterday')


def test_rows_format_values():
    job = {'GlobalJobId': 'h#1.0#5', 'Owner': 'alice', 'CompletionDate': DAY1, 'RemoteWallClockTime': 60.0,
           'RequestCpus': 2, 'ExitCode': 0, 'MemoryUsage': 2.5}
    assert hist.row(job, COLUMNS, TIMES) == ['h#1.0#5', 'alice', '2025-11-22T00:00:00Z', '60', '2', '', '2.5', '',
                                             '0']
    assert hist.cell(True) == 'true' and hist.cell([1, 'a']) == '1 a'
    assert hist.csv_line(['a,b', 'c"d']) == '"a,b","c""d"\n'


def write(path, rows, columns=None):
    columns = columns or COLUMNS
    with open(str(path), 'w') as f:
        f.write(hist.csv_line(columns))
        for r in rows:
            f.write(hist.csv_line(hist.row(r, columns, TIMES)))
    return str(path)


def job(n, owner, completion, wall, cpus, code, provisioned=None, mem=None, rss=None):
    return {'GlobalJobId': 'h#%d.0#1' % n, 'Owner': owner, 'CompletionDate': completion,
            'RemoteWallClockTime': wall, 'RequestCpus': cpus, 'CpusProvisioned': provisioned,
            'MemoryUsage': mem, 'ResidentSetSize': rss, 'ExitCode': code}


def test_header_must_match(tmp_path):
    path = write(tmp_path / 'jobs.csv', [])
    assert hist.check_header(path, COLUMNS) is True
    with pytest.raises(hist.HistoryError) as e:
        hist.check_header(path, COLUMNS[:3])
    assert 'set columns' in str(e.value) and path in str(e.value) and ','.join(COLUMNS) in str(e.value)
    empty = tmp_path / 'empty.csv'
    empty.write_text('')
    assert hist.check_header(str(empty), COLUMNS) is False


def test_state_remembers_the_jobs_of_the_lookback(tmp_path):
    s = hist.State(lookback=10)
    assert s.constraint() is None
    s.add(DAY1, 'a')
    s.add(DAY1 + 5, 'b')
    s.add(DAY1 + 20, 'c')
    s.add(DAY1 + 20, 'd')
    assert (s.last_completion, s.rows, s.floor) == (DAY1 + 20, 4, DAY1 + 10)
    s.prune()
    assert s.recent == {'c': DAY1 + 20, 'd': DAY1 + 20}
    assert s.constraint() == 'CompletionDate >= %d' % (DAY1 + 10)
    assert s.seen('c') and not s.seen('b')
    path = tmp_path / 'state.json'
    path.write_text(s.text())
    back = hist.load_state(str(path), 10)
    assert (back.last_completion, back.recent, back.rows) == (DAY1 + 20, s.recent, 4)
    assert back.text() == s.text()
    # a shorter lookback forgets more; a longer one cannot be served from the state
    assert hist.load_state(str(path), 0).recent == s.recent
    assert hist.load_state(str(path), 60) is None
    jobs = [job(1, 'a', DAY1, 1, 1, 0), job(2, 'a', DAY1 + 5, 1, 1, 0), job(3, 'b', DAY1 + 5, 1, 1, 0)]
    csv_path = write(tmp_path / 'jobs.csv', jobs)
    rebuilt = hist.state_from_csv(csv_path, TIMES, 0)
    assert (rebuilt.last_completion, sorted(rebuilt.recent), rebuilt.rows) == (DAY1 + 5, ['h#2.0#1', 'h#3.0#1'], 3)
    assert len(hist.state_from_csv(csv_path, TIMES, 5).recent) == 3


def test_bad_state_files_say_what_to_do(tmp_path):
    path = tmp_path / 'state.json'
    path.write_text('{not json')
    with pytest.raises(hist.HistoryError) as e:
        hist.load_state(str(path), 0)
    assert 'remove it' in str(e.value)
    path.write_text('{"version": 99}')
    with pytest.raises(hist.HistoryError):
        hist.load_state(str(path), 0)


def test_summary_per_user_per_day(tmp_path):
    rows = [
        job(1, 'alice', DAY1 + 10, 3600, 1, 0, mem=100),
        job(2, 'alice', DAY1 + 20, 1800, 4, 0, provisioned=2, mem=300),      # CpusProvisioned wins
        job(3, 'bob', DAY1 + 30, 7200, 2, 3, rss=2048),                       # memory from RSS (KiB)
        job(4, 'bob', DAY1 + 40, 360, 1, None),                               # no exit code, no memory
        job(5, 'alice', DAY2 + 1, 36, 10, 1, mem=50),
    ]
    path = write(tmp_path / 'jobs.csv', rows)
    summary = hist.summarize(path, TIMES)
    got = list(summary.rows())
    assert got == [
        ['2025-11-22', 'alice', '2', '2.0000', '1.5000', '200.0', '0:2'],
        ['2025-11-22', 'bob', '2', '4.1000', '2.1000', '2.0', '3:1 none:1'],
        ['2025-11-23', 'alice', '1', '0.1000', '0.0100', '50.0', '1:1'],
    ]
    text = summary.text()
    assert text.splitlines()[0] == ','.join(hist.SUMMARY_COLUMNS)
    assert len(text.splitlines()) == 4


def test_summary_needs_its_columns():
    missing = hist.missing_summary_columns(['GlobalJobId', 'CompletionDate'])
    assert missing == ['Owner', 'RemoteWallClockTime', 'RequestCpus']
    assert hist.missing_summary_columns(COLUMNS) == []
