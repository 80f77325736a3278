# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The block scan (one match per run of an ad's records) gives exactly what the line-by-line scan gives:
state, output, changes, examples, warnings and errors; for the scanner and for the rewriter."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_log import QueueLogError
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_manifest import SCAN_NAMES
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_rewrite import QueueRewriter, RewriteSpec
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_scan import QueueScanner
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._sandbox import PathMap
from ansible_collections.hepcloud.lumberjack.tests.unit.plugins.module_utils.queue_log_strategies import (
    ASKED_NAMES,
    make_edit,
    queue_logs,
)

PROPERTY = settings(max_examples=80, deadline=None)
CHUNKS = st.one_of(st.none(), st.integers(1, 400))


def outcome(path, names, chunk_size, edit, line_by_line, **kwargs):
    """Everything a scan tells, or the error it raises."""
    if chunk_size:
        kwargs['chunk_size'] = chunk_size
    scanner = QueueScanner(path, names, line_by_line=line_by_line, **kwargs)
    out = io.BytesIO()
    try:
        state = scanner.run(edit=edit, out=out)
    except QueueLogError as e:
        return 'error', str(e)
    return (state.ads, state.changes, state.examples, state.warnings, state.truncated, state.transactions,
            state.bytes_in, state.bytes_out, out.getvalue())


def assert_same(path, names=ASKED_NAMES, chunk_size=None, edit=None, **kwargs):
    blocks = outcome(path, names, chunk_size, edit, False, **kwargs)
    lines = outcome(path, names, chunk_size, edit, True, **kwargs)
    assert blocks == lines
    return blocks


@pytest.mark.parametrize('chunk_size', [1, 7, 64, 4096, None])
@pytest.mark.parametrize('names', [ASKED_NAMES, SCAN_NAMES, ('iwd', 'OWNER'), ('Owner',)])
def test_samples_scan_the_same(any_sample, chunk_size, names):
    _name, path = any_sample
    state = assert_same(path, names, chunk_size)
    assert state[0]         # the samples have ads
    assert_same(path, names, chunk_size, make_edit(3))
    assert_same(path, names, chunk_size, make_edit(5, {0, 2}), edit_slots={0, 2})


@PROPERTY
@given(queue_logs(), st.integers(0, 2 ** 31), CHUNKS)
def test_random_logs_scan_the_same(scratch_log, log, seed, chunk_size):
    path = scratch_log.write(log.data)
    assert_same(path, ASKED_NAMES, chunk_size)
    assert_same(path, ASKED_NAMES, chunk_size, make_edit(seed))
    slots = {seed % len(ASKED_NAMES)}
    assert_same(path, ASKED_NAMES, chunk_size, make_edit(seed, slots), edit_slots=slots)


BAD = ['103 1.0 Iwd', '103 x.0 Iwd "/a"', '101 1.0 Job', '104 1.0', '106x', '105', '1O3 1.0 A 1',
       '103 1.0 Iwd \x00"/a"', '103 9.9 Iwd "/nowhere"', '106 ', '105 ', '107 1 CreationTimestamp 5', '',
       '103 1.0  Iwd "/a"', '102 1.0 x', '103 1.0 IWD "/b"', '103 1.0 Iwd "/c"']


@PROPERTY
@given(queue_logs(max_ops=15, tails=False),
       st.lists(st.tuples(st.integers(0, 10 ** 6), st.sampled_from(BAD)), min_size=1, max_size=3), CHUNKS)
def test_damaged_logs_fail_or_scan_the_same(scratch_log, log, damage, chunk_size):
    lines = list(log.lines)
    for where, bad in damage:
        lines.insert(where % (len(lines) + 1), bad)
    path = scratch_log.write(('\n'.join(lines) + '\n').encode('utf-8'))
    assert_same(path, ASKED_NAMES, chunk_size)
    assert_same(path, ASKED_NAMES, chunk_size, make_edit(len(lines)))


def test_second_record_of_an_edited_name_is_edited_too(write_log):
    path = write_log(['101 0.0 Job Machine', '101 1.0 Job Machine', '103 1.0 Iwd "/a"', '103 1.0 X 1',
                      '103 1.0 Iwd "/b"', '103 1.0 iwd "/c"', '103 1.0 Iwd "/d"'])

    def edit(key, slot, value):
        return value[:-1] + b'!"'
    _ads, changes, examples, _w, _t, _n, _i, _o, data = assert_same(path, ['Iwd'], None, edit)
    assert data.count(b'!"') == 4 and changes == {'Iwd': 4} and len(examples) == 4


# -- the rewriter ----------------------------------------------------------------------------------------

def rewrite_outcome(path, spec, chunk_size, line_by_line):
    rewriter = QueueRewriter(path, spec, chunk_size=chunk_size)
    rewriter.scanner.line_by_line = line_by_line
    out = io.BytesIO()
    try:
        state, appended, manifest, problems = rewriter.run(out)
    except QueueLogError as e:
        return 'error', str(e)
    return (state.ads, state.changes, state.examples, state.warnings, appended, manifest, problems.items,
            problems.count, out.getvalue())


def assert_same_rewrite(path, spec_maker, chunk_size=None):
    fast = rewrite_outcome(path, spec_maker(), chunk_size, False)
    assert fast == rewrite_outcome(path, spec_maker(), chunk_size, True)
    return fast


MAPS = [
    [{'from': '/home/u', 'to': '/sb/u'}],
    [{'from': '/home', 'to': '/sb/home'}, {'from': '/home/u/w', 'to': '/sb/w'}],
    [{'from': '/home/u', 'to': '/home/u/sb'}],          # the target inside the source
    [{'from': '/home/u', 'to': '/sb/"q'}],              # a target that needs quoting
]

_PARTS = st.sampled_from(['home', 'u', 'w', 'sb', 'a b', 'x.txt', '..', '.', '', '.h', 'q"', 'b\\'])
_PATHS = st.lists(_PARTS, min_size=0, max_size=4).map(lambda parts: '/' + '/'.join(parts))
_HOME_PATHS = _PATHS.map(lambda p: '/home/u' + p.rstrip('/'))
_VALUES = st.one_of(
    st.one_of(_PATHS, _HOME_PATHS).map(lambda p: '"%s"' % p),
    st.lists(st.one_of(_HOME_PATHS, st.just('rel.txt')), min_size=1, max_size=3).map(
        lambda ps: '"%s"' % ', '.join(ps)),
    st.sampled_from(['undefined', '"/home/u" + "x"', '42', '"/home/u/x\\"', '"a = /home/u/o; b = c"']),
)
_NAMES = ('Iwd', 'iwd', 'Cmd', 'In', 'Out', 'Err', 'UserLog', 'TransferInput', 'TransferOutputRemaps', 'Args',
          'SUBMIT_Iwd', 'Prio', 'Owner')


@pytest.mark.parametrize('chunk_size', [1, 64, None])
@pytest.mark.parametrize('mapping', MAPS)
def test_samples_rewrite_the_same(any_sample, chunk_size, mapping):
    _name, path = any_sample
    mapping = mapping + [{'from': '/home/lumber', 'to': '/sb/lumber'}, {'from': '/tmp', 'to': '/sb/tmp'}]
    for kwargs in ({}, {'set_attributes': {'Prio': '3', 'Cmd': '"/home/u/x"'}, 'delete_attributes': ['Out']},
                   {'original_iwds': {'7.1': '/home/lumber/work', '1.0': '/home/u/w'}}):
        assert_same_rewrite(path, lambda: RewriteSpec(PathMap(mapping, sandbox='/sb' if mapping[0]['to'].startswith(
            '/sb') else None), **kwargs), chunk_size)


@PROPERTY
@given(queue_logs(max_ops=25, names=_NAMES, value_strategy=_VALUES), st.sampled_from(MAPS), CHUNKS,
       st.booleans())
def test_random_logs_rewrite_the_same(scratch_log, log, mapping, chunk_size, set_some):
    path = scratch_log.write(log.data)
    kwargs = {'set_attributes': {'Prio': '1', 'Out': '"/home/u/o"'}, 'delete_attributes': ['Owner'],
              'cluster_ids': [1]} if set_some else {'original_iwds': {'1.0': '/home/u/w', '2.1': '/x'}}
    assert_same_rewrite(path, lambda: RewriteSpec(PathMap(mapping), **kwargs), chunk_size)


def test_clean_paths_are_mapped_without_the_callback(write_log):
    path = write_log(['101 0.0 Job Machine', '101 1.0 Job Machine', '103 1.0 Iwd "/home/u/w"',
                      '103 1.0 Out "/home/u/w/o.txt"', '103 1.0 Err "/home/u/w/./e"', '103 1.0 In "/dev/null"',
                      '103 1.0 Cmd "/home/u/sb/x"'])
    rewriter = QueueRewriter(path, RewriteSpec(PathMap([{'from': '/home/u', 'to': '/home/u/sb'}])))
    calls = []
    edit = rewriter.edit

    def counting(key, slot, value):
        calls.append(value)
        return edit(key, slot, value)
    rewriter.edit = counting
    out = io.BytesIO()
    state, _appended, _manifest, _problems = rewriter.run(out)
    assert sorted(calls) == [b'"/dev/null"', b'"/home/u/sb/x"', b'"/home/u/w/./e"']
    assert state.changes == {'Iwd': 1, 'Out': 1, 'Err': 1}
    assert b'103 1.0 Out "/home/u/sb/w/o.txt"\n' in out.getvalue()
    assert b'103 1.0 Err "/home/u/sb/w/e"\n' in out.getvalue()
    assert b'103 1.0 Cmd "/home/u/sb/x"\n' in out.getvalue()


_ODD_ENTRIES = st.sampled_from(['', ' ', 'rel', ' /home/u/x ', '\t/home/u\t', '/home/u/a b', 'http://h/home/u'])
_LIST_TEXT = st.lists(st.one_of(_PATHS, _HOME_PATHS, _ODD_ENTRIES), min_size=1, max_size=5).map(','.join)


@PROPERTY
@given(_LIST_TEXT, st.sampled_from(MAPS))
def test_list_entries_are_mapped_as_the_entry_regex_says(text, mapping):
    from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_rewrite import _ENTRY_RE
    rewriter = QueueRewriter('unused', RewriteSpec(PathMap(mapping)))
    inner = text.encode('utf-8')
    assert rewriter._map_list(inner) == _ENTRY_RE.sub(rewriter._sub_entry, inner)


@pytest.mark.parametrize('enabled', [True, False])
def test_scan_leaves_the_garbage_collector_as_it_was(sample, enabled):
    import gc
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        seen = []
        QueueScanner(sample('export_two_clusters'), ['Iwd']).run(
            edit=lambda key, slot, value: seen.append(gc.isenabled()))
        assert seen and not any(seen)
        assert gc.isenabled() == enabled
        with pytest.raises(QueueLogError):
            QueueScanner(sample('export_two_clusters') + '.missing', ['Iwd']).run()
        assert gc.isenabled() == enabled
    finally:
        (gc.enable if was else gc.disable)()
