# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""condor_submit_check run in-process with the real htcondor2 parser (no pool needed) on real files."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.modules import condor_submit_check
from ansible_collections.hepcloud.lumberjack.tests.unit.utils.module_runner import run_module

pytest.importorskip('htcondor2', reason='the module parses with the real htcondor2 bindings')


@pytest.fixture
def files(tmp_path):
    exe = tmp_path / 'run.sh'
    exe.write_text('#!/bin/sh\n')
    exe.chmod(0o755)
    (tmp_path / 'in.txt').write_text('x')
    (tmp_path / 'policy.yml').write_text('defaults:\n  +ProjectName: \'"p"\'\nappend_requirements: HasX\n'
                                         'limits: {request_memory: 1G}\n')
    return tmp_path


def submit(files, text, name='job.sub'):
    path = files / name
    path.write_text(text)
    return str(path)


def run(args, check_mode=False):
    return run_module(condor_submit_check.main, args, check_mode=check_mode)


GOOD = 'executable = run.sh\ntransfer_input_files = in.txt\nrequest_cpus = 1\nrequest_memory = 512\n' \
       'request_disk = 1000\nqueue\n'


def test_check_only_without_dest(files):
    r = run({'src': submit(files, GOOD), 'policy': str(files / 'policy.yml')})
    assert r['changed'] is False and r['problems'] == [] and 'dest' not in r
    assert r['executable'] == str(files / 'run.sh')
    assert r['requirements'] == '(HasX)'


def test_diff_and_check_mode(files):
    dest = str(files / 'out.sub')
    args = {'src': submit(files, GOOD), 'dest': dest, 'policy': str(files / 'policy.yml'), '_ansible_diff': True}
    r = run(args, check_mode=True)
    assert r['changed'] is True and not os.path.exists(dest)
    assert r['diff']['before'] == '' and '+ProjectName = "p"' in r['diff']['after']
    assert 'requirements = (HasX)' in r['diff']['after']
    r = run(args)
    assert r['changed'] is True
    with open(dest) as f:
        assert f.read() == r['diff']['after']
    r = run(args)
    assert r['changed'] is False and r['diff']['before'] == r['diff']['after']


@pytest.mark.parametrize('text, line, words', [
    ('executable = run.sh\nrequest_cpus 1\nqueue\n', 2, ['request_cpus 1']),
    ('executable = run.sh\nqueue x in (a b\n', 2, ['closing']),
    ('executable = run.sh\nrequest_cpus = 1\nrequest_memory = 2\nrequest_disk = 3\nrequirements = (a ==\nqueue\n',
     5, ['not a valid ClassAd expression']),
    ('executable = run.sh\nrequest_cpus = 1\nrequest_memory = 2\nrequest_disk = 3\n+Foo = (1 +\nqueue\n',
     5, ['+Foo', 'not a valid ClassAd expression']),
])
def test_errors_name_their_line(files, text, line, words):
    r = run({'src': submit(files, text)})
    assert r['failed'] is True
    assert [p['line'] for p in r['problems']] == [line]
    for w in words:
        assert w in r['problems'][0]['message']


def test_limits_and_not_executable(files):
    (files / 'plain.sh').write_text('x')
    text = 'executable = plain.sh\nrequest_cpus = 1\nrequest_memory = 2 GB\nrequest_disk = 3\nqueue\n'
    r = run({'src': submit(files, text), 'policy': str(files / 'policy.yml')})
    assert [(p['line'], p['command']) for p in r['problems']] == [(1, 'executable'), (3, 'request_memory')]
    assert 'chmod +x' in r['problems'][0]['message']
    assert '1G' in r['problems'][1]['message']


def test_not_transferred_executable_is_not_checked(files):
    text = 'executable = /opt/site/bin/tool\ntransfer_executable = false\nrequest_cpus = 1\nrequest_memory = 2\n' \
           'request_disk = 3\nqueue\n'
    r = run({'src': submit(files, text)})
    assert r['problems'] == []


def test_input_files_relative_to_initialdir(files):
    (files / 'sub').mkdir()
    (files / 'sub' / 'a.txt').write_text('a')
    text = 'executable = run.sh\ninitialdir = sub\ntransfer_input_files = a.txt, in.txt, http://x/y\n' \
           'request_cpus = 1\nrequest_memory = 2\nrequest_disk = 3\nqueue\n'
    r = run({'src': submit(files, text)})
    assert [(p['line'], p['command']) for p in r['problems']] == [(3, 'transfer_input_files')]
    assert str(files / 'sub' / 'in.txt') in r['problems'][0]['message']


def test_missing_src_and_bad_condor_config(files):
    r = run({'src': str(files / 'nope.sub')})
    assert r['failed'] is True and 'nope.sub does not exist' in r['msg']
    r = run({'src': submit(files, GOOD), 'condor_config': str(files / 'none')})
    assert r['failed'] is True and 'condor_config' in r['msg']
