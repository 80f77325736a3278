# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HTCondor user logs (the `log =` file of a job), in the classic text format (standard library only).

An event is a header line `NNN (CCC.PPP.SSS) YYYY-MM-DD HH:MM:SS text`, optional detail lines, and a line
`...` that ends it. The schedd writes whole events; a log cut off while the last one was written ends
without its `...`. Events are kept as the exact bytes HTCondor wrote, so appending them elsewhere copies
them unchanged.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

_HEADER_RE = re.compile(rb'^([0-9]{3}) \(([0-9]+)\.([0-9]+)\.([0-9]+)\) ')
_END = b'...\n'

SUBMIT_EVENT = 0


class UserLogError(Exception):
    pass


class Event(object):
    __slots__ = ('code', 'cluster', 'proc', 'data')

    def __init__(self, code, cluster, proc, data):
        self.code = code
        self.cluster = cluster
        self.proc = proc
        self.data = data

    @property
    def job(self):
        return '%d.%d' % (self.cluster, self.proc)

    def digest(self):
        return hashlib.sha256(self.data).digest()


def iter_events(path, warnings=None):
    """Yield the complete events of a user log in order; an unterminated last event is dropped with a
    warning appended to `warnings`. A line that cannot start an event where one must start is an error
    naming the file and line."""
    lines = []
    start = None
    with open(path, 'rb') as f:
        for lineno, line in enumerate(f, 1):
            if not lines:
                m = _HEADER_RE.match(line)
                if m is None:
                    if not line.strip():
                        continue        # blank lines between events are harmless
                    raise UserLogError('%s line %d: %r does not start an HTCondor user log event (NNN (C.P.S) '
                                       'date time ...): is this a user log in the classic format?'
                                       % (path, lineno, line[:120].decode('utf-8', 'replace')))
                start = (int(m.group(1)), int(m.group(2)), int(m.group(3)), lineno)
            lines.append(line)
            if line == _END or line == b'...':
                if not line.endswith(b'\n'):
                    lines[-1] = _END
                yield Event(start[0], start[1], start[2], b''.join(lines))
                lines = []
    if lines and warnings is not None:
        warnings.append('%s: the last event (line %d, %r) is not complete (no "..." line): it was being written '
                        'when the log was copied, and is left out' % (path, start[3], lines[0][:80].decode('utf-8', 'replace')))
