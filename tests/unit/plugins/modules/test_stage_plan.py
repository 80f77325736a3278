# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""stage_plan: manifest pairs grouped into streamable copies."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._stage_plan import StagePlanError, plan, split_pair
from ansible_collections.hepcloud.lumberjack.plugins.modules import stage_plan
from ansible_collections.hepcloud.lumberjack.tests.unit.utils.module_runner import run_module


def run(args, check_mode=False):
    return run_module(stage_plan.main, args, check_mode=check_mode)


def test_split_pair_keeps_the_longest_common_tail():
    assert split_pair('/home/a/w/in.txt', '/s/run/sandbox/home/a/w/in.txt') == ('/', '/s/run/sandbox', 'home/a/w/in.txt')
    assert split_pair('/data/x/f', '/s/sb/d2/x/f') == ('/data', '/s/sb/d2', 'x/f')
    with pytest.raises(StagePlanError, match='different base names'):
        split_pair('/a/b', '/c/d')
    with pytest.raises(StagePlanError, match='normalized absolute'):
        split_pair('/a/../b', '/c/b')


def test_plan_groups_and_refuses_one_dest_for_two_sources():
    groups = plan([('/home/a/1', '/sb/home/a/1'), ('/home/b/2', '/sb/home/b/2'), ('/v/q.log', '/r/queue/q.log')])
    assert groups == [{'src_dir': '/', 'dest_dir': '/sb', 'files': ['home/a/1', 'home/b/2']},
                      {'src_dir': '/v', 'dest_dir': '/r/queue', 'files': ['q.log']}]
    with pytest.raises(StagePlanError, match='destination of both'):
        plan([('/x/f', '/sb/f'), ('/y/f', '/sb/f')])


def test_lists_are_written_once_and_sizes_counted(tmp_path):
    src = tmp_path / 'home' / 'alice'
    src.mkdir(parents=True)
    (src / 'in 1.txt').write_bytes(b'12345')
    (src / 'job.sh').write_bytes(b'#!/bin/sh\n')
    manifest = tmp_path / 'manifest.json'
    manifest.write_text(json.dumps({'files': [
        {'src': str(src / 'in 1.txt'), 'dest': '/site/sb' + str(src / 'in 1.txt')},
        {'src': str(src / 'job.sh'), 'dest': '/site/sb' + str(src / 'job.sh')}]}))
    lists = tmp_path / 'lists'
    lists.mkdir()
    log = tmp_path / 'site_queue.log'
    log.write_bytes(b'x' * 7)
    args = dict(manifest=str(manifest), list_dir=str(lists),
                files=[{'src': str(log), 'dest': '/site/queue/site_queue.log'}])
    r = run(args, check_mode=True)
    assert r['changed'] is True and os.listdir(str(lists)) == []
    r = run(args)
    assert r['changed'] is True and r['count'] == 3 and r['bytes'] == 5 + 10 + 7
    by_dest = dict((g['dest_dir'], g) for g in r['groups'])
    assert by_dest['/site/sb']['src_dir'] == '/' and by_dest['/site/sb']['bytes'] == 15
    with open(by_dest['/site/sb']['list'], 'rb') as f:
        assert f.read() == (str(src / 'in 1.txt')[1:] + '\0' + str(src / 'job.sh')[1:] + '\0').encode()
    assert by_dest['/site/queue']['src_dir'] == str(tmp_path)
    assert run(args)['changed'] is False


def test_a_missing_source_fails_naming_it(tmp_path):
    lists = tmp_path / 'lists'
    lists.mkdir()
    r = run(dict(list_dir=str(lists), files=[{'src': str(tmp_path / 'gone.txt'), 'dest': '/sb/gone.txt'}]))
    assert r['failed'] and str(tmp_path / 'gone.txt') in r['msg'] and 'Restore them' in r['msg']
