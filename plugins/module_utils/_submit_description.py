# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Submit descriptions (condor_submit files) with their line numbers, a site policy, and the augmentation.

HTCondor's own parser (htcondor2.Submit) decides what a description means; it does not say on which line
a command is. This module reads the file itself into logical lines (continuations joined, comments and
blank lines skipped) and remembers where each command is set, so every problem can name its line. It
also holds the pure pieces of condor_submit_check: the site policy file, quantity units and the edits
that augment a description. Standard library only (the policy file is read with PyYAML by the caller).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

POLICY_KEYS = ('required', 'forbidden', 'defaults', 'append_requirements', 'limits')
RESOURCE_COMMANDS = ('request_cpus', 'request_memory', 'request_disk')
# default unit of a quantity without a suffix, in bytes (condor_submit: request_memory in MiB,
# request_disk in KiB)
DEFAULT_UNITS = {'request_memory': 1024 ** 2, 'request_disk': 1024}
_SUFFIX = {'': None, 'k': 1024, 'm': 1024 ** 2, 'g': 1024 ** 3, 't': 1024 ** 4}
_QUANTITY = re.compile(r'^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([kmgt]?)i?b?\s*$', re.IGNORECASE)
_ASSIGN = re.compile(r'^\s*([+]?[A-Za-z_][A-Za-z0-9_.]*)\s*(:?=)\s?(.*)$', re.DOTALL)
_KEYWORDS = ('if', 'elif', 'else', 'endif', 'include', 'error', 'warning')
MARKER = '# added by the site policy (hepcloud.lumberjack.condor_submit_check)'


class PolicyError(Exception):
    """A site policy file that cannot be used; the message names the file and the key."""


def canonical(name):
    """The name HTCondor treats a command as: case-insensitive, '+Attr' is 'MY.Attr'."""
    name = name.strip()
    if name.startswith('+'):
        name = 'MY.' + name[1:].strip()
    return name.lower()


class Statement(object):
    """One logical line: `first`..`last` are 1-based physical line numbers."""

    def __init__(self, first, last, text):
        self.first = first
        self.last = last
        self.text = text
        self.kind = 'other'
        self.key = None        # as written
        self.value = None
        m = _ASSIGN.match(text)
        word = text.split(None, 1)[0].lower() if text.strip() else ''
        word = word.rstrip(':')
        if word == 'queue' or text.strip().lower() == 'queue':
            self.kind = 'queue'
        elif word in _KEYWORDS:
            self.kind = 'keyword'
        elif m:
            self.kind = 'assign'
            self.key = m.group(1)
            self.value = m.group(3).strip()

    @property
    def name(self):
        return canonical(self.key) if self.key else None


class Description(object):
    """A submit file read as logical lines. `lines` are the physical lines (with their newlines)."""

    def __init__(self, text, path='<submit description>'):
        self.path = path
        self.text = text
        self.lines = text.splitlines(True)
        self.statements = []
        self._read()

    def _read(self):
        i = 0
        n = len(self.lines)
        while i < n:
            first = i + 1
            raw = self.lines[i].rstrip('\r\n')
            i += 1
            if not raw.strip() or raw.lstrip().startswith('#'):
                continue
            parts = []
            while raw.endswith('\\') and i < n:
                parts.append(raw[:-1])
                raw = self.lines[i].rstrip('\r\n')
                i += 1
            parts.append(raw[:-1] if raw.endswith('\\') else raw)
            st = Statement(first, i, ' '.join(p.strip() for p in parts if p.strip()))
            if st.kind == 'queue' and st.text.rstrip().endswith('('):
                # queue ... from/in ( item lines ) : the items run to the closing parenthesis
                while i < n and self.lines[i].strip() != ')' and not self.lines[i].rstrip().endswith(')'):
                    i += 1
                i = min(i + 1, n)
                st.last = i
            self.statements.append(st)

    def assignments(self):
        return [s for s in self.statements if s.kind == 'assign']

    def find(self, name):
        """The last statement setting a command (HTCondor uses the last one), or None."""
        name = canonical(name)
        found = None
        for s in self.assignments():
            if s.name == name:
                found = s
        return found

    def line_of(self, name):
        s = self.find(name)
        return s.first if s else None

    def queue_statements(self):
        return [s for s in self.statements if s.kind == 'queue']

    def prefixes(self):
        """(line, text of the file up to and including each logical line): to find where a parse fails."""
        for s in self.statements:
            yield s.first, ''.join(self.lines[:s.last])

    def line_of_physical(self, line):
        """The logical statement a physical line belongs to."""
        for s in self.statements:
            if s.first <= line <= s.last:
                return s
        return None


# -- quantities ---------------------------------------------------------------------------------------
def quantity(value, command):
    """A request_* value in base units (bytes for memory and disk, a count otherwise), or None when it is
    not a plain number (an expression, a macro)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) * DEFAULT_UNITS.get(command, 1)
    m = _QUANTITY.match(str(value))
    if not m:
        return None
    number = float(m.group(1))
    suffix = m.group(2).lower()
    unit = _SUFFIX[suffix] if suffix else DEFAULT_UNITS.get(command, 1)
    if command not in DEFAULT_UNITS and suffix:
        return None
    return number * unit


def human(amount, command):
    """Base units back into the command's own unit, for messages."""
    if command == 'request_memory':
        return '%g MB' % (amount / 1024 ** 2)
    if command == 'request_disk':
        return '%g KB' % (amount / 1024)
    return '%g' % amount


# -- the site policy -----------------------------------------------------------------------------------
class Policy(object):
    """required: commands the user must set; forbidden: commands the user may not set; defaults: commands
    (and +Attributes) added when not set; append_requirements: expressions and-ed onto requirements;
    limits: upper bounds of numeric commands (request_memory and request_disk with units)."""

    def __init__(self, data=None, path='<policy>'):
        self.path = path
        self.required = []
        self.forbidden = []
        self.defaults = []          # [(key as written, value)] in file order
        self.append_requirements = []
        self.limits = {}            # canonical name -> (value as written, base units)
        if data is None:
            return
        if not isinstance(data, dict):
            raise PolicyError('policy %s: the top level must be a mapping with the keys %s, not %s'
                              % (path, ', '.join(POLICY_KEYS), type(data).__name__))
        unknown = sorted(str(k) for k in data if k not in POLICY_KEYS)
        if unknown:
            raise PolicyError('policy %s: unknown key %s (allowed: %s)'
                              % (path, ', '.join(unknown), ', '.join(POLICY_KEYS)))
        self.required = self._names(data, 'required')
        self.forbidden = self._names(data, 'forbidden')
        both = sorted(set(canonical(n) for n in self.required) & set(canonical(n) for n in self.forbidden))
        if both:
            raise PolicyError('policy %s: %s is both required and forbidden' % (path, ', '.join(both)))
        defaults = data.get('defaults') or {}
        if not isinstance(defaults, dict):
            raise PolicyError('policy %s: defaults must be a mapping of submit command to value, not %s'
                              % (path, type(defaults).__name__))
        for key, value in defaults.items():
            key = str(key)
            if not _ASSIGN.match('%s = x' % key):
                raise PolicyError('policy %s: defaults.%s is not a submit command name' % (path, key))
            if isinstance(value, (dict, list)) or value is None:
                raise PolicyError('policy %s: defaults.%s must be a single value (string or number)' % (path, key))
            if canonical(key) == 'requirements':
                raise PolicyError('policy %s: defaults.%s: use append_requirements for requirements' % (path, key))
            self.defaults.append((key, _text(value)))
        appended = data.get('append_requirements') or []
        if isinstance(appended, str):
            appended = [appended]
        if not isinstance(appended, list) or not all(isinstance(a, str) and a.strip() for a in appended):
            raise PolicyError('policy %s: append_requirements must be a ClassAd expression or a list of them'
                              % path)
        self.append_requirements = [a.strip() for a in appended]
        limits = data.get('limits') or {}
        if not isinstance(limits, dict):
            raise PolicyError('policy %s: limits must be a mapping of submit command to maximum' % path)
        for key, value in limits.items():
            name = canonical(str(key))
            amount = quantity(value, name)
            if amount is None:
                raise PolicyError('policy %s: limits.%s = %r is not a number%s' % (
                    path, key, value, ' (units K, M, G, T allowed)' if name in DEFAULT_UNITS else ''))
            self.limits[name] = (_text(value), amount)

    def _names(self, data, key):
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise PolicyError('policy %s: %s must be a list of submit command names' % (self.path, key))
        return [v.strip() for v in value]

    def default_for(self, name):
        name = canonical(name)
        for key, value in self.defaults:
            if canonical(key) == name:
                return value
        return None


def _text(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def requirement_terms(requirements):
    """The top-level && terms of a requirements text, without surrounding parentheses (for idempotence)."""
    terms = []
    depth = 0
    quote = False
    start = 0
    text = requirements
    i = 0
    while i < len(text):
        c = text[i]
        if c == '"' and (i == 0 or text[i - 1] != '\\'):
            quote = not quote
        elif not quote:
            if c == '(':
                depth += 1
            elif c == ')':
                depth -= 1
            elif c == '&' and depth == 0 and text[i:i + 2] == '&&':
                terms.append(text[start:i])
                start = i + 2
                i += 1
        i += 1
    terms.append(text[start:])
    return [_strip_parens(t) for t in terms if t.strip()]


def _strip_parens(term):
    term = term.strip()
    while term.startswith('(') and term.endswith(')') and _balanced(term[1:-1]):
        term = term[1:-1].strip()
    return ' '.join(term.split())


def _balanced(text):
    depth = 0
    for c in text:
        if c == '(':
            depth += 1
        elif c == ')':
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def combine_requirements(existing, appended):
    """(existing) && (a) && (b), leaving out the terms already there. Returns (text, added terms)."""
    have = set(requirement_terms(existing)) if existing else set()
    added = [a for a in appended if _strip_parens(a) not in have]
    if not added:
        return existing, []
    parts = (['(%s)' % existing.strip()] if existing and existing.strip() else []) + ['(%s)' % a for a in added]
    return ' && '.join(parts), added


def augment(description, edits, inserts):
    """The text of a description with `edits` ({statement: new logical line}) replacing statements and
    `inserts` (lines) put before the first queue statement (or at the end)."""
    out = []
    queue = description.queue_statements()
    anchor = queue[0].first if queue else None
    by_first = dict((s.first, s) for s in edits)
    i = 1
    n = len(description.lines)
    inserted = False
    while i <= n:
        if anchor == i and inserts and not inserted:
            out.append(MARKER + '\n')
            out.extend(line + '\n' for line in inserts)
            inserted = True
        if i in by_first:
            st = by_first[i]
            out.append(edits[st] + '\n')
            i = st.last + 1
            continue
        out.append(description.lines[i - 1])
        i += 1
    if inserts and not inserted:
        if out and not out[-1].endswith('\n'):
            out[-1] += '\n'
        out.append(MARKER + '\n')
        out.extend(line + '\n' for line in inserts)
    return ''.join(out)
