# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""userlog_append on a real HTCondor user log (tests/data/two_jobs.user.log)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import pwd
import stat

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._userlog import iter_events
from ansible_collections.hepcloud.lumberjack.plugins.modules import userlog_append
from ansible_collections.hepcloud.lumberjack.tests.unit.utils.module_runner import run_module

DATA = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'data', 'two_jobs.user.log')


def run(args, check_mode=False):
    return run_module(userlog_append.main, args, check_mode=check_mode)


@pytest.fixture
def logs(tmp_path):
    """(site log, home log): the real log as the site wrote it, and the home log holding only the submit
    events, as it is while the jobs are away."""
    with open(DATA, 'rb') as f:
        data = f.read()
    site = tmp_path / 'site.log'
    site.write_bytes(data)
    home = tmp_path / 'home.log'
    home.write_bytes(b''.join(e.data for e in iter_events(str(site)) if e.code == 0))
    return site, home


def test_the_real_log_reads_as_its_events():
    events = list(iter_events(DATA))
    assert [(e.code, e.job) for e in events] == [
        (0, '1.0'), (0, '1.1'), (1, '1.0'), (6, '1.0'), (1, '1.1'), (6, '1.1'), (5, '1.0'), (5, '1.1')]
    assert b''.join(e.data for e in events) == open(DATA, 'rb').read()


def test_site_events_are_appended_once(logs):
    site, home = logs
    submits = home.read_bytes()
    args = dict(src=str(site), dest=str(home))
    r = run(args, check_mode=True)
    assert r['changed'] is True and r['appended'] == 6 and home.read_bytes() == submits
    r = run(args)
    assert r['changed'] is True and r['appended'] == 6 and r['per_job'] == {'1.0': 3, '1.1': 3}
    # home now holds its submit events, then the site's events in the site's order
    events = list(iter_events(str(home)))
    assert [(e.code, e.job) for e in events] == [
        (0, '1.0'), (0, '1.1'), (1, '1.0'), (6, '1.0'), (1, '1.1'), (6, '1.1'), (5, '1.0'), (5, '1.1')]
    assert b'(1) Normal termination (return value 1)' in home.read_bytes()
    after = home.read_bytes()
    r = run(args)
    assert r['changed'] is False and r['appended'] == 0 and r['already_there'] == 6 and home.read_bytes() == after


def test_only_the_chosen_jobs_and_the_owner_and_mode_stay(logs):
    site, home = logs
    os.chmod(str(home), 0o640)
    r = run(dict(src=str(site), dest=str(home), jobs=['1.1']))
    assert r['appended'] == 3 and r['per_job'] == {'1.1': 3}
    assert [e.job for e in iter_events(str(home)) if e.code != 0] == ['1.1', '1.1', '1.1']
    assert stat.S_IMODE(os.stat(str(home)).st_mode) == 0o640


def test_an_incomplete_last_event_is_left_out(logs):
    site, home = logs
    data = site.read_bytes()
    site.write_bytes(data[:-30])     # cut inside the last termination event
    r = run(dict(src=str(site), dest=str(home)))
    assert r['appended'] == 5 and any('is not complete' in w for w in r['warnings'])
    site.write_bytes(data)           # the complete log later brings the last one
    assert run(dict(src=str(site), dest=str(home)))['appended'] == 1


def test_missing_dest_is_created_only_when_asked(logs, tmp_path, users):
    site, _home = logs
    dest = tmp_path / 'new.log'
    r = run(dict(src=str(site), dest=str(dest)))
    assert r['failed'] and 'does not exist' in r['msg'] and not dest.exists()
    r = run(dict(src=str(site), dest=str(dest), create=True, owner=users.alice))
    assert r['changed'] is True and r['appended'] == 6
    st = os.stat(str(dest))
    assert st.st_uid == pwd.getpwnam(users.alice).pw_uid and stat.S_IMODE(st.st_mode) == 0o644


def test_not_a_user_log_names_the_file_and_line(logs, tmp_path):
    site, home = logs
    bad = tmp_path / 'bad.log'
    bad.write_bytes(site.read_bytes().replace(b'005 (001.001.000)', b'garbage here', 1))
    r = run(dict(src=str(bad), dest=str(home)))
    assert r['failed'] and 'bad.log line' in r['msg'] and 'garbage here' in r['msg']
    r = run(dict(src=str(site), dest=str(home), jobs=['x']))
    assert r['failed'] and "'x' is not a job id" in r['msg']


def test_several_logs_in_one_task(logs, tmp_path, users):
    """Each job's events go to its own log; a new log is created for its owner; a second run adds nothing."""
    site, home = logs
    submits = home.read_bytes()
    other = tmp_path / 'other.log'
    entries = [dict(src=str(site), dest=str(home), jobs=['1.0']),
               dict(src=str(site), dest=str(other), jobs=['1.1'], create=True, owner=users.alice)]
    r = run(dict(logs=entries), check_mode=True)
    assert r['changed'] is True and r['appended'] == 6 and home.read_bytes() == submits and not other.exists()
    r = run(dict(logs=entries))
    assert r['changed'] is True and r['appended'] == 6 and r['per_job'] == {'1.0': 3, '1.1': 3}
    assert [(x['dest'], x['appended'], x['changed']) for x in r['logs']] == [(str(home), 3, True), (str(other), 3, True)]
    assert [e.job for e in iter_events(str(home)) if e.code != 0] == ['1.0'] * 3
    # the submit event is left out (skip_events), as always
    assert [(e.code, e.job) for e in iter_events(str(other))] == [(1, '1.1'), (6, '1.1'), (5, '1.1')]
    assert os.stat(str(other)).st_uid == pwd.getpwnam(users.alice).pw_uid
    again = run(dict(logs=entries))
    assert again['changed'] is False and again['appended'] == 0 and again['already_there'] == 6


def test_several_logs_are_all_checked_before_any_is_appended(logs, tmp_path):
    site, home = logs
    before = home.read_bytes()
    entries = [dict(src=str(site), dest=str(home)), dict(src=str(tmp_path / 'missing.log'), dest=str(home))]
    r = run(dict(logs=entries))
    assert r['failed'] and 'missing.log does not exist' in r['msg']
    assert home.read_bytes() == before
    r = run(dict(logs=[dict(src=str(site), dest=str(tmp_path / 'new.log'), create=True, owner='no-such-user-lj')]))
    assert r['failed'] and 'owner no-such-user-lj is not a local account' in r['msg']
    assert not (tmp_path / 'new.log').exists()


def test_logs_and_src_are_exclusive(logs):
    site, home = logs
    r = run(dict(logs=[dict(src=str(site), dest=str(home))], src=str(site)))
    assert r['failed'] and 'mutually exclusive' in r['msg']
    r = run(dict(src=str(site)))
    assert r['failed'] and 'dest' in r['msg']


def test_logs_from_the_list_queue_outputs_writes(logs, tmp_path, users):
    """The user logs listed in outputs.json (as queue_outputs writes it), found under the directory the site's
    files came back to; a log that was not at the site is skipped and named."""
    site, home = logs
    returned = tmp_path / 'returned'
    (returned / 'scratch' / 'run').mkdir(parents=True)
    (returned / 'scratch' / 'run' / 'jobs.log').write_bytes(site.read_bytes())
    other = tmp_path / 'other.log'
    listed = tmp_path / 'outputs.json'
    listed.write_text(json.dumps({'files': [], 'userlogs': [
        {'site': '/scratch/run/jobs.log', 'home': str(home), 'owner': users.alice, 'jobs': ['1.0'], 'exists': True,
         'size': 1},
        {'site': '/scratch/run/jobs.log', 'home': str(other), 'owner': users.alice, 'jobs': ['1.1'], 'exists': True,
         'size': 1},
        {'site': '/scratch/run/never.log', 'home': str(tmp_path / 'never.log'), 'owner': users.alice,
         'jobs': ['2.0'], 'exists': False, 'size': 0},
    ]}))
    args = dict(logs_from=str(listed), src_root=str(returned), create=True)
    r = run(args)
    assert r['changed'] is True and r['per_job'] == {'1.0': 3, '1.1': 3}
    assert r['not_at_site'] == ['/scratch/run/never.log'] and not (tmp_path / 'never.log').exists()
    assert os.stat(str(other)).st_uid == pwd.getpwnam(users.alice).pw_uid
    assert run(args)['changed'] is False
    listed.write_text('{"files": []}')
    r = run(args)
    assert r['failed'] and 'is not a list of user logs as queue_outputs writes it' in r['msg']
