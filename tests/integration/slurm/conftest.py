# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the suites that run batch_job through ansible-playbook against a real one-node Slurm."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'support'))

from slurm_cluster import SlurmCluster, missing_requirements  # noqa: E402  pylint: disable=wrong-import-position

# The modules run on the system's Python, as on a login node: only its standard library is there.
TARGET_PYTHON = '/usr/bin/python3' if os.path.exists('/usr/bin/python3') else sys.executable


def _start(request, **kwargs):
    why = missing_requirements(accounting=kwargs.get('accounting', False))
    if why:
        pytest.skip(why)
    cluster = SlurmCluster(**kwargs)
    request.addfinalizer(cluster.stop)
    cluster.start()
    return cluster


@pytest.fixture(scope='session')
def slurm(request):
    """A cluster with accounting (slurmdbd + MariaDB), so sacct answers; it forgets ended jobs quickly."""
    return _start(request, accounting=True, min_job_age=2)


@pytest.fixture(scope='session')
def slurm_no_accounting(request):
    """A cluster without accounting that forgets ended jobs quickly (MinJobAge=2)."""
    return _start(request, accounting=False, min_job_age=2)


@pytest.fixture(scope='session')
def workdir(request):
    """A directory every user can read (job scripts) with a subdirectory per user for outputs."""
    d = tempfile.mkdtemp(prefix='lj-slurm-it-')
    os.chmod(d, 0o755)
    request.addfinalizer(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


@pytest.fixture(scope='session')
def collections_path(workdir):
    """A directory holding ansible_collections/hepcloud/lumberjack -> this checkout."""
    path = os.path.join(workdir, 'collections')
    os.makedirs(os.path.join(path, 'ansible_collections', 'hepcloud'))
    os.symlink(ROOT, os.path.join(path, 'ansible_collections', 'hepcloud', 'lumberjack'))
    return path


@pytest.fixture(scope='session')
def ordinary_user(request):
    """An ordinary user (ljtest...), created for the session and removed after it."""
    if os.geteuid() != 0 or not shutil.which('useradd') or not shutil.which('sudo'):
        pytest.skip('creating a test user and becoming it needs root, useradd and sudo')
    name = 'ljtest%s' % secrets.token_hex(3)
    subprocess.run(['useradd', '--create-home', '--shell', '/bin/sh', name], check=True)
    request.addfinalizer(lambda: subprocess.run(['userdel', '--remove', name], check=False,
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return pwd.getpwnam(name)


def write_script(workdir, name, body):
    path = os.path.join(workdir, name)
    with open(path, 'w') as f:
        f.write('#!/bin/sh\n' + body + '\n')
    os.chmod(path, 0o755)
    return path


class Playbook:
    """Runs tasks through a real ansible-playbook on localhost against one cluster."""

    def __init__(self, cluster, workdir, collections):
        self.cluster = cluster
        self.workdir = workdir
        self.collections = collections

    def run(self, tasks, register=(), become_user=None, check=False):
        """Run tasks; returns {registered name: result} for the names in register."""
        base = tempfile.mkdtemp(prefix='play-', dir=self.workdir)
        results = os.path.join(base, 'results.json')
        play = dict(hosts='localhost', gather_facts=False, environment=dict(SLURM_CONF=self.cluster.conf),
                    tasks=list(tasks))
        if become_user:
            play.update(become=True, become_user=become_user, become_method='sudo')
        collect = '{{ {%s} | to_json }}' % ', '.join("'%s': %s" % (n, n) for n in register)
        play['tasks'].append({'name': 'Keep the results', 'become': False, 'check_mode': False,
                              'ansible.builtin.copy': dict(content=collect, dest=results, mode='0644')})
        with open(os.path.join(base, 'play.yml'), 'w') as f:
            yaml.safe_dump([play], f, sort_keys=False)
        with open(os.path.join(base, 'inventory'), 'w') as f:
            f.write('localhost ansible_connection=local ansible_python_interpreter=%s\n' % TARGET_PYTHON)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=self.collections, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='false',
                   ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='false', ANSIBLE_HOST_KEY_CHECKING='false',
                   ANSIBLE_LOCAL_TEMP=os.path.join(base, 'tmp'), SLURM_CONF=self.cluster.conf)
        env.pop('PYTHONPATH', None)
        argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'inventory', 'play.yml']
        if check:
            argv.append('--check')
        p = subprocess.run(argv, cwd=base, env=env, capture_output=True, text=True, timeout=600, check=False)
        if p.returncode != 0 or not os.path.exists(results):
            raise AssertionError('ansible-playbook failed (%s):\n%s\n%s\n--- slurmctld log ---\n%s' % (
                p.returncode, p.stdout[-6000:], p.stderr[-3000:], self.cluster.log('slurmctld')[-2000:]))
        with open(results) as f:
            return json.load(f)


@pytest.fixture
def play(slurm, workdir, collections_path):
    return Playbook(slurm, workdir, collections_path)


@pytest.fixture
def play_no_accounting(slurm_no_accounting, workdir, collections_path):
    return Playbook(slurm_no_accounting, workdir, collections_path)
