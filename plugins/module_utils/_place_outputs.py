# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Put the outputs brought home from a site at their home paths (standard library only).

The transport leaves each file at SRC_ROOT + its site path. Each one is copied (streamed) to a temporary
file beside its home path, given the site file's mode (without setuid/setgid), its mtime and the job owner
as owner, and renamed over the home path. What cannot be placed is a conflict, never overwritten: an input
of the jobs, a home file changed after the export, a missing parent directory, a missing source, something
other than a regular file in the way.

This runs as root in directories users own, so no path is trusted: directories are opened one component at
a time without following symbolic links (except links root owns, such as /home -> /export/home), the
temporary file is created in the opened directory, and the rename happens there. Below SRC_ROOT no symbolic
link is followed at all (the site's files are as the users left them).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import posixpath
import pwd
import shutil
import stat
import uuid

BUFFER = 16 << 20
MAX_LINKS = 40

_DIR_FLAGS = os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0) | getattr(os, 'O_CLOEXEC', 0)
_NOFOLLOW = getattr(os, 'O_NOFOLLOW', 0)


class Conflict(Exception):
    """A file that is not placed; the message is the reason."""


def open_dir(path, base=None, root_links=True):
    """An open fd of the directory `path`: absolute, or relative to the open directory `base`.

    Walked one component at a time; a symbolic link is followed only with root_links and when root owns it.
    Raises Conflict naming the component that is missing, not a directory, or a link not to follow."""
    parts = [c for c in path.split('/') if c and c != '.']
    if '..' in parts:
        raise Conflict('%s has a ".." component' % path)
    parts.reverse()
    fd = os.open('/' if base is None else '.', _DIR_FLAGS, dir_fd=base)
    walked = '/' if base is None else ''
    links = 0
    try:
        while parts:
            name = parts.pop()
            try:
                nfd = os.open(name, _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)
            except OSError as e:
                here = posixpath.join(walked, name)
                try:
                    st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                except OSError:
                    if e.errno in (errno.ENOENT, errno.ENOTDIR):
                        raise Conflict('directory %s is missing' % here)
                    raise
                if not stat.S_ISLNK(st.st_mode):
                    if stat.S_ISDIR(st.st_mode):
                        raise
                    raise Conflict('%s is not a directory' % here)
                if not root_links or st.st_uid != 0:
                    raise Conflict('%s is a symbolic link%s: not followed' % (
                        here, '' if not root_links else ' owned by uid %d' % st.st_uid))
                links += 1
                if links > MAX_LINKS:
                    raise Conflict('too many symbolic links at %s' % here)
                target = os.readlink(name, dir_fd=fd)
                more = [c for c in target.split('/') if c and c != '.']
                more.reverse()
                parts.extend(more)
                if target.startswith('/'):
                    os.close(fd)
                    fd = os.open('/', _DIR_FLAGS)
                    walked = '/'
                continue
            os.close(fd)
            fd = nfd
            walked = posixpath.join(walked, name)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _lstat_at(name, dir_fd):
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError as e:
        if e.errno == errno.ENOENT:
            return None
        raise


def target_mode(mode):
    return stat.S_IMODE(mode) & ~(stat.S_ISUID | stat.S_ISGID)


def same_file(home_st, src_st, uid, gid):
    """A home file already placed from this source: same size, mtime (whole seconds, as rsync compares),
    owner and mode."""
    return (stat.S_ISREG(home_st.st_mode) and home_st.st_size == src_st.st_size
            and int(home_st.st_mtime) == int(src_st.st_mtime)
            and home_st.st_uid == uid and home_st.st_gid == gid
            and stat.S_IMODE(home_st.st_mode) == target_mode(src_st.st_mode))


def _copy(src_fd, dir_fd, name, src_st, uid, gid):
    """Copy the open source into a new file beside `name` in dir_fd, then rename it over `name`."""
    while True:
        tmp = '.%s.%s.tmp' % (name[:100], uuid.uuid4().hex[:12])
        try:
            out_fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, 'O_CLOEXEC', 0),
                             0o600, dir_fd=dir_fd)
            break
        except OSError as e:
            if e.errno != errno.EEXIST:
                raise
    try:
        with os.fdopen(out_fd, 'wb') as out:
            with os.fdopen(os.dup(src_fd), 'rb') as src:
                shutil.copyfileobj(src, out, BUFFER)
            out.flush()
            os.fchown(out.fileno(), uid, gid)
            os.fchmod(out.fileno(), target_mode(src_st.st_mode))
            os.utime(out.fileno(), ns=(src_st.st_atime_ns, src_st.st_mtime_ns))
            os.fsync(out.fileno())
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except OSError:
            pass
        raise


class Placer(object):
    """place(entry) for each file of queue_outputs; the lists of what happened are its attributes."""

    def __init__(self, src_root, inputs=(), since=None, check_mode=False):
        self.src_root = src_root
        self.inputs = set(posixpath.normpath(p) for p in inputs)
        self.since = since
        self.check_mode = check_mode
        self.placed = []
        self.unchanged = []
        self.conflicts = []
        self.bytes = 0
        self._seen = set()
        self._owners = {}
        self._root_fd = None
        self._dirty_dirs = set()

    def __enter__(self):
        self._root_fd = open_dir(self.src_root, root_links=True)
        return self

    def __exit__(self, *exc):
        if self._root_fd is not None:
            os.close(self._root_fd)
            self._root_fd = None
        return False

    def src_of(self, site):
        return posixpath.join(self.src_root, site.lstrip('/'))

    def _owner(self, name):
        if name not in self._owners:
            try:
                pw = pwd.getpwnam(name)
                self._owners[name] = (pw.pw_uid, pw.pw_gid)
            except (KeyError, TypeError):
                self._owners[name] = None
        return self._owners[name]

    def place(self, entry):
        """Place one file of queue_outputs' `files` (ignored: user logs and files that do not exist)."""
        if not entry.get('exists', True) or entry.get('kind') == 'userlog':
            return
        home = posixpath.normpath(entry['home'])
        if home in self._seen:
            return
        self._seen.add(home)
        site = posixpath.normpath(entry['site'])
        try:
            self._place(entry, site, home)
        except Conflict as e:
            self.conflicts.append({'job': entry.get('job'), 'home': home, 'reason': str(e),
                                   'src': self.src_of(site)})
        except (IOError, OSError) as e:
            self.conflicts.append({'job': entry.get('job'), 'home': home, 'src': self.src_of(site),
                                   'reason': 'cannot be placed: %s' % (e.strerror or e)})

    def _place(self, entry, site, home):
        if not home.startswith('/') or not site.startswith('/'):
            raise Conflict('site and home paths must be absolute')
        owner = self._owner(entry.get('owner'))
        if owner is None:
            raise Conflict('its owner %r is not a user here' % entry.get('owner'))
        uid, gid = owner
        src_fd = self._open_src(site)
        try:
            src_st = os.fstat(src_fd)
            parent, name = posixpath.split(home)
            if not name:
                raise Conflict('no file name')
            try:
                dir_fd = open_dir(parent)
            except Conflict as e:
                raise Conflict('the parent directory cannot be used: %s' % e)
            try:
                home_st = _lstat_at(name, dir_fd)
                if home_st is not None and same_file(home_st, src_st, uid, gid):
                    self.unchanged.append(home)
                    return
                if home in self.inputs:
                    raise Conflict('it is an input of the jobs: never overwritten')
                if home_st is not None:
                    if stat.S_ISDIR(home_st.st_mode):
                        raise Conflict('a directory is in the way')
                    if not stat.S_ISREG(home_st.st_mode):
                        raise Conflict('something other than a regular file is in the way')
                    if self.since is not None and home_st.st_mtime > self.since:
                        raise Conflict('the home file changed after the export')
                if not self.check_mode:
                    _copy(src_fd, dir_fd, name, src_st, uid, gid)
                    self._dirty_dirs.add(parent)
            finally:
                os.close(dir_fd)
        finally:
            os.close(src_fd)
        self.placed.append(home)
        self.bytes += src_st.st_size

    def _open_src(self, site):
        parent, name = posixpath.split(site)
        try:
            dir_fd = open_dir(parent.lstrip('/'), base=self._root_fd, root_links=False)
        except Conflict as e:
            raise Conflict('the source is missing under src_root: %s' % e)
        try:
            try:
                fd = os.open(name, os.O_RDONLY | _NOFOLLOW | getattr(os, 'O_CLOEXEC', 0) | getattr(os, 'O_NONBLOCK', 0),
                             dir_fd=dir_fd)
            except OSError as e:
                if e.errno == errno.ENOENT:
                    raise Conflict('the source is missing under src_root')
                if e.errno == errno.ELOOP:
                    raise Conflict('the source is a symbolic link: not followed')
                raise
        finally:
            os.close(dir_fd)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise Conflict('the source is not a regular file')
        return fd

    def sync(self):
        """Flush the directories renamed into to disk (once each)."""
        for d in sorted(self._dirty_dirs):
            try:
                fd = open_dir(d)
            except (Conflict, OSError):
                continue
            try:
                os.fsync(fd)
            except OSError:
                pass
            finally:
                os.close(fd)
        self._dirty_dirs.clear()
