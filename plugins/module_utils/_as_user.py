# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Do a file system check or change as another local user, the way a daemon acting for that user would.

The schedd writes an export and reads an import as the job owner, so "is this directory writable?" must be
answered for the owner, not for root (root may write anywhere; the owner may not, and the reason can be a
parent directory, an ACL or a read-only mount). `run_as` forks a child that drops to the user's groups, gid
and uid and runs a small function there; the answer comes back as JSON through a pipe. Standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os
import pwd
import tempfile


class AsUserError(Exception):
    """The check could not be made as that user (unknown account, cannot switch user, child died)."""


class Account(object):
    """A local account: name, uid, gid, supplementary groups, home."""

    def __init__(self, name, uid, gid, groups, home):
        self.name = name
        self.uid = uid
        self.gid = gid
        self.groups = groups
        self.home = home

    @classmethod
    def by_name(cls, name):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            raise AsUserError('there is no local account %r on this host' % name)
        return cls(pw.pw_name, pw.pw_uid, pw.pw_gid, os.getgrouplist(pw.pw_name, pw.pw_gid), pw.pw_dir)

    @classmethod
    def current(cls):
        uid = os.geteuid()
        try:
            pw = pwd.getpwuid(uid)
        except KeyError:
            return cls(str(uid), uid, os.getegid(), os.getgroups(), None)
        return cls(pw.pw_name, uid, os.getegid(), os.getgroups(), pw.pw_dir)


def can_act_as(account):
    """True when this process may run checks as `account` (it is that user, or it is root)."""
    return os.geteuid() in (0, account.uid)


def run_as(account, func, *args):
    """Run func(*args) as `account` and return its result (anything JSON can carry).

    In this process when it already runs as that uid; else in a forked child that drops privileges (which
    requires root). An exception raised by func comes back as AsUserError with its text."""
    if os.geteuid() == account.uid:
        try:
            return func(*args)
        except (IOError, OSError) as e:
            raise AsUserError(_os_error_text(e))
    if os.geteuid() != 0:
        raise AsUserError('cannot act as %s (uid %d) while running as uid %d: run as root or as %s'
                          % (account.name, account.uid, os.geteuid(), account.name))
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into the caller's code
        status = 0
        try:
            os.close(read_fd)
            try:
                os.setgroups(account.groups)
                os.setgid(account.gid)
                os.setuid(account.uid)
                reply = {'result': func(*args)}
            except (IOError, OSError) as e:
                reply = {'error': _os_error_text(e)}
            except Exception as e:  # pylint: disable=broad-except
                reply = {'error': '%s: %s' % (type(e).__name__, e)}
            data = json.dumps(reply).encode('utf-8')
            while data:
                data = data[os.write(write_fd, data):]
            os.close(write_fd)
        except BaseException:  # pylint: disable=broad-except
            status = 1
        finally:
            os._exit(status)  # pylint: disable=protected-access
    os.close(write_fd)
    chunks = []
    try:
        while True:
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        os.waitpid(pid, 0)
    try:
        reply = json.loads(b''.join(chunks).decode('utf-8'))
    except ValueError:
        raise AsUserError('the check as %s did not complete' % account.name)
    if 'error' in reply:
        raise AsUserError(reply['error'])
    return reply['result']


def _os_error_text(e):
    text = e.strerror or str(e)
    if getattr(e, 'filename', None):
        text = '%s: %s' % (e.filename, text)
    return text


def nearest_existing(path):
    """The deepest existing ancestor of path (path itself when it exists)."""
    path = os.path.abspath(path)
    while not os.path.lexists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def probe_dir(path, create=False, mode=0o700, write_test=True):
    """Check (as the current user) that `path` is a directory this user can create files in.

    With create=True a missing directory is created (with its missing parents), the last one with `mode`.
    With write_test=True a temporary file is created and removed in it, which is the only complete answer
    (access(2) does not see every reason a write can fail). Returns a dict: exists, created, writable,
    problem (text or None), would_create (missing and the nearest existing parent is writable)."""
    out = {'exists': False, 'created': False, 'writable': False, 'problem': None, 'would_create': False}
    if os.path.lexists(path) and not os.path.isdir(path):
        out['problem'] = '%s exists and is not a directory' % path
        return out
    if not os.path.isdir(path):
        parent = nearest_existing(path)
        if not os.path.isdir(parent):
            out['problem'] = '%s is not a directory' % parent
            return out
        if not os.access(parent, os.W_OK | os.X_OK):
            out['problem'] = 'it does not exist and %s is not writable' % parent
            return out
        if not create:
            out['would_create'] = True
            return out
        try:
            os.makedirs(path, mode)
            os.chmod(path, mode)
        except (IOError, OSError) as e:
            if e.errno != errno.EEXIST:
                out['problem'] = 'cannot create it: %s' % _os_error_text(e)
                return out
        out['created'] = True
    out['exists'] = True
    if not os.access(path, os.W_OK | os.X_OK):
        out['problem'] = 'it is not writable (mode %o, owner uid %d)' % (
            os.stat(path).st_mode & 0o7777, os.stat(path).st_uid)
        return out
    if write_test:
        try:
            fd, name = tempfile.mkstemp(prefix='.lumberjack-probe-', dir=path)
            os.close(fd)
            os.unlink(name)
        except (IOError, OSError) as e:
            out['problem'] = 'cannot create a file in it: %s' % _os_error_text(e)
            return out
    out['writable'] = True
    return out
