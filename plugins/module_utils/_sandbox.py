# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Path prefix mapping between the submit side and an HPC sandbox (standard library only).

A mapping moves every path under `from` to the same place under `to`. Prefixes match whole path
components ("/home/al" does not match "/home/alice"). A path already under some `to` counts as mapped,
which makes a second rewrite with the same mappings change nothing even when `to` lies under `from`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath
import re

DEV_NULL = '/dev/null'

# Where Schedd.export_jobs points the Iwd of a proc ad that had its own Iwd:
# NEW_SPOOL_DIR/<cluster % 10000>/<proc % 10000>/cluster<C>.proc<P>.subproc0
SPOOL_PLACEHOLDER_RE = re.compile(r'/([0-9]+)/([0-9]+)/cluster([0-9]+)\.proc([0-9]+)\.subproc0/?$')


class PathMapError(ValueError):
    pass


def normalize_dir(path, what):
    if not isinstance(path, str) or not path.startswith('/'):
        raise PathMapError('%s must be an absolute path, got %r' % (what, path))
    norm = posixpath.normpath(path)
    if norm.startswith('//'):
        norm = '/' + norm.lstrip('/')
    return norm


def is_within(path, root):
    """True when normalized absolute `path` is `root` or below it."""
    if root == '/':
        return path.startswith('/')
    return path == root or path.startswith(root + '/')


def is_url(entry):
    return '://' in entry


class PathMap(object):
    """An ordered set of prefix mappings; longer `from` prefixes win.

    mappings: list of dicts {'from': ..., 'to': ...}. sandbox: optional root every `to` must lie in.
    site_paths: prefixes that exist on the site as they are (never mapped, never an error).
    """

    def __init__(self, mappings, sandbox=None, site_paths=(DEV_NULL,)):
        self.sandbox = normalize_dir(sandbox, 'sandbox') if sandbox else None
        pairs = []
        for i, m in enumerate(mappings or []):
            src = normalize_dir(m.get('from'), 'path_map[%d].from' % i)
            dst = normalize_dir(m.get('to'), 'path_map[%d].to' % i)
            if src == '/':
                raise PathMapError('path_map[%d].from is "/": map the directories the jobs use, not the whole '
                                   'file system' % i)
            if dst == '/':
                raise PathMapError('path_map[%d].to is "/": give the directory in the sandbox the files go to' % i)
            if self.sandbox and not is_within(dst, self.sandbox):
                raise PathMapError('path_map[%d].to %s is outside the sandbox %s: every mapped path must stay '
                                   'inside it' % (i, dst, self.sandbox))
            pairs.append((src, dst))
        for what, index in (('from', 0), ('to', 1)):
            seen = set()
            for pair in pairs:
                if pair[index] in seen:
                    raise PathMapError('path_map has "%s" %s twice: give each once' % (what, pair[index]))
                seen.add(pair[index])
        for src, dst in pairs:
            for src2, dst2 in pairs:
                # a `to` inside another `to` is only unambiguous when its `from` sits at the same place
                # inside the other `from`: otherwise two submit-side paths share one sandbox path
                if dst2 != dst and is_within(dst2, dst) and src2 != src + dst2[len(dst):]:
                    raise PathMapError('path_map "to" %s lies inside "to" %s, but its "from" %s is not %s: '
                                       'one sandbox path would stand for two submit-side paths; give it a "to" '
                                       'outside %s' % (dst2, dst, src2, src + dst2[len(dst):], dst))
        self.pairs = sorted(pairs, key=lambda p: len(p[0]), reverse=True)
        self.targets = sorted((dst for _src, dst in pairs), key=len, reverse=True)
        self._source_of = dict((dst, src) for src, dst in pairs)
        self.site_paths = [normalize_dir(p, 'site_paths entry') for p in (site_paths or [])]
        self.used = set()           # the `from` prefixes that matched at least one path
        # bytes forms for the hot path of a big rewrite
        self._bpairs = [(s.encode('utf-8', 'surrogateescape'), d.encode('utf-8', 'surrogateescape'))
                        for s, d in self.pairs]
        self._btargets = [t.encode('utf-8', 'surrogateescape') for t in self.targets]

    def roots(self):
        """The directories mapped paths may live in: the sandbox, or else every `to`."""
        return [self.sandbox] if self.sandbox else list(self.targets)

    def classify(self, path):
        """('mapped', new) | ('already', path) | ('site', path) | ('unmapped', path) for a normalized
        absolute path."""
        for dst in self.targets:
            if is_within(path, dst):
                self.used.add(self._source_of[dst])
                return 'already', path
        for src, dst in self.pairs:
            if is_within(path, src):
                self.used.add(src)
                return 'mapped', dst + path[len(src):]
        for p in self.site_paths:
            if is_within(path, p):
                return 'site', path
        return 'unmapped', path

    def unmap(self, path):
        """The submit-side path of a path already in the sandbox (the inverse of a mapping)."""
        for dst in self.targets:
            if is_within(path, dst):
                return self._source_of[dst] + path[len(dst):]
        return path

    def map_bytes(self, path):
        """The mapped form of an absolute path given as bytes, or None when it is unchanged. Hot path: no
        normalization (the caller's values come straight from the log)."""
        for dst in self._btargets:
            if path.startswith(dst) and (len(path) == len(dst) or path[len(dst):len(dst) + 1] == b'/'):
                return None
        for src, dst in self._bpairs:
            if path.startswith(src) and (len(path) == len(src) or path[len(src):len(src) + 1] == b'/'):
                return dst + path[len(src):]
        return None

    def inside_roots(self, path):
        return any(is_within(path, r) for r in self.roots())


def resolve(path, iwd):
    """A job path as HTCondor resolves it: absolute as is, relative against the job's Iwd; normalized."""
    if not path.startswith('/'):
        if iwd is None:
            return None
        path = posixpath.join(iwd, path)
    norm = posixpath.normpath(path)
    if norm.startswith('//'):
        norm = '/' + norm.lstrip('/')
    return norm


def split_list(value):
    """HTCondor's file lists: comma separated, whitespace around entries ignored, empty entries dropped."""
    return [e.strip() for e in value.split(',') if e.strip()]


def split_remaps(value):
    """TransferOutputRemaps "name = dest; name2 = dest2" -> [(name, dest)]; "\\;" and "\\=" are escapes."""
    pairs = []
    for item in re.split(r'(?<!\\);', value):
        if not item.strip():
            continue
        parts = re.split(r'(?<!\\)=', item, maxsplit=1)
        if len(parts) != 2:
            continue
        name, dest = parts
        pairs.append((name.strip().replace('\\;', ';').replace('\\=', '='),
                      dest.strip().replace('\\;', ';').replace('\\=', '=')))
    return pairs


def spool_placeholder_job(path):
    """'C.P' when `path` has the shape export_jobs gives a proc's Iwd, else None."""
    m = SPOOL_PLACEHOLDER_RE.search(path)
    if not m:
        return None
    return '%s.%s' % (m.group(3), m.group(4))
