# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""condor_job: the error shapes a real access point cannot be made to produce on demand (the bindings
missing or too old, the spool failing after the submit). Everything else is tested against a real pool in
tests/integration/access_point."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import sys

import htcondor2
import pytest

from ansible_collections.hepcloud.lumberjack.plugins.modules import condor_job
from ansible_collections.hepcloud.lumberjack.tests.unit.utils.fake_htcondor import HTCondorException
from ansible_collections.hepcloud.lumberjack.tests.unit.utils.module_runner import run_module


class _Result(object):

    def cluster(self):
        return 7

    def first_proc(self):
        return 0

    def num_procs(self):
        return 2


@pytest.fixture
def failing_spool(queue, monkeypatch):
    """The fake bindings, with a submit that works and a spool that breaks (a connection lost between them)."""
    mod = sys.modules['htcondor2']
    calls = []

    def submit(self, description, **kwargs):
        calls.append(('submit', dict(description), kwargs.get('spool')))
        return _Result()

    def spool(self, result):
        calls.append(('spool', result.cluster()))
        raise HTCondorException('Failed to spool job files: connection reset by peer')

    monkeypatch.setattr(mod, 'Submit', htcondor2.Submit, raising=False)
    for name, func in (('submit', submit), ('spool', spool), ('retrieve', None), ('edit', None), ('act', None)):
        monkeypatch.setattr(mod.Schedd, name, func or (lambda self, *a, **k: None), raising=False)
    return calls


def args(condor_config, workdir, **more):
    a = dict(condor_config=condor_config, batch_name='b1', submit_dir=workdir, count=2,
             description={'executable': '/bin/true'})
    a.update(more)
    return a


def test_spool_failure_after_the_submit_says_what_is_left(failing_spool, condor_config, workdir):
    r = run_module(condor_job.main, args(condor_config, workdir))
    assert r['failed'] is True
    assert r['changed'] is True                     # the jobs are in the queue
    assert r['cluster_id'] == 7
    assert 'cluster 7 of batch b1 was submitted' in r['msg']
    assert 'connection reset by peer' in r['msg'] and 'state=absent' in r['msg']
    assert [c[0] for c in failing_spool] == ['submit', 'spool']
    assert failing_spool[0][1]['batch_name'] == 'b1' and failing_spool[0][2] is True


def test_bindings_without_submit(queue, condor_config, workdir):
    # the fake bindings have export/import but no Schedd.submit (as a build without it would)
    r = run_module(condor_job.main, args(condor_config, workdir))
    assert r['failed'] is True
    assert 'htcondor2.Schedd.submit is missing' in r['msg']


def test_bindings_not_installed(monkeypatch, condor_config, workdir):
    monkeypatch.setitem(sys.modules, 'htcondor2', None)      # import htcondor2 raises ImportError
    r = run_module(condor_job.main, args(condor_config, workdir))
    assert r['failed'] is True
    assert 'htcondor' in r['msg'] and 'htcondor2' in r['msg']


def test_quote_and_submit_values():
    assert condor_job.quote('a "b" \\ c') == '"a \\"b\\" \\\\ c"'
    assert condor_job.submit_value(True) == 'true'
    assert condor_job.submit_value(['a', 'b c']) == 'a, b c'
    assert condor_job.submit_value(16) == '16'


def test_the_placeholder_oauth_credential_is_never_empty():
    # an empty one is what the starter refuses ("Failed to decode credential sent by shadow!")
    assert condor_job.placeholder_credential('alice@example.org') == b'alice'
    assert condor_job.placeholder_credential('') == b'placeholder'
    assert condor_job.placeholder_credential(None) == b'placeholder'
