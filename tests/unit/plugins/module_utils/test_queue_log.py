# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The job_queue.log grammar, streaming reader, replay and ClassAd literals (_queue_log)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.hepcloud.lumberjack.plugins.module_utils import _queue_log as ql
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_log import (
    OP_BEGIN,
    OP_DELETE,
    OP_DESTROY_AD,
    OP_END,
    OP_NEW_AD,
    OP_SEQUENCE,
    OP_SET,
    QueueLogError,
    QueueState,
    Record,
)
from ansible_collections.hepcloud.lumberjack.tests.unit.plugins.module_utils.queue_log_strategies import (
    ads,
    queue_logs,
    string_values,
    values,
)

PROPERTY = settings(max_examples=60, deadline=None)

HEADER = ['107 1 CreationTimestamp 1795303302', '101 0.0 Job Machine']


# -- grammar ---------------------------------------------------------------------------------------------

CANONICAL = [
    ('107 1 CreationTimestamp 1763853165', Record(OP_SEQUENCE, '1', 'CreationTimestamp', '1763853165')),
    ('101 0.0 Job Machine', Record(OP_NEW_AD, '0.0', 'Job', 'Machine')),
    ('101 0.2 Owner (empty)', Record(OP_NEW_AD, '0.2', 'Owner', '(empty)')),
    ('101 1.-2 ClusterPvt (empty)', Record(OP_NEW_AD, '1.-2', 'ClusterPvt', '(empty)')),
    ('101 06.-1 Job Machine', Record(OP_NEW_AD, '06.-1', 'Job', 'Machine')),
    ('101 3.-100 JobSet (empty)', Record(OP_NEW_AD, '3.-100', 'JobSet', '(empty)')),
    ('102 1.0', Record(OP_DESTROY_AD, '1.0', None, None)),
    ('103 1.0 Iwd "/home/lumber/work"', Record(OP_SET, '1.0', 'Iwd', '"/home/lumber/work"')),
    ('103 06.-1 Environment ""', Record(OP_SET, '06.-1', 'Environment', '""')),
    ('103 06.-1 Requirements ((TARGET.LumberPool =?= "B")) && (TARGET.Arch == "X86_64")',
     Record(OP_SET, '06.-1', 'Requirements', '((TARGET.LumberPool =?= "B")) && (TARGET.Arch == "X86_64")')),
    ('103 6.0 TransferInputFileCounts [ CEDAR = 2 ]',
     Record(OP_SET, '6.0', 'TransferInputFileCounts', '[ CEDAR = 2 ]')),
    ('103 1.0 TransferOutputRemaps Undefined', Record(OP_SET, '1.0', 'TransferOutputRemaps', 'Undefined')),
    ('103 1.0 Args "a  b "', Record(OP_SET, '1.0', 'Args', '"a  b "')),
    ('103 1.0 Name \u00e9t\u00e9 \u20ac', Record(OP_SET, '1.0', 'Name', '\u00e9t\u00e9 \u20ac')),
    ('104 1.0 HoldReason', Record(OP_DELETE, '1.0', 'HoldReason', None)),
    ('105 ', Record(OP_BEGIN, None, None, None)),
    ('106 ', Record(OP_END, None, None, None)),
    ('106 #a comment', Record(OP_END, None, None, 'a comment')),
    ('106 #', Record(OP_END, None, None, '')),
]


@pytest.mark.parametrize('line, record', CANONICAL, ids=[c[0][:40] for c in CANONICAL])
def test_parse_line_canonical_records(line, record):
    assert ql.parse_line(line) == record
    assert record.format() == line


BAD_LINES = [
    '',
    ' ',
    'garbage',
    '105',                              # BeginTransaction without its trailing space
    '105  ',
    '105 x',
    '106',
    '106x',
    '106 x',
    '106  #x',
    '103 1.0 Foo',                      # no value
    '103 1.0 Foo ',                     # empty value
    '103 1.0  Foo 1',                   # double space: empty name
    '103 1.0\tFoo 1',
    '103 1,0 Foo 1',
    '103 a.b Foo 1',
    '103 -1.0 Foo 1',
    '103 1. Foo 1',
    '103 .0 Foo 1',
    '103 1.0 Foo "a\x00b"',
    ' 103 1.0 Foo 1',
    '103  1.0 Foo 1',
    '101 1.0 Job',
    '101 1.0 Job Machine extra',
    '101 1.0 Job Machine ',
    '101 1.0 Job Machine\r',
    '101 1.0',
    '102',
    '102 ',
    '102 1.0 x',
    '102 1.0 ',
    '104 1.0',
    '104 1.0 ',
    '104 1.0 A B',
    '107 1 CreationTimestamp',
    '107 x CreationTimestamp 1',
    '107 1 CreationTimestamp x',
    '107 1.0 CreationTimestamp 1',
    '108 1.0 Foo 1',
    '100 1.0',
    '1030 1.0 Foo 1',
]


@pytest.mark.parametrize('line', BAD_LINES, ids=[repr(b) for b in BAD_LINES])
def test_parse_line_rejects_what_the_schedd_does_not_write(line):
    assert ql.parse_line(line) is None


def test_parse_line_value_is_everything_after_the_name():
    rec = ql.parse_line('103 1.0 Args  two  spaces ')
    assert rec == Record(OP_SET, '1.0', 'Args', ' two  spaces ')


def test_record_format_writes_empty_types_as_empty_marker():
    assert Record(OP_NEW_AD, '0.2', 'Owner', None).format() == '101 0.2 Owner (empty)'
    assert Record(OP_NEW_AD, '1.-2', '', '').format() == '101 1.-2 (empty) (empty)'


def test_record_format_unknown_op():
    with pytest.raises(ValueError, match='unknown log op'):
        Record(108, '1.0', None, None).format()


def test_record_helpers():
    assert ql.set_attribute('1.0', 'Iwd', '"/x"') == Record(OP_SET, '1.0', 'Iwd', '"/x"')
    assert ql.delete_attribute('1.0', 'Iwd') == Record(OP_DELETE, '1.0', 'Iwd', None)
    assert ql.new_ad('1.0') == Record(OP_NEW_AD, '1.0', 'Job', 'Machine')
    assert ql.new_ad('1.-2', 'ClusterPvt', None).format() == '101 1.-2 ClusterPvt (empty)'


@st.composite
def records(draw):
    key = draw(st.from_regex(ql.KEY_PATTERN, fullmatch=True))
    word = st.from_regex(r'[A-Za-z_][A-Za-z0-9_.$]{0,12}', fullmatch=True)
    op = draw(st.sampled_from([OP_NEW_AD, OP_DESTROY_AD, OP_SET, OP_DELETE, OP_BEGIN, OP_END, OP_SEQUENCE]))
    if op == OP_NEW_AD:
        return Record(op, key, draw(word), draw(word))
    if op == OP_DESTROY_AD:
        return Record(op, key, None, None)
    if op == OP_SET:
        return Record(op, key, draw(word), draw(values))
    if op == OP_DELETE:
        return Record(op, key, draw(word), None)
    if op == OP_BEGIN:
        return Record(op, None, None, None)
    if op == OP_END:
        return Record(op, None, None, draw(st.one_of(st.none(), st.text(
            st.characters(blacklist_categories=('Cs',), blacklist_characters='\n\x00'), max_size=10))))
    return Record(op, str(draw(st.integers(0, 10 ** 9))), draw(word), str(draw(st.integers(0, 2 ** 40))))


@PROPERTY
@given(records())
def test_format_then_parse_is_identity(rec):
    line = rec.format()
    assert '\n' not in line
    assert ql.parse_line(line) == rec


# -- iter_records: streaming, transactions, what a cut-off write leaves ---------------------------------

def test_iter_records_on_spooled_sample_skips_markers_and_keeps_line_numbers(sample):
    path = sample('spooled_submit')
    with open(path) as f:
        lines = f.read().split('\n')[:-1]
    got = list(ql.iter_records(path, with_lineno=True))
    assert [n for n, _r in got] == [n for n, line in enumerate(lines, 1) if line[:4] not in ('105 ', '106 ')]
    for lineno, rec in got:
        assert rec.format() == lines[lineno - 1]
    assert got[0] == (1, Record(OP_SEQUENCE, '1', 'CreationTimestamp', '1763853165'))
    assert got[2] == (4, Record(OP_SET, '0.0', 'UidDomain', '"f4hp7ql65f-2.local"'))
    assert list(ql.iter_records(path)) == [r for _n, r in got]


def test_iter_records_streams_records_before_a_later_error(write_log):
    path = write_log(HEADER + ['103 0.0 NextClusterNum 1', 'garbage'])
    it = ql.iter_records(path)
    assert next(it).op == OP_SEQUENCE
    assert next(it).key == '0.0'
    assert next(it) == Record(OP_SET, '0.0', 'NextClusterNum', '1')
    with pytest.raises(QueueLogError) as e:
        next(it)
    assert e.value.lineno == 4


def test_iter_records_holds_a_transaction_until_it_ends(write_log):
    # a corrupt line inside the transaction is found before any of its records come out
    path = write_log(HEADER + ['105 ', '101 1.0 Job Machine', '103 1.0 Iwd "/x"', 'garbage', '106 '])
    seen = []
    with pytest.raises(QueueLogError) as e:
        for rec in ql.iter_records(path):
            seen.append(rec)
    assert e.value.lineno == 6
    assert [r.key for r in seen] == ['1', '0.0']


def test_iter_records_yields_a_transaction_in_order_at_its_end(write_log):
    path = write_log(HEADER + ['105 ', '101 1.0 Job Machine', '103 1.0 Iwd "/x"', '106 #commit',
                               '103 1.0 Cmd "/bin/true"'])
    got = list(ql.iter_records(path, with_lineno=True))
    assert [(n, r.op) for n, r in got] == [(1, OP_SEQUENCE), (2, OP_NEW_AD), (4, OP_NEW_AD), (5, OP_SET),
                                           (7, OP_SET)]


def test_iter_records_drops_a_trailing_unterminated_transaction(write_log):
    path = write_log(HEADER + ['101 1.0 Job Machine', '105 ', '103 1.0 Iwd "/x"', '102 1.0'])
    warnings = []
    got = list(ql.iter_records(path, warnings=warnings))
    assert [r.op for r in got] == [OP_SEQUENCE, OP_NEW_AD, OP_NEW_AD]
    assert len(warnings) == 1
    assert path in warnings[0]
    assert 'line 4' in warnings[0]
    assert '2 records' in warnings[0]
    assert 'never ended' in warnings[0]


def test_iter_records_drops_a_trailing_line_without_newline(write_log):
    path = write_log(HEADER + ['101 1.0 Job Machine', '103 1.0 Iwd "/cut'], newline=False)
    warnings = []
    got = list(ql.iter_records(path, warnings=warnings))
    assert [r.op for r in got] == [OP_SEQUENCE, OP_NEW_AD, OP_NEW_AD]
    assert len(warnings) == 1
    assert 'line 4' in warnings[0] and '/cut' in warnings[0] and 'newline' in warnings[0]


def test_iter_records_a_cut_off_corrupt_last_line_is_dropped_not_an_error(write_log):
    path = write_log(HEADER + ['10'], newline=False)
    warnings = []
    assert len(list(ql.iter_records(path, warnings=warnings))) == 2
    assert len(warnings) == 1


def test_iter_records_cut_off_line_inside_open_transaction_gives_both_warnings(write_log):
    path = write_log(HEADER + ['105 ', '101 1.0 Job Machine', '103 1.0 Iw'], newline=False)
    warnings = []
    assert [r.op for r in ql.iter_records(path, warnings=warnings)] == [OP_SEQUENCE, OP_NEW_AD]
    assert len(warnings) == 2
    assert 'newline' in warnings[0] and 'never ended' in warnings[1]
    assert '1 records' in warnings[1]


def test_iter_records_without_warnings_list_still_drops(write_log):
    path = write_log(HEADER + ['105 ', '101 1.0 Job Machine', '103 1.0 Iw'], newline=False)
    assert len(list(ql.iter_records(path))) == 2


def test_iter_records_empty_file(write_log):
    path = write_log(b'')
    warnings = []
    assert list(ql.iter_records(path, warnings=warnings)) == []
    assert warnings == []


@pytest.mark.parametrize('bad', ['garbage', '103 1.0 Iwd', '105', '106 x', '101 1.0 Job', '103 1.0 A "\x00"', ''])
def test_corrupt_record_names_file_line_and_record(write_log, bad):
    path = write_log(HEADER + ['101 1.0 Job Machine', bad, '103 1.0 Iwd "/x"'])
    with pytest.raises(QueueLogError) as e:
        list(ql.iter_records(path))
    err = e.value
    assert err.path == path
    assert err.lineno == 4
    assert err.line == bad
    assert err.problem == 'corrupt record'
    text = str(err)
    assert text.startswith('%s line 4: corrupt record: %r' % (path, bad))
    assert err.hint and err.hint in text


def test_corrupt_record_message_cuts_long_lines(write_log):
    bad = 'x' * 500
    path = write_log(HEADER + [bad])
    with pytest.raises(QueueLogError) as e:
        list(ql.iter_records(path))
    assert e.value.line == bad
    assert repr('x' * 200 + '...') in str(e.value)
    assert 'x' * 201 not in str(e.value)


def test_nested_transaction_is_an_error(write_log):
    path = write_log(HEADER + ['105 ', '101 1.0 Job Machine', '105 ', '106 ', '106 '])
    with pytest.raises(QueueLogError) as e:
        list(ql.iter_records(path))
    assert e.value.lineno == 5
    assert 'begun on line 3' in str(e.value)


def test_transaction_end_without_begin_is_an_error(write_log):
    path = write_log(HEADER + ['105 ', '106 ', '106 #again'])
    with pytest.raises(QueueLogError) as e:
        list(ql.iter_records(path))
    assert e.value.lineno == 5
    assert e.value.line == '106 #again'
    assert 'never begun' in str(e.value)


@pytest.mark.parametrize('lines, lineno', [
    (['101 0.0 Job Machine', '107 1 CreationTimestamp 5'], 2),
    (HEADER + ['107 2 CreationTimestamp 5'], 3),
    (['101 0.0 Job Machine', '105 ', '107 1 CreationTimestamp 5', '106 '], 3),
])
def test_sequence_record_must_be_first(write_log, lines, lineno):
    path = write_log(lines)
    with pytest.raises(QueueLogError) as e:
        list(ql.iter_records(path))
    assert e.value.lineno == lineno
    assert 'first record' in str(e.value)


def test_missing_file_is_a_queue_log_error(tmp_path):
    path = str(tmp_path / 'nope.log')
    with pytest.raises(QueueLogError) as e:
        list(ql.iter_records(path))
    assert 'cannot open' in str(e.value)
    assert e.value.lineno is None


def test_queue_log_error_message_shapes():
    assert str(QueueLogError('/q', 'bad', hint=None)) == '/q: bad'
    assert str(QueueLogError('/q', 'bad', 3, 'x y', hint='Fix it.')) == "/q line 3: bad: 'x y'. Fix it."
    assert str(QueueLogError('/q', 'bad', 3, hint='')) == '/q line 3: bad'


def test_invalid_utf8_round_trips_through_surrogateescape(write_log):
    raw = b'101 0.0 Job Machine\n101 1.0 Job Machine\n103 1.0 Args "\xff\xfe caf\xc3\xa9"\n'
    path = write_log(raw)
    state = ql.replay(path)
    value = state.get('1.0', 'Args')
    assert value.encode('utf-8', 'surrogateescape') == b'"\xff\xfe caf\xc3\xa9"'
    buf = io.StringIO()
    ql.write_records(buf, ql.iter_records(path))
    assert buf.getvalue().encode('utf-8', 'surrogateescape') == raw


# -- iter_lines ------------------------------------------------------------------------------------------

def test_iter_lines_yields_every_line_with_markers(sample):
    path = sample('spooled_submit')
    with open(path) as f:
        lines = f.read().split('\n')[:-1]
    got = list(ql.iter_lines(path))
    assert [(n, line) for n, line, _r in got] == list(enumerate(lines, 1))
    assert [r.op for _n, _l, r in got].count(OP_BEGIN) == 3
    assert [r.op for _n, _l, r in got].count(OP_END) == 3
    assert all(r == ql.parse_line(line) for _n, line, r in got)


def test_iter_lines_keeps_open_transaction_drops_partial_line(write_log):
    path = write_log(HEADER + ['105 ', '101 1.0 Job Machine', '103 1.0 I'], newline=False)
    warnings = []
    got = list(ql.iter_lines(path, warnings=warnings))
    assert [line for _n, line, _r in got] == HEADER + ['105 ', '101 1.0 Job Machine']
    assert len(warnings) == 1 and 'line 5' in warnings[0]


def test_iter_lines_corrupt_line(write_log):
    path = write_log(HEADER + ['bad'])
    with pytest.raises(QueueLogError) as e:
        list(ql.iter_lines(path))
    assert e.value.lineno == 3


# -- replay and QueueState -------------------------------------------------------------------------------

def test_later_set_wins_and_spelling_of_last_write_is_kept(write_log):
    path = write_log(HEADER + ['101 1.0 Job Machine', '103 1.0 Foo 1', '103 1.0 Bar 2', '103 1.0 FOO 3'])
    state = ql.replay(path)
    assert dict(state.ads['1.0']) == {'Bar': '2', 'FOO': '3'}
    assert state.get('1.0', 'foo') == '3'
    assert state.get('1.0', 'Foo') == '3'
    assert state.get('1.0', 'nope', 'dflt') == 'dflt'
    assert state.get('9.9', 'Foo', 'dflt') == 'dflt'


def test_delete_is_case_insensitive_and_ignores_missing(write_log):
    path = write_log(HEADER + ['101 1.0 Job Machine', '103 1.0 Foo 1', '103 1.0 Bar 2', '104 1.0 FOO',
                               '104 1.0 Nothing', '104 7.7 Foo'])
    state = ql.replay(path)
    assert dict(state.ads['1.0']) == {'Bar': '2'}
    assert '7.7' not in state.ads


def test_destroy_removes_the_ad_and_a_new_one_starts_empty(write_log):
    path = write_log(HEADER + ['101 1.0 Job Machine', '103 1.0 Foo 1', '102 1.0', '102 1.0',
                               '101 1.0 Other (empty)', '103 1.0 Bar 2'])
    state = ql.replay(path)
    assert dict(state.ads['1.0']) == {'Bar': '2'}
    assert state.types['1.0'] == ('Other', '(empty)')


def test_destroy_then_set_is_an_error(write_log):
    path = write_log(HEADER + ['101 1.0 Job Machine', '102 1.0', '103 1.0 Foo 1'])
    with pytest.raises(QueueLogError) as e:
        ql.replay(path)
    assert e.value.lineno == 5
    assert e.value.line == '103 1.0 Foo 1'
    assert '1.0' in e.value.problem


def test_second_new_ad_keeps_the_existing_ad(write_log):
    path = write_log(HEADER + ['101 1.0 Job Machine', '103 1.0 Foo 1', '101 1.0 Other (empty)', '103 1.0 Bar 2'])
    state = ql.replay(path)
    assert dict(state.ads['1.0']) == {'Foo': '1', 'Bar': '2'}
    assert state.types['1.0'] == ('Job', 'Machine')


def test_set_on_never_created_ad_names_line(write_log):
    path = write_log(HEADER + ['105 ', '103 5.0 Foo 1', '106 '])
    with pytest.raises(QueueLogError) as e:
        ql.replay(path)
    assert e.value.lineno == 4
    assert 'never created' in str(e.value)


def test_replay_keeps_log_order_and_sequence(write_log):
    path = write_log(['107 42 CreationTimestamp 1700000000', '101 0.0 Job Machine', '101 02.-1 Job Machine',
                      '101 2.0 Job Machine', '101 01.-1 Job Machine', '101 1.0 Job Machine'])
    state = ql.replay(path)
    assert list(state.ads) == ['0.0', '02.-1', '2.0', '01.-1', '1.0']
    assert state.sequence == ('42', '1700000000')
    assert state.job_keys() == ['2.0', '1.0']
    assert state.warnings == []


def test_replay_drops_trailing_transaction_with_warning(write_log):
    path = write_log(HEADER + ['101 1.0 Job Machine', '105 ', '103 1.0 Foo 1'])
    state = ql.replay(path)
    assert dict(state.ads['1.0']) == {}
    assert len(state.warnings) == 1 and 'never ended' in state.warnings[0]


def test_job_attr_inherits_from_cluster_ad(write_log):
    path = write_log(HEADER + ['101 012.-1 Job Machine', '103 012.-1 Iwd "/c"', '103 012.-1 Cmd "/bin/c"',
                               '101 12.0 Job Machine', '101 12.1 Job Machine', '103 12.1 iwd "/p"',
                               '101 1.0 Job Machine', '101 12.-2 ClusterPvt (empty)', '103 12.-2 Secret 1'])
    state = ql.replay(path)
    assert state.job_attr('12.0', 'Iwd') == '"/c"'
    assert state.job_attr('12.1', 'IWD') == '"/p"'
    assert state.job_attr('12.1', 'Cmd') == '"/bin/c"'
    assert state.job_attr('12.0', 'Secret') is None
    assert state.job_attr('12.0', 'Nope', 'dflt') == 'dflt'
    assert state.job_attr('1.0', 'Iwd') is None        # cluster 1 has no cluster ad
    assert state.job_keys() == ['12.0', '12.1', '1.0']


def test_job_ad_merges_cluster_and_proc_case_insensitively(write_log):
    path = write_log(HEADER + ['101 03.-1 Job Machine', '103 03.-1 iwd "/c"', '103 03.-1 Cmd "/bin/c"',
                               '101 3.4 Job Machine', '103 3.4 Iwd "/p"', '103 3.4 ProcId 4'])
    state = ql.replay(path)
    merged = state.job_ad('3.4')
    assert dict(merged) == {'Cmd': '"/bin/c"', 'Iwd': '"/p"', 'ProcId': '4'}
    assert dict(state.job_ad('3.9')) == {'iwd': '"/c"', 'Cmd': '"/bin/c"'}
    assert dict(state.job_ad('9.0')) == {}
    # the state itself is not changed by merging
    assert dict(state.ads['03.-1']) == {'iwd': '"/c"', 'Cmd': '"/bin/c"'}


def test_apply_outside_a_file():
    state = QueueState()
    state.apply(ql.new_ad('1.0'))
    state.apply(ql.set_attribute('1.0', 'A', '1'))
    state.apply(Record(OP_BEGIN, None, None, None))      # markers change nothing
    state.apply(Record(OP_END, None, None, None))
    assert dict(state.ads) == {'1.0': {'A': '1'}}
    with pytest.raises(QueueLogError) as e:
        state.apply(ql.set_attribute('2.0', 'A', '1'))
    assert str(e.value).startswith('<log>')


def test_replay_spooled_sample(sample):
    state = ql.replay(sample('spooled_submit'))
    assert list(state.ads) == ['0.0', '0.2', '01.-1', '1.-2', '1.0']
    assert state.types['0.2'] == ('Owner', '(empty)')
    assert state.types['1.-2'] == ('ClusterPvt', '(empty)')
    assert state.sequence == ('1', '1763853165')
    assert state.get('0.0', 'NextClusterNum') == '2'
    assert state.get('1.0', 'Iwd') == ('"/var/folders/3r/xl19t4ks0wsd5httjlvvm86r0000gp/T/TestWatchLogWithJobSubmission'
                                       '1354687113/001/spool/1/0/cluster1.proc0.subproc0"')
    assert state.get('1.0', 'SUBMIT_Iwd') == '"/Users/bbockelm/projects/golang-htcondor/classadlog"'
    assert state.get('1.0', 'Cmd') == '"sleep"'
    assert state.job_attr('1.0', 'Owner') == '"bbockelm"'
    assert state.job_keys() == ['1.0']
    assert state.warnings == []


def test_replay_export_sample(sample):
    state = ql.replay(sample('export_two_clusters'))
    assert state.job_keys() == ['6.0', '6.1', '7.0', '7.1', '7.2']
    assert [k for k in state.ads if not ql.is_proc_key(k)] == ['0.0', '06.-1', '07.-1']
    assert state.job_attr('6.1', 'Iwd') == '"/home/lumber/work"'
    assert state.job_attr('6.1', 'Out') == '"out/run.6.1.out"'
    assert state.job_attr('6.0', 'Out') == '"out/run.6.0.out"'
    assert state.job_attr('7.0', 'Iwd') == '"/home/lumber/work/p0"'
    assert state.job_attr('7.2', 'Iwd') == '"/tmp/condor-lj-iwd/7/2/cluster7.proc2.subproc0"'
    assert state.job_attr('7.2', 'LeaveJobInQueue') == 'true'
    assert len(state.ads['06.-1']) == 68     # every 103 line of the cluster ad, each name once


def test_replay_hpc_sample(sample):
    state = ql.replay(sample('hpc_after_run'))
    status = dict((k, state.job_attr(k, 'JobStatus')) for k in state.job_keys())
    assert status == {'6.0': '4', '6.1': '4', '7.0': '4', '7.1': '4', '7.2': '5'}
    assert state.job_attr('6.0', 'ExitCode') == '0'
    assert state.job_attr('7.2', 'ExitCode') is None
    assert ql.unquote(state.job_attr('7.2', 'HoldReason')).startswith('Cannot access initial working directory')
    assert state.sequence == ('2', '1795303302')


def test_write_records_round_trip(sample, tmp_path):
    path = sample('hpc_after_run')
    out = tmp_path / 'copy.log'
    with io.open(str(out), 'w', encoding='utf-8', newline='\n') as f:
        ql.write_records(f, ql.iter_records(path))
    with open(path, 'rb') as f:
        assert out.read_bytes() == f.read()


@PROPERTY
@given(ads(), st.booleans())
def test_random_ads_written_with_format_replay_identically(scratch_log, written, in_transactions):
    lines = []
    for key, ad in written.items():
        body = [ql.new_ad(key).format()] + [ql.set_attribute(key, n, v).format() for n, v in ad.items()]
        lines.extend(['105 '] + body + ['106 '] if in_transactions else body)
    state = ql.replay(scratch_log.write(''.join(line + '\n' for line in lines)))
    assert state.warnings == []
    assert list(state.ads) == list(written)
    assert dict((k, list(v.items())) for k, v in state.ads.items()) == dict(
        (k, list(v.items())) for k, v in written.items())
    for key, ad in written.items():
        for name, value in ad.items():
            assert state.get(key, name.swapcase()) == value


@PROPERTY
@given(queue_logs())
def test_replay_matches_a_simple_model(scratch_log, log):
    """A direct model of the schedd's replay (transactions applied at their end, last set wins)."""
    model = {}
    pending = None
    for line in log.lines:
        rec = ql.parse_line(line)
        assert rec is not None
        if rec.op == OP_BEGIN:
            pending = []
        elif rec.op == OP_END:
            for r in pending:
                _model_apply(model, r)
            pending = None
        elif pending is not None:
            pending.append(rec)
        else:
            _model_apply(model, rec)
    state = ql.replay(scratch_log.write(log.data))
    assert dict((k, dict((n.lower(), v) for n, v in ad.items())) for k, ad in state.ads.items()) == model
    assert len(state.warnings) == bool(log.open_lines) + (log.partial is not None)


def _model_apply(model, rec):
    if rec.op == OP_NEW_AD:
        model.setdefault(rec.key, {})
    elif rec.op == OP_DESTROY_AD:
        model.pop(rec.key, None)
    elif rec.op == OP_SET:
        model[rec.key][rec.name.lower()] = rec.value
    elif rec.op == OP_DELETE and rec.key in model:
        model[rec.key].pop(rec.name.lower(), None)


# -- ClassAd literals -----------------------------------------------------------------------------------

@pytest.mark.parametrize('text, quoted', [
    ('plain', '"plain"'),
    ('', '""'),
    ('a"b', '"a\\"b"'),
    ('"', '"\\""'),
    ('C:\\dir\\x', '"C:\\dir\\x"'),          # backslashes are literal in the old syntax
    ('a\\"b', '"a\\\\"b"'),
    ('tab\there', '"tab\there"'),
    ('\u00e9\u20ac \u4e2d', '"\u00e9\u20ac \u4e2d"'),
    ('/home/lumber/work', '"/home/lumber/work"'),
])
def test_quote_and_unquote(text, quoted):
    assert ql.quote(text) == quoted
    assert ql.unquote(quoted) == text


@pytest.mark.parametrize('text', ['a\nb', 'nul\x00', 'ends\\', '\\', 'x\n'])
def test_quote_refuses_what_a_log_cannot_hold(text):
    with pytest.raises(ValueError):
        ql.quote(text)


@pytest.mark.parametrize('value', ['42', 'undefined', '"a" + "b"', '"unterminated', 'unstarted"', '"', '',
                                   '"a" "b"', 'x', '[ A = "b" ]'])
def test_unquote_refuses_what_is_not_a_plain_string(value):
    assert ql.unquote(value) is None


@PROPERTY
@given(string_values)
def test_quote_round_trip(text):
    quoted = ql.quote(text)
    assert quoted[0] == quoted[-1] == '"'
    assert ql.unquote(quoted) == text
    # only the double quote is escaped: the literal is the text plus one backslash per quote
    assert len(quoted) == len(text) + 2 + text.count('"')


@pytest.mark.parametrize('value, text', [
    (True, 'true'),
    (False, 'false'),
    (0, '0'),
    (-5, '-5'),
    (10 ** 20, '100000000000000000000'),
    (1.0, '1.0'),
    (-0.0, '-0.0'),
    (2.5, '2.5'),
    (0.1, '0.1'),
    (123456789.0, '123456789.0'),
    (1e20, '1E+20'),
    (1.5e-7, '1.5E-07'),
    (1.0 / 3, '0.3333333333333333'),
    (None, 'undefined'),
    ('x', '"x"'),
    ('say "hi"', '"say \\"hi\\""'),
])
def test_literal(value, text):
    assert ql.literal(value) == text


def test_literal_refuses_unwritable_strings():
    with pytest.raises(ValueError):
        ql.literal('a\nb')


@PROPERTY
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_literal_real_reads_back_as_a_real(value):
    text = ql.literal(value)
    assert any(c in text for c in '.E')
    assert float(text) == float('%.16G' % value)


# -- keys -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize('key, cluster, jid, proc', [
    ('12.3', '012.-1', '12.3', True),
    ('012.-1', '012.-1', '12.-1', False),
    ('1.0', '01.-1', '1.0', True),
    ('0.0', '00.-1', '0.0', False),
    ('0.2', '00.-1', '0.2', False),
    ('1.-2', '01.-1', '1.-2', False),
    ('5.-100', '05.-1', '5.-100', False),
    ('10000.9999', '010000.-1', '10000.9999', True),
])
def test_keys(key, cluster, jid, proc):
    assert ql.cluster_key(key) == cluster
    assert ql.job_id(key) == jid
    assert ql.is_proc_key(key) is proc


def test_split_key():
    assert ql.split_key('012.-1') == (12, -1)
    assert ql.split_key('3.4') == (3, 4)
