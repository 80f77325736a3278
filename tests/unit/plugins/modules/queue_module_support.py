# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the queue_info and queue_rewrite module tests share: running a module, and looking at files."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from unittest import mock

from ansible_collections.hepcloud.lumberjack.tests.unit.utils.module_runner import run_module

# AnsibleModule.warn() records warnings in a process-wide dict that only a new process empties; modules run
# in-process here, so each run starts from an empty one (and the dict is restored after it).
_WARNINGS = 'ansible.module_utils.common.warnings._global_warnings'


def run_alone(main, args, **kwargs):
    """run_module() with only this run's warnings in the result."""
    with mock.patch.dict(_WARNINGS, clear=True):
        return run_module(main, args, **kwargs)


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def snapshot(directory):
    """{relative path: (content, mtime_ns, mode)} of every file under a directory, and every directory as
    (None, None, mode): a run that must leave the directory alone leaves this equal."""
    result = {}
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, directory)
            if name in files:
                result[rel] = (read(path), st.st_mtime_ns, st.st_mode)
            else:
                result[rel] = (None, None, st.st_mode)
    return result
