# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run one task of this collection through a real `ansible-playbook` and get its registered result.

    runner = PlaybookRunner(work_dir)                      # collection = this checkout
    result = runner.task('hepcloud.lumberjack.condor_export', {...}, check_mode=True)
    result = runner.task('hepcloud.lumberjack.condor_import', {...}, become_user='alice')

Each call writes a playbook for localhost (connection local) with the task and a second task that saves the
registered result as JSON, runs ansible-playbook in a subprocess and returns the result dict (with 'failed'
when the task failed; ansible-playbook's output is in result['_output']). The collection is found through
ANSIBLE_COLLECTIONS_PATH pointing at a directory that holds ansible_collections/hepcloud/lumberjack -> the
checkout. The module runs with `python` (default: the Python running the tests, which must import htcondor2;
for become_user it must be readable by that user). Become uses sudo.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _yaml(value, indent):
    """Task arguments as YAML (JSON is YAML; one argument per line keeps the playbook readable)."""
    pad = ' ' * indent
    return '\n'.join('%s%s: %s' % (pad, k, json.dumps(v)) for k, v in value.items())


class PlaybookRunner(object):

    def __init__(self, work_dir, python=None, collection_root=REPO, env=None, timeout=600):
        self.work_dir = str(work_dir)
        self.python = python or os.path.join(REPO, '.venv', 'bin', 'python')
        if not os.path.exists(self.python):
            self.python = sys.executable
        self.ansible_playbook = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
        self.collections = os.path.join(self.work_dir, 'collections')
        link_parent = os.path.join(self.collections, 'ansible_collections', 'hepcloud')
        if not os.path.isdir(link_parent):
            os.makedirs(link_parent)
            os.symlink(collection_root, os.path.join(link_parent, 'lumberjack'))
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
