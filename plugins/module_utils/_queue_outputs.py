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
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath

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
