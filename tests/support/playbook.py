# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run tasks of this collection through a real `ansible-playbook` on localhost, with this checkout as
hepcloud.lumberjack (found through ANSIBLE_COLLECTIONS_PATH -> a directory holding
ansible_collections/hepcloud/lumberjack -> the checkout).

PlaybookRunner runs one task and returns its registered result (schedd side: the module runs with a Python
that imports htcondor2, optionally as another user through sudo):

    runner = PlaybookRunner(work_dir)
    result = runner.task('hepcloud.lumberjack.condor_export', {...}, check_mode=True)
    result = runner.task('hepcloud.lumberjack.condor_import', {...}, become_user='alice')

Playbook runs a list of tasks with an `environment` for all of them (HPC side: the scheduler's variables) on
the system's Python, as on a login node, and returns the registered results asked for.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
# The HPC-side modules run on the system's Python, as on a login node: only its standard library is there.
TARGET_PYTHON = '/usr/bin/python3' if os.path.exists('/usr/bin/python3') else sys.executable


def collections_path(workdir, collection_root=ROOT):
    """A directory under workdir holding ansible_collections/hepcloud/lumberjack -> collection_root."""
    path = os.path.join(workdir, 'collections')
    if not os.path.isdir(path):
        os.makedirs(os.path.join(path, 'ansible_collections', 'hepcloud'))
        os.symlink(collection_root, os.path.join(path, 'ansible_collections', 'hepcloud', 'lumberjack'))
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


def _yaml(value, indent):
    """Task arguments as YAML (JSON is YAML; one argument per line keeps the playbook readable)."""
    pad = ' ' * indent
    return '\n'.join('%s%s: %s' % (pad, k, json.dumps(v)) for k, v in value.items())


class PlaybookRunner(object):

    def __init__(self, work_dir, python=None, collection_root=ROOT, env=None, timeout=600):
        self.work_dir = str(work_dir)
        self.python = python or os.path.join(ROOT, '.venv', 'bin', 'python')
        if not os.path.exists(self.python):
            self.python = sys.executable
        self.ansible_playbook = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
        self.collections = collections_path(self.work_dir, collection_root)
        self.env = env or {}
        self.timeout = timeout
        self.count = 0

    def task(self, module, args, become_user=None, check_mode=False, expect_failure=False):
        """Run `module` with `args`; returns its registered result. Raises unless the outcome is expected."""
        self.count += 1
        name = '%02d-%s' % (self.count, module.split('.')[-1])
        out = os.path.join(self.work_dir, name + '.json')
        become = ''
        if become_user:
            become = '      become: true\n      become_user: %s\n      become_method: sudo\n' % json.dumps(become_user)
        playbook = (
            '- name: %s\n'
            '  hosts: localhost\n'
            '  gather_facts: false\n'
            '  tasks:\n'
            '    - name: Run %s\n'
            '      %s:\n%s\n'
            '%s'
            '      check_mode: %s\n'
            '      register: result\n'
            '      ignore_errors: true\n'
            '    - name: Save the result\n'
            '      ansible.builtin.copy:\n'
            '        content: "{{ result | to_nice_json }}"\n'
            '        dest: %s\n'
            '        mode: "0644"\n'
        ) % (name, module, module, _yaml(args, 8), become, 'true' if check_mode else 'false', json.dumps(out))
        path = os.path.join(self.work_dir, name + '.yml')
        with open(path, 'w') as f:
            f.write(playbook)
        env = dict(os.environ)
        env.update({
            'ANSIBLE_COLLECTIONS_PATH': self.collections,
            'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false',
            'ANSIBLE_LOCAL_TEMP': os.path.join(self.work_dir, 'ansible-local'),
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_RETRY_FILES_ENABLED': 'false',
        })
        env.update(self.env)
        proc = subprocess.run(
            [self.ansible_playbook, '-i', 'localhost,', '-c', 'local',
             '-e', 'ansible_python_interpreter=%s' % self.python, path],
            env=env, cwd=self.work_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            universal_newlines=True, timeout=self.timeout, check=False)
        if not os.path.exists(out):
            raise AssertionError('ansible-playbook %s gave no result (rc=%d):\n%s' % (path, proc.returncode, proc.stdout))
        with open(out) as f:
            result = json.load(f)
        result['_output'] = proc.stdout
        if bool(result.get('failed')) != bool(expect_failure):
            outcome = 'succeeded unexpectedly' if expect_failure else 'failed'
            raise AssertionError('%s %s:\n%s' % (module, outcome, proc.stdout))
        return result
