# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""directories: many directories with modes and owners in one step; idempotence, check mode, bad input."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import stat

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.modules import directories
from ansible_collections.hepcloud.lumberjack.tests.unit.utils.module_runner import run_module


def run(paths, check_mode=False, diff=False, **args):
    args['paths'] = paths
    if diff:
        args['_ansible_diff'] = True
    return run_module(directories.main, args, check_mode=check_mode)


def mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


@pytest.fixture
def umask_077():
    old = os.umask(0o077)
    yield
    os.umask(old)


def test_creates_parents_with_exact_modes_then_changes_nothing(tmp_path, umask_077):
    deep = tmp_path / 'run' / 'local_dir' / 'log'
    private = tmp_path / 'run' / 'local_dir' / 'passwords.d'
    result = run([str(deep), {'path': str(private), 'mode': '0700'}])
    assert result['changed']
    assert result['changes'] == ['create %s 0755' % deep, 'create %s 0700' % private]
    # the umask does not narrow the modes asked for; missing parents get the directory's mode
    assert mode(deep) == 0o755 and mode(deep.parent) == 0o755 and mode(tmp_path / 'run') == 0o755
    assert mode(private) == 0o700
    again = run([str(deep), {'path': str(private), 'mode': '0700'}])
    assert not again['changed'] and again['changes'] == []


def test_corrects_the_mode_of_an_existing_directory(tmp_path):
    d = tmp_path / 'tokens.d'
    d.mkdir(mode=0o755)
    os.chmod(str(d), 0o755)
    result = run([str(d)], mode='0700', diff=True)
    assert result['changes'] == ['chmod %s 0700' % d]
    assert mode(d) == 0o700
    assert '%s 0755' % d in result['diff']['before'] and '%s 0700' % d in result['diff']['after']
    assert not run([str(d)], mode='0700')['changed']


def test_check_mode_reports_and_changes_nothing(tmp_path):
    made = tmp_path / 'made'
    made.mkdir()
    os.chmod(str(made), 0o700)
    new = tmp_path / 'new' / 'deeper'
    result = run([str(made), str(new)], check_mode=True)
    assert result['changed']
    assert result['changes'] == ['chmod %s 0755' % made, 'create %s 0755' % new]
    assert mode(made) == 0o700 and not (tmp_path / 'new').exists()


@pytest.mark.skipif(os.geteuid() != 0, reason='changing an owner needs root')
def test_sets_and_corrects_the_owner(tmp_path):
    nobody = pwd.getpwnam('nobody')
    export = tmp_path / 'export'
    d = export / 'nobody'
    result = run([str(export), {'path': str(d), 'owner': 'nobody', 'mode': '0700'}])
    assert result['changed']
    assert os.stat(str(d)).st_uid == nobody.pw_uid and os.stat(str(export)).st_uid == 0
    os.chown(str(d), 0, -1)
    fixed = run([str(d)], owner='nobody', mode='0700')
    assert fixed['changes'] == ['chown %s nobody' % d]
    assert os.stat(str(d)).st_uid == nobody.pw_uid
    assert not run([str(d)], owner='nobody', mode='0700')['changed']


def test_a_file_in_the_way_fails_before_anything_changes(tmp_path):
    first = tmp_path / 'first'
    blocker = tmp_path / 'sandbox'
    blocker.write_text(u'not a directory')
    result = run([str(first), str(blocker / 'job1')])
    assert result['failed']
    assert str(blocker / 'job1') in result['msg'] or str(blocker) in result['msg']
    assert not first.exists() and blocker.read_text() == u'not a directory'


def test_a_file_at_the_path_is_named(tmp_path):
    f = tmp_path / 'log'
    f.write_text(u'x')
    result = run([str(f)])
    assert result['failed'] and '%s exists and is not a directory' % f in result['msg']


@pytest.mark.parametrize('entry, words', [
    ('relative/dir', 'is not an absolute path'),
    ({'path': '/tmp/x', 'mode': '0999'}, "mode '0999' is not an octal mode"),
    ({'path': '/tmp/x', 'mode': 'rwx'}, "mode 'rwx' is not an octal mode"),
    ({'path': '/tmp/x', 'owner': 'no-such-user-lj'}, 'there is no user no-such-user-lj'),
    ({'mode': '0755'}, 'no path'),
    ({'path': '/tmp/x', 'group': 'wheel'}, 'unknown keys group'),
    (5, 'is neither a path nor a dictionary'),
])
def test_bad_entries_fail_naming_the_entry(entry, words, tmp_path):
    result = run([str(tmp_path / 'ok'), entry])
    assert result['failed']
    assert 'paths[1]' in result['msg'] and words in result['msg']
    assert not (tmp_path / 'ok').exists()


def test_a_directory_that_cannot_be_made_fails_with_the_reason():
    # even root cannot make a directory in /proc
    result = run(['/proc/lumberjack-unit-test/run'])
    assert result['failed'] and 'cannot make /proc/lumberjack-unit-test/run' in result['msg']


@pytest.fixture
def open_dir():
    """A directory every user can search (pytest's tmp_path is root's alone)."""
    import shutil
    import tempfile
    d = tempfile.mkdtemp(prefix='lj-directories-', dir='/tmp')
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d)


def test_owners_can_write_passes_for_an_owner_who_can(open_dir):
    d = os.path.join(open_dir, 'export', 'nobody')
    r = run([os.path.join(open_dir, 'export'), {'path': d, 'owner': 'nobody', 'mode': '0700'}], owners_can_write=True)
    assert r['changed'] is True and os.listdir(d) == []       # the probe file is gone
    assert run([{'path': d, 'owner': 'nobody', 'mode': '0700'}], owners_can_write=True)['changed'] is False


def test_owners_can_write_fails_naming_the_owner_and_why(open_dir, tmp_path):
    # a parent the owner cannot search: pytest's tmp_path (mode 0700, root's)
    d = tmp_path / 'export' / 'nobody'
    r = run([{'path': str(d), 'owner': 'nobody', 'mode': '0700'}], owners_can_write=True)
    assert r['failed'] is True
    assert 'nobody cannot write %s (' % d in r['msg'] and 'searchable by its owner' in r['msg']
    assert r['changes'] == ['create %s 0700' % d]
    # without the check the same task succeeds, as before
    assert 'failed' not in run([{'path': str(d), 'owner': 'nobody', 'mode': '0700'}])
    # in check mode, an existing directory is checked too
    r = run([{'path': str(d), 'owner': 'nobody', 'mode': '0700'}], check_mode=True, owners_can_write=True)
    assert r['failed'] is True and 'nobody cannot write' in r['msg']
