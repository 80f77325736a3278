# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stream a big job_queue.log once: validate it, keep a few attributes per ad, and rewrite it on the way.

A log can hold a million jobs (gigabytes). A Python loop over its lines runs at a third of sed's speed, so
this works on big buffers instead and lets Python's C regex engine do the per-line work:

- one anchored match per ad takes its 101 line (or a first 103 line) and the run of 103 lines of the same
  key after it, checks every line against the grammar, and captures the last value of each attribute asked
  for (an attribute an edit may change is taken once per match, so every record of it is seen);
- the few other records (102/104/105/106/107, a name in another spelling) are taken one line at a time;
  a line no pattern takes is the first corrupt one;
- an edit callback may replace the value of such a 103 line or drop it, and a prefix map replaces the start
  of clean paths without a callback; the output is assembled from slices of the input buffer, so unchanged
  lines are never touched one by one. The reference scan (line_by_line=True) validates each buffer in one
  match and picks the records with one finditer; both give the same result.

Replay semantics are the schedd's: later 103 wins, 104 deletes, 102 destroys, records between 105 and 106
count only once the 106 arrives; a trailing transaction without its 106 and a trailing line without its
newline are dropped (from the output too) with a warning. Only the asked-for attributes are kept per ad,
so memory grows with the number of jobs, not with the size of the log.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gc
import operator
import re
import sys

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_log import (
    BUFFER_GRAMMAR,
    QueueLogError,
    open_log,
)

CHUNK_SIZE = 1 << 23    # 8 MiB of input per buffer: big enough to amortise, small enough to keep memory low

# A possessive repeat (Python >= 3.11) keeps the regex engine from saving a backtracking point per line.
_REPEAT = b'*+' if sys.version_info >= (3, 11) else b'*'
_GRAMMAR_RE = re.compile(b'(?:' + BUFFER_GRAMMAR + b')' + _REPEAT)

_LINE_RE = re.compile(b'(?:' + BUFFER_GRAMMAR + b')')    # one valid line
_first = operator.itemgetter(0)

DROP = object()         # returned by an edit callback: remove this 103 line


class NotSelfContained(Exception):
    """Raised by the scan of a later segment (QueueScanner(segment=True)) at the first record whose meaning
    depends on records before the segment: a 102 or 104 on an ad the segment did not create (a 103 on one
    is an error in a segment, as a transaction's 106 without its 105 is). The caller then scans the whole
    log in one go, which gives the true result or error."""


class paused_gc(object):
    """with paused_gc(): ... runs without the cyclic garbage collector. A scan makes a few small lists per ad
    and no cycles; with the collector on, every full collection walks all the ads kept so far."""

    def __enter__(self):
        self.was_enabled = gc.isenabled()
        gc.disable()
        return self

    def __exit__(self, *exc):
        if self.was_enabled:
            gc.enable()
        return False


def _names_pattern(names):
    # longest first so that "TransferOutputRemaps" is not cut short by "TransferOutput"
    alts = sorted(set(n.encode('ascii') for n in names), key=len, reverse=True)
    return b'|'.join(re.escape(a) for a in alts)


class ScanState(object):
    """What a scan keeps: ads[key] = list of raw values (bytes or None), one slot per asked-for name."""

    def __init__(self, names):
        self.names = list(names)
        self.ads = {}
        self.warnings = []
        self.changes = {}       # attribute name -> number of 103 lines changed or dropped
        self.examples = []      # (old line, new line or None when dropped) for a few changes
        self.truncated = False  # a trailing partial line or open transaction was dropped
        self.transactions = 0   # committed transactions: a schedd's live log has them, an export has none
        self.bytes_in = 0
        self.bytes_out = 0
        self.destroyed = []     # a segment's scan: keys of its own ads that it destroyed

    def value(self, key, name):
        ad = self.ads.get(key)
        if ad is None:
            return None
        return ad[self.names.index(name)]


class QueueScanner(object):
    """scanner = QueueScanner(path, ['Iwd', 'Cmd', ...]); state = scanner.run(edit=None, out=None)

    edit(key, slot, value) is called for each 103 line of an asked-for attribute, in log order, with bytes
    key/value and the slot index of the name in `names`; it returns None (unchanged), new value bytes, or
    DROP. `out` is a binary file the (edited) log is written to, or None to only scan (check mode).

    edit_slots: the slots `edit` may change (None: every slot); an edit callback must return None for the
    others. prefix_map: None, or (slots, [(from, to)], [target]) with bytes paths: for those slots a value that
    is one plain string literal holding a clean absolute path ("/a/b": no quote, backslash, "//" or "/."
    component, no trailing "/") under some `from` (longest first) and under no `target` gets `from` replaced by
    its `to` without calling `edit`; the caller promises that `edit` would return exactly that. Any other
    value of those slots goes to `edit`.

    line_by_line=True uses the reference scan (one regex match per asked-for record); the default matches
    one ad's consecutive records at once and gives the same result.

    start/stop: scan only the bytes [start, stop) (both at line starts; stop None: to the end), for a scan in
    parallel segments. segment=True: the segment is not the first one, and the scan raises NotSelfContained
    where the result would depend on what came before it (see there); errors are still raised where they
    would be, with the line number in the whole file.
    """

    max_examples = 5

    def __init__(self, path, names, chunk_size=CHUNK_SIZE, edit_slots=None, prefix_map=None, line_by_line=False,
                 start=0, stop=None, segment=False):
        self.path = path
        self.start = start
        self.stop = stop
        self.segment = segment
        self.names = list(names)
        self.chunk_size = chunk_size
        self.line_by_line = line_by_line
        self._slot = dict((n.encode('ascii'), i) for i, n in enumerate(self.names))
        self._slot_lower = dict((n.lower().encode('ascii'), i) for i, n in enumerate(self.names))
        self._extract = re.compile(
            rb'\n(?:103 (\S+) (' + _names_pattern(self.names) + rb') (.+)|(10[124-7])(?: (\S+)(?: (\S+))?)?)',
            re.IGNORECASE)
        # the slots an edit callback may change (None: all) and the prefix mapping done without it
        self.edit_slots = None if edit_slots is None else frozenset(edit_slots)
        self.prefix_map = prefix_map
        self._blocks = None

    # -- errors ---------------------------------------------------------------------------------------
    def _line_at(self, offset):
        """(line number, line text) of the line starting at byte `offset`; used only to report errors."""
        lineno = 1
        with open(self.path, 'rb') as f:
            done = 0
            while done < offset:
                block = f.read(min(1 << 22, offset - done))
                if not block:
                    break
                lineno += block.count(b'\n')
                done += len(block)
            line = f.readline(300).rstrip(b'\n')
        return lineno, line.decode('utf-8', 'replace')

    def _fail(self, offset, problem):
        lineno, line = self._line_at(offset)
        raise QueueLogError(self.path, problem, lineno, line)

    # -- the scan -------------------------------------------------------------------------------------
    def _chunks(self, f):
        """Yield (buffer, file offset of buffer[1]) where buffer = b'\\n' + complete lines."""
        tail = b''
        offset = self.start
        if offset:
            f.seek(offset)
        left = self.stop - offset if self.stop is not None else -1
        while True:
            if left < 0:
                data = f.read(self.chunk_size)
            else:
                data = f.read(min(self.chunk_size, left))
                left -= len(data)
            if not data:
                break
            if tail:
                data = tail + data
            cut = data.rfind(b'\n') + 1
            if cut == 0:
                tail = data
                continue
            tail = data[cut:]
            yield b'\n' + data[:cut], offset
            offset += cut
        if tail:
            self._state.truncated = True
            self._state.warnings.append(
                '%s: dropped a last record without its newline at byte %d (a write that was cut off): %r'
                % (self.path, offset, tail[:200].decode('utf-8', 'replace')))

    def run(self, edit=None, out=None):
        with paused_gc():
            if self.line_by_line or not self.names:
                if self.start or self.stop is not None or self.segment:
                    raise ValueError('a scan of a segment uses the block scan: give names, not line_by_line')
                return self._run_lines(edit, out)
            return self._run_blocks(edit, out)

    def _run_lines(self, edit=None, out=None):
        """The reference scan: one match per asked-for record (every buffer validated first)."""
        state = self._state = ScanState(self.names)
        ads = state.ads
        nslots = len(self.names)
        slot_of = self._slot
        slot_lower = self._slot_lower
        names = self.names
        changes = state.changes
        examples = state.examples
        grammar_match = _GRAMMAR_RE.match
        finditer = self._extract.finditer
        pending = None          # records of an open transaction
        txn_out = None          # output offset where the open transaction began
        txn_in = None           # input offset of its 105 line
        written = 0

        with open_log(self.path, binary=True) as f:
            for buf, base in self._chunks(f):
                state.bytes_in += len(buf) - 1
                end = len(buf)
                m = grammar_match(buf, 1)
                if m.end() != end:
                    # report the whole line: CPython 3.11.0-3.11.4 can leave a failed possessive repeat's
                    # position inside the line (python/cpython#106052)
                    self._fail(base + buf.rfind(b'\n', 0, m.end()), 'corrupt record')
                nul = buf.find(b'\x00')
                if nul >= 0:
                    self._fail(base + buf.rfind(b'\n', 0, nul), 'NUL byte inside a record')
                parts = []
                parts_len = 0
                last = 1
                for m in finditer(buf):
                    key = m.group(1)
                    if key is not None:
                        name = m.group(2)
                        slot = slot_of.get(name)
                        if slot is None:
                            slot = slot_lower[name.lower()]
                        value = m.group(3)
                        if edit is not None:
                            new = edit(key, slot, value)
                            if new is not None and new != value:
                                nm = names[slot]
                                changes[nm] = changes.get(nm, 0) + 1
                                if new is DROP:
                                    s = m.start() + 1
                                    piece = buf[last:s]
                                    last = m.end() + 1
                                    if len(examples) < self.max_examples:
                                        examples.append((buf[s:last - 1], None))
                                else:
                                    vs, ve = m.span(3)
                                    piece = buf[last:vs]
                                    parts.append(piece)
                                    parts_len += len(piece)
                                    piece = new
                                    last = ve
                                    if len(examples) < self.max_examples:
                                        s = m.start() + 1
                                        examples.append((buf[s:ve], buf[s:vs] + new))
                                parts.append(piece)
                                parts_len += len(piece)
                        if pending is not None:
                            pending.append((103, key, slot, value))
                        else:
                            ad = ads.get(key)
                            if ad is None:
                                self._fail(base + m.start(), 'attribute set on ad %s, which the log never created'
                                           % key.decode('ascii', 'replace'))
                            ad[slot] = value
                        continue
                    op = m.group(4)
                    if op == b'101':
                        if pending is not None:
                            pending.append((101, m.group(5), None, None))
                        elif m.group(5) not in ads:
                            ads[m.group(5)] = [None] * nslots
                    elif op == b'102':
                        if pending is not None:
                            pending.append((102, m.group(5), None, None))
                        else:
                            ads.pop(m.group(5), None)
                    elif op == b'104':
                        name = m.group(6)
                        slot = slot_of.get(name)
                        if slot is None:
                            slot = slot_lower.get(name.lower())
                        if slot is not None:
                            if pending is not None:
                                pending.append((104, m.group(5), slot, None))
                            else:
                                ad = ads.get(m.group(5))
                                if ad is not None:
                                    ad[slot] = None
                    elif op == b'105':
                        if pending is not None:
                            self._fail(base + m.start(), 'a transaction begins inside another one')
                        pending = []
                        txn_in = base + m.start()
                        txn_out = written + parts_len + (m.start() + 1 - last)
                    elif op == b'106':
                        if pending is None:
                            self._fail(base + m.start(), 'a transaction ends that was never begun')
                        for op2, key2, slot2, value2 in pending:
                            if op2 == 103:
                                ad = ads.get(key2)
                                if ad is None:
                                    self._fail(txn_in, 'a transaction sets an attribute on ad %s, which the log '
                                               'never created' % key2.decode('ascii', 'replace'))
                                ad[slot2] = value2
                            elif op2 == 101:
                                if key2 not in ads:
                                    ads[key2] = [None] * nslots
                            elif op2 == 102:
                                ads.pop(key2, None)
                            else:
                                ad = ads.get(key2)
                                if ad is not None:
                                    ad[slot2] = None
                        pending = None
                        state.transactions += 1
                    elif op == b'107' and base + m.start() != 0:
                        self._fail(base + m.start(), 'the historical sequence record must be the first record')
                piece = buf[last:end]
                parts.append(piece)
                parts_len += len(piece)
                if out is not None:
                    out.write(b''.join(parts))
                written += parts_len
        if pending is not None:
            state.truncated = True
            state.warnings.append('%s: dropped a transaction that was begun at byte %d and never ended (%d records; '
                                  'the schedd was still writing or was killed)' % (self.path, txn_in, len(pending)))
            written = txn_out
            if out is not None:
                out.flush()
                out.truncate(txn_out)
                out.seek(txn_out)
        state.bytes_out = written
        return state

    # -- the block scan ---------------------------------------------------------------------------------
    def _block_re(self, editing):
        """The pattern of one block: a 101 line or a 103 line, then the 103 lines of the same key that follow.
        Group 1/2: the key (of the 101 line / of the first 103 line); then one group per slot holding the last
        value the block sets (a slot an edit may change is taken once per block: a second record of it starts
        a new block); a slot of the prefix map also has a group for the `from` of a clean path."""
        key = rb'[0-9]+\.-?[0-9]+'
        group = 3
        slot_groups = []
        edits = []      # (slot, value group, `from` group or 0, length of "103 " + " " + name + " ")
        fast_slots = self.prefix_map[0] if (editing and self.prefix_map) else ()
        alts = []
        for slot, n in enumerate(self.names):
            name = n.encode('ascii')
            value_group = group
            group += 1
            slot_groups.append(value_group)
            value = rb'.+'
            from_group = 0
            if slot in fast_slots:
                _slots, pairs, targets = self.prefix_map
                from_group = group
                group += 1
                not_target = (rb'(?!(?:' + b'|'.join(re.escape(t) for t in targets) + rb')[/"])') if targets else b''
                froms = b'|'.join(re.escape(s) for s, _d in pairs)
                # the lookahead decides (nothing is captured in a branch that may fail: some CPython versions
                # keep such a capture), then the `from` is taken
                value = (rb'(?="' + not_target + rb'(?:' + froms + rb')(?=[/"])(?:/[^/"\\\n.][^/"\\\n]*)*"\n)'
                         rb'"(?P<f%d>' % slot + froms + rb')(?=[/"]).+|.+')
            alt = rb'(?P<s%d>' % slot + value + rb')'
            if editing and (self.edit_slots is None or slot in self.edit_slots):
                alt = rb'(?(%d)(?!)|' % value_group + alt + rb')'
                edits.append((slot, value_group, from_group, len(name) + 2))
            # the name first: the regex engine skips an alternative whose first byte differs at once
            alt = re.escape(name) + b' ' + alt
            alts.append(alt)
        # any other name; one of the names in another spelling ends the block (it is taken line by line)
        initials = sorted(set(c for n in self.names for c in (n[:1].lower(), n[:1].upper()))) if self.names else []
        alts.append(rb'(?:(?![' + re.escape(''.join(initials).encode('ascii')) + rb'])|(?!(?i:' +
                    _names_pattern(self.names) + rb') ))\S+ .+')
        pattern = (rb'(?:101 (?P<nk>' + key + rb') \S+ \S+\n|(?=103 (?P<ck>' + key + rb') ))'
                   rb'(?:103 (?(nk)(?P=nk)|(?P=ck)) (?:' + b'|'.join(alts) + rb')\n)' + _REPEAT)
        compiled = re.compile(pattern)
        for slot, g in enumerate(slot_groups):
            if compiled.groupindex['s%d' % slot] != g:
                raise AssertionError('group numbering')     # pragma: no cover
        return compiled, slot_groups, edits

    def _grammar_error(self, buf, base, pos):
        """Raise the error for the first line at or after `pos` that breaks the grammar, if there is one."""
        m = _GRAMMAR_RE.match(buf, pos)
        if m.end() != len(buf):
            self._fail(base + buf.rfind(b'\n', 0, m.end()), 'corrupt record')

    def _run_blocks(self, edit=None, out=None):
        state = self._state = ScanState(self.names)
        ads = state.ads
        nslots = len(self.names)
        names = self.names
        name_len = [len(n) + 2 for n in names]     # " Name "
        changes = state.changes
        examples = state.examples
        max_examples = self.max_examples
        editing = edit is not None
        block_re, slot_groups, edit_list = self._block_re(editing)
        block_match = block_re.match
        line_match = self._extract.match
        if nslots == 1:
            only = slot_groups[0] - 1

            def getter(groups):
                return (groups[only],)
        else:
            getter = operator.itemgetter(*[g - 1 for g in slot_groups])
        froms = dict(self.prefix_map[1]) if (editing and self.prefix_map) else {}
        pending = None          # records of an open transaction
        txn_out = None          # output offset where the open transaction began
        txn_in = None           # input offset of its 105 line
        pending_extra = 0       # records of blocks in `pending` beyond one per block
        written = 0
        empty = (None,) * nslots
        segment = self.segment

        with open_log(self.path, binary=True) as f:
            for buf, base in self._chunks(f):
                state.bytes_in += len(buf) - 1
                end = len(buf)
                nul = buf.find(b'\x00')
                if nul >= 0:
                    self._grammar_error(buf, base, 1)
                    self._fail(base + buf.rfind(b'\n', 0, nul), 'NUL byte inside a record')
                parts = []
                last = 1
                pos = 1
                while pos < end:
                    m = block_match(buf, pos)
                    if m is not None:
                        # CPython 3.11.0-3.11.4 can leave a failed possessive repeat's position inside the line
                        # that ended the block (python/cpython#106052): the block ends where that line begins
                        block_end = m.end()
                        if buf[block_end - 1] != 10:
                            block_end = buf.rfind(b'\n', 0, block_end) + 1
                    if m is not None and block_end > pos:
                        groups = m.groups()
                        key = groups[0]
                        created = key is not None
                        if not created:
                            key = groups[1]
                        values = getter(groups)
                        if editing:
                            found = None
                            for slot, vg, fg, nlen in edit_list:
                                value = groups[vg - 1]
                                if value is None:
                                    continue
                                vs = m.start(vg)
                                if fg and groups[fg - 1] is not None:
                                    # a clean path: its `from` starts after the opening quote
                                    cut = groups[fg - 1]
                                    new = (froms[cut], vs + 1, vs + 1 + len(cut))
                                else:
                                    new = edit(key, slot, value)
                                    if new is None or new == value:
                                        continue
                                if found is None:
                                    found = [(vs, slot, new, value)]
                                else:
                                    found.append((vs, slot, new, value))
                            if found is not None:
                                if len(found) > 1:
                                    found.sort(key=_first)
                                klen = len(key) + 4
                                for vs, slot, new, value in found:
                                    nm = names[slot]
                                    changes[nm] = changes.get(nm, 0) + 1
                                    ve = vs + len(value)
                                    if len(examples) < max_examples:
                                        s = vs - klen - name_len[slot]
                                        if new is DROP:
                                            examples.append((buf[s:ve], None))
                                        elif isinstance(new, tuple):
                                            examples.append((buf[s:ve], buf[s:new[1]] + new[0] + buf[new[2]:ve]))
                                        else:
                                            examples.append((buf[s:ve], buf[s:vs] + new))
                                    if new is DROP:
                                        parts.append(buf[last:vs - klen - name_len[slot]])
                                        last = ve + 1
                                    elif isinstance(new, tuple):
                                        parts.append(buf[last:new[1]])
                                        parts.append(new[0])
                                        last = new[2]
                                    else:
                                        parts.append(buf[last:vs])
                                        parts.append(new)
                                        last = ve
                        if pending is not None:
                            pending.append((0, key, created, values))
                            # the warning about a dropped transaction counts records as the line scan does
                            records = self._extract.finditer(buf, pos - 1, block_end - 1)
                            pending_extra += sum(1 for _m in records) - 1
                        else:
                            ad = ads.get(key)
                            if ad is None:
                                if created:
                                    ads[key] = list(values)
                                elif values != empty:
                                    self._unknown_ad(buf, base, pos, block_end, key)
                            else:
                                for slot, value in enumerate(values):
                                    if value is not None:
                                        ad[slot] = value
                        pos = block_end
                        continue
                    # a line that no block takes: the rare records, or a name in another spelling
                    line_end = buf.find(b'\n', pos) + 1
                    if _LINE_RE.match(buf, pos) is None:
                        self._fail(base + pos - 1, 'corrupt record')
                    m = line_match(buf, pos - 1)
                    if m is None:
                        pos = line_end
                        continue
                    key = m.group(1)
                    if key is not None:
                        name = m.group(2)
                        slot = self._slot.get(name)
                        if slot is None:
                            slot = self._slot_lower[name.lower()]
                        value = m.group(3)
                        if editing:
                            new = edit(key, slot, value)
                            if new is not None and new != value:
                                nm = names[slot]
                                changes[nm] = changes.get(nm, 0) + 1
                                if new is DROP:
                                    piece = buf[last:pos]
                                    last = line_end
                                    if len(examples) < max_examples:
                                        examples.append((buf[pos:line_end - 1], None))
                                else:
                                    vs, ve = m.span(3)
                                    parts.append(buf[last:vs])
                                    piece = new
                                    last = ve
                                    if len(examples) < max_examples:
                                        examples.append((buf[pos:ve], buf[pos:vs] + new))
                                parts.append(piece)
                        if pending is not None:
                            pending.append((103, key, slot, value))
                        else:
                            ad = ads.get(key)
                            if ad is None:
                                self._grammar_error(buf, base, line_end)
                                self._fail(base + pos - 1, 'attribute set on ad %s, which the log never created'
                                           % key.decode('ascii', 'replace'))
                            ad[slot] = value
                        pos = line_end
                        continue
                    op = m.group(4)
                    if op == b'101':
                        if pending is not None:
                            pending.append((101, m.group(5), None, None))
                        elif m.group(5) not in ads:
                            ads[m.group(5)] = [None] * nslots
                    elif op == b'102':
                        if pending is not None:
                            pending.append((102, m.group(5), None, None))
                        else:
                            if segment:
                                self._segment_destroys(m.group(5))
                            ads.pop(m.group(5), None)
                    elif op == b'104':
                        name = m.group(6)
                        slot = self._slot.get(name)
                        if slot is None:
                            slot = self._slot_lower.get(name.lower())
                        if slot is not None:
                            if pending is not None:
                                pending.append((104, m.group(5), slot, None))
                            else:
                                ad = ads.get(m.group(5))
                                if ad is not None:
                                    ad[slot] = None
                                elif segment:
                                    raise NotSelfContained('104 on an ad from before the segment')
                    elif op == b'105':
                        if pending is not None:
                            self._grammar_error(buf, base, line_end)
                            self._fail(base + pos - 1, 'a transaction begins inside another one')
                        pending = []
                        pending_extra = 0
                        txn_in = base + pos - 1
                        txn_out = written + sum(map(len, parts)) + (pos - last)
                    elif op == b'106':
                        if pending is None:
                            self._grammar_error(buf, base, line_end)
                            self._fail(base + pos - 1, 'a transaction ends that was never begun')
                        for op2, key2, slot2, value2 in pending:
                            if op2 == 0:
                                ad = ads.get(key2)
                                if ad is None:
                                    if slot2:
                                        ads[key2] = list(value2)
                                        continue
                                    if value2 == empty:
                                        continue
                                    self._grammar_error(buf, base, line_end)
                                    self._fail(txn_in, 'a transaction sets an attribute on ad %s, which the log '
                                               'never created' % key2.decode('ascii', 'replace'))
                                for slot, value in enumerate(value2):
                                    if value is not None:
                                        ad[slot] = value
                            elif op2 == 103:
                                ad = ads.get(key2)
                                if ad is None:
                                    self._grammar_error(buf, base, line_end)
                                    self._fail(txn_in, 'a transaction sets an attribute on ad %s, which the log '
                                               'never created' % key2.decode('ascii', 'replace'))
                                ad[slot2] = value2
                            elif op2 == 101:
                                if key2 not in ads:
                                    ads[key2] = [None] * nslots
                            elif op2 == 102:
                                if segment:
                                    self._segment_destroys(key2)
                                ads.pop(key2, None)
                            else:
                                ad = ads.get(key2)
                                if ad is not None:
                                    ad[slot2] = None
                                elif segment:
                                    raise NotSelfContained('104 on an ad from before the segment')
                        pending = None
                        state.transactions += 1
                    elif op == b'107' and base + pos - 1 != 0:
                        self._grammar_error(buf, base, line_end)
                        self._fail(base + pos - 1, 'the historical sequence record must be the first record')
                    pos = line_end
                parts.append(buf[last:end])
                data = b''.join(parts)
                del parts
                if out is not None:
                    out.write(data)
                written += len(data)
                del data
        if pending is not None:
            state.truncated = True
            state.warnings.append('%s: dropped a transaction that was begun at byte %d and never ended (%d records; '
                                  'the schedd was still writing or was killed)'
                                  % (self.path, txn_in, len(pending) + pending_extra))
            written = txn_out
            if out is not None:
                out.flush()
                out.truncate(txn_out)
                out.seek(txn_out)
        state.bytes_out = written
        return state

    def _segment_destroys(self, key):
        """A 102 in a later segment: fine on an ad of the segment (remembered, so that the caller can tell
        whether an earlier segment had an ad of that key), not on one from before it."""
        if key not in self._state.ads:
            raise NotSelfContained('102 on an ad from before the segment')
        self._state.destroyed.append(key)

    def _unknown_ad(self, buf, base, start, end, key):
        """Fail for a block of 103 lines on an ad that does not exist, naming its first asked-for record."""
        self._grammar_error(buf, base, end)
        m = self._extract.search(buf, start - 1, end)
        self._fail(base + m.start(), 'attribute set on ad %s, which the log never created'
                   % key.decode('ascii', 'replace'))
