# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Atomic file writes for the collection's module_utils (standard library only).

A file is written to a temporary file beside its destination, flushed to disk, given the destination's
mode and owner, and renamed over it: readers see the old content or the new, never half of it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import tempfile


class AtomicFile(object):
    """Context manager: `with AtomicFile(dest, like=path) as f: f.write(...)`; on a clean exit the
    content replaces `dest` (mode and owner taken from `like`, or from `dest` when it exists, else
    `mode`); on an exception the temporary file is removed and `dest` is untouched. With commit=False the
    content is left in `self.name` for the caller to move (for example with AnsibleModule.atomic_move)."""

    def __init__(self, dest, like=None, mode=0o600, binary=True, commit=True):
        self.dest = dest
        self.like = like
        self.mode = mode
        self.binary = binary
        self.commit = commit
        self.name = None
        self._f = None

    def __enter__(self):
        directory = os.path.dirname(os.path.abspath(self.dest))
        fd, self.name = tempfile.mkstemp(prefix='.%s.' % os.path.basename(self.dest), suffix='.tmp',
                                         dir=directory)
        self._f = os.fdopen(fd, 'wb' if self.binary else 'w')
        return self._f

    def __exit__(self, exc_type, exc, tb):
        f, self._f = self._f, None
        if exc_type is not None:
            f.close()
            remove_quietly(self.name)
            return False
        try:
            f.flush()
            os.fsync(f.fileno())
            f.close()
            copy_stat(self.like or self.dest, self.name, self.mode)
            if self.commit:
                os.rename(self.name, self.dest)
                fsync_dir(os.path.dirname(os.path.abspath(self.dest)))
        except Exception:
            remove_quietly(self.name)
            raise
        return False


def copy_stat(src, dest, default_mode):
    """Give `dest` the mode and (when running as root) the owner of `src`; `default_mode` if src is missing."""
    try:
        st = os.stat(src)
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise
        os.chmod(dest, default_mode)
        return
    os.chmod(dest, st.st_mode & 0o7777)
    if os.geteuid() == 0:
        os.chown(dest, st.st_uid, st.st_gid)


def fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_quietly(path):
    if path:
        try:
            os.unlink(path)
        except OSError:
            pass


def same_content(fobj, path, block=1 << 20):
    """True when the open binary file `fobj` (read from its start) holds exactly the content of `path`."""
    try:
        fobj.seek(0)
        with open(path, 'rb') as f:
            while True:
                x = fobj.read(block)
                if x != f.read(block):
                    return False
                if not x:
                    return True
    except (IOError, OSError):
        return False


class StagedFile(object):
    """A new version of `dest`, written aside before anything is decided.

        staged = StagedFile(dest, check_mode)
        with staged as f:
            f.write(...)
        if staged.changed: ... staged.commit(mode=0o600, uid=..., gid=...)   (a no-op in check mode)
        staged.discard()                                                     (always safe)

    In check mode the content goes to an anonymous temporary file, only to compare it with `dest`.
    Otherwise to a temporary file beside `dest`, renamed over it by commit(): never half a file at `dest`.
    """

    def __init__(self, dest, check_mode=False):
        self.dest = dest
        self.check_mode = check_mode
        self.name = None
        self.changed = None
        self._f = None

    def __enter__(self):
        if self.check_mode:
            self._f = tempfile.TemporaryFile()
        else:
            directory = os.path.dirname(os.path.abspath(self.dest))
            fd, self.name = tempfile.mkstemp(prefix='.%s.' % os.path.basename(self.dest), suffix='.tmp',
                                             dir=directory)
            self._f = os.fdopen(fd, 'w+b')
        return self._f

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.discard()
            return False
        self._f.flush()
        self.changed = not (os.path.isfile(self.dest) and same_content(self._f, self.dest))
        if not self.check_mode:
            os.fsync(self._f.fileno())
        self._f.close()
        self._f = None
        return False

    def commit(self, mode=0o600, uid=None, gid=None):
        """Put the new content at `dest` with this mode (and owner, when given)."""
        if self.check_mode or self.name is None:
            return
        os.chmod(self.name, mode)
        if uid is not None or gid is not None:
            os.chown(self.name, -1 if uid is None else uid, -1 if gid is None else gid)
        os.rename(self.name, self.dest)
        self.name = None
        fsync_dir(os.path.dirname(os.path.abspath(self.dest)))

    def discard(self):
        if self._f is not None:
            self._f.close()
            self._f = None
        remove_quietly(self.name)
        self.name = None
