# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""queue_outputs as Ansible runs it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hepcloud.lumberjack.plugins.modules import queue_outputs
from ansible_collections.hepcloud.lumberjack.tests.unit.plugins.module_utils.test_queue_outputs import (
    HOME,
    MAPPING,
    SB,
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
