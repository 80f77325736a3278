# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HTCondor's job_queue.log (a ClassAd log): records, replay and writing.

This file is the single definition of the log's grammar for the collection. It runs wherever the log is,
often an HPC login node without HTCondor, so it imports nothing but the Python standard library (not even
Ansible). The format, as the schedd writes and reads it (src/condor_utils/classad_log.cpp and log.cpp):

    107 SEQ CreationTimestamp EPOCH       first record: historical sequence number
    101 KEY MyType TargetType             NewClassAd; an empty type is written "(empty)"
    102 KEY                               DestroyClassAd
    103 KEY Name VALUE-TO-END-OF-LINE     SetAttribute, value in old ClassAd syntax
    104 KEY Name                          DeleteAttribute
    105                                   BeginTransaction (note the trailing space)
    106  or  106 #comment                 EndTransaction

Keys: "0.0" the header ad, "0C.-1" a cluster ad (written with a leading zero), "C.P" a proc ad, "C.-2" the
ClusterPvt ad, "N.-100" job sets, "0.N" user records. Proc ads inherit the attributes of their cluster ad.

The grammar here is the canonical one the schedd writes: single spaces, every field present. Anything else
inside the log is corrupt and raises QueueLogError naming the file, the line and the record. A last line
without its newline, or a transaction that was begun and never ended, is what a schedd killed mid-write
leaves behind; like the schedd, the reader drops it and says so in a warning.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import io
import re

OP_NEW_AD = 101
OP_DESTROY_AD = 102
OP_SET = 103
OP_DELETE = 104
OP_BEGIN = 105
OP_END = 106
OP_SEQUENCE = 107

EMPTY_TYPE = '(empty)'
HEADER_KEY = '0.0'

# The canonical grammar, one record per line. Keys in a job queue are always "<int>.<int>" (a cluster ad's
# key keeps its leading zero). The value of 103 is everything after the name up to the newline and must not
# be empty (the schedd's own reader treats an empty value as corruption).
KEY_PATTERN = r'[0-9]+\.-?[0-9]+'
_WORD = r'[^\s\x00]+'  # with re.ASCII: what the schedd's readword() reads (isspace() in the C locale)
_RECORD_RE = re.compile(
    r'(?:'
    r'103 (?P<sk>' + KEY_PATTERN + r') (?P<sn>' + _WORD + r') (?P<sv>[^\n\x00]+)'
    r'|101 (?P<nk>' + KEY_PATTERN + r') (?P<nm>' + _WORD + r') (?P<nt>' + _WORD + r')'
    r'|102 (?P<dk>' + KEY_PATTERN + r')'
    r'|104 (?P<xk>' + KEY_PATTERN + r') (?P<xn>' + _WORD + r')'
    r'|105 '
    r'|106 (?:#(?P<ec>[^\n\x00]*))?'
    r'|107 (?P<hs>[0-9]+) (?P<hl>' + _WORD + r') (?P<ht>[0-9]+)'
    r')\Z', re.ASCII)

# The same grammar as one bytes pattern that a whole buffer of complete lines must match: used to validate
# big logs at C speed (see _queue_scan). \S and "." are measurably faster in Python's re than the
# equivalent negated classes; "." excludes only the newline, NULs are checked separately.
BUFFER_GRAMMAR = (
    rb'(?:103 [0-9]+\.-?[0-9]+ \S+ .+\n'
    rb'|101 [0-9]+\.-?[0-9]+ \S+ \S+\n'
    rb'|102 [0-9]+\.-?[0-9]+\n'
    rb'|104 [0-9]+\.-?[0-9]+ \S+\n'
    rb'|105 \n'
    rb'|106 (?:#.*)?\n'
    rb'|107 [0-9]+ \S+ [0-9]+\n'
    rb')')

_FIX_HINT = ('This is not a job_queue.log as HTCondor writes it, or it was damaged; '
             'keep the original and use a copy from the schedd\'s SPOOL (or the export directory).')


class QueueLogError(Exception):
    """A job_queue.log that cannot be used; the message names the file, line and record, and what to do."""

    def __init__(self, path, problem, lineno=None, line=None, hint=_FIX_HINT):
        self.path = path
        self.lineno = lineno
        self.line = line
        self.problem = problem
        self.hint = hint
        where = str(path)
        if lineno is not None:
            where += ' line %d' % lineno
        text = '%s: %s' % (where, problem)
        if line is not None:
            shown = line if len(line) <= 200 else line[:200] + '...'
            text += ': %r' % shown
        if hint:
            text += '. ' + hint
        super(QueueLogError, self).__init__(text)


class Record(collections.namedtuple('Record', 'op key name value')):
    """One log record. Field use by op: 101 key, name=MyType, value=TargetType; 102 key; 103 key, name,
    value (raw ClassAd expression text); 104 key, name; 105 nothing; 106 value=comment or None;
    107 key=sequence number, name=label, value=timestamp (all text)."""

    __slots__ = ()

    def format(self):
        """The record as the schedd writes it, without the newline."""
        op = self.op
        if op == OP_SET:
            return '103 %s %s %s' % (self.key, self.name, self.value)
        if op == OP_NEW_AD:
            return '101 %s %s %s' % (self.key, self.name or EMPTY_TYPE, self.value or EMPTY_TYPE)
        if op == OP_DESTROY_AD:
            return '102 %s' % self.key
        if op == OP_DELETE:
            return '104 %s %s' % (self.key, self.name)
        if op == OP_BEGIN:
            return '105 '
        if op == OP_END:
            return '106 ' if self.value is None else '106 #' + self.value
        if op == OP_SEQUENCE:
            return '107 %s %s %s' % (self.key, self.name, self.value)
        raise ValueError('unknown log op %r' % (op,))


def set_attribute(key, name, value):
    return Record(OP_SET, key, name, value)


def delete_attribute(key, name):
    return Record(OP_DELETE, key, name, None)


def new_ad(key, mytype='Job', targettype='Machine'):
    return Record(OP_NEW_AD, key, mytype, targettype)


def parse_line(line):
    """Parse one line (without its newline) into a Record, or return None when it is not a valid record."""
    m = _RECORD_RE.match(line)
    if m is None:
        return None
    op = int(line[:3])
    g = m.group
    if op == OP_SET:
        return Record(op, g('sk'), g('sn'), g('sv'))
    if op == OP_NEW_AD:
        return Record(op, g('nk'), g('nm'), g('nt'))
    if op == OP_DESTROY_AD:
        return Record(op, g('dk'), None, None)
    if op == OP_DELETE:
        return Record(op, g('xk'), g('xn'), None)
    if op == OP_BEGIN:
        return Record(op, None, None, None)
    if op == OP_END:
        return Record(op, None, None, g('ec'))
    return Record(op, g('hs'), g('hl'), g('ht'))


def open_log(path, binary=False):
    """Open a log for reading, as text that round-trips every byte (surrogateescape) or as bytes; raise
    QueueLogError with what to do when it cannot be opened."""
    try:
        if binary:
            return open(path, 'rb')
        return io.open(path, 'r', encoding='utf-8', errors='surrogateescape', newline='\n')
    except (IOError, OSError) as e:
        raise QueueLogError(path, 'cannot open the job queue log (%s)' % (e.strerror or e),
                            hint='Check the path and that this user may read it.')


def iter_records(path, warnings=None, with_lineno=False):
    """Yield the committed records of a log in order, streaming.

    Records inside a transaction are held back until its 106 arrives (a transaction is a few records; the
    log as a whole is never held in memory). A trailing transaction without its 106, or a trailing line
    without its newline, is dropped with a message appended to `warnings` (a list), as the schedd does.
    Transaction markers themselves are not yielded. With with_lineno, yields (lineno, record).
    """
    pending = None      # records of an open transaction: list of (lineno, record)
    begin_line = 0
    for lineno, line, rec in iter_lines(path, warnings):
        op = rec.op
        if op == OP_BEGIN:
            if pending is not None:
                raise QueueLogError(path, 'a transaction begins inside another one (begun on line %s)'
                                    % begin_line, lineno, line)
            pending = []
            begin_line = lineno
            continue
        if op == OP_END:
            if pending is None:
                raise QueueLogError(path, 'a transaction ends that was never begun', lineno, line)
            for item in pending:
                yield item if with_lineno else item[1]
            pending = None
            continue
        if op == OP_SEQUENCE and lineno != 1:
            raise QueueLogError(path, 'the historical sequence record must be the first record', lineno, line)
        if pending is not None:
            pending.append((lineno, rec))
        else:
            yield (lineno, rec) if with_lineno else rec
    if pending is not None and warnings is not None:
        warnings.append('%s line %s: dropped a transaction that was begun and never ended (%d records; the schedd '
                        'was still writing or was killed)' % (path, begin_line, len(pending)))


def iter_lines(path, warnings=None):
    """Yield (lineno, line, record) for every line of a log, transaction markers included, without replay.

    Used where the exact layout matters (writing a log back). A trailing partial line is dropped with a
    warning; a trailing open transaction is NOT dropped here (see iter_records for the committed view)."""
    with open_log(path) as f:
        lineno = 0
        for raw in f:
            lineno += 1
            if not raw.endswith('\n'):
                if warnings is not None:
                    warnings.append('%s line %d: dropped a last record without its newline (a write that was '
                                    'cut off): %r' % (path, lineno, raw[:200]))
                return
            line = raw[:-1]
            rec = parse_line(line)
            if rec is None:
                raise QueueLogError(path, 'corrupt record', lineno, line)
            yield lineno, line, rec


class QueueState(object):
    """The final ads of a replayed log: ads[key] = {attribute name: raw value}, in log order.

    Attribute names are case-insensitive in ClassAds; `ads` keeps the spelling of the last write, and lookups
    through get()/job_attr() ignore case."""

    def __init__(self):
        self.ads = collections.OrderedDict()
        self.types = {}
        self.sequence = None     # (sequence number, creation timestamp) from the 107 record
        self.warnings = []

    def apply(self, rec, path='<log>', lineno=None):
        op = rec.op
        if op == OP_SET:
            ad = self.ads.get(rec.key)
            if ad is None:
                # the schedd's own replay cannot apply this either: the log lost the ad's 101 record
                raise QueueLogError(path, 'attribute set on ad %s, which the log never created' % rec.key,
                                    lineno, rec.format())
            _set_ci(ad, rec.name, rec.value)
        elif op == OP_NEW_AD:
            # like the schedd's table insert: a second 101 for a key that exists keeps the existing ad
            if rec.key not in self.ads:
                self.ads[rec.key] = collections.OrderedDict()
                self.types[rec.key] = (rec.name, rec.value)
        elif op == OP_DESTROY_AD:
            self.ads.pop(rec.key, None)
            self.types.pop(rec.key, None)
        elif op == OP_DELETE:
            ad = self.ads.get(rec.key)
            if ad is not None:
                _del_ci(ad, rec.name)
        elif op == OP_SEQUENCE:
            self.sequence = (rec.key, rec.value)

    def get(self, key, name, default=None):
        ad = self.ads.get(key)
        if ad is None:
            return default
        return _get_ci(ad, name, default)

    def job_keys(self):
        """Keys of proc ads ("C.P" with P >= 0, cluster > 0), in log order."""
        return [k for k in self.ads if is_proc_key(k)]

    def job_attr(self, key, name, default=None):
        """An attribute of a job as the schedd sees it: the proc ad's own value, else its cluster ad's."""
        value = self.get(key, name)
        if value is None:
            value = self.get(cluster_key(key), name, default)
        return value

    def job_ad(self, key):
        """The merged ad of a job (cluster ad overlaid by the proc ad)."""
        merged = collections.OrderedDict(self.ads.get(cluster_key(key), {}))
        for name, value in self.ads.get(key, {}).items():
            _set_ci(merged, name, value)
        return merged


def _find_ci(ad, name):
    if name in ad:
        return name
    low = name.lower()
    for n in ad:
        if n.lower() == low:
            return n
    return None


def _get_ci(ad, name, default=None):
    n = _find_ci(ad, name)
    return default if n is None else ad[n]


def _set_ci(ad, name, value):
    n = _find_ci(ad, name)
    if n is not None and n != name:
        del ad[n]
    ad[name] = value


def _del_ci(ad, name):
    n = _find_ci(ad, name)
    if n is not None:
        del ad[n]


def replay(path):
    """Replay a whole log into a QueueState (committed records only). For logs that fit in memory."""
    state = QueueState()
    for lineno, rec in iter_records(path, warnings=state.warnings, with_lineno=True):
        state.apply(rec, path, lineno)
    return state


def split_key(key):
    c, p = key.split('.', 1)
    return int(c), int(p)


def is_proc_key(key):
    c, p = split_key(key)
    return c > 0 and p >= 0


def cluster_key(key):
    """The key of the cluster ad a proc ad inherits from: "12.3" -> "012.-1" (the schedd's leading zero)."""
    return '0%d.-1' % split_key(key)[0]


def job_id(key):
    """"012.-1" -> "12.-1", "12.3" -> "12.3": the key without the cluster ad's leading zero."""
    c, p = split_key(key)
    return '%d.%d' % (c, p)


def quote(text):
    """A string as an old-syntax ClassAd literal: only the double quote is escaped, backslashes are literal."""
    if '\n' in text or '\x00' in text:
        raise ValueError('a ClassAd string in a job queue log cannot hold a newline or NUL: %r' % (text,))
    if text.endswith('\\'):
        # "a\" would read back as an escaped quote: the old syntax has no way to write a trailing backslash
        raise ValueError('an old-syntax ClassAd string cannot end with a backslash: %r' % (text,))
    return '"' + text.replace('"', '\\"') + '"'


def unquote(value):
    """The text of an old-syntax ClassAd string literal, or None when the value is not a plain string."""
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return None
    inner = value[1:-1]
    # a quote inside must be escaped; an unescaped one means an expression such as "a" + "b"
    if '"' in inner.replace('\\"', ''):
        return None
    return inner.replace('\\"', '"')


def literal(value):
    """A Python value as a ClassAd literal for a 103 record: str quoted, bool true/false, numbers as is."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # as the schedd's old-syntax unparser writes reals: %.16G, with ".0" where that looks like an int
        text = '%.16G' % value
        if not any(c in text for c in '.EeNn'):
            text += '.0'
        return text
    if value is None:
        return 'undefined'
    return quote(str(value))


def write_records(f, records):
    """Write records (Record objects) to a text file opened with newline='\\n'."""
    for rec in records:
        f.write(rec.format())
        f.write('\n')
