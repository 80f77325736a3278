# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""queue_merge and queue_split as Ansible runs them: real files, real users, check mode, idempotence."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import stat

from ansible_collections.hepcloud.lumberjack.plugins.module_utils import _queue_log as ql
from ansible_collections.hepcloud.lumberjack.plugins.modules import queue_merge, queue_split
from ansible_collections.hepcloud.lumberjack.tests.unit.plugins.module_utils.test_queue_merge_split import (
    as_other_owner,
    read,
)
from ansible_collections.hepcloud.lumberjack.tests.unit.utils.module_runner import run_module


def exports(sample, tmp_path, owner='bob'):
    alice = read(sample('export_two_clusters'))
    bob = as_other_owner(alice, owner, {6: 8, 7: 9}).replace(b'NextClusterNum 8', b'NextClusterNum 10')
    a, b = tmp_path / 'a.log', tmp_path / 'b.log'
    a.write_bytes(alice)
    b.write_bytes(bob)
    return str(a), str(b)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_merge_then_no_change_then_check_mode(sample, tmp_path):
    a, b = exports(sample, tmp_path)
    dest = str(tmp_path / 'site.log')
    r = run_module(queue_merge.main, dict(srcs=[a, b], dest=dest), check_mode=True)
    assert r['changed'] is True and not os.path.exists(dest)
    r = run_module(queue_merge.main, dict(srcs=[a, b], dest=dest))
    assert r['changed'] is True, r
    assert r['owners'] == ['bob', 'lumber'] and r['clusters'] == [6, 7, 8, 9] and r['next_cluster'] == 10
    assert len(r['jobs']) == 10 and mode_of(dest) == 0o600
    assert ql.replay(dest).job_keys() == r['jobs']
    before = read(dest)
    r = run_module(queue_merge.main, dict(srcs=[a, b], dest=dest))
    assert r['changed'] is False and read(dest) == before
    r = run_module(queue_merge.main, dict(srcs=[a, b], dest=dest), check_mode=True)
    assert r['changed'] is False
    assert not [n for n in os.listdir(str(tmp_path)) if n.endswith('.tmp')]


def test_merge_refuses_to_replace_other_content_without_backup(sample, tmp_path):
    a, b = exports(sample, tmp_path)
    dest = tmp_path / 'site.log'
    dest.write_bytes(b'precious\n')
    r = run_module(queue_merge.main, dict(srcs=[a, b], dest=str(dest)))
    assert r['failed'] and 'exists with other content' in r['msg']
    assert dest.read_bytes() == b'precious\n'
    r = run_module(queue_merge.main, dict(srcs=[a, b], dest=str(dest), backup=True))
    assert r['changed'] is True and read(r['backup_file']) == b'precious\n'


def test_merge_failures_name_the_file_and_write_nothing(sample, tmp_path):
    a, _b = exports(sample, tmp_path)
    dest = str(tmp_path / 'site.log')
    r = run_module(queue_merge.main, dict(srcs=[a, a.replace('a.log', 'missing.log')], dest=dest))
    assert r['failed'] and 'missing.log does not exist' in r['msg']
    r = run_module(queue_merge.main, dict(srcs=[a, sample('spooled_submit')], dest=dest))
    assert r['failed'] and 'spooled_submit' in r['msg'] and 'not an export' in r['msg']
    r = run_module(queue_merge.main, dict(srcs=[a, a], dest=dest))
    assert r['failed'] and 'cluster 6 is in both' in r['msg']
    r = run_module(queue_merge.main, dict(srcs=[a], dest=a))
    assert r['failed'] and 'also one of srcs' in r['msg']
    assert not os.path.exists(dest) and sorted(os.listdir(str(tmp_path))) == ['a.log', 'b.log']


def test_split_per_owner_owned_by_the_owners(sample, tmp_path, users):
    a, b = exports(sample, tmp_path, owner=users.bob)
    whole = str(tmp_path / 'returned.log')
    assert run_module(queue_merge.main, dict(srcs=[a, b], dest=whole))['changed']
    with open(whole, 'rb') as f:
        data = f.read().replace(b'"lumber"', b'"%s"' % users.alice.encode())
    with open(whole, 'wb') as f:
        f.write(data)
    out = tmp_path / 'import'
    out.mkdir()
    args = dict(path=whole, dest_dir=str(out), owned_by_owner=True)
    r = run_module(queue_split.main, args, check_mode=True)
    assert r['changed'] is True and os.listdir(str(out)) == []
    r = run_module(queue_split.main, args)
    assert r['changed'] is True, r
    assert sorted(r['owners']) == sorted([users.alice, users.bob]) and r['jobs'] == 10
    for owner, clusters in ((users.alice, [6, 7]), (users.bob, [8, 9])):
        info = r['owners'][owner]
        assert info['clusters'] == clusters and info['changed'] is True
        assert info['path'] == os.path.join(str(out), owner, 'job_queue.log')
        pw = pwd.getpwnam(owner)
        for path, mode in ((info['dir'], 0o700), (info['path'], 0o600)):
            st = os.stat(path)
            assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (pw.pw_uid, pw.pw_gid, mode)
        assert ql.replay(info['path']).job_keys() == info['jobs']
    r = run_module(queue_split.main, args)
    assert r['changed'] is False and not any(i['changed'] for i in r['owners'].values())
    # the owner's import may compact its log: a later split does not silently overwrite it
    path = r['owners'][users.bob]['path']
    with open(path, 'ab') as f:
        f.write(b'103 8.0 JobStatus 4\n')
    r = run_module(queue_split.main, args)
    assert r['failed'] and 'exists with other content' in r['msg'] and users.bob in r['msg']


def test_split_failures(sample, tmp_path):
    out = tmp_path / 'import'
    out.mkdir()
    r = run_module(queue_split.main, dict(path=sample('hpc_after_run'), dest_dir=str(out), owners=['nobody']))
    assert r['failed'] and 'has no jobs of nobody' in r['msg'] and 'lumber' in r['msg']
    r = run_module(queue_split.main, dict(path=sample('hpc_after_run'), dest_dir=str(tmp_path / 'nowhere')))
    assert r['failed'] and 'does not exist' in r['msg']
    cut = tmp_path / 'cut.log'
    cut.write_bytes(read(sample('hpc_after_run')) + b'105 \n')
    r = run_module(queue_split.main, dict(path=str(cut), dest_dir=str(out)))
    assert r['failed'] and 'condor_off -schedd' in r['msg'] and str(cut) in r['msg']
    assert os.listdir(str(out)) == []
