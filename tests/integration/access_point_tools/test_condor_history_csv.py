# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""condor_history_csv through ansible-playbook on the history of a real personal HTCondor pool.

Two local users run short jobs (one exits 3); once they left the queue, the module writes the CSV and the
summary, which are checked against condor_history's own output; a second run changes nothing; one more job
is appended as exactly one row."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import datetime
import os
import re
import stat
import struct

import pytest

MODULE = 'hepcloud.lumberjack.condor_history_csv'
JOB = '#!/bin/sh\nsleep 2\nexit "$1"\n'
SUBMIT = '''\
executable = {exe}
arguments = {code}
output = out.$(Cluster).$(Process)
error = err.$(Cluster).$(Process)
log = jobs.log
should_transfer_files = NO
request_cpus = 1
request_memory = 16
request_disk = 1024
queue {count}
'''
ATTRS = ('GlobalJobId', 'ClusterId', 'Owner', 'CompletionDate', 'RemoteWallClockTime', 'RequestCpus',
         'CpusProvisioned', 'MemoryUsage', 'ResidentSetSize', 'ExitCode')
ISO = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')


def submit(pool, user, code, count):
    exe = user.file('hist/job.sh', JOB, 0o755)
    return pool.submit(SUBMIT.format(exe=exe, code=code, count=count), user.name, cwd=os.path.dirname(exe))


def wait_in_history(pool, clusters, count):
    constraint = 'JobStatus == 4 && member(ClusterId, {%s})' % ', '.join(str(c) for c in clusters)

    def done():
        queued = pool.jobs('member(ClusterId, {%s})' % ', '.join(str(c) for c in clusters))
        return not queued and len(pool.history(constraint)) == count
    pool.wait_for(done, timeout=240, interval=2, what='%d jobs in the history' % count)


def history(pool):
    """condor_history's own view of the completed jobs, as {GlobalJobId: {attr: text}}."""
    rows = pool.history('JobStatus == 4', ATTRS)
    return dict((r['GlobalJobId'], r) for r in rows)


def num(text):
    return None if text in (None, '', 'undefined') else float(text)


def expected_summary(jobs):
    out = {}
    for j in jobs.values():
        day = datetime.datetime.fromtimestamp(int(j['CompletionDate']), datetime.timezone.utc).strftime('%Y-%m-%d')
        c = out.setdefault((day, j['Owner']), dict(jobs=0, core=0.0, wall=0.0, mem=[], codes={}))
        wall = num(j['RemoteWallClockTime'])
        cpus = num(j['CpusProvisioned'])
        cpus = cpus if cpus is not None else num(j['RequestCpus'])
        c['jobs'] += 1
        c['wall'] += wall / 3600.0
        c['core'] += wall * cpus / 3600.0
        mem = num(j['MemoryUsage'])
        if mem is None and num(j['ResidentSetSize']) is not None:
            mem = num(j['ResidentSetSize']) / 1024.0
        if mem is not None:
            c['mem'].append(mem)
        code = int(num(j['ExitCode']))
        c['codes'][code] = c['codes'].get(code, 0) + 1
    return out


def read_csv(path):
    with open(path, newline='') as f:
        return list(csv.reader(f))


def read_bytes(path):
    with open(path, 'rb') as f:
        return f.read()


def test_history_csv_incremental(pool, users, runner, base):
    alice, bob = users
    clusters = [submit(pool, alice, 0, 2), submit(pool, bob, 3, 1), submit(pool, bob, 0, 1)]
    # and one that stays in the queue once completed, to reach the history after later jobs
    late = pool.submit(SUBMIT.format(exe=os.path.join(bob.home, 'hist/job.sh'), code=0, count=1)
                       .replace('queue 1', 'leave_in_queue = true\nqueue 1'), bob.name,
                       cwd=os.path.join(bob.home, 'hist'))
    wait_in_history(pool, clusters, 4)
    out = os.path.join(base, 'accounting')
    os.mkdir(out)
    dest = os.path.join(out, 'jobs.csv')
    summary = os.path.join(out, 'summary.csv')
    args = dict(condor_config=pool.config_file, dest=dest, summary_dest=summary, window_hours=1)

    # check mode: counts, writes nothing
    r = runner.task(MODULE, args, check_mode=True)
    assert r['changed'] is True and r['appended'] == 4
    assert not os.path.exists(dest) and not os.path.exists(summary)

    r = runner.task(MODULE, args)
    assert r['changed'] is True and r['appended'] == 4 and r['rows'] == 4
    truth = history(pool)
    assert len(truth) == 4
    rows = read_csv(dest)
    header, data = rows[0], rows[1:]
    assert header[:4] == ['GlobalJobId', 'ClusterId', 'ProcId', 'Owner']
    assert 'CompletionDate' in header and 'ExitCode' in header
    assert len(data) == 4
    by_id = dict((d[0], dict(zip(header, d))) for d in data)
    assert set(by_id) == set(truth)
    completions = [dict(zip(header, d))['CompletionDate'] for d in data]
    assert completions == sorted(completions)
    for gid, job in by_id.items():
        want = truth[gid]
        assert job['Owner'] == want['Owner'] and job['ClusterId'] == want['ClusterId']
        assert ISO.match(job['CompletionDate']) and ISO.match(job['QDate'])
        epoch = int(want['CompletionDate'])
        assert job['CompletionDate'] == datetime.datetime.fromtimestamp(
            epoch, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
        assert job['ExitCode'] == want['ExitCode']
        assert job['RemoteWallClockTime'] == str(int(float(want['RemoteWallClockTime'])))
    assert sorted(j['ExitCode'] for j in by_id.values()) == ['0', '0', '0', '3']
    assert r['last_completion'] == max(completions)

    # the summary against condor_history's numbers
    expect = expected_summary(truth)
    got = read_csv(summary)
    assert got[0] == ['day', 'user', 'jobs', 'core_hours', 'wall_hours', 'mean_memory_mb', 'exit_codes']
    assert len(got) - 1 == len(expect)
    for day, user, jobs, core, wall, mean, codes in got[1:]:
        e = expect[(day, user)]
        assert int(jobs) == e['jobs']
        assert float(core) == pytest.approx(e['core'], abs=1e-4)
        assert float(wall) == pytest.approx(e['wall'], abs=1e-4)
        assert float(core) > 0
        if e['mem']:
            assert float(mean) == pytest.approx(sum(e['mem']) / len(e['mem']), abs=0.06)
        assert codes == ' '.join('%d:%d' % (k, e['codes'][k]) for k in sorted(e['codes']))
    users_seen = set(row[1] for row in got[1:])
    assert users_seen == set([alice.name, bob.name])
    assert [row[6] for row in got[1:] if row[1] == bob.name] == ['0:1 3:1']
    assert r['summary'][0]['user'] in users_seen

    # the same history reached as a remote schedd, through the collector, without the pool's configuration
    remote = dict(condor_config='/dev/null', pool=pool.collector_host, schedd_name='ap@127.0.0.1',
                  dest=os.path.join(out, 'remote.csv'))
    r = runner.task(MODULE, remote, check_mode=True)
    assert r['changed'] is True and r['appended'] == 4 and not os.path.exists(remote['dest'])

    # a second run: nothing new, nothing touched
    files = [dest, summary, dest + '.state.json']
    before = [(read_bytes(p), os.stat(p).st_mtime_ns, os.stat(p).st_ino) for p in files]
    r = runner.task(MODULE, args)
    assert r['changed'] is False and r['appended'] == 0 and r['rows'] == 4
    assert [(read_bytes(p), os.stat(p).st_mtime_ns, os.stat(p).st_ino) for p in files] == before

    # one more job: check mode sees it, the run appends exactly that row
    new = submit(pool, alice, 0, 1)
    wait_in_history(pool, [new], 1)
    r = runner.task(MODULE, args, check_mode=True)
    assert r['changed'] is True and r['appended'] == 1
    assert read_bytes(dest) == before[0][0]
    r = runner.task(MODULE, args)
    assert r['changed'] is True and r['appended'] == 1 and r['rows'] == 5
    after = read_bytes(dest)
    assert after.startswith(before[0][0])
    added = after[len(before[0][0]):].decode().splitlines()
    assert len(added) == 1 and added[0].split(',')[1] == str(new)
    assert read_bytes(summary) != before[1][0]
    r = runner.task(MODULE, args)
    assert r['changed'] is False and r['appended'] == 0

    # the state file lost: rebuilt from the CSV, still nothing appended twice
    os.unlink(dest + '.state.json')
    r = runner.task(MODULE, args)
    assert r['appended'] == 0 and r['rows'] == 5 and read_bytes(dest) == after
    assert any('rebuilt' in str(w) for w in r.get('warnings', []))

    # the kept job is released: it reaches the history after jobs that completed later, and is appended
    pool.wait_for(lambda: [j['JobStatus'] for j in pool.jobs('ClusterId == %d' % late)] == ['4'], timeout=240,
                  what='the kept job to complete')
    pool.run(['condor_qedit', str(late), 'LeaveJobInQueue', 'false'])
    wait_in_history(pool, [late], 1)
    r = runner.task(MODULE, args)
    assert r['appended'] == 1 and r['rows'] == 6
    rows = read_csv(dest)
    assert rows[-1][1] == str(late) and rows[-1][6] < rows[-2][6]     # completed before the row above it
    assert len(set(row[0] for row in rows[1:])) == 6
    r = runner.task(MODULE, args)
    assert r['changed'] is False and r['appended'] == 0


def test_history_csv_refuses_other_columns(pool, runner, base):
    out = os.path.join(base, 'columns')
    os.mkdir(out)
    dest = os.path.join(out, 'jobs.csv')
    with open(dest, 'w') as f:
        f.write('GlobalJobId,Owner,CompletionDate\n')
    r = runner.task(MODULE, dict(condor_config=pool.config_file, dest=dest), expect_failure=True)
    assert 'GlobalJobId,Owner,CompletionDate' in r['msg'] and 'set columns' in r['msg']
    assert read_bytes(dest) == b'GlobalJobId,Owner,CompletionDate\n'
    # the file's own columns work
    r = runner.task(MODULE, dict(condor_config=pool.config_file, dest=dest, since='2000-01-01',
                                 columns=['GlobalJobId', 'Owner', 'CompletionDate']))
    rows = read_csv(dest)
    assert rows[0] == ['GlobalJobId', 'Owner', 'CompletionDate']
    assert r['appended'] == len(rows) - 1 == r['rows'] and r['appended'] > 0
    assert all(ISO.match(row[2]) for row in rows[1:])


def test_history_csv_chart_is_a_png_redrawn_only_when_the_summary_changes(pool, runner, base):
    try:
        import matplotlib  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
    except ImportError:
        pytest.skip('matplotlib is not installed in this Python: the chart cannot be drawn (scripts/setup '
                    'installs it into .venv)')
    dest = os.path.join(base, 'chart.csv')
    summary = os.path.join(base, 'chart-summary.csv')
    chart = os.path.join(base, 'chart.png')
    args = dict(condor_config=pool.config_file, dest=dest, since='2000-01-01', summary_dest=summary,
                chart_dest=chart)
    r = runner.task(MODULE, args, check_mode=True)
    assert r['changed'] is True and not os.path.exists(chart)
    r = runner.task(MODULE, args)
    assert r['changed'] is True and r['appended'] > 0
    with open(chart, 'rb') as f:
        png = f.read()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 1000
    width, height = struct.unpack('>II', png[16:24])
    assert width >= 600 and height >= 400
    assert stat.S_IMODE(os.stat(chart).st_mode) == 0o644
    before = os.stat(chart).st_mtime_ns
    r = runner.task(MODULE, args)
    assert r['changed'] is False and os.stat(chart).st_mtime_ns == before
    os.remove(chart)
    r = runner.task(MODULE, args)
    assert r['changed'] is True and os.path.exists(chart)
