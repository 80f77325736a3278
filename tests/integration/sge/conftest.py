# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the suite that runs batch_job through ansible-playbook against a real Grid Engine cell."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import sys
import tempfile

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'support'))

from playbook import Playbook  # noqa: E402  pylint: disable=wrong-import-position,import-error
from sge_cluster import SGECluster, missing_requirements  # noqa: E402  pylint: disable=wrong-import-position,import-error


@pytest.fixture(scope='session')
def sge(request):
    why = missing_requirements()
    if why:
        pytest.skip(why)
    cell = SGECluster()
    request.addfinalizer(cell.stop)
    cell.start()
    return cell


@pytest.fixture(scope='session')
def sge_workdir(request):
    d = tempfile.mkdtemp(prefix='lj-sge-it-')
    os.chmod(d, 0o755)
    request.addfinalizer(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


@pytest.fixture
def sge_play(sge, sge_workdir):
    env = sge.env(base={})
    return Playbook(sge_workdir, dict((k, v) for k, v in env.items() if k.startswith('SGE_') or k == 'PATH'),
                    log=sge.log)
