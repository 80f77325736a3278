# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import stat

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._as_user import (
    Account,
    AsUserError,
    can_act_as,
    nearest_existing,
    probe_dir,
    run_as,
)


def whoami():
    return os.geteuid(), os.getegid()


def touch(path):
    with open(path, 'w') as f:
        f.write('x')
    st = os.stat(path)
    return st.st_uid, st.st_gid


def test_run_as_switches_uid_gid_and_groups(users):
    a = Account.by_name(users.alice)
    assert run_as(a, whoami) == [a.uid, a.gid]
    assert os.geteuid() == 0        # only the child switched


def test_run_as_oneself_runs_in_process():
    me = Account.current()
    assert run_as(me, os.getpid) == os.getpid()


def test_files_are_created_as_the_user(users, workdir):
    a = Account.by_name(users.alice)
    assert run_as(a, touch, os.path.join(workdir, 'f')) == [a.uid, a.gid]


def test_errors_come_back_as_as_user_error(users, workdir):
    a = Account.by_name(users.alice)
    private = os.path.join(workdir, 'private')
    os.mkdir(private, 0o700)
    with pytest.raises(AsUserError, match='Permission denied'):
        run_as(a, touch, os.path.join(private, 'f'))
    with pytest.raises(AsUserError, match='ValueError: boom'):
        run_as(a, _raise_value_error)


def _raise_value_error():
    raise ValueError('boom')


def test_unknown_account():
    with pytest.raises(AsUserError, match='no local account'):
        Account.by_name('ljtest-nobody-at-all')


def test_non_root_cannot_act_as_someone_else(users):
    a, b = Account.by_name(users.alice), Account.by_name(users.bob)
    assert can_act_as(a) and can_act_as(b)

    def as_alice():
        try:
            run_as(b, whoami)
        except AsUserError as e:
            return [can_act_as(b), str(e)]
        return [can_act_as(b), 'no error']
    allowed, text = run_as(a, as_alice)
    assert allowed is False
    assert 'cannot act as %s' % users.bob in text


def test_probe_creates_the_directory_as_the_user_with_mode(users, workdir):
    a = Account.by_name(users.alice)
    path = os.path.join(workdir, 'x', 'y')
    out = run_as(a, probe_dir, path, True, 0o700, True)
    assert out == {'exists': True, 'created': True, 'writable': True, 'problem': None, 'would_create': False}
    for p in (os.path.join(workdir, 'x'), path):
        assert os.stat(p).st_uid == a.uid
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    assert os.listdir(path) == []           # the write test left nothing behind


def test_probe_without_create_says_it_would_create(users, workdir):
    a = Account.by_name(users.alice)
    path = os.path.join(workdir, 'new')
    out = run_as(a, probe_dir, path, False, 0o700, False)
    assert out['would_create'] is True and out['problem'] is None and not os.path.exists(path)


def test_probe_reports_a_directory_the_user_cannot_write(users, workdir):
    a = Account.by_name(users.alice)
    path = os.path.join(workdir, 'roots')
    os.mkdir(path, 0o755)
    out = run_as(a, probe_dir, path, True, 0o700, True)
    assert out['writable'] is False and 'not writable (mode 755, owner uid 0)' in out['problem']
    # root itself could: the check must be made as the user
    assert probe_dir(path)['writable'] is True


def test_probe_reports_a_parent_the_user_cannot_write(users, workdir):
    a = Account.by_name(users.alice)
    parent = os.path.join(workdir, 'roots')
    os.mkdir(parent, 0o755)
    out = run_as(a, probe_dir, os.path.join(parent, 'a', 'b'), True, 0o700, True)
    assert out['problem'] == 'it does not exist and %s is not writable' % parent
    assert not os.path.exists(os.path.join(parent, 'a'))


def test_probe_reports_a_file(workdir):
    path = os.path.join(workdir, 'file')
    touch(path)
    assert probe_dir(path)['problem'] == '%s exists and is not a directory' % path


def test_nearest_existing(workdir):
    assert nearest_existing(os.path.join(workdir, 'a', 'b', 'c')) == workdir
    assert nearest_existing(workdir) == workdir


def test_current_account():
    me = Account.current()
    assert me.uid == os.geteuid() and me.name == pwd.getpwuid(os.geteuid()).pw_name
