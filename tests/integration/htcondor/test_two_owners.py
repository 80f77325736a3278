# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jobs of two owners through one site queue, against real HTCondor daemons, through ansible-playbook.

The schedd exports one owner per call and imports only for a user allowed to edit every job of the log. Two
ordinary users submit jobs to a "home" pool (collector and schedd only); condor_export exports each owner's
clusters into its own directory; queue_merge makes one queue of the two exports; a second pool (the "HPC"
side) starts with that queue in its SPOOL, runs every job and has its schedd stopped; queue_split makes one
log per owner, owned by the owner; condor_import, as each owner, brings that owner's jobs back completed.
Nothing is lost or imported twice. Needs root, sudo and condor_master on PATH; skipped otherwise.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils import _queue_log as ql
from ansible_collections.hepcloud.lumberjack.tests.support.condor_pool import PersonalPool, condor_available
from ansible_collections.hepcloud.lumberjack.tests.support.playbook import ROOT, PlaybookRunner

pytestmark = [
    pytest.mark.skipif(not condor_available(),
                       reason='condor_master is not on PATH: these tests start real HTCondor pools '
                              '(install HTCondor, e.g. in /opt/condor, and put its bin and sbin on PATH)'),
    pytest.mark.skipif(os.geteuid() != 0, reason='starting HTCondor pools and creating users needs root'),
    pytest.mark.skipif(shutil.which('sudo') is None, reason='the import runs as the job owner through sudo'),
]

JOB_SCRIPT = '#!/bin/sh\necho "job $1 ran as $(id -un)"\nexit $2\n'
SUBMIT = '''\
executable = {work}/job.sh
arguments = $(Cluster).$(Process) {code}
output = out.$(Cluster).$(Process)
error = err.$(Cluster).$(Process)
log = {work}/jobs.log
should_transfer_files = NO
request_memory = 16
request_disk = 1024
queue {count}
'''
ATTRS = ('ClusterId', 'ProcId', 'JobStatus', 'ExitCode', 'Managed', 'Owner')


def _add_user(base):
    name = 'ljtest-%s' % uuid.uuid4().hex[:8]
    subprocess.check_call(['useradd', '--create-home', '--shell', '/bin/sh', '--user-group', name])
    pw = pwd.getpwnam(name)
    os.chmod(pw.pw_dir, 0o755)
    work = os.path.join(pw.pw_dir, 'work')
    os.mkdir(work)
    with open(os.path.join(work, 'job.sh'), 'w') as f:
        f.write(JOB_SCRIPT)
    os.chmod(os.path.join(work, 'job.sh'), 0o755)
    area = os.path.join(base, name)
    os.mkdir(area)
    for path in (work, os.path.join(work, 'job.sh'), area):
        os.chown(path, pw.pw_uid, pw.pw_gid)
    return name, work, area


@pytest.fixture(scope='module')
def site():
    base = tempfile.mkdtemp(prefix='ljtest-owners-', dir='/tmp')
    os.chmod(base, 0o755)
    users = []
    try:
        for dummy in range(2):
            users.append(_add_user(base))
        yield base, users
    finally:
        for name, dummy, dummy2 in users:
            subprocess.call(['userdel', '--remove', name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(base, ignore_errors=True)


def finished(pool, clusters):
    constraint = 'member(ClusterId, {%s})' % ', '.join(str(c) for c in clusters)
    jobs = dict(('%s.%s' % (j['ClusterId'], j['ProcId']), j) for j in pool.history(constraint, ATTRS))
    jobs.update(('%s.%s' % (j['ClusterId'], j['ProcId']), j) for j in pool.jobs(constraint, ATTRS))
    return jobs


def test_two_owners_share_one_site_queue(site):
    base, users = site
    runner = PlaybookRunner(os.path.join(base, 'ansible'), collection_root=ROOT)
    home = PersonalPool(os.path.join(base, 'home'), name='home', daemons=('COLLECTOR', 'SCHEDD'))
    hpc = PersonalPool(os.path.join(base, 'hpc'), name='hpc')
    try:
        home.start()
        clusters = {}
        for (name, work, dummy), (count, code) in zip(users, ((2, 0), (3, 3))):
            clusters[name] = home.submit(SUBMIT.format(work=work, count=count, code=code), name, cwd=work)
        common = {'condor_config': home.config_file}

        # a held job keeps its whole cluster from being exported
        second = users[1][0]
        held = '%d.1' % clusters[second]
        home.run(['condor_hold', held])
        home.wait_for(lambda: home.jobs('JobStatus == 5'), timeout=60, what='the job to be held')
        selection_args = dict(common, constraint='member(ClusterId, {%s})' % ', '.join(str(c) for c in clusters.values()))
        r = runner.task('hepcloud.lumberjack.condor_queue_info', selection_args)
        assert r['owners'][second]['blocked'] == {held: 'held'}
        assert r['owners'][second]['exportable_clusters'] == []
        home.run(['condor_release', held])
        home.wait_for(lambda: not home.jobs('JobStatus == 5'), timeout=60, what='the job to be released')

        # the selection, grouped per owner as an export takes it
        r = runner.task('hepcloud.lumberjack.condor_queue_info', selection_args)
        assert r['changed'] is False and r['jobs'] == 5 and r['clusters'] == sorted(clusters.values())
        for name, dummy, dummy2 in users:
            assert r['owners'][name]['exportable_clusters'] == [clusters[name]]
            assert r['owners'][name]['blocked'] == {} and len(r['owners'][name]['jobs']) in (2, 3)
        selection = r['owners']

        # one export per owner, each into its own directory
        exports = []
        for name, work, area in users:
            export_dir = os.path.join(area, 'export')
            r = runner.task('hepcloud.lumberjack.condor_export', dict(
                common, cluster_ids=selection[name]['exportable_clusters'], export_dir=export_dir,
                spool_dir='/scratch/site/spool'))
            assert r['changed'] is True and r['owner'] == name
            assert r['original_iwds'] == dict((j, work) for j in r['jobs'])
            exports.append(r['log'])
        r = runner.task('hepcloud.lumberjack.condor_queue_info', dict(common, cluster_ids=sorted(clusters.values()) + [999]))
        assert r['missing_clusters'] == [999]
        assert all(o['exported_clusters'] == o['clusters'] and o['exportable_clusters'] == [] for o in r['owners'].values())

        # one site queue
        site_dir = os.path.join(base, 'site')
        os.mkdir(site_dir)
        merge_args = dict(srcs=exports, dest=os.path.join(site_dir, 'job_queue.log'))
        r = runner.task('hepcloud.lumberjack.queue_merge', merge_args)
        assert r['changed'] is True and r['owners'] == sorted(n for n, dummy, dummy2 in users)
        assert r['clusters'] == sorted(clusters.values()) and len(r['jobs']) == 5
        assert runner.task('hepcloud.lumberjack.queue_merge', merge_args)['changed'] is False

        # the site pool runs both owners' jobs from the one queue; its schedd is stopped for the way back
        hpc.install_file(merge_args['dest'])
        hpc.start()
        hpc.wait_for(lambda: len(hpc.jobs('JobStatus == 4')) == 5, timeout=240,
                     what='both owners\' jobs to complete in the site pool')
        hpc.stop_schedd()
        returned = os.path.join(site_dir, 'returned.log')
        shutil.copyfile(os.path.join(hpc.spool, 'job_queue.log'), returned)
        hpc.stop()

        # one log per owner, owned by the owner, then each owner imports its own jobs
        import_dir = os.path.join(base, 'import')
        os.mkdir(import_dir)
        split_args = dict(path=returned, dest_dir=import_dir, owned_by_owner=True)
        r = runner.task('hepcloud.lumberjack.queue_split', split_args)
        assert r['changed'] is True and r['jobs'] == 5
        parts = r['owners']
        assert runner.task('hepcloud.lumberjack.queue_split', split_args)['changed'] is False
        for name, dummy, dummy2 in users:
            part = parts[name]
            assert part['clusters'] == [clusters[name]]
            assert pwd.getpwuid(os.stat(part['path']).st_uid).pw_name == name
            assert set(ql.replay(part['path']).job_attr(k, 'Owner') for k in ql.replay(part['path']).job_keys()) \
                == {'"%s"' % name}
            r = runner.task('hepcloud.lumberjack.condor_import', dict(common, import_dir=part['dir']), become_user=name)
            assert r['changed'] is True and sorted(r['imported']) == sorted(part['jobs']), r

        done = finished(home, clusters.values())
        assert sorted(done) == sorted(j for p in parts.values() for j in p['jobs'])
        for (name, dummy, dummy2), code in zip(users, ('0', '3')):
            mine = [j for j in done.values() if j['Owner'] == name]
            assert len(mine) == (2 if code == '0' else 3)
            assert all((j['JobStatus'], j['ExitCode'], j['Managed']) == ('4', code, 'undefined') for j in mine), mine
    finally:
        hpc.stop()
        home.stop()
