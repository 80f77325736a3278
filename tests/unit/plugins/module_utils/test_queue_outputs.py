# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where outputs are at the site and where they belong at home, for the real export sample sent to a sandbox."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_manifest import SCAN_NAMES
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_outputs import job_outputs
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_rewrite import QueueRewriter, RewriteSpec
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_scan import QueueScanner
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._sandbox import PathMap

SB = '/scratch/sb'
HOME = '/home/lumber'
MAPPING = [{'from': HOME, 'to': SB + HOME}]
ORIGINAL_IWDS = {'7.1': HOME + '/work/p1', '7.2': HOME + '/work/p2'}


def site_log(sample, write_log, extra=()):
    """The export as queue_rewrite writes it for the site, plus extra records."""
    out = io.BytesIO()
    spec = RewriteSpec(PathMap(MAPPING, sandbox=SB), original_iwds=ORIGINAL_IWDS)
    _s, _a, _m, problems = QueueRewriter(sample('export_two_clusters'), spec).run(out)
    assert problems.count == 0
    return write_log(out.getvalue() + b''.join(line.encode() + b'\n' for line in extra))


def outputs(path):
    return job_outputs(QueueScanner(path, SCAN_NAMES).run(), PathMap(MAPPING))


def test_outputs_of_the_real_export_at_the_site(sample, write_log):
    result, problems = outputs(site_log(sample, write_log))
    assert problems.count == 0 and result['jobs'] == 5
    by_job = {}
    for f in result['files']:
        by_job.setdefault(f['job'], []).append((f['kind'], f['site'], f['home']))
    assert by_job['6.0'] == [('stdout', SB + HOME + '/work/out/run.6.0.out', HOME + '/work/out/run.6.0.out'),
                             ('stderr', SB + HOME + '/work/out/run.6.0.err', HOME + '/work/out/run.6.0.err')]
    # 7.1 ran in its own Iwd, which the export had replaced by a placeholder
    assert by_job['7.1'] == [('stdout', SB + HOME + '/work/p1/out.txt', HOME + '/work/p1/out.txt'),
                             ('stderr', SB + HOME + '/work/p1/err.txt', HOME + '/work/p1/err.txt')]
    assert all(f['owner'] == 'lumber' for f in result['files'])
    # no TransferOutput: what each job wrote in its Iwd comes home
    assert [(d['job'], d['site'], d['home']) for d in result['scan_dirs']][2:] == [
        ('7.0', SB + HOME + '/work/p0', HOME + '/work/p0'),
        ('7.1', SB + HOME + '/work/p1', HOME + '/work/p1'),
        ('7.2', SB + HOME + '/work/p2', HOME + '/work/p2')]
    assert result['userlogs'] == [
        {'site': SB + HOME + '/work/run-perproc.log', 'home': HOME + '/work/run-perproc.log', 'owner': 'lumber',
         'jobs': ['7.0', '7.1', '7.2']},
        {'site': SB + HOME + '/work/run.log', 'home': HOME + '/work/run.log', 'owner': 'lumber', 'jobs': ['6.0', '6.1']}]


def test_transfer_output_and_remaps(sample, write_log):
    path = site_log(sample, write_log, [
        '103 6.0 TransferOutput "result.root,sub/summary.json,plots"',
        '103 6.0 TransferOutputRemaps "result.root = /scratch/sb/home/lumber/results/r60.root; plots = pl"'])
    result, problems = outputs(path)
    assert problems.count == 0
    got = [(f['kind'], f['site'], f['home']) for f in result['files'] if f['job'] == '6.0' and f['kind'] != 'stdout'
           and f['kind'] != 'stderr']
    assert got == [('remap', SB + HOME + '/results/r60.root', HOME + '/results/r60.root'),
                   ('output', SB + HOME + '/work/summary.json', HOME + '/work/summary.json'),
                   ('remap', SB + HOME + '/work/pl', HOME + '/work/pl')]
    assert '6.0' not in [d['job'] for d in result['scan_dirs']]


def test_an_output_outside_the_sandbox_is_a_problem(sample, write_log):
    path = site_log(sample, write_log, ['103 6.1 Err "/var/log/job.err"'])
    _result, problems = outputs(path)
    assert problems.items == ['job 6.1: stderr /var/log/job.err is outside the sandbox: it cannot be brought home']
