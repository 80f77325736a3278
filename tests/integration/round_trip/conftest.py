# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The round-trip suite's world (see tests/support/round_trip_world.py): skipped, saying why, where it cannot be built."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hepcloud.lumberjack.tests.support.round_trip_world import missing, round_trip_world


@pytest.fixture(scope='module')
def world():
    reason = missing()
    if reason:
        pytest.skip(reason)
    with round_trip_world() as w:
        yield w
