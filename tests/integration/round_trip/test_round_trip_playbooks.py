# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The round-trip playbooks end to end: real ssh, a real home schedd, real Slurm at the sites, real minicondors.

See conftest.py for the hosts. Jobs of two owners go to one site (relay staging); a second site (push
staging) gets jobs longer than its walltime and keeps them exported; the pool of a third site is misconfigured.
The controller is killed during the wait and the re-run finishes the two healthy sites without a second export
or submission; the failed site's abort brings its jobs back idle; a further run changes nothing; a later run
takes the kept jobs over, a third run selecting them is refused, and the later run, collected, drains at its
walltime and un-exports them (the default), so they are idle at home again. Another run is aborted after its launch (and its jobs come back idle); a pre-flight
that finds a job selected by two sites exports nothing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

from ansible_collections.hepcloud.lumberjack.tests.support.round_trip_samples import SUBMIT_LONG, prepare_jobs, write_file
from ansible_collections.hepcloud.lumberjack.tests.support.round_trip_world import (
    POOL_CONFIG,
    Controller,
    home_jobs,
    owner_of,
    recap,
    site_settings,
)


def test_round_trip_two_sites_resumed_after_the_controller_is_killed(world):
    a, b = world.owners
    clusters = prepare_jobs(world)
    os.makedirs('%s/failing' % a.pw_dir)
    os.chown('%s/failing' % a.pw_dir, a.pw_uid, a.pw_gid)
    failing = world.home.submit(SUBMIT_LONG.format(home=a.pw_dir).replace('/long', '/failing'), a.pw_name,
                                cwd=a.pw_dir)
    ctl = Controller(world, 'two-sites')
    site_a = os.path.join(world.site_user.pw_dir, 'scratch-a')
    site_b = os.path.join(world.site_user.pw_dir, 'scratch-b')
    site_c = dict(site_settings(world, os.path.join(world.site_user.pw_dir, 'scratch-c'), [failing], 'relay'))
    # site-c's pool is misconfigured (no authentication method its tools can use): its pilot fails, as
    # condor_q never gets an answer
    site_c['lumberjack_batch'] = dict(site_c['lumberjack_batch'], startup_timeout=5)
    site_c['lumberjack_pool_config'] = dict(POOL_CONFIG, SEC_CLIENT_AUTHENTICATION_METHODS='NO_SUCH_METHOD')
    hosts = [
        ('site-a', '127.0.0.2', site_settings(world, site_a, [clusters['A'], clusters['B'], clusters['C']], 'relay')),
        ('site-b', '127.0.0.3', dict(site_settings(world, site_b, [clusters['D']], 'push', walltime='00:02:00',
                                                   drain_margin=85), lumberjack_unfinished='keep')),
        ('site-c', '127.0.0.2', site_c),
    ]
    ctl.write_inventory('rt1', hosts)

    # the controller is killed while it waits for the pilots
    proc = ctl.start('round_trip')
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if all('launched' in ctl.record('rt1', s).get('phases', {}) for s in ('site-a', 'site-b', 'site-c')):
            break
        time.sleep(1)
    assert proc.poll() is None, open(proc.log_path).read()[-6000:]
    time.sleep(3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = dict((s, ctl.record('rt1', s)) for s in ('site-a', 'site-b'))
    for s in ('site-a', 'site-b'):
        assert 'finished' not in first[s]['phases'], first[s]
        assert first[s]['values']['batch_job_id']
    assert ctl.record('rt1', 'site-c')['values']['batch_job_id']

    # the re-run finishes the run (no second export, no second pilot) at site-a and site-b, whatever site-c does
    out = ctl.run('round_trip', expect_failure=True)
    assert 'Site site-c: the pilot' in out and 'did not answer condor_q within 5s' in out
    for s in ('site-a', 'site-b'):
        record = ctl.record('rt1', s)
        assert record['phases']['exported'] == first[s]['phases']['exported']
        assert record['phases']['launched'] == first[s]['phases']['launched']
        assert record['values']['batch_job_id'] == first[s]['values']['batch_job_id']
        assert len(record['values']['manifest_sha256']) == 64
        assert 'imported' in record['phases'] and 'reported' in record['phases']
        run_dir = os.path.join(site_a if s == 'site-a' else site_b, 'rt1-%s' % s)
        assert len([n for n in os.listdir(run_dir) if n.startswith('pilot-') and n.endswith('.out')]) == 1

    # every job of site-a came back completed with its exit code and run time; nothing lost or duplicated
    ids_a = ['%d.%d' % (c, p) for c, n in ((clusters['A'], 8), (clusters['B'], 10), (clusters['C'], 2))
             for p in range(n)]
    done = home_jobs(world, [clusters['A'], clusters['B'], clusters['C']])
    assert sorted(done) == sorted(ids_a)
    for jid, job in done.items():
        code = '3' if jid == '%d.2' % clusters['B'] else '0'
        assert (job['JobStatus'], job['ExitCode'], job['Managed']) == ('4', code, 'undefined'), (jid, job)
        assert float(job['RemoteWallClockTime']) > 0, (jid, job)
    assert sorted(ctl.record('rt1', 'site-a')['values']['imported']) == sorted(ids_a)

    # outputs in their original Iwds, owned by their owners
    for p in range(8):
        iwd = '%s/run/p%d' % (a.pw_dir, p)
        with open(os.path.join(iwd, 'result.a')) as f:
            text = f.read()
        assert 'input of proc %d' % p in text and 'shared input with a space' in text
        with open(os.path.join(iwd, 'in.txt')) as f:
            assert f.read() == 'input of proc %d\n' % p      # an input is never overwritten
        for name in ('result.a', 'out.txt', 'err.txt'):
            assert owner_of(os.path.join(iwd, name)) == a.pw_name
    for p in range(10):
        assert owner_of('%s/shared/out.%d' % (b.pw_dir, p)) == b.pw_name
        with open('%s/shared/result.p%d' % (b.pw_dir, p)) as f:
            assert 'p%d ran as %s' % (p, world.site_user.pw_name) in f.read()
    assert os.path.getsize('%s/big/big.out' % b.pw_dir) == 200000000
    assert owner_of('%s/big/big.out' % b.pw_dir) == b.pw_name
    with open('%s/big/notes.txt' % b.pw_dir) as f:
        assert f.read() == 'written before the export\n'
    # the user logs at home hold the submit events and, appended once, the site's
    with open('%s/run/jobs.log' % a.pw_dir) as f:
        log = f.read()
    assert log.count('Job submitted from host') == 8 and log.count('Job terminated') == 8

    # site-b's jobs hit the walltime: the pilot drained, they are reported and, as site-b keeps them, still
    # exported for a later run
    record_b = ctl.record('rt1', 'site-b')
    assert record_b['values']['pilot']['outcome'] == 'walltime'
    long_jobs = home_jobs(world, [clusters['D']])
    assert sorted(long_jobs) == ['%d.0' % clusters['D'], '%d.1' % clusters['D']]
    for job in long_jobs.values():
        assert (job['JobStatus'], job['Managed'], job['ManagedManager']) == ('1', 'External', 'Lumberjack'), job
    assert sorted(record_b['values']['unfinished']) == sorted(long_jobs)
    assert record_b['values']['unexported'] == []

    # the report
    with open(os.path.join(ctl.dir, 'schedd', 'rt1', 'report.json')) as f:
        report = json.load(f)
    sites = dict((site['site'], site) for site in report['sites'])
    assert sorted(sites) == ['site-a', 'site-b', 'site-c']
    rows = dict((j['job'], j) for j in sites['site-a']['jobs'])
    assert sorted(rows) == sorted(ids_a) and all(j['home'] == 'imported' for j in rows.values())
    assert rows['%d.2' % clusters['B']]['exit_code'] == 3 and rows['%d.2' % clusters['B']]['result'] == 'failed'
    assert sites['site-a']['bytes_out'] > 200000000
    assert all(j['home'] == 'kept exported' for j in sites['site-b']['jobs'])
    assert sites['site-c']['failures'][0]['phase'] == 'pilot'
    assert 'did not answer condor_q within 5s' in sites['site-c']['failures'][0]['reason']
    assert report['totals']['jobs'] == 24 and report['totals']['completed'] == 19
    assert os.path.exists(os.path.join(ctl.dir, 'schedd', 'rt1', 'report.html'))
    assert 'site-a: 20 jobs' in out

    # the failed site's jobs are still exported; its abort brings them back idle
    assert all(j['Managed'] == 'External' for j in home_jobs(world, [failing]).values())
    ctl.write_inventory('rt1', hosts[2:])
    ctl.run('abort')
    failed_jobs = home_jobs(world, [failing])
    assert len(failed_jobs) == 2
    assert all((j['JobStatus'], j['Managed']) == ('1', 'undefined') for j in failed_jobs.values()), failed_jobs
    world.home.run(['condor_rm', str(failing)])

    # a finished run changes nothing (once the report is written for the two sites left in the inventory)
    ctl.write_inventory('rt1', hosts[:2])
    ctl.run('round_trip')
    out = ctl.run('round_trip')
    assert all(r['changed'] == 0 and r['failed'] == 0 for r in recap(out).values()), recap(out)

    # a later run takes over the jobs site-b kept: exported again into its own export, launched, again with
    # a walltime shorter than the jobs but now with the default for unfinished jobs (un-export them)
    next_b = site_settings(world, site_b, [clusters['D']], 'push', walltime='00:02:00', drain_margin=85)
    ctl.write_inventory('rt1-next', [('site-b', '127.0.0.3', next_b)], lumberjack_wait=False)
    ctl.run('round_trip')
    record_next = ctl.record('rt1-next', 'site-b')
    assert 'launched' in record_next['phases']
    assert sorted(record_next['values']['exported_jobs']) == sorted(long_jobs)
    assert record_next['values']['adopted'] == dict((j, 'rt1') for j in long_jobs)
    assert all(j['Managed'] == 'External' for j in home_jobs(world, [clusters['D']]).values())
    assert ctl.record('rt1', 'site-b') == record_b
    # a third run that selects them now is refused: another run holds them
    ctl.write_inventory('rt1-third', [('site-b', '127.0.0.3', site_settings(world, site_b, [clusters['D']], 'push'))])
    out = ctl.run('export', expect_failure=True)
    assert 'jobs held by another run: %d.0 by run rt1-next at site site-b, phase launched' % clusters['D'] in out
    assert 'exported' not in ctl.record('rt1-third', 'site-b').get('phases', {})
    # the later run is collected: its pilot drained at the walltime, the jobs are reported unfinished and,
    # by default, un-exported: idle and unmanaged at home again
    ctl.write_inventory('rt1-next', [('site-b', '127.0.0.3', next_b)])
    ctl.run('collect')
    record_next = ctl.record('rt1-next', 'site-b')
    assert 'finished' in record_next['phases'], record_next['phases']
    assert record_next['values']['pilot']['outcome'] == 'walltime'
    assert sorted(record_next['values']['unfinished']) == sorted(long_jobs)
    assert sorted(record_next['values']['unexported']) == sorted(long_jobs)
    long_jobs = home_jobs(world, [clusters['D']])
    assert len(long_jobs) == 2
    for job in long_jobs.values():
        assert (job['JobStatus'], job['Managed']) == ('1', 'undefined'), job
    with open(os.path.join(ctl.dir, 'schedd', 'rt1-next', 'report.json')) as f:
        report = json.load(f)
    assert [j['home'] for j in report['sites'][0]['jobs']] == ['unexported', 'unexported']
    out = ctl.run('collect')
    assert all(r['changed'] == 0 and r['failed'] == 0 for r in recap(out).values()), recap(out)


def test_a_job_selected_by_two_sites_stops_the_preflight_and_nothing_is_exported(world):
    a = world.owners[0]
    write_file('%s/overlap/in.txt' % a.pw_dir, 'x\n', a)
    cluster = world.home.submit(SUBMIT_LONG.format(home=a.pw_dir).replace('/long', '/overlap'), a.pw_name,
                                cwd=a.pw_dir)
    ctl = Controller(world, 'overlap')
    base = os.path.join(world.site_user.pw_dir, 'scratch-overlap')
    ctl.write_inventory('rt-overlap', [
        ('site-a', '127.0.0.2', site_settings(world, base + '-a', [cluster], 'relay')),
        ('site-b', '127.0.0.3', site_settings(world, base + '-b', 'ClusterId == %d' % cluster, 'relay')),
    ])
    out = ctl.run('round_trip', expect_failure=True)
    assert 'are selected by another site too' in out and '%d.0' % cluster in out
    jobs = home_jobs(world, [cluster])
    assert len(jobs) == 2 and all(j['Managed'] == 'undefined' and j['JobStatus'] == '1' for j in jobs.values())
    for site in ('site-a', 'site-b'):
        assert not os.path.exists(os.path.join(ctl.dir, 'schedd', 'rt-overlap', site, 'export', a.pw_name,
                                               'job_queue.log'))
        assert 'exported' not in ctl.record('rt-overlap', site).get('phases', {})
    # one site only, but the runs' directory on the schedd host lies under one its owners cannot search: the
    # pre-flight names the owner and the directory, and nothing is exported
    hidden = tempfile.mkdtemp(prefix='lj-private-', dir='/root')
    os.chmod(hidden, 0o700)
    try:
        ctl.write_inventory('rt-hidden', [('site-a', '127.0.0.2', site_settings(world, base + '-a', [cluster], 'relay'))])
        out = ctl.run('export', expect_failure=True, extra={'lumberjack_schedd_dir': hidden + '/runs'})
        assert '%s cannot write %s/runs/rt-hidden/site-a/export/%s' % (a.pw_name, hidden, a.pw_name) in out, out[-3000:]
        assert 'searchable by its owner' in out
        assert not os.path.exists('%s/runs/rt-hidden/site-a/export/%s/job_queue.log' % (hidden, a.pw_name))
        assert all(j['Managed'] == 'undefined' for j in home_jobs(world, [cluster]).values())
    finally:
        shutil.rmtree(hidden)
    world.home.run(['condor_rm', str(cluster)])


def test_abort_after_the_launch_brings_the_jobs_back_idle(world):
    a = world.owners[0]
    os.makedirs('%s/abort' % a.pw_dir)
    os.chown('%s/abort' % a.pw_dir, a.pw_uid, a.pw_gid)
    cluster = world.home.submit(SUBMIT_LONG.format(home=a.pw_dir).replace('/long', '/abort'), a.pw_name,
                                cwd=a.pw_dir)
    ctl = Controller(world, 'abort')
    base = os.path.join(world.site_user.pw_dir, 'scratch-abort')
    # the site fetches from the schedd host (pull) with a key of its own
    key = os.path.join(world.site_user.pw_dir, 'pull_key')
    subprocess.run(['cp', world.sshd.key, key], check=True)
    os.chown(key, world.site_user.pw_uid, world.site_user.pw_gid)
    settings = site_settings(world, base, [cluster], 'pull')
    settings['lumberjack_pull_ssh'] = 'ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null ' \
                                      '-p %d -i %s' % (world.sshd.port, key)
    ctl.write_inventory('rt-abort', [('site-a', '127.0.0.2', settings)], lumberjack_wait=False)
    ctl.run('round_trip')
    record = ctl.record('rt-abort', 'site-a')
    assert 'launched' in record['phases'] and 'finished' not in record['phases']
    job_id = record['values']['batch_job_id']
    jobs = home_jobs(world, [cluster])
    assert all(j['Managed'] == 'External' for j in jobs.values())

    out = ctl.run('abort')
    assert recap(out)['site-a']['changed'] > 0
    jobs = home_jobs(world, [cluster])
    assert len(jobs) == 2 and all((j['JobStatus'], j['Managed']) == ('1', 'undefined') for j in jobs.values()), jobs
    assert not os.path.exists(os.path.join(base, 'rt-abort-site-a'))
    assert job_id not in world.slurm.run('squeue', '-h', '-o', '%i').stdout.split()
    assert 'aborted' in ctl.record('rt-abort', 'site-a')['phases']
    # an aborted run stays aborted, and says so
    out = ctl.run('abort')
    assert recap(out)['site-a']['changed'] == 0
    out = ctl.run('round_trip', expect_failure=True)
    assert 'was aborted here' in out
    world.home.run(['condor_rm', str(cluster)])
