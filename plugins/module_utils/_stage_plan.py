# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Group (src, dest) file pairs into transfers a tar or rsync of relative paths can make (standard library only).

A manifest maps each file on the submit side to its place in the sandbox (/home/alice/w/in.txt to
/scratch/run7/sandbox/home/alice/w/in.txt). tar and rsync copy relative paths from one directory into another,
so the pairs are grouped by the part their paths share at the end: here the group copies home/alice/w/in.txt
from / into /scratch/run7/sandbox. Every pair whose trailing components agree falls in the group of its two
prefixes; a pair that renames its base name cannot be copied that way and is an error.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import posixpath


class StagePlanError(Exception):
    pass


def split_pair(src, dest):
    """(src_dir, dest_dir, relative path) for a pair whose paths end alike; the shortest prefixes win."""
    for what, path in (('src', src), ('dest', dest)):
        if not isinstance(path, str) or not path.startswith('/') or posixpath.normpath(path) != path \
                or path == '/':
            raise StagePlanError('%s %r is not a normalized absolute file path' % (what, path))
    s = src.split('/')[1:]
    d = dest.split('/')[1:]
    common = 0
    while common < min(len(s), len(d)) and s[len(s) - 1 - common] == d[len(d) - 1 - common]:
        common += 1
    if common == 0:
        raise StagePlanError('%s and %s have different base names: a sandbox file keeps its name' % (src, dest))
    rel = '/'.join(s[len(s) - common:])
    return '/' + '/'.join(s[:len(s) - common]), '/' + '/'.join(d[:len(d) - common]), rel


def plan(pairs):
    """[{'src_dir', 'dest_dir', 'files': [rel, ...] sorted}] in a stable order; a dest given twice is an error."""
    groups = {}
    dests = {}
    for src, dest in pairs:
        if dest in dests and dests[dest] != src:
            raise StagePlanError('%s is the destination of both %s and %s' % (dest, dests[dest], src))
        dests[dest] = src
        src_dir, dest_dir, rel = split_pair(src, dest)
        groups.setdefault((src_dir, dest_dir), set()).add(rel)
    return [{'src_dir': k[0], 'dest_dir': k[1], 'files': sorted(v)} for k, v in sorted(groups.items())]


def sizes(group):
    """(bytes, missing files) of a group's sources on this host."""
    total = 0
    missing = []
    for rel in group['files']:
        path = posixpath.join(group['src_dir'], rel)
        try:
            st = os.stat(path)
        except OSError:
            missing.append(path)
            continue
        total += st.st_size
    return total, missing


def list_content(group):
    """The NUL-separated relative paths (tar --null -T, rsync --from0 --files-from)."""
    return b''.join(rel.encode('utf-8', 'surrogateescape') + b'\0' for rel in group['files'])
