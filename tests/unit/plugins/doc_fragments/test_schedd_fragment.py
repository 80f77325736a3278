# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import yaml

from ansible_collections.hepcloud.lumberjack.plugins.doc_fragments._schedd import ModuleDocFragment
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._schedd import COMMON_ARGUMENT_SPEC


def test_connection_fragment_is_the_documentation_without_the_export_notes():
    full = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)
    connection = yaml.safe_load(ModuleDocFragment.CONNECTION)
    assert full['options'] == connection['options']
    assert full['requirements'] == connection['requirements']
    assert 'notes' not in connection and full['notes']


def test_every_common_option_is_documented_with_its_type():
    options = yaml.safe_load(ModuleDocFragment.CONNECTION)['options']
    assert sorted(options) == sorted(COMMON_ARGUMENT_SPEC)
    for name, spec in COMMON_ARGUMENT_SPEC.items():
        assert options[name]['type'] == spec['type'], name
        assert options[name].get('default') == spec.get('default'), name
