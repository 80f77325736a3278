# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run tasks through a real ansible-playbook on localhost, with this checkout as hepcloud.lumberjack."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
# The modules run on the system's Python, as on a login node: only its standard library is there.
TARGET_PYTHON = '/usr/bin/python3' if os.path.exists('/usr/bin/python3') else sys.executable


def collections_path(workdir):
    """A directory under workdir holding ansible_collections/hepcloud/lumberjack -> this checkout."""
    path = os.path.join(workdir, 'collections')
    if not os.path.isdir(path):
        os.makedirs(os.path.join(path, 'ansible_collections', 'hepcloud'))
        os.symlink(ROOT, os.path.join(path, 'ansible_collections', 'hepcloud', 'lumberjack'))
    return path


def write_script(workdir, name, body):
    """An executable /bin/sh script everybody can read."""
    path = os.path.join(workdir, name)
    with open(path, 'w') as f:
        f.write('#!/bin/sh\n' + body + '\n')
    os.chmod(path, 0o755)
    return path


class Playbook:
    """ansible-playbook on localhost; `environment` goes to every task (the scheduler's variables)."""

    def __init__(self, workdir, environment, log=None):
        self.workdir = workdir
        self.environment = dict(environment)
        self.collections = collections_path(workdir)
        self.log = log or (lambda: '')

    def run(self, tasks, register=(), become_user=None, check=False):
        """Run tasks; returns {registered name: result} for the names in register."""
        base = tempfile.mkdtemp(prefix='play-', dir=self.workdir)
        results = os.path.join(base, 'results.json')
        play = dict(hosts='localhost', gather_facts=False, environment=self.environment, tasks=list(tasks))
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
                   ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='false',
                   ANSIBLE_LOCAL_TEMP=os.path.join(base, 'tmp'))
        env.pop('PYTHONPATH', None)
        argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'inventory', 'play.yml']
        if check:
            argv.append('--check')
        p = subprocess.run(argv, cwd=base, env=env, capture_output=True, text=True, timeout=900, check=False)
        if p.returncode != 0 or not os.path.exists(results):
            raise AssertionError('ansible-playbook failed (%s):\n%s\n%s\n--- scheduler log ---\n%s' % (
                p.returncode, p.stdout[-6000:], p.stderr[-3000:], self.log()[-2000:]))
        with open(results) as f:
            return json.load(f)
