# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""condor_history_csv refuses bad options before it reads any history (the real runs are in
tests/integration/access_point_tools)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.modules import condor_history_csv
from ansible_collections.hepcloud.lumberjack.tests.unit.utils.module_runner import run_module

pytest.importorskip('htcondor2', reason='the module checks the constraint with the real htcondor2 bindings')


def run(args):
    return run_module(condor_history_csv.main, args)


@pytest.mark.parametrize('extra, words', [
    ({'columns': ['Owner', 'CompletionDate']}, ['columns must include GlobalJobId']),
    ({'columns': ['GlobalJobId', 'CompletionDate', 'GlobalJobId']}, ['each attribute once']),
    ({'columns': ['GlobalJobId', 'CompletionDate'], 'summary_dest': '/tmp/s.csv'},
     ['summary needs the columns Owner, RemoteWallClockTime, RequestCpus']),
    ({'since': 'last week'}, ['since:', 'ISO 8601']),
    ({'constraint': 'Owner == '}, ['not a valid ClassAd expression']),
    ({'window_hours': 0}, ['window_hours']),
    ({'summary_dest': '/nonexistent-dir/s.csv'}, ['summary_dest', 'directory does not exist']),
])
def test_bad_options(condor_config, tmp_path, extra, words):
    args = dict(condor_config=condor_config, dest=str(tmp_path / 'jobs.csv'))
    args.update(extra)
    r = run(args)
    assert r['failed'] is True
    for w in words:
        assert w in r['msg']
    assert not os.path.exists(str(tmp_path / 'jobs.csv'))


def test_chart_without_matplotlib(condor_config, tmp_path, monkeypatch):
    # a None entry makes "import matplotlib" raise ImportError, as on a host without it
    monkeypatch.setitem(sys.modules, 'matplotlib', None)
    r = run(dict(condor_config=condor_config, dest=str(tmp_path / 'jobs.csv'), chart_dest=str(tmp_path / 'c.png')))
    assert r['failed'] is True and 'matplotlib' in r['msg'] and 'chart_dest' in r['msg']
    assert not os.path.exists(str(tmp_path / 'jobs.csv'))


def test_header_mismatch_is_refused(condor_config, tmp_path):
    dest = tmp_path / 'jobs.csv'
    dest.write_text('GlobalJobId,CompletionDate,Owner\n')
    r = run(dict(condor_config=condor_config, dest=str(dest)))
    assert r['failed'] is True and 'set columns' in r['msg'] and 'GlobalJobId,CompletionDate,Owner' in r['msg']
    assert dest.read_text() == 'GlobalJobId,CompletionDate,Owner\n'
