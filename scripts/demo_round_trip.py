#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The whole round trip on this machine, with sample jobs: hepcloud.lumberjack.round_trip from a home
schedd (a personal HTCondor, root@127.0.0.1 over ssh) to an HPC site (an ordinary account at 127.0.0.2 with a
one-node Slurm), and back. Prints the run's summary; the report (HTML and JSON) is copied to DEST.

    python scripts/demo_round_trip.py [DEST]       (root; after scripts/setup; DEST defaults to .build/demo)
    python scripts/demo_round_trip.py --can-run    (exit status 0 when this machine can run it; --why says why not)
"""

from __future__ import absolute_import, division, print_function

import os
import shutil
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, '.build', 'collections'))

from ansible_collections.hepcloud.lumberjack.tests.support.round_trip_samples import prepare_jobs  # noqa: E402
from ansible_collections.hepcloud.lumberjack.tests.support.round_trip_world import (  # noqa: E402
    Controller,
    home_jobs,
    missing,
    round_trip_world,
    site_settings,
)


def main():
    reason = missing()
    if sys.argv[1:2] == ['--can-run']:
        return 1 if reason else 0
    if sys.argv[1:2] == ['--why']:
        print(reason or 'the round trip can run here')
        return 0
    dest = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, '.build', 'demo'))
    if reason:
        print('demo_round_trip: cannot run the round trip here: %s' % reason, file=sys.stderr)
        return 2
    with round_trip_world(keep_env='LJ_KEEP_DEMO_DIR') as world:
        print('home schedd: %s (jobs of %s)' % (world.home.config_file, ', '.join(o.pw_name for o in world.owners)))
        print('site: %s@127.0.0.2, Slurm %s' % (world.site_user.pw_name, world.slurm.conf))
        clusters = prepare_jobs(world)
        chosen = [clusters['A'], clusters['B'], clusters['C']]
        world.home.run(['condor_rm', str(clusters['D'])])       # the long jobs are for the walltime test
        ctl = Controller(world, 'demo')
        ctl.write_inventory('demo', [('site-a', '127.0.0.2', site_settings(
            world, os.path.join(world.site_user.pw_dir, 'scratch'), chosen, 'relay'))])
        print('inventory: %s' % ctl.inventory)
        print('running: ansible-playbook -i %s hepcloud.lumberjack.round_trip' % ctl.inventory)
        started = time.time()
        out = ctl.run('round_trip', timeout=1200)
        print('\n'.join(line for line in out.splitlines() if line.strip().startswith(('"site-', '"report:'))))
        jobs = home_jobs(world, chosen)
        done = sum(1 for j in jobs.values() if j['JobStatus'] == '4')
        print('%d of %d jobs completed at home, in %.0f s' % (done, len(jobs), time.time() - started))
        if os.path.isdir(dest):
            shutil.rmtree(dest)
        shutil.copytree(os.path.join(ctl.dir, 'schedd', 'demo'), dest,
                        ignore=shutil.ignore_patterns('site-*'))
        print('report: %s' % os.path.join(dest, 'report.html'))
        return 0 if done == len(jobs) else 1


if __name__ == '__main__':
    sys.exit(main())
