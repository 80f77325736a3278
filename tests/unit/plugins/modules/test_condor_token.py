# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""condor_token without an access point: token parsing, the tokens directory, bad input. The module runs
for real (real files and modes); fetching over ssh is tested with a real sshd in tests/integration/access_point."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import stat

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.modules import condor_token
from ansible_collections.hepcloud.lumberjack.tests.unit.utils.module_runner import run_module


def b64(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip('=')


def make_token(sub='alice@ap.test', exp=None, kid='POOL'):
    claims = {'sub': sub, 'iss': 'ap.test', 'iat': 1700000000, 'jti': 'abc'}
    if exp is not None:
        claims['exp'] = exp
    return '%s.%s.%s' % (b64({'alg': 'HS256', 'kid': kid}), b64(claims), 'c2lnbmF0dXJl')


def test_parse_token():
    claims = condor_token.parse_token(make_token(exp=1800000000) + '\n')
    assert claims['sub'] == 'alice@ap.test' and claims['exp'] == 1800000000 and claims['kid'] == 'POOL'
    for bad in ('', 'abc', 'a.b', 'a..c', '%s.!!!.c' % b64({}), '%s.%s.c' % (b64([]), b64({}))):
        with pytest.raises(condor_token.TokenError):
            condor_token.parse_token(bad)


def test_token_lines_drop_comments_and_blanks():
    assert condor_token.token_lines('# a comment\n\n  tok  \n') == ['tok']


def test_stores_into_a_new_private_directory_once(workdir):
    tokens = os.path.join(workdir, 'home', '.condor', 'tokens.d')
    token = make_token(exp=4000000000)
    args = dict(name='ap.test', token=token, tokens_dir=tokens)
    r = run_module(condor_token.main, args)
    assert r['changed'] is True and r['identity'] == 'alice@ap.test' and r['expires'] == 4000000000
    assert r['issuer'] == 'ap.test' and r['key_id'] == 'POOL'
    assert token not in json.dumps(r)
    assert stat.S_IMODE(os.stat(tokens).st_mode) == 0o700
    path = os.path.join(tokens, 'ap.test')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as f:
        assert f.read() == token + '\n'
    assert os.listdir(tokens) == ['ap.test']       # no temporary file left
    r = run_module(condor_token.main, args)
    assert r['changed'] is False
    r = run_module(condor_token.main, dict(args, token=make_token(sub='bob@ap.test')), check_mode=True)
    assert r['changed'] is True
    with open(path) as f:
        assert f.read() == token + '\n'


@pytest.mark.parametrize('name', ['a/b', '..', '.'])
def test_name_must_be_a_plain_file_name(workdir, name):
    r = run_module(condor_token.main, dict(name=name, token=make_token(), tokens_dir=workdir))
    assert r['failed'] and 'plain file name' in r['msg']


def test_a_value_that_is_not_a_token_is_refused_without_echoing_it(workdir):
    r = run_module(condor_token.main, dict(name='ap', token='s3cret-but-no-jwt', tokens_dir=workdir))
    assert r['failed'] and 'not an IDTOKEN' in r['msg']
    assert 's3cret-but-no-jwt' not in json.dumps(r)
    assert not os.path.exists(os.path.join(workdir, 'ap'))


def test_missing_ssh_client(workdir):
    r = run_module(condor_token.main, dict(name='ap', access_point='ap.test', ssh_executable='/nonexistent/ssh',
                                           tokens_dir=workdir))
    assert r['failed'] and 'ssh client' in r['msg'] and 'ssh_executable' in r['msg']


def test_expired_stored_token_is_fetched_again_in_check_mode(workdir):
    with open(os.path.join(workdir, 'ap'), 'w') as f:
        f.write(make_token(exp=1000) + '\n')
    os.chmod(os.path.join(workdir, 'ap'), 0o600)
    r = run_module(condor_token.main, dict(name='ap', access_point='ap.test', tokens_dir=workdir), check_mode=True)
    assert r['changed'] is True and r['fetched'] is True and 'expires' in r['msg']
    r = run_module(condor_token.main, dict(name='ap', access_point='ap.test', tokens_dir=workdir,
                                           ssh_executable='/nonexistent/ssh'))
    assert r['failed']          # it does try to fetch (and has no ssh here)
