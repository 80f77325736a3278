#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the round-trip playbooks cost, on this machine (root; after scripts/setup; see tests/support):

1. overhead: hepcloud.lumberjack.round_trip for the 20 sample jobs (3 clusters, 2 owners, one 200 MB output)
   at one site; the playbooks' own overhead is the wall time minus the span in which jobs ran at the site
   (first job start to last job end, from the jobs' ads), with the time of each phase from the run record;
2. staging: the stage_in playbook (relay: tar through the controller, and push: rsync from the schedd host)
   for a cluster whose inputs are SIZE_MB in 4 files, against a plain `rsync -a` of the same files over the
   same sshd; and the same playbook for 4 MB, so that its fixed cost (tasks, layout) and the cost of the bytes
   are seen apart.

    benchmarks/round_trip.py [SIZE_MB]      (default 1024)
"""

from __future__ import absolute_import, division, print_function

import datetime
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, '.build', 'collections'))

from ansible_collections.hepcloud.lumberjack.tests.support.round_trip_samples import prepare_jobs, write_file  # noqa: E402
from ansible_collections.hepcloud.lumberjack.tests.support.round_trip_world import (  # noqa: E402
    Controller,
    missing,
    round_trip_world,
    site_settings,
)

SUBMIT_BIG_INPUT = '''\
executable = /bin/true
transfer_executable = false
initialdir = {dir}
transfer_input_files = in0, in1, in2, in3
should_transfer_files = YES
request_memory = 16
request_disk = 1024
queue 1
'''


def epoch(stamp):
    return datetime.datetime.strptime(stamp, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc).timestamp()


def overhead(world):
    clusters = prepare_jobs(world)
    world.home.run(['condor_rm', str(clusters['D'])])
    chosen = [clusters['A'], clusters['B'], clusters['C']]
    ctl = Controller(world, 'bench-overhead')
    ctl.write_inventory('bench', [('site-a', '127.0.0.2', site_settings(
        world, os.path.join(world.site_user.pw_dir, 'scratch'), chosen, 'relay'))])
    started = time.time()
    ctl.run('round_trip', timeout=1800)
    wall = time.time() - started
    constraint = 'member(ClusterId, {%s})' % ', '.join(str(c) for c in chosen)
    ads = world.home.history(constraint, ('JobCurrentStartDate', 'CompletionDate'))
    ads += world.home.jobs(constraint, ('JobCurrentStartDate', 'CompletionDate'))
    starts = [int(a['JobCurrentStartDate']) for a in ads if a['JobCurrentStartDate'] not in ('undefined', None)]
    ends = [int(a['CompletionDate']) for a in ads if a['CompletionDate'] not in ('undefined', None, '0')]
    span = max(ends) - min(starts)
    record = ctl.record('bench', 'site-a')
    phases = sorted(record['phases'].items(), key=lambda kv: kv[1])
    print('round trip of %d jobs: wall %.1f s, jobs ran for %d s at the site, playbook overhead %.1f s'
          % (len(ads), wall, span, wall - span))
    previous = epoch(record['created'])
    for name, stamp in phases:
        print('  %-10s reached after %5.1f s' % (name, epoch(stamp) - previous))
        previous = epoch(stamp)


def stage_in_time(world, d, mode, name):
    """Wall time of the stage_in playbook for one cluster whose inputs are the files in `d` (exported first,
    aborted after)."""
    owner = world.owners[0]
    cluster = world.home.submit(SUBMIT_BIG_INPUT.format(dir=d), owner.pw_name, cwd=d)
    ctl = Controller(world, 'bench-stage-%s-%s' % (mode, name))
    ctl.write_inventory('stage-%s-%s' % (mode, name), [('site-a', '127.0.0.2', site_settings(
        world, os.path.join(world.site_user.pw_dir, 'stage-%s-%s' % (mode, name)), [cluster], mode))])
    ctl.run('export')
    started = time.time()
    ctl.run('stage_in')
    took = time.time() - started
    ctl.run('abort')
    world.home.run(['condor_rm', str(cluster)])
    return took


def inputs(world, name, size_mb):
    owner = world.owners[0]
    d = os.path.join(owner.pw_dir, name)
    for i in range(4):
        write_file(os.path.join(d, 'in%d' % i), '', owner)
        with open(os.path.join(d, 'in%d' % i), 'wb') as f:
            f.write(os.urandom(1 << 20) * (size_mb // 4))
    return d, sum(os.path.getsize(os.path.join(d, 'in%d' % i)) for i in range(4))


def staging(world, size_mb):
    """stage_in against plain rsync. The playbook's fixed cost (its tasks, the run directory's layout, placing
    the queue) is measured on 4 files of 1 MB and reported apart: it belongs to the overhead above. What the
    staging itself costs per byte is the difference between the big and the small run."""
    d, total = inputs(world, 'bench-inputs', size_mb)
    small_d, small = inputs(world, 'bench-inputs-small', 4)
    sshd = world.sshd
    ssh = 'ssh -o BatchMode=yes -p %d -i %s %s' % (sshd.port, sshd.key, ' '.join(sshd.ssh_args()))
    target = '%s@127.0.0.2' % world.site_user.pw_name
    dest = os.path.join(world.site_user.pw_dir, 'rsync-copy')
    started = time.time()
    subprocess.run(['rsync', '-a', '--mkpath', '-e', ssh, d + '/', '%s:%s/' % (target, dest)], check=True)
    plain = time.time() - started
    print('staging %.0f MB: plain rsync -a %.1f s (%.0f MB/s)' % (total / 1e6, plain, total / 1e6 / plain))
    for mode in ('relay', 'push'):
        fixed = stage_in_time(world, small_d, mode, 'small')
        took = stage_in_time(world, d, mode, 'big')
        per_byte = took - fixed
        print('staging %.0f MB: stage_in (%s, with checksums at both ends) %.1f s (%.0f MB/s, %.2f x rsync); '
              'the same playbook for %.0f MB: %.1f s; so the bytes cost %.1f s (%.0f MB/s, %.2f x rsync)'
              % (total / 1e6, mode, took, total / 1e6 / took, plain / took, small / 1e6, fixed,
                 per_byte, (total - small) / 1e6 / per_byte, plain / per_byte))


def main():
    size_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    reason = missing()
    if reason:
        print('round_trip benchmark: cannot run here: %s' % reason, file=sys.stderr)
        return 2
    with round_trip_world(keep_env='LJ_KEEP_BENCH_DIR') as world:
        overhead(world)
        staging(world, size_mb)
    return 0


if __name__ == '__main__':
    sys.exit(main())
