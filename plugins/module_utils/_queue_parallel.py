# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Work on a big job_queue.log in parallel segments: where to cut it, and forked workers (standard library only).

A rewrite costs several times what reading the log costs, and one Python process uses one core. The log is
cut at cluster ads into a few segments of about equal size; the first runs in this process and each other
one in a forked child that writes its output into its own temporary file and sends its result back pickled.
Whether the segments' results add up to what one scan of the whole log would give is for the caller to
check (see _queue_rewrite); when they do not, it scans the log in one go.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pickle
import re
import shutil
import signal
import sys
import tempfile
import traceback

MAX_WORKERS = 4             # a login node is shared: a few cores at most
MIN_SEGMENT = 32 << 20      # below this a worker costs more than it saves
_WINDOW = 1 << 20           # bytes read at a time while looking for a place to cut
_MAX_LOOK = 64 << 20        # look this far past the ideal cut before giving up on it
_CLUSTER_AD = re.compile(rb'\n101 0?[1-9][0-9]*\.-1 ')     # a cluster ad begins on the next byte


def usable_cpus():
    if hasattr(os, 'sched_getaffinity'):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def worker_count(size, requested=None):
    """How many segments a log of `size` bytes is cut into: 1 when forking is not possible or not worth it."""
    if not hasattr(os, 'fork'):
        return 1
    if requested:
        return requested
    return max(1, min(usable_cpus(), MAX_WORKERS, size // MIN_SEGMENT))


def cut_points(path, size, count, first_share=0.95):
    """Offsets where segments 2..count start: the first cluster ad at or after each ideal cut (so that a
    cluster's ads usually stay in one segment), else the last one before it. The first segment, scanned by
    this process, gets first_share of an equal share (a worker also packs its answer; putting the results
    together comes after every segment is done); the others split the rest. Fewer cuts when no cluster ad
    is near enough."""
    first = size * first_share / count
    ideal = [int(first + (size - first) * i / (count - 1)) for i in range(count - 1)]
    cuts = []
    with open(path, 'rb') as f:
        for want in ideal:
            floor = cuts[-1] if cuts else 0
            found = _cluster_ad_after(f, max(want, floor + 1) - 1, size)
            if found is None:
                found = _cluster_ad_before(f, want, floor)
            if found is not None and found > floor and found < size:
                cuts.append(found)
    return cuts


def _cluster_ad_after(f, at, size):
    """The offset of the first cluster ad line that starts after byte `at`, looking _MAX_LOOK bytes at most."""
    looked = 0
    while looked < _MAX_LOOK and at < size:
        f.seek(at)
        m = _CLUSTER_AD.search(f.read(_WINDOW + 64))
        if m is not None:
            return at + m.start() + 1
        at += _WINDOW
        looked += _WINDOW
    return None


def _cluster_ad_before(f, end, floor):
    """The offset of the last cluster ad line that starts after `floor` and before `end`, within _MAX_LOOK."""
    hi = end
    while hi > floor and end - hi < _MAX_LOOK:
        lo = max(floor, hi - _WINDOW)
        f.seek(lo)
        data = f.read(hi - lo + 64)
        last = None
        for m in _CLUSTER_AD.finditer(data):
            if lo + m.start() + 1 < end:
                last = lo + m.start() + 1
        if last is not None:
            return last
        hi = lo
    return None


def _child(task, pipe_w, out):
    """Run task(out) in the forked child; send ('ok', result) or ('failed', text) and leave at once."""
    code = 0
    try:
        try:
            message = ('ok', task(out))
        except BaseException as e:      # everything goes back to the parent, which decides
            message = ('failed', '%s: %s\n%s' % (type(e).__name__, e, traceback.format_exc()))
        if out is not None:
            out.flush()
        with os.fdopen(pipe_w, 'wb') as w:
            pickle.dump(message, w, protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException:               # pragma: no cover - the parent sees a child without an answer
        code = 1
    finally:
        os._exit(code)     # no atexit handlers, no flushing of the parent's buffers


class Workers(object):
    """with Workers(tasks, out_dir, outputs) as w: first = tasks[0](out); results = w.results(); ...

    Every task but the first runs in a forked child and gets a temporary file (None when `outputs` is
    false); the caller runs tasks[0] itself. results() gives [(ok, result or failure text, temporary file)]
    for the children, in order; the caller copies their output with append(), best inside the with block
    (leaving it waits for the children to end)."""

    def __init__(self, tasks, out_dir=None, outputs=True):
        self.tasks = tasks
        self.out_dir = out_dir
        self.outputs = outputs
        self.children = []      # (pid, read end, temporary file)
        self.answered = []      # pids of the children whose answer was read

    def __enter__(self):
        for task in self.tasks[1:]:
            tmp = tempfile.TemporaryFile(dir=self.out_dir, prefix='.lumberjack-') if self.outputs else None
            r, w = os.pipe()
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:    # pragma: no cover - runs in the child, which leaves by os._exit
                os.close(r)
                for _pid, r2, _tmp in self.children:
                    os.close(r2)
                _child(task, w, tmp)
            os.close(w)
            self.children.append((pid, r, tmp))
        return self

    def results(self):
        """The children's answers. A child that answered is left to end on its own (tearing down a big process
        takes a while); __exit__ waits for it."""
        out = []
        for pid, r, tmp in self.children:
            with os.fdopen(r, 'rb') as f:
                try:
                    message = pickle.load(f)
                except (EOFError, pickle.UnpicklingError):
                    message = ('failed', 'the worker ended without an answer')
            self.answered.append(pid)
            out.append((message[0] == 'ok', message[1], tmp))
        self.children = []
        return out

    def __exit__(self, *exc):
        for pid in self.answered:
            os.waitpid(pid, 0)
        self.answered = []
        # an error or an early return: stop the children that are left
        for pid, r, tmp in self.children:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            os.waitpid(pid, 0)
            os.close(r)
            if tmp is not None:
                tmp.close()
        self.children = []
        return False


def append(out, tmp):
    """Copy a worker's temporary output file to the end of `out`, in the kernel where it can."""
    tmp.flush()
    size = tmp.seek(0, os.SEEK_END)
    tmp.seek(0)
    try:
        out_fd = out.fileno()
    except (AttributeError, IOError, OSError, ValueError):
        out_fd = None
    if out_fd is not None and hasattr(os, 'sendfile'):
        out.flush()
        offset = 0
        while offset < size:
            sent = os.sendfile(out_fd, tmp.fileno(), offset, size - offset)
            if sent == 0:
                break
            offset += sent
        out.seek(0, os.SEEK_END)
        if offset == size:
            return
        raise IOError('could not copy a worker\'s output (%d of %d bytes)' % (offset, size))
    shutil.copyfileobj(tmp, out, 1 << 23)
