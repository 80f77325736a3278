# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for the backend tests: scripted scheduler commands and the recorded outputs in fixtures/."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._batch import Runner, get_backend

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')


def fixture(name):
    """(rc, stdout, stderr) of a recorded command: NAME, NAME.stderr and NAME.rc (missing: '' and 0)."""
    def read(path, default=''):
        try:
            with open(path) as f:
                return f.read()
        except IOError:
            return default
    path = os.path.join(FIXTURES, name)
    if not os.path.exists(path):
        raise AssertionError('no fixture %s' % name)
    return int(read(path + '.rc', '0').strip()), read(path), read(path + '.stderr')


class FakeCommands:
    """A run function (AnsibleModule.run_command's shape) answering from a script.

    on(words, answer, times=None): the next command whose argv holds all `words` (in any order) gets answer,
    which is a fixture name, an (rc, out, err) tuple or a callable(argv) returning one. Rules are tried in
    the order they were added; one with `times` is used up after that many calls; otherwise() rules come
    last. A command no rule answers fails the test.
    """

    def __init__(self):
        self.rules = []
        self.fallbacks = []
        self.calls = []

    def on(self, words, answer, times=None):
        if isinstance(words, str):
            words = words.split()
        self.rules.append([list(words), answer, times])
        return self

    def otherwise(self, words, answer):
        """An answer tried only when no rule given with on() matches."""
        self.fallbacks.append([words.split() if isinstance(words, str) else list(words), answer, None])
        return self

    def __call__(self, argv, data=None, cwd=None, environ_update=None):
        self.calls.append(dict(argv=list(argv), data=data, cwd=cwd, env=environ_update))
        for rule in self.rules + self.fallbacks:
            words, answer, times = rule
            if times == 0 or not all(any(w == a or w == os.path.basename(a) for a in argv) for w in words):
                continue
            if times is not None:
                rule[2] -= 1
            if callable(answer):
                return answer(argv)
            if isinstance(answer, str):
                return fixture(answer)
            return answer
        raise AssertionError('unexpected command %r' % (argv,))

    def commands(self):
        return [' '.join(os.path.basename(c['argv'][0]) if i == 0 else a for i, a in enumerate(c['argv']))
                for c in self.calls]


def make_backend(name, commands, options=None, retries=2, user='alice', warnings=None):
    runner = Runner(commands, retries=retries, delay=0.01, sleep=lambda s: None)
    cls = get_backend(name)
    return cls(runner, lambda cmd: '/usr/bin/' + cmd, warn=(warnings.append if warnings is not None else None),
               user=user, options=options or {})
