# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pool_password_file: HTCondor's password-file format, idempotence, check mode, and bad input.

The format is pinned to bytes condor_store_cred 25.14 wrote (`condor_store_cred add -c -p abcDEF123xyz -f
POOL`); the integration suite tests/integration/minicondor checks it against the real binaries too."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.modules import pool_password_file as ppf
from ansible_collections.hepcloud.lumberjack.tests.unit.utils.module_runner import run_module

# condor_store_cred add -c -p abcDEF123xyz -f POOL (HTCondor 25.14)
STORE_CRED_BYTES = bytes(bytearray([0xbf, 0xcf, 0xdd, 0xab, 0x9b, 0xeb, 0x8f, 0xdd, 0xed, 0xd5, 0xc7, 0x95]))


def run(path, check_mode=False, **args):
    args['path'] = str(path)
    return run_module(ppf.main, args, check_mode=check_mode)


def mode(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def test_format_is_condor_store_cred_s():
    assert ppf.encode(b'abcDEF123xyz') == STORE_CRED_BYTES
    assert ppf.decode(STORE_CRED_BYTES) == b'abcDEF123xyz'
    # HTCondor 8.4 wrote trailing NULs; readers stop at the first one
    assert ppf.decode(STORE_CRED_BYTES + b'\0\0\0') == b'abcDEF123xyz'


def test_new_file_gets_a_random_password_0600(tmp_path):
    path = tmp_path / 'POOL'
    result = run(path)
    assert result['changed'] and result['generated'] and not result['existed']
    assert mode(path) == 0o600
    password = ppf.decode(path.read_bytes())
    assert len(password) == 64 and password.isalnum()
    assert 'password' not in result and password.decode() not in repr(result)
    again = run(path)
    assert not again['changed'] and not again['generated']
    assert ppf.decode(path.read_bytes()) == password


def test_rotate_writes_a_new_password(tmp_path):
    path = tmp_path / 'POOL'
    run(path, length=32)
    before = path.read_bytes()
    result = run(path, rotate=True, length=32)
    assert result['changed'] and result['generated']
    assert path.read_bytes() != before and len(ppf.decode(path.read_bytes())) == 32


def test_given_password_matches_condor_store_cred_file(tmp_path):
    path = tmp_path / 'POOL'
    path.write_bytes(STORE_CRED_BYTES)
    os.chmod(str(path), 0o600)
    assert not run(path, password='abcDEF123xyz')['changed']
    result = run(path, password='other-password')
    assert result['changed'] and not result['generated']
    assert ppf.decode(path.read_bytes()) == b'other-password'


def test_check_mode_writes_nothing(tmp_path):
    path = tmp_path / 'POOL'
    assert run(path, check_mode=True)['changed']
    assert not path.exists()
    path.write_bytes(STORE_CRED_BYTES)
    os.chmod(str(path), 0o644)
    assert run(path, check_mode=True, password='x' * 20)['changed']
    assert path.read_bytes() == STORE_CRED_BYTES and mode(path) == 0o644


def test_loose_mode_is_tightened_without_touching_the_password(tmp_path):
    path = tmp_path / 'POOL'
    path.write_bytes(STORE_CRED_BYTES)
    os.chmod(str(path), 0o644)
    result = run(path)
    assert result['changed'] and not result['generated']
    assert mode(path) == 0o600 and path.read_bytes() == STORE_CRED_BYTES
    assert not run(path)['changed']


@pytest.mark.parametrize('password, problem', [
    ('', 'is empty'),
    ('abc\0def', 'NUL byte'),
])
def test_bad_passwords_are_refused(tmp_path, password, problem):
    path = tmp_path / 'POOL'
    result = run(path, password=password)
    assert result['failed'] and problem in result['msg'], result
    assert not path.exists()


def test_byte_that_scrambles_to_nul_is_refused():
    assert 'position 1' in ppf.password_problem(b'a\xadc')
    assert ppf.password_problem(b'plain-ascii') is None


def test_empty_existing_file_is_an_error(tmp_path):
    path = tmp_path / 'POOL'
    path.write_bytes(b'')
    os.chmod(str(path), 0o600)
    result = run(path)
    assert result['failed'] and 'holds no password' in result['msg']
    assert run(path, rotate=True)['changed']


def test_missing_directory_is_an_error(tmp_path):
    result = run(tmp_path / 'nowhere' / 'POOL')
    assert result['failed'] and 'create' in result['msg']
    # in check mode the directory is one an earlier task would have created
    result = run(tmp_path / 'nowhere' / 'POOL', check_mode=True)
    assert result['changed'] and not result.get('failed')
    assert not (tmp_path / 'nowhere').exists()


def test_file_of_another_account_is_refused(tmp_path):
    if os.geteuid() != 0:
        pytest.skip('needs root to give the file to another account')
    path = tmp_path / 'POOL'
    path.write_bytes(STORE_CRED_BYTES)
    os.chown(str(path), 65534, 65534)
    result = run(path)
    assert result['failed'] and 'owned by' in result['msg']
