# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""queue_outputs as Ansible runs it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.hepcloud.lumberjack.plugins.modules import queue_outputs
from ansible_collections.hepcloud.lumberjack.tests.unit.plugins.module_utils.test_queue_outputs import (
    HOME,
    MAPPING,
    SB,
    scan_site,
    site_log,
)
from ansible_collections.hepcloud.lumberjack.tests.unit.utils.module_runner import run_module


def test_module_lists_outputs_and_fails_naming_the_job(sample, write_log):
    path = site_log(sample, write_log)
    r = run_module(queue_outputs.main, dict(path=path, path_map=MAPPING))
    assert r['changed'] is False and r['jobs'] == 5 and len(r['files']) == 10 and len(r['scan_dirs']) == 5
    r = run_module(queue_outputs.main, dict(path=path, path_map=MAPPING), check_mode=True)
    assert r['changed'] is False and len(r['userlogs']) == 2
    bad = site_log(sample, write_log, ['103 7.2 Out "/tmp/elsewhere.out"'])
    r = run_module(queue_outputs.main, dict(path=bad, path_map=MAPPING))
    assert r['failed'] and 'job 7.2: stdout /tmp/elsewhere.out is outside the sandbox' in r['msg']
    r = run_module(queue_outputs.main, dict(path=path + '.missing', path_map=MAPPING))
    assert r['failed'] and 'does not exist' in r['msg']
    nested = [{'from': HOME, 'to': SB + HOME}, {'from': '/data', 'to': SB + HOME + '/data'}]
    r = run_module(queue_outputs.main, dict(path=path, path_map=nested))
    assert r['failed'] and 'lies inside' in r['msg']


def test_module_scans_and_writes_the_transfer_list(tmp_path, write_log):
    log, mapping, sb_home, inputs = scan_site(tmp_path, write_log)
    manifest = tmp_path / 'manifest.json'
    manifest.write_text(json.dumps({'files': [{'src': '/x', 'dest': d} for d in inputs], 'directories': []}))
    dest = tmp_path / 'outputs.list'
    args = dict(path=log, path_map=mapping, scan=True, manifest=str(manifest), list_dest=str(dest))
    r = run_module(queue_outputs.main, args, check_mode=True)
    assert r['changed'] is True and not dest.exists() and r['count'] == 7
    r = run_module(queue_outputs.main, args)
    assert r['changed'] is True and r['count'] == 7 and r['bytes'] == 22
    assert [m['site'] for m in r['missing']] == [sb_home + '/w/err.1']
    assert all('size' in f and 'exists' in f for f in r['files'])
    expected = [sb_home + p for p in ('/v/res.txt', '/w/err.0', '/w/jobs.log', '/w/out.0', '/w/out.1',
                                      '/w/result.dat', '/w/with space.txt')]
    assert dest.read_bytes() == b''.join(p.encode() + b'\0' for p in expected)
    assert oct(os.stat(str(dest)).st_mode & 0o777) == oct(0o644)
    inode = os.stat(str(dest)).st_ino
    r = run_module(queue_outputs.main, args)
    assert r['changed'] is False and os.stat(str(dest)).st_ino == inode
    # a new file in the shared Iwd: the list changes (check mode only says so)
    (tmp_path / 'sb' / HOME.lstrip('/') / 'w' / 'late.txt').write_bytes(b'late')
    r = run_module(queue_outputs.main, args, check_mode=True)
    assert r['changed'] is True and os.stat(str(dest)).st_ino == inode
    r = run_module(queue_outputs.main, args)
    assert r['changed'] is True and (sb_home + '/w/late.txt').encode() + b'\0' in dest.read_bytes()


def test_module_refuses_bad_manifest_and_list_dest(tmp_path, write_log):
    log, mapping, _sb_home, _inputs = scan_site(tmp_path, write_log)
    bad = tmp_path / 'bad.json'
    bad.write_text('{"dirs": []}')
    r = run_module(queue_outputs.main, dict(path=log, path_map=mapping, scan=True, manifest=str(bad)))
    assert r['failed'] and 'is not a sandbox manifest' in r['msg']
    r = run_module(queue_outputs.main, dict(path=log, path_map=mapping, list_dest=str(tmp_path)))
    assert r['failed'] and 'is a directory' in r['msg']
    gone = str(tmp_path / 'nowhere' / 'outputs.list')
    r = run_module(queue_outputs.main, dict(path=log, path_map=mapping, list_dest=gone))
    assert r['failed'] and 'does not exist' in r['msg']
    r = run_module(queue_outputs.main, dict(path=log, path_map=mapping, list_dest=gone), check_mode=True)
    assert r['changed'] is True and not os.path.exists(os.path.dirname(gone))


def test_module_adds_list_extra_to_the_transfer_list(tmp_path, write_log):
    log, mapping, _sb_home, _inputs = scan_site(tmp_path, write_log)
    dest = tmp_path / 'outputs.list'
    args = dict(path=log, path_map=mapping, list_dest=str(dest), list_extra=[log])
    r = run_module(queue_outputs.main, args)
    assert r['changed'] is True
    entries = dest.read_bytes().split(b'\0')[:-1]
    assert log.encode() in entries and len(entries) == r['count'] + 1
    assert entries == sorted(entries)
    assert run_module(queue_outputs.main, args)['changed'] is False
    r = run_module(queue_outputs.main, dict(args, list_extra=[log + '.gone']))
    assert r['failed'] and log + '.gone' in r['msg']


def test_module_writes_the_files_to_files_dest_instead_of_returning_them(tmp_path, write_log):
    log, mapping, sb_home, _inputs = scan_site(tmp_path, write_log)
    plain = run_module(queue_outputs.main, dict(path=log, path_map=mapping, scan=True))
    listed = plain['files']
    dest, files = tmp_path / 'outputs.list', tmp_path / 'outputs.json'
    args = dict(path=log, path_map=mapping, scan=True, list_dest=str(dest), files_dest=str(files))
    r = run_module(queue_outputs.main, args, check_mode=True)
    assert r['changed'] is True and not files.exists() and not dest.exists()
    r = run_module(queue_outputs.main, args)
    assert r['changed'] is True and r['files'] == []
    assert json.loads(files.read_text()) == {'files': listed, 'userlogs': plain['userlogs']}
    assert r['userlogs'] == plain['userlogs']
    # it travels home with the outputs, but is not one of them
    assert str(files).encode() + b'\0' in dest.read_bytes() and r['count'] == len(
        [p for p in dest.read_bytes().split(b'\0') if p]) - 1
    assert oct(os.stat(str(files)).st_mode & 0o777) == oct(0o644)
    again = run_module(queue_outputs.main, args)
    assert again['changed'] is False
    r = run_module(queue_outputs.main, dict(args, files_dest=str(tmp_path)))
    assert r['failed'] and 'files_dest %s is a directory' % tmp_path in r['msg']
