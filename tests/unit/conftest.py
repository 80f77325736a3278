# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared fixtures of the unit tests: the real job_queue.log samples in tests/data and log files to write."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

DATA_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'data'))
SAMPLE_NAMES = ('spooled_submit', 'export_two_clusters', 'hpc_after_run')


def sample_path(name):
    path = os.path.join(DATA_DIR, name + '.job_queue.log')
    if not os.path.isfile(path):
        raise LookupError('no sample %s in %s' % (name, DATA_DIR))
    return path


@pytest.fixture
def sample():
    """sample('export_two_clusters') -> path of tests/data/export_two_clusters.job_queue.log (read only)."""
    return sample_path


@pytest.fixture(params=SAMPLE_NAMES)
def any_sample(request):
    """Each real sample in turn: (name, path)."""
    return request.param, sample_path(request.param)


@pytest.fixture
def write_log(tmp_path):
    """write_log(lines_or_bytes, newline=True, name='job_queue.log') -> path of a new log file.

    A list of str lines is joined with newlines (and ends with one unless newline=False); bytes or str are
    written as they are (str as UTF-8)."""
    counter = [0]

    def write(content, newline=True, name=None):
        counter[0] += 1
        path = tmp_path / (name or 'job_queue-%d.log' % counter[0])
        if isinstance(content, (list, tuple)):
            content = '\n'.join(content) + ('\n' if newline and content else '')
        if not isinstance(content, bytes):
            content = content.encode('utf-8', 'surrogateescape')
        path.write_bytes(content)
        return str(path)

    return write


class ScratchLog(object):
    """Files that each hypothesis example overwrites: write(data, name='log') -> path."""

    def __init__(self, directory):
        self.directory = directory

    def path(self, name='log'):
        return str(self.directory / (name + '.job_queue.log'))

    def write(self, data, name='log'):
        if not isinstance(data, bytes):
            data = data.encode('utf-8', 'surrogateescape')
        path = self.path(name)
        with open(path, 'wb') as f:
            f.write(data)
        return path


@pytest.fixture(scope='session')
def scratch_log(tmp_path_factory):
    """A ScratchLog for property tests (session scoped: hypothesis runs many examples per test call)."""
    return ScratchLog(tmp_path_factory.mktemp('scratch'))
