# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What jobs that ran at a site left for the way home (standard library only).

Reads the site's log (rewritten by queue_rewrite, so its paths are sandbox paths and SUBMIT_Iwd holds each
job's Iwd at home) and lists, per job, where each output is at the site and where it belongs at home, as
HTCondor's own file transfer would have put it:

- Out and Err, relative to the Iwd or absolute;
- every TransferOutput entry, brought back into the Iwd under its base name, or to its
  TransferOutputRemaps destination;
- when TransferOutput is not set, whatever the job wrote in its Iwd: the Iwd is listed for a scan (which
  files are new is only known at the site);
- UserLog, grouped by log file: its events are appended at home, not copied (see userlog_append).

A site path that lies in no mapping's sandbox target cannot be placed at home and is a problem naming the
job.

At the site, site_files() then looks at the files themselves: each listed file gets its size and whether it
exists, and the Iwds to scan give their new files (top level only, as HTCondor's file transfer without
transfer_output_files), less the staged inputs and HTCondor's own files. transfer_list() is what the
transport copies home.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import posixpath
import stat

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_manifest import Problems, iter_jobs
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._sandbox import (
    DEV_NULL,
    is_url,
    resolve,
    split_list,
    split_remaps,
)


def _home_of(pathmap, site_path):
    """The submit-side path of a sandbox path, or None when no mapping's target holds it."""
    status, _path = pathmap.classify(site_path)
    return pathmap.unmap(site_path) if status == 'already' else None


def job_outputs(state, pathmap):
    """{'files': [...], 'userlogs': [...], 'scan_dirs': [...], 'jobs': N}, Problems."""
    problems = Problems()
    files = []
    scan_dirs = []
    userlogs = {}
    jobs = 0
    for job in iter_jobs(state):
        jobs += 1
        jid = job.id
        owner = job.string('Owner')
        site_iwd = job.string('Iwd')
        if not site_iwd or not site_iwd.startswith('/'):
            problems.add(jid, 'has no absolute Iwd at the site (%r)' % site_iwd)
            continue
        site_iwd = resolve(site_iwd, None)
        home_iwd = job.string('SUBMIT_Iwd') or _home_of(pathmap, site_iwd)
        if home_iwd is None:
            problems.add(jid, 'Iwd %s is in no sandbox target and the job has no SUBMIT_Iwd: is this the log '
                              'queue_rewrite wrote for the site?' % site_iwd)
            continue
        home_iwd = resolve(home_iwd, None)

        def place(entry, kind):
            if entry.startswith('/'):
                site = resolve(entry, None)
                home = _home_of(pathmap, site)
                if home is None:
                    problems.add(jid, '%s %s is outside the sandbox: it cannot be brought home' % (kind, entry))
                    return None
                return site, home
            return resolve(entry, site_iwd), resolve(entry, home_iwd)

        def add(entry, kind):
            placed = place(entry, kind)
            if placed is not None:
                files.append({'job': jid, 'owner': owner, 'kind': kind, 'site': placed[0], 'home': placed[1]})

        for kind, name in (('stdout', 'Out'), ('stderr', 'Err')):
            value = job.string(name)
            if value and value != DEV_NULL:
                add(value, kind)
        remaps = dict(split_remaps(job.string('TransferOutputRemaps') or ''))
        listed = [e for e in split_list(job.string('TransferOutput') or '') if not is_url(e)]
        for entry in listed:
            name = posixpath.basename(entry.rstrip('/'))
            dest = remaps.get(name) or remaps.get(entry)
            if dest is not None:
                if not is_url(dest):
                    add(dest, 'remap')
            else:
                add(name, 'output')
        if not job.string('TransferOutput'):
            scan_dirs.append({'job': jid, 'owner': owner, 'site': site_iwd, 'home': home_iwd})
        log = job.string('UserLog')
        if log and log != DEV_NULL:
            placed = place(log, 'userlog')
            if placed is not None:
                entry = userlogs.setdefault(placed, {'site': placed[0], 'home': placed[1], 'owner': owner, 'jobs': []})
                entry['jobs'].append(jid)
    return {
        'jobs': jobs,
        'files': files,
        'userlogs': [userlogs[k] for k in sorted(userlogs)],
        'scan_dirs': scan_dirs,
    }, problems


# Files HTCondor itself writes in a job's scratch directory: never outputs of the job.
CONDOR_FILES = frozenset(('.job.ad', '.machine.ad', '.update.ad', '.chirp.config'))
CONDOR_PREFIX = '_condor_'

_TYPES = ((stat.S_ISDIR, 'a directory'), (stat.S_ISLNK, 'a symbolic link'), (stat.S_ISFIFO, 'a FIFO'),
          (stat.S_ISSOCK, 'a socket'), (stat.S_ISCHR, 'a device'), (stat.S_ISBLK, 'a device'))


def is_condor_file(name):
    """True for the files HTCondor writes beside a job (its ads, chirp configuration, _condor_* files)."""
    return name in CONDOR_FILES or name.startswith(CONDOR_PREFIX)


def _what(mode):
    for test, text in _TYPES:
        if test(mode):
            return text
    return 'not a regular file'


def file_state(path):
    """(exists, size, reason): a regular file (symbolic links are not followed) exists; anything else does not,
    and reason says why."""
    try:
        st = os.lstat(path)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            return False, 0, 'not produced'
        return False, 0, 'cannot be read: %s' % (e.strerror or e)
    if stat.S_ISREG(st.st_mode):
        return True, st.st_size, None
    return False, 0, 'is %s, not a regular file: only files are brought home' % _what(st.st_mode)


def _scan_iwd(directory):
    """[(name, size)] of the regular files directly in `directory` (sorted by name), or None when it is not a
    directory here."""
    try:
        with os.scandir(directory) as it:
            entries = list(it)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise
    found = []
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False):
                found.append((entry.name, entry.stat(follow_symlinks=False).st_size))
        except OSError:
            continue        # gone since it was listed
    found.sort()
    return found


def site_files(result, scan=False, inputs=()):
    """Look at the files of a job_outputs() result at the site, in place.

    Every file and user log gets `exists` and `size`. With scan, the regular files directly in each scan
    dir's site Iwd are added to `files` as kind `iwd` (each file once, for the first job whose Iwd it is),
    except files already listed, HTCondor's own files and `inputs` (site paths of the staged inputs).
    Returns the list of what is missing: {job, kind, site, reason} (a scan dir that is not a directory
    at the site has kind `scan_dir`). Raises OSError when an Iwd cannot be read."""
    missing = []
    for f in result['files']:
        f['exists'], f['size'], reason = file_state(f['site'])
        if reason:
            missing.append({'job': f['job'], 'kind': f['kind'], 'site': f['site'], 'reason': reason})
    for log in result['userlogs']:
        log['exists'], log['size'], reason = file_state(log['site'])
        if reason:
            missing.append({'job': log['jobs'][0], 'kind': 'userlog', 'site': log['site'], 'reason': reason})
    if not scan:
        return missing
    taken = set(f['site'] for f in result['files'])
    taken.update(log['site'] for log in result['userlogs'])
    taken.update(posixpath.normpath(p) for p in inputs)
    scanned = set()
    for d in result['scan_dirs']:
        if d['site'] in scanned:
            continue
        scanned.add(d['site'])
        found = _scan_iwd(d['site'])
        if found is None:
            missing.append({'job': d['job'], 'kind': 'scan_dir', 'site': d['site'],
                            'reason': 'the Iwd is not a directory at the site'})
            continue
        for name, size in found:
            site = posixpath.join(d['site'], name)
            if site in taken or is_condor_file(name):
                continue
            taken.add(site)
            result['files'].append({'job': d['job'], 'owner': d['owner'], 'kind': 'iwd', 'site': site,
                                    'home': posixpath.join(d['home'], name), 'exists': True, 'size': size})
    return missing


def transfer_list(result):
    """(paths, bytes): the site paths of every existing file and user log, sorted (as bytes), each once, and
    their total size."""
    paths = {}
    for f in result['files'] + result['userlogs']:
        if f.get('exists'):
            paths[f['site']] = f['size']
    return sorted(paths, key=_encode), sum(paths.values())


def _encode(path):
    return path.encode('utf-8', 'surrogateescape')


def encode_list(paths):
    """NUL-terminated paths, for rsync --from0 --files-from and tar --null -T."""
    return b''.join(_encode(p) + b'\0' for p in paths)
