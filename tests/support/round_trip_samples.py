# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sample jobs for a round trip: 20 jobs in 3 clusters of 2 owners (inputs transferred, one with a space in its
name, an Iwd per proc, a shared Iwd without file transfer, a job that exits 3, one that writes 200 MB), and 2
jobs longer than a short walltime. Used by the round-trip suite, its benchmark and the demo."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

JOB = '''#!/bin/sh
# job.sh NAME: writes result.NAME from its declared inputs (when it has them); p2 exits 3, c1 writes 200 MB
if [ -f in.txt ]; then cat in.txt > "result.$1"; fi
if [ -f "input file.txt" ]; then cat "input file.txt" >> "result.$1"; fi
echo "$1 ran as $(id -un) in $(pwd)" >> "result.$1"
if [ "$1" = c1 ]; then head -c 200000000 /dev/zero > big.out; fi
sleep 1
if [ "$1" = p2 ]; then exit 3; fi
exit 0
'''
# owner 0, cluster A: 8 jobs, an Iwd per proc, inputs transferred (one with a space in its name, one relative
# above the Iwd), the executable by absolute path
SUBMIT_A = '''\
executable = {home}/run/job.sh
arguments = a
initialdir = {home}/run/p$(Process)
transfer_input_files = in.txt, ../input file.txt
transfer_output_files = result.a
should_transfer_files = YES
output = out.txt
error = err.txt
log = {home}/run/jobs.log
request_memory = 16
request_disk = 1024
queue 8
'''
# owner 1, cluster B: 10 jobs sharing one Iwd on "shared storage" (no file transfer: what they write in their
# Iwd comes back); proc 2 exits 3
SUBMIT_B = '''\
executable = {home}/shared/job.sh
arguments = p$(Process)
initialdir = {home}/shared
should_transfer_files = NO
output = out.$(Process)
error = err.$(Process)
log = jobs.log
request_memory = 16
request_disk = 1024
queue 10
'''
# owner 1, cluster C: 2 jobs, proc 1 writes 200 MB
SUBMIT_C = '''\
executable = {home}/big/job.sh
arguments = c$(Process)
initialdir = {home}/big
should_transfer_files = NO
output = out.$(Process)
error = err.$(Process)
log = jobs.log
request_memory = 16
request_disk = 1024
queue 2
'''
# owner 0, cluster D: jobs longer than site-b's walltime
SUBMIT_LONG = '''\
executable = /bin/sleep
arguments = 600
transfer_executable = false
initialdir = {home}/long
should_transfer_files = NO
output = out.$(Process)
error = err.$(Process)
log = jobs.log
request_memory = 16
request_disk = 1024
queue 2
'''


def write_file(path, text, owner, mode=0o644):
    d = os.path.dirname(path)
    if not os.path.isdir(d):
        os.makedirs(d)
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, mode)
    for p in (path, d):
        os.chown(p, owner.pw_uid, owner.pw_gid)


def prepare_jobs(world):
    """Write the jobs' files as their owners and submit them at home; returns {'A'..'D': cluster id}."""
    a, b = world.owners
    for p in range(8):
        write_file('%s/run/p%d/in.txt' % (a.pw_dir, p), 'input of proc %d\n' % p, a)
    write_file('%s/run/input file.txt' % a.pw_dir, 'shared input with a space\n', a)
    write_file('%s/run/job.sh' % a.pw_dir, JOB, a, 0o755)
    write_file('%s/shared/in.txt' % b.pw_dir, 'shared input\n', b)
    write_file('%s/shared/job.sh' % b.pw_dir, JOB, b, 0o755)
    write_file('%s/big/notes.txt' % b.pw_dir, 'written before the export\n', b)
    write_file('%s/big/job.sh' % b.pw_dir, JOB, b, 0o755)
    os.makedirs('%s/long' % a.pw_dir)
    os.chown('%s/long' % a.pw_dir, a.pw_uid, a.pw_gid)
    clusters = {}
    clusters['A'] = world.home.submit(SUBMIT_A.format(home=a.pw_dir), a.pw_name, cwd=a.pw_dir)
    clusters['B'] = world.home.submit(SUBMIT_B.format(home=b.pw_dir), b.pw_name, cwd=b.pw_dir)
    clusters['C'] = world.home.submit(SUBMIT_C.format(home=b.pw_dir), b.pw_name, cwd=b.pw_dir)
    clusters['D'] = world.home.submit(SUBMIT_LONG.format(home=a.pw_dir), a.pw_name, cwd=a.pw_dir)
    return clusters
