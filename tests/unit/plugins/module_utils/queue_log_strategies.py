# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hypothesis strategies for job_queue.log tests: ClassAd values, ads and whole logs as a schedd writes them.

A generated log is always valid for a replay (an attribute is only set on an ad that exists when the record
is committed); it may end with a transaction that was never ended and/or a last line without its newline,
which a reader drops. `QueueLog.committed_text` is what is left once those are dropped.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import zlib

from hypothesis import strategies as st

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_log import (
    OP_DELETE,
    OP_DESTROY_AD,
    OP_NEW_AD,
    OP_SET,
    Record,
    literal,
    quote,
)
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_scan import DROP

# Keys of every kind a job queue holds: header, user record, cluster ads (leading zero), proc ads, ClusterPvt,
# job set.
KEYS = ('0.0', '0.2', '01.-1', '1.0', '1.1', '1.-2', '02.-1', '2.0', '2.-100', '10.3')

# Names a scan asks for (case-insensitively), and names it must not confuse with them: "Foo" is a prefix of
# "FooBar", "TransferOutput" of "TransferOutputRemaps", and case variants of "Iwd" must all count as "Iwd".
ASKED_NAMES = ('Iwd', 'Cmd', 'TransferOutputRemaps', 'Owner', 'FooBar')
NAMES = ('Iwd', 'iwd', 'IWD', 'Cmd', 'CMD', 'TransferOutputRemaps', 'TransferOutput', 'Owner', 'owner', 'FooBar',
         'Foo', 'FooBarBaz', 'JobStatus', 'Args')

# Text a ClassAd string can hold in a job queue log: anything but a newline or NUL (and no lone surrogates,
# which UTF-8 cannot encode).
_TEXT_CHARS = st.characters(blacklist_categories=('Cs',), blacklist_characters='\n\x00')
string_texts = st.text(_TEXT_CHARS, max_size=24).filter(lambda s: not s.endswith('\\'))
# a few characters that matter for quoting, more often than chance would pick them
_TRICKY = st.text(st.sampled_from(['"', '\\', ' ', 'a', '/', '\u00e9', '\u20ac', '\t', '\r', ';', '=', ',']),
                  max_size=12).filter(lambda s: not s.endswith('\\'))
string_values = st.one_of(string_texts, _TRICKY)

EXPRESSIONS = ('undefined', 'Undefined', 'a + b', '(x == "y") && z', '[ A = 1; B = "x" ]', '{ 1, 2 }',
               'RequestMemory * 2', '"a" + "b"', 'true', 'false', 'error', '0.0', '"x\\"y"')

values = st.one_of(
    string_values.map(quote),
    st.integers(-(2 ** 63), 2 ** 63).map(literal),
    st.floats(allow_nan=False, allow_infinity=False).map(literal),
    st.booleans().map(literal),
    st.sampled_from(EXPRESSIONS),
    # any other text a 103 value may be: non-empty, no newline, no NUL
    st.text(_TEXT_CHARS, min_size=1, max_size=16),
)

attribute_names = st.from_regex(r'[A-Za-z_][A-Za-z0-9_.]{0,15}', fullmatch=True)


@st.composite
def ad_keys(draw):
    cluster = draw(st.integers(0, 10 ** 6))
    proc = draw(st.one_of(st.integers(-1, 10 ** 4), st.sampled_from([-1, -2, -100])))
    if proc == -1:
        return '0%d.-1' % cluster
    return '%d.%d' % (cluster, proc)


@st.composite
def ads(draw):
    """{key: OrderedDict(name: raw value)}, names unique without regard to case."""
    keys = draw(st.lists(ad_keys(), max_size=6, unique=True))
    result = collections.OrderedDict()
    for key in keys:
        names = draw(st.lists(attribute_names, max_size=8, unique_by=lambda n: n.lower()))
        result[key] = collections.OrderedDict((n, draw(values)) for n in names)
    return result


class QueueLog(object):
    """A generated log: `lines` (complete, committed), `open_lines` (a last transaction never ended),
    `partial` (a last line without its newline, or None)."""

    def __init__(self, lines, open_lines, partial):
        self.lines = lines
        self.open_lines = open_lines
        self.partial = partial

    @property
    def text(self):
        text = ''.join(line + '\n' for line in self.lines + self.open_lines)
        return text + (self.partial or '')

    @property
    def committed_text(self):
        return ''.join(line + '\n' for line in self.lines)

    @property
    def data(self):
        return self.text.encode('utf-8')

    @property
    def truncated(self):
        return bool(self.open_lines) or self.partial is not None

    def __repr__(self):
        return 'QueueLog(%r)' % self.text


@st.composite
def queue_logs(draw, max_ops=30, tails=True, names=NAMES, value_strategy=values):
    """A random job queue log as a schedd could write it, its 103 records drawn from `names` and
    `value_strategy`."""
    lines = []
    if draw(st.booleans()):
        lines.append('107 %d CreationTimestamp %d' % (draw(st.integers(0, 10 ** 6)), draw(st.integers(0, 2 ** 31))))
    live = set()

    def op():
        kind = draw(st.sampled_from(('new', 'set', 'set', 'set', 'set', 'set', 'delete', 'destroy')))
        key = draw(st.sampled_from(KEYS))
        if kind == 'new':
            live.add(key)
            types = draw(st.sampled_from([('Job', 'Machine'), ('', ''), ('ClusterPvt', ''), ('Owner', '')]))
            return [Record(OP_NEW_AD, key, types[0], types[1]).format()]
        if kind == 'destroy':
            live.discard(key)
            return [Record(OP_DESTROY_AD, key, None, None).format()]
        name = draw(st.sampled_from(names))
        if kind == 'delete':
            return [Record(OP_DELETE, key, name, None).format()]
        out = []
        if key not in live:
            live.add(key)
            out.append(Record(OP_NEW_AD, key, 'Job', 'Machine').format())
        out.append(Record(OP_SET, key, name, draw(value_strategy)).format())
        return out

    def transaction_ops():
        body = []
        for _i in range(draw(st.integers(0, 5))):
            body.extend(op())
        return body

    for _i in range(draw(st.integers(0, max_ops))):
        if draw(st.integers(0, 3)) == 0:
            lines.append('105 ')
            lines.extend(transaction_ops())
            comment = draw(st.one_of(st.none(), st.text(_TEXT_CHARS, max_size=10)))
            lines.append('106 ' if comment is None else '106 #' + comment)
        else:
            lines.extend(op())
    open_lines = []
    partial = None
    if tails:
        if draw(st.integers(0, 3)) == 0:
            open_lines = ['105 '] + transaction_ops()
        if draw(st.integers(0, 3)) == 0:
            partial = draw(st.one_of(
                st.sampled_from(['103 1.0 Iwd "/cut', '106 ', '105 ', '101 5.0 Job Machine', 'garbage']),
                st.text(_TEXT_CHARS, min_size=1, max_size=20)))
    return QueueLog(lines, open_lines, partial)


def make_edit(seed, slots=None):
    """An edit callback for QueueScanner.run that keeps, replaces or drops values by a hash of them: the same
    seed gives the same edits, so two scans can be compared (only `slots` edited, when given)."""
    def edit(key, slot, value):
        if slots is not None and slot not in slots:
            return None
        choice = zlib.crc32(key + b'|' + value + b'|' + str(slot + seed).encode()) % 4
        if choice == 0:
            return None
        if choice == 1:
            return value
        if choice == 2:
            return b'"edited %d"' % (seed % 1000)
        return DROP
    return edit
