# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where outputs are at the site and where they belong at home, for the real export sample sent to a sandbox."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import os
import shutil

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_manifest import SCAN_NAMES
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_outputs import (
    encode_list,
    job_outputs,
    site_files,
    transfer_list,
)
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


def scan_site(tmp_path, write_log):
    """A sandbox in tmp_path where three jobs ran: 1.0 and 1.1 (and 3.0) share an Iwd without TransferOutput,
    2.0 has TransferOutput. Returns (log path, mapping, sandbox home, manifest dest paths)."""
    sb_home = str(tmp_path / 'sb') + HOME
    w = tmp_path / 'sb' / HOME.lstrip('/') / 'w'
    v = tmp_path / 'sb' / HOME.lstrip('/') / 'v'
    (w / 'sub').mkdir(parents=True)
    v.mkdir()
    for name, data in (('out.0', b'o0'), ('err.0', b''), ('out.1', b'o1!'), ('jobs.log', b'log\n'),
                       ('input.txt', b'in'), ('job.sh', b'#!/bin/sh\n'), ('.job.ad', b'x'), ('.machine.ad', b'x'),
                       ('.update.ad', b'x'), ('.chirp.config', b'x'), ('_condor_stdout', b'x'),
                       ('result.dat', b'12345'), ('with space.txt', b'sp')):
        (w / name).write_bytes(data)
    (w / 'sub' / 'deep.txt').write_bytes(b'not scanned')
    os.symlink('result.dat', str(w / 'link'))
    (v / 'res.txt').write_bytes(b'result')
    (v / 'other.txt').write_bytes(b'not asked for')
    log = write_log([
        '101 0.0 Job Machine',
        '101 01.-1 Job Machine',
        '103 01.-1 Owner "lumber"',
        '103 01.-1 Iwd "%s/w"' % sb_home,
        '103 01.-1 UserLog "%s/w/jobs.log"' % sb_home,
        '101 1.0 Job Machine',
        '103 1.0 Out "out.0"',
        '103 1.0 Err "err.0"',
        '101 1.1 Job Machine',
        '103 1.1 Out "out.1"',
        '103 1.1 Err "err.1"',
        '101 02.-1 Job Machine',
        '103 02.-1 Owner "lumber"',
        '103 02.-1 Iwd "%s/v"' % sb_home,
        '101 2.0 Job Machine',
        '103 2.0 Out "/dev/null"',
        '103 2.0 TransferOutput "res.txt"',
        '101 03.-1 Job Machine',
        '103 03.-1 Owner "other"',
        '103 03.-1 Iwd "%s/w"' % sb_home,
        '101 3.0 Job Machine',
    ])
    mapping = [{'from': HOME, 'to': sb_home}]
    inputs = [sb_home + '/w/input.txt', sb_home + '/w/job.sh', sb_home + '/w/../w/gone.txt']
    return log, mapping, sb_home, inputs


def scanned(log, mapping, scan=True, inputs=()):
    result, problems = job_outputs(QueueScanner(log, SCAN_NAMES).run(), PathMap(mapping))
    assert problems.count == 0
    missing = site_files(result, scan=scan, inputs=inputs)
    return result, missing


def test_scan_lists_new_files_of_shared_iwds_once(tmp_path, write_log):
    log, mapping, sb_home, inputs = scan_site(tmp_path, write_log)
    result, missing = scanned(log, mapping, inputs=inputs)
    assert [d['job'] for d in result['scan_dirs']] == ['1.0', '1.1', '3.0']
    iwd = [(f['job'], f['owner'], f['site'], f['home'], f['size']) for f in result['files'] if f['kind'] == 'iwd']
    # not: outputs already listed, the user log, inputs, HTCondor's files, the subdirectory, the symlink
    assert iwd == [('1.0', 'lumber', sb_home + '/w/result.dat', HOME + '/w/result.dat', 5),
                   ('1.0', 'lumber', sb_home + '/w/with space.txt', HOME + '/w/with space.txt', 2)]
    assert all(f['exists'] for f in result['files'] if f['kind'] == 'iwd')
    sizes = dict((f['site'][len(sb_home):], (f['exists'], f['size'])) for f in result['files'])
    assert sizes['/w/out.0'] == (True, 2) and sizes['/w/err.0'] == (True, 0) and sizes['/w/err.1'] == (False, 0)
    assert sizes['/v/res.txt'] == (True, 6)
    assert result['userlogs'][0]['exists'] is True and result['userlogs'][0]['size'] == 4
    assert missing == [{'job': '1.1', 'kind': 'stderr', 'site': sb_home + '/w/err.1', 'reason': 'not produced'}]
    paths, total = transfer_list(result)
    assert paths == sorted([sb_home + p for p in ('/v/res.txt', '/w/err.0', '/w/jobs.log', '/w/out.0', '/w/out.1',
                                                  '/w/result.dat', '/w/with space.txt')])
    assert total == 6 + 0 + 4 + 2 + 3 + 5 + 2
    assert encode_list(paths) == b''.join(p.encode() + b'\0' for p in paths)


def test_without_scan_or_manifest(tmp_path, write_log):
    log, mapping, sb_home, _inputs = scan_site(tmp_path, write_log)
    result, _missing = scanned(log, mapping, scan=False)
    assert 'iwd' not in [f['kind'] for f in result['files']]
    result, _missing = scanned(log, mapping, scan=True)
    names = [f['site'][len(sb_home):] for f in result['files'] if f['kind'] == 'iwd']
    assert names == ['/w/input.txt', '/w/job.sh', '/w/result.dat', '/w/with space.txt']


def test_output_that_is_a_directory_and_iwd_that_is_gone(tmp_path, write_log):
    log, mapping, sb_home, _inputs = scan_site(tmp_path, write_log)
    os.unlink(sb_home + '/v/res.txt')
    os.mkdir(sb_home + '/v/res.txt')
    shutil.rmtree(sb_home + '/w')
    result, missing = scanned(log, mapping)
    assert {(m['job'], m['kind'], m['site'][len(sb_home):]): m['reason'] for m in missing} == {
        ('1.0', 'stdout', '/w/out.0'): 'not produced',
        ('1.0', 'stderr', '/w/err.0'): 'not produced',
        ('1.1', 'stdout', '/w/out.1'): 'not produced',
        ('1.1', 'stderr', '/w/err.1'): 'not produced',
        ('1.0', 'userlog', '/w/jobs.log'): 'not produced',
        ('2.0', 'output', '/v/res.txt'): 'is a directory, not a regular file: only files are brought home',
        ('1.0', 'scan_dir', '/w'): 'the Iwd is not a directory at the site'}
    assert transfer_list(result) == ([], 0)
