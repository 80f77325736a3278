# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils import _submit_description as sd

TEXT = '''\
# comment = not a command
Executable   = run.sh

arguments = a \\
   b \\
   c
+ProjectName = "p"
MY.Other = 2
request_memory = 1 GB
if defined FOO
  request_cpus = 2
endif
queue a, b from (
  1, 2
  3, 4
)
request_disk = 10
'''


def test_lines_of_commands_continuations_and_queue_blocks():
    d = sd.Description(TEXT, 'job.sub')
    assert d.line_of('executable') == 2
    assert d.line_of('EXECUTABLE') == 2
    assert d.find('arguments').first == 4 and d.find('arguments').last == 6
    assert d.find('arguments').value == 'a b c'
    assert d.line_of('+ProjectName') == 7 and d.line_of('my.projectname') == 7
    assert d.line_of('+Other') == 8
    assert d.line_of('request_cpus') == 11
    queue = d.queue_statements()
    assert [(q.first, q.last) for q in queue] == [(13, 16)]
    assert d.line_of('request_disk') == 17
    assert d.line_of('comment') is None
    assert d.line_of_physical(15).first == 13
    assert [s.kind for s in d.statements if s.kind == 'keyword'] == ['keyword', 'keyword']


def test_last_assignment_wins():
    d = sd.Description('request_cpus = 1\nrequest_cpus = 4\nqueue\n')
    assert d.line_of('request_cpus') == 2 and d.find('request_cpus').value == '4'


def test_prefixes_end_on_logical_lines():
    d = sd.Description('a = 1 \\\n  2\nb = 3\n')
    assert list(d.prefixes()) == [(1, 'a = 1 \\\n  2\n'), (3, 'a = 1 \\\n  2\nb = 3\n')]


@pytest.mark.parametrize('value, command, expected', [
    ('2048', 'request_memory', 2048 * 1024 ** 2),
    ('2 GB', 'request_memory', 2 * 1024 ** 3),
    ('2g', 'request_memory', 2 * 1024 ** 3),
    ('1.5G', 'request_memory', 1.5 * 1024 ** 3),
    ('512M', 'request_memory', 512 * 1024 ** 2),
    ('1024', 'request_disk', 1024 * 1024),
    ('1 TB', 'request_disk', 1024 ** 4),
    ('4', 'request_cpus', 4),
    (8, 'request_cpus', 8),
    ('4G', 'request_cpus', None),
    ('MAX({1, 2})', 'request_memory', None),
    ('$(mem)', 'request_memory', None),
])
def test_quantities_in_htcondor_units(value, command, expected):
    assert sd.quantity(value, command) == expected


def test_policy_is_read():
    p = sd.Policy({'required': ['request_cpus'], 'forbidden': ['getenv'],
                   'defaults': {'+ProjectName': '"x"', 'request_disk': '1GB', 'want_io_proxy': True},
                   'append_requirements': 'HasX', 'limits': {'request_memory': '4G', 'request_cpus': 8}}, 'p.yml')
    assert p.required == ['request_cpus'] and p.forbidden == ['getenv']
    assert p.defaults == [('+ProjectName', '"x"'), ('request_disk', '1GB'), ('want_io_proxy', 'true')]
    assert p.append_requirements == ['HasX']
    assert p.limits['request_memory'] == ('4G', 4 * 1024 ** 3) and p.limits['request_cpus'] == ('8', 8)
    assert p.default_for('MY.ProjectName') == '"x"'


@pytest.mark.parametrize('data, words', [
    ({'requird': ['x']}, ['p.yml', 'unknown key requird']),
    (['required'], ['p.yml', 'top level must be a mapping']),
    ({'required': 'request_cpus'}, ['p.yml', 'required must be a list']),
    ({'forbidden': [1]}, ['p.yml', 'forbidden must be a list']),
    ({'required': ['getenv'], 'forbidden': ['GetEnv']}, ['getenv is both required and forbidden']),
    ({'defaults': ['a']}, ['defaults must be a mapping']),
    ({'defaults': {'bad name': 1}}, ['defaults.bad name is not a submit command name']),
    ({'defaults': {'x': [1]}}, ['defaults.x must be a single value']),
    ({'defaults': {'Requirements': 'x'}}, ['defaults.Requirements', 'append_requirements']),
    ({'append_requirements': {'a': 1}}, ['append_requirements must be']),
    ({'limits': {'request_memory': 'lots'}}, ['limits.request_memory', 'not a number', 'units']),
    ({'limits': ['request_cpus']}, ['limits must be a mapping']),
])
def test_policy_errors_name_file_and_key(data, words):
    with pytest.raises(sd.PolicyError) as e:
        sd.Policy(data, 'p.yml')
    for w in words:
        assert w in str(e.value)


def test_requirements_are_combined_once():
    text, added = sd.combine_requirements('(OpSys == "LINUX") && (Arch == "X86_64")', ['HasX', 'Arch == "X86_64"'])
    assert text == '((OpSys == "LINUX") && (Arch == "X86_64")) && (HasX)' and added == ['HasX']
    again, added = sd.combine_requirements(text, ['HasX'])
    assert again == text and added == []
    text, added = sd.combine_requirements(None, ['HasX', 'HasY'])
    assert text == '(HasX) && (HasY)'
    assert sd.requirement_terms('(a && "x && y") && (b)') == ['a && "x && y"', 'b']


def test_augment_edits_and_inserts_before_queue():
    d = sd.Description(TEXT)
    out = sd.augment(d, {d.find('arguments'): 'arguments = x', d.find('executable'): 'executable = /abs/run.sh'},
                     ['request_cpus = 1'])
    lines = out.splitlines()
    assert lines[1] == 'executable = /abs/run.sh'
    assert lines[3] == 'arguments = x' and lines[4] == '+ProjectName = "p"'
    assert lines[lines.index(sd.MARKER) + 1] == 'request_cpus = 1'
    assert lines.index(sd.MARKER) < lines.index('queue a, b from (')
    assert out.endswith('request_disk = 10\n')
    # without a queue statement the additions go at the end
    d = sd.Description('executable = x')
    assert sd.augment(d, {}, ['a = 1']) == 'executable = x\n%s\na = 1\n' % sd.MARKER
    assert sd.augment(d, {}, []) == 'executable = x'
