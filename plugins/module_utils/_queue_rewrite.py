# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Rewrite a job_queue.log for a new location and compute the sandbox manifest (standard library only).

One streaming pass (see _queue_scan) maps path prefixes in Iwd, Cmd, In, Out, Err, UserLog and in every
entry of TransferInput and TransferOutputRemaps, sets or deletes attributes, and drops what the schedd would
drop (a cut-off last line, an unterminated last transaction). Records that must be added come last:
SUBMIT_Iwd with the original Iwd of every ad whose Iwd moved (kept for the way back), and attributes to set
that an ad did not have yet. The manifest then lists, for every job, the files to stage (submit-side
source -> sandbox destination) and the directories the jobs need; anything that cannot be placed in the
sandbox is a problem naming the job, and the caller fails before anything is written.

Mapping is idempotent: a path already under a mapping's `to` is left alone and counts as mapped, and the
manifest of an already rewritten log is the same as that of the original.

A big log is cut at cluster ads into segments that forked workers scan at the same time (_queue_parallel);
each computes its own records to add and its part of the manifest, and this process puts them together. A
segment whose records refer to ads before it, a cluster whose ad is not where its procs expect it, two
segments that would fill one destination differently, or any error make it scan the whole log in one go,
so the result (or error) is always that of one scan.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools
import os
import posixpath
import re

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_log import QueueLogError, quote
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_manifest import (
    MAX_PROBLEMS,
    PATH_ATTRS,
    SCAN_NAMES,
    Problems,
    bool_value,
    cluster_and_proc_ads,
    string_value,
)
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_parallel import (
    Workers,
    append,
    cut_points,
    worker_count,
)
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_scan import (
    DROP,
    NotSelfContained,
    QueueScanner,
    ScanState,
    paused_gc,
)
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._sandbox import (
    DEV_NULL,
    is_url,
    resolve,
    split_list,
    split_remaps,
    spool_placeholder_job,
)

_MISS = object()
_LIST_ATTRS = ('TransferInput',)
_REMAP_ATTRS = ('TransferOutputRemaps',)
_ENTRY_RE = re.compile(rb'(^|,)(\s*)(/[^,]*?)(\s*)(?=,|$)')    # what _map_list does
_WS = b' \t\n\r\x0b\x0c'     # \s of a bytes pattern
_REMAP_DEST_RE = re.compile(rb'(=\s*)(/(?:[^;\\]|\\.)*?)(\s*)(?=;|$)')


def _quote_b(text):
    """quote() for bytes, with the common case (nothing to escape) kept cheap; None when the old syntax
    cannot hold the text (a trailing backslash): the value is then left as it was."""
    if b'"' in text or text.endswith(b'\\'):
        try:
            return quote(text.decode('utf-8', 'surrogateescape')).encode('utf-8', 'surrogateescape')
        except ValueError:
            return None
    return b'"' + text + b'"'


def _string_inner(value):
    """The text inside a raw value that is one old-syntax string literal, else None (an expression such as
    "a" + "b" or strcat(...) is never edited as a string)."""
    if value[:1] != b'"' or value[-1:] != b'"' or len(value) < 2:
        return None
    inner = value[1:-1]
    if b'"' in inner:
        if b'"' in inner.replace(b'\\"', b''):
            return None
        inner = inner.replace(b'\\"', b'"')
    return inner


def _normalized(path):
    """A path as the manifest sees it: normalized when it holds '.', '..' or '//' components."""
    if b'/.' in path or b'//' in path:
        norm = posixpath.normpath(path)
        return b'/' + norm.lstrip(b'/') if norm.startswith(b'//') else norm
    return path


def _norm_abs(path):
    """posixpath.normpath of an absolute path, without its cost when the path is normalized already."""
    if '/.' in path or '//' in path or (path.endswith('/') and path != '/'):
        return posixpath.normpath(path)
    return path


def _resolve(entry, iwd):
    """_sandbox.resolve(entry, iwd) for a relative entry and a normalized absolute iwd, cheap when no
    component needs normalizing."""
    if entry and '//' not in entry and '/.' not in '/' + entry and not entry.endswith('/'):
        return iwd + '/' + entry if iwd != '/' else '/' + entry
    return resolve(entry, iwd)


def _dirname(path):
    """posixpath.dirname of a normalized absolute path."""
    i = path.rfind('/')
    if i <= 1:
        return posixpath.dirname(path)
    return path[:i]


def _string(raw):
    """_queue_manifest.string_value, cheap for the common literal without quotes inside."""
    if raw is None:
        return None
    if len(raw) >= 2 and raw[:1] == b'"' and raw[-1:] == b'"' and b'"' not in raw[1:-1]:
        return raw[1:-1].decode('utf-8', 'surrogateescape')
    return string_value(raw)


_SLOT = dict((n, i) for i, n in enumerate(SCAN_NAMES))


def _jobs_with_paths(clusters, procs):
    """(cluster, proc, whether the proc ad has its own Iwd, iwd, inputs, outputs) of every job, in log order
    (the cluster_and_proc_ads of a scan): what _queue_manifest.iter_jobs and job_paths give, but for the
    TransferOutput entries (they come back into the Iwd, which the manifest has already), with the work done
    once per distinct value where values repeat (the executable, stdin, transfer lists of a cluster's
    jobs)."""
    s = _SLOT
    iwd_i, cmd_i, texe_i, in_i, tin_i, tinput_i = (s['Iwd'], s['Cmd'], s['TransferExecutable'], s['In'],
                                                   s['TransferIn'], s['TransferInput'])
    out_i, err_i, log_i, remap_i = s['Out'], s['Err'], s['UserLog'], s['TransferOutputRemaps']
    empty = [None] * len(SCAN_NAMES)
    cache = {}      # (what, raw values) -> part of inputs or outputs

    def shared(what, raw, raw2=None):
        hit = cache.get((what, raw, raw2))
        if hit is None:
            if what == 'exe':
                cmd = _string(raw)
                hit = [('executable', cmd)] if cmd and bool_value(raw2, True) else []
            elif what == 'in':
                stdin = _string(raw)
                hit = [('stdin', stdin)] if stdin and stdin != DEV_NULL and bool_value(raw2, True) else []
            elif what == 'input':
                hit = [('input', e) for e in split_list(_string(raw) or '') if not is_url(e)]
            else:
                hit = [('remap', dest) for _name, dest in split_remaps(_string(raw) or '')
                       if dest and not is_url(dest)]
            if len(cache) < 10000:
                cache[(what, raw, raw2)] = hit
        return hit

    for c, p, own in procs:
        cluster = clusters.get(c, empty)
        # the job's value of each slot: its own, else its cluster's
        exe, texe, stdin, tin, tinput, out, err, log, remap, iwd = [
            own[i] if own[i] is not None else cluster[i]
            for i in (cmd_i, texe_i, in_i, tin_i, tinput_i, out_i, err_i, log_i, remap_i, iwd_i)]
        inputs = shared('exe', exe, texe) + shared('in', stdin, tin)
        if tinput is not None:
            inputs = inputs + shared('input', tinput)
        outputs = []
        for kind, v in (('stdout', out), ('stderr', err), ('userlog', log)):
            if v is not None:
                v = _string(v)
                if v and v != DEV_NULL:
                    outputs.append((kind, v))
        if remap is not None:
            outputs.extend(shared('remap', remap))
        yield c, p, own[iwd_i] is not None, _string(iwd), inputs, outputs


class RewriteSpec(object):
    """What to change. pathmap: a PathMap. original_iwds: {'C.P': Iwd on the submit side} for proc ads whose
    Iwd export_jobs replaced by its spool placeholder. set_attributes: {name: ClassAd literal text}.
    delete_attributes: [name]. cluster_ids: set of ints limiting set/delete (None: every job)."""

    def __init__(self, pathmap, original_iwds=None, set_attributes=None, delete_attributes=None,
                 cluster_ids=None):
        self.pathmap = pathmap
        self.original_iwds = dict(original_iwds or {})
        self.set_attributes = dict(set_attributes or {})
        self.delete_attributes = list(delete_attributes or [])
        # None: every job; an empty list selects no job (it must not widen to the whole queue)
        self.cluster_ids = None if cluster_ids is None else set(cluster_ids)
        lower_set = set(n.lower() for n in self.set_attributes)
        for n in self.delete_attributes:
            if n.lower() in lower_set:
                raise ValueError('attribute %s is both set and deleted: choose one' % n)
        for n in list(self.set_attributes) + self.delete_attributes:
            if not re.match(r'^[A-Za-z_][A-Za-z0-9_.]*$', n):
                raise ValueError('%r is not a ClassAd attribute name' % n)
            if n.lower() in ('iwd', 'submit_iwd'):
                raise ValueError('%s is managed by the path mapping; map its directory instead of setting it' % n)


class QueueRewriter(object):
    def __init__(self, path, spec, chunk_size=None):
        self.path = path
        self.spec = spec
        known = set(n.lower() for n in SCAN_NAMES)
        extra = []
        for n in list(spec.set_attributes) + spec.delete_attributes:
            if n.lower() not in known:
                known.add(n.lower())
                extra.append(n)
        self.names = list(SCAN_NAMES) + extra
        lower_index = dict((n.lower(), i) for i, n in enumerate(self.names))
        self.iwd_slot = lower_index['iwd']
        self.simple_slots = frozenset(lower_index[n.lower()] for n in PATH_ATTRS
                                      if n not in _LIST_ATTRS + _REMAP_ATTRS)
        self.list_slots = frozenset(lower_index[n.lower()] for n in _LIST_ATTRS)
        self.remap_slots = frozenset(lower_index[n.lower()] for n in _REMAP_ATTRS)
        self.set_values = dict((lower_index[n.lower()], v.encode('utf-8', 'surrogateescape'))
                               for n, v in spec.set_attributes.items())
        self.delete_slots = frozenset(lower_index[n.lower()] for n in spec.delete_attributes)
        self._froms = [s for s, _d in spec.pathmap._bpairs]
        self._edits = {}
        kwargs = {'chunk_size': chunk_size} if chunk_size else {}
        kwargs['edit_slots'] = (set(self.set_values) | self.delete_slots | self.simple_slots | self.list_slots |
                                self.remap_slots)
        kwargs['prefix_map'] = self._prefix_map()
        self._scanner_kwargs = kwargs
        self.processes = None
        self.scanner = QueueScanner(path, self.names, **kwargs)

    def _prefix_map(self):
        """What the scanner may map without calling edit(): the simple path slots that nothing sets or deletes
        (Iwd only when no original Iwd is to be restored), when every `to` quotes as it is."""
        pm = self.spec.pathmap
        if not pm._bpairs or any(b'"' in d or b'\\' in d for _s, d in pm._bpairs):
            return None
        slots = set(self.simple_slots) - set(self.set_values) - self.delete_slots
        if self.spec.original_iwds:
            slots.discard(self.iwd_slot)
        return (frozenset(slots), list(pm._bpairs), list(pm._btargets)) if slots else None

    # -- the per-line edit: bytes in, bytes out, as little work as possible ----------------------------
    def _selected(self, key):
        """True for the cluster and proc ads (not ClusterPvt, job sets or the header) of chosen clusters."""
        c, _sep, p = key.partition(b'.')
        c = int(c)
        if c <= 0 or (p != b'-1' and p.startswith(b'-')):
            return False
        return self.spec.cluster_ids is None or c in self.spec.cluster_ids

    def edit(self, key, slot, value):
        if slot != self.iwd_slot:
            # a pure function of (slot, value) but for the Iwd: most jobs share Cmd, In and their lists
            hit = self._edits.get((slot, value), _MISS)
            if hit is not _MISS:
                return hit
            new = self._edit(key, slot, value)
            if len(self._edits) < 4096 and not (slot in self.set_values or slot in self.delete_slots):
                self._edits[(slot, value)] = new
            return new
        return self._edit(key, slot, value)

    def _edit(self, key, slot, value):
        if slot in self.set_values:
            return self.set_values[slot] if self._selected(key) else None
        if slot in self.delete_slots:
            return DROP if self._selected(key) else None
        if slot in self.simple_slots:
            if value[:2] != b'"/':
                return None
            inner = _string_inner(value)
            if inner is None:
                return None
            if slot != self.iwd_slot:
                new = self.spec.pathmap.map_bytes(_normalized(inner))
                return None if new is None else _quote_b(new)
            return self._edit_iwd(key, inner)
        if slot in self.list_slots or slot in self.remap_slots:
            if not any(f in value for f in self._froms):
                return None
            inner = _string_inner(value)
            if inner is None:
                return None
            if slot in self.list_slots:
                new = self._map_list(inner)
            else:
                new = _REMAP_DEST_RE.sub(self._sub_entry, inner)
            return None if new == inner else _quote_b(new)
        return None

    def _map_list(self, inner):
        """_ENTRY_RE.sub(self._sub_entry, inner) without a call per entry: every comma-separated entry that
        starts (after white space) with "/" is mapped, the white space around it kept."""
        fields = inner.split(b',')
        changed = False
        map_bytes = self.spec.pathmap.map_bytes
        for i, field in enumerate(fields):
            body = field.lstrip(_WS)
            if body[:1] != b'/':
                continue
            path = body.rstrip(_WS)
            mapped = map_bytes(_normalized(path))
            if mapped is not None:
                fields[i] = field[:len(field) - len(body)] + mapped + body[len(path):]
                changed = True
        return b','.join(fields) if changed else inner

    def _sub_entry(self, m):
        mapped = self.spec.pathmap.map_bytes(_normalized(m.group(len(m.groups()) - 1)))
        if mapped is None:
            return m.group(0)
        groups = list(m.groups())
        groups[-2] = mapped
        return b''.join(groups)

    def _moved_iwd(self, key, inner):
        """(submit-side Iwd, sandbox Iwd) as bytes when this Iwd moves, else None. Pure: the same answer for
        the same record wherever it is in the log."""
        original = None
        if self.spec.original_iwds and spool_placeholder_job(inner.decode('utf-8', 'surrogateescape')) == \
                key.decode('ascii'):
            original = self.spec.original_iwds.get(key.decode('ascii'))
        if original is not None:
            status, new = self.spec.pathmap.classify(posixpath.normpath(original))
            if status != 'mapped':
                return None     # reported by the manifest check
            return original.encode('utf-8', 'surrogateescape'), new.encode('utf-8', 'surrogateescape')
        new_b = self.spec.pathmap.map_bytes(_normalized(inner))
        if new_b is None:
            return None
        return inner, new_b

    def _edit_iwd(self, key, inner):
        moved = self._moved_iwd(key, inner)
        return None if moved is None else _quote_b(moved[1])

    # -- after the scan ---------------------------------------------------------------------------------
    def appended_records(self, state):
        """Records to add at the end: SUBMIT_Iwd where an Iwd moved, and attributes to set that an ad
        lacks. Each is a line without its newline (bytes)."""
        submit_iwds, set_lines = self.appended_parts(state)
        return submit_iwds + set_lines

    def appended_parts(self, state, borrowed=()):
        """(SUBMIT_Iwd lines, lines of attributes to set) of one scan; borrowed: ids of clusters whose
        cluster ad is before the scanned segment."""
        lines = []
        submit_slot = self.names.index('SUBMIT_Iwd')
        iwd_slot = self.iwd_slot
        # the Iwd each ad ends with (committed records only; the scan kept the value before the edit)
        for key, ad in state.ads.items():
            raw = ad[iwd_slot]
            if raw is None or ad[submit_slot] is not None or raw[:2] != b'"/':
                continue
            inner = _string_inner(raw)
            moved = None if inner is None else self._moved_iwd(key, inner)
            if moved is not None:
                original = _quote_b(moved[0])
                if original is not None:
                    lines.append(b'103 ' + key + b' SUBMIT_Iwd ' + original)
        submit_iwds = lines
        lines = []
        if self.set_values:
            clusters_with_ad = set()
            for key, ad in state.ads.items():
                c, _sep, p = key.partition(b'.')
                if p == b'-1' and self._selected(key):
                    clusters_with_ad.add(int(c))
            clusters_with_ad.update(c for c in borrowed if self._selected(b'%d.-1' % c))
            for key, ad in state.ads.items():
                if not self._selected(key):
                    continue
                c, _sep, p = key.partition(b'.')
                is_cluster = p == b'-1'
                if not is_cluster and int(c) in clusters_with_ad:
                    continue    # the cluster ad carries it; a proc's own copy was replaced in place
                for slot, value in sorted(self.set_values.items()):
                    if ad[slot] is None:
                        lines.append(b'103 ' + key + b' ' + self.names[slot].encode('ascii') + b' ' + value)
        return submit_iwds, lines

    def apply_to_state(self, state):
        """Give the scanned ads the values the rewritten log ends with for the attributes set or deleted, so
        the manifest describes the rewritten jobs (paths need nothing: the manifest places original and
        already mapped paths alike)."""
        if not self.set_values and not self.delete_slots:
            return
        for key, ad in state.ads.items():
            if self._selected(key):
                for slot in self.delete_slots:
                    ad[slot] = None
                for slot, value in self.set_values.items():
                    ad[slot] = value

    def manifest(self, state):
        """(manifest, problems) for the rewritten queue."""
        return self.finish_manifest([self.manifest_part(state)])

    def manifest_part(self, state, borrowed=None, split=None):
        """What the jobs of one scan (the whole log, or one segment) add to the manifest, with its lists
        sorted: a dict for finish_manifest. borrowed: {cluster id: values} of cluster ads from before a
        segment, for its procs whose cluster ad is not in it; split: cluster_and_proc_ads(state) when the
        caller has it."""
        pm = self.spec.pathmap
        problems = Problems()
        files = {}          # sandbox destination -> submit-side source
        directories = set()
        iwds = {}
        # absolute path as written -> (source on the submit side, path in the sandbox) or (None, reason);
        # the loop below looks a path up itself and calls place() only when it is not there yet
        cache = {}
        cached = cache.get

        # PathMap.classify and unmap with the prefixes made once
        targets = [(t, t + '/', pm._source_of[t]) for t in pm.targets]
        pairs = [(src, src + '/', dst) for src, dst in pm.pairs]
        sites = [(p, p + '/') for p in pm.site_paths]
        used = pm.used

        def place(raw):
            path = _norm_abs(raw)
            for dst, below, src in targets:
                if path.startswith(below) or path == dst:
                    used.add(src)
                    hit = src + path[len(dst):], path
                    break
            else:
                for src, below, dst in pairs:
                    if path.startswith(below) or path == src:
                        used.add(src)
                        hit = path, dst + path[len(src):]
                        break
                else:
                    hit = None, 'unmapped'
                    for site, below in sites:
                        if path.startswith(below) or path == site or site == '/' and path.startswith('/'):
                            hit = None, 'site'
                            break
            if len(cache) < 100000:
                cache[raw] = hit
            return hit

        roots = [(r, r + '/') for r in pm.roots()]

        def inside_roots(path):
            for r, below in roots:
                if path.startswith(below) or path == r or r == '/' and path.startswith('/'):
                    return True
            return False

        jobs = 0
        clusters, procs = split if split is not None else cluster_and_proc_ads(state)
        clusters = dict(clusters)
        missing = set(c for c, _p, _own in procs if c not in clusters)
        if borrowed:
            clusters.update((c, v) for c, v in borrowed.items() if c in missing)
            missing.difference_update(borrowed)
        original_iwds = self.spec.original_iwds
        for c, p, own_iwd, iwd, inputs, outputs in _jobs_with_paths(clusters, procs):
            jobs += 1
            if iwd is None or iwd[:1] != '/':
                problems.add('%d.%d' % (c, p), 'has no Iwd' if iwd is None else 'Iwd %s is not absolute' % iwd)
                continue
            if own_iwd and original_iwds:
                jid = '%d.%d' % (c, p)
                if jid in original_iwds and spool_placeholder_job(iwd) == jid:
                    # export_jobs replaced this proc's Iwd by a placeholder; the edit put the original back
                    iwd = original_iwds[jid]
            home_iwd, site_iwd = cached(iwd) or place(iwd)
            if home_iwd is None:
                jid = '%d.%d' % (c, p)
                if spool_placeholder_job(iwd) == jid:
                    problems.add(jid, 'Iwd %s is the placeholder export_jobs wrote for its spool directory; '
                                      'pass original_iwds (condor_export returns them) so the job runs in '
                                      'its own directory' % iwd)
                elif site_iwd == 'unmapped':
                    problems.add(jid, 'Iwd %s is not under any path_map "from": add a mapping for it' % iwd)
                else:
                    directories.add(_norm_abs(iwd))
                    iwds[iwd] = iwd
                continue
            iwds[home_iwd] = site_iwd
            directories.add(site_iwd)
            # below site_iwd is inside the roots when site_iwd is; a clean relative entry stays below it
            site_inside = inside_roots(site_iwd) and home_iwd != '/' and site_iwd != '/'
            site_below = site_iwd + '/'
            home_below = home_iwd + '/'
            for kind, entry in inputs:
                if entry[:1] == '/':
                    src, dest = cached(entry) or place(entry)
                    if src is None:
                        if dest == 'unmapped' and kind != 'executable':
                            problems.add('%d.%d' % (c, p), '%s %s is not under any path_map "from" nor in '
                                         'site_paths' % (kind, entry))
                        elif dest == 'unmapped':
                            problems.add('%d.%d' % (c, p), 'executable %s is transferred but not under any '
                                         'path_map "from": map it, or add it to site_paths when the site has '
                                         'it' % entry)
                        continue
                elif site_inside and entry and '//' not in entry and '/.' not in '/' + entry \
                        and entry[-1:] != '/':
                    src = home_below + entry
                    dest = site_below + entry
                else:
                    src = _resolve(entry, home_iwd)
                    dest = _resolve(entry, site_iwd)
                    if not inside_roots(dest):
                        problems.add('%d.%d' % (c, p), '%s %s would escape the sandbox (%s)' % (kind, entry, dest))
                        continue
                old = files.get(dest)
                if old is not None and old != src:
                    problems.add('%d.%d' % (c, p), 'two files would land on %s: %s and %s' % (dest, old, src))
                    continue
                files[dest] = src
            for kind, entry in outputs:
                if entry[:1] == '/':
                    src, dest = cached(entry) or place(entry)
                    if src is None:
                        if dest == 'unmapped':
                            problems.add('%d.%d' % (c, p), '%s %s would be written outside the sandbox: add a '
                                         'path_map for its directory' % (kind, entry))
                        continue
                else:
                    dest = _resolve(entry, site_iwd)
                    if not inside_roots(dest):
                        problems.add('%d.%d' % (c, p), '%s %s would escape the sandbox (%s)' % (kind, entry, dest))
                        continue
                i = dest.rfind('/')
                directories.add(dest[:i] if i > 1 else _dirname(dest))
        return {
            'jobs': jobs,
            'files': sorted(files.items()),
            'directories': sorted(d for d in directories if inside_roots(d)),
            'iwds': iwds,
            'problems': (problems.count, problems.items),
            'used': set(used),
            'missing': missing,
            'clusters': dict((c, v) for c, v in clusters.items() if c not in (borrowed or {})),
            'borrowed': dict(borrowed or {}),
        }

    def finish_manifest(self, parts):
        """(manifest, problems) from the parts of the segments in log order. Raises NotSelfContained when
        the parts do not add up to what one scan would give (a destination two segments fill differently, a
        cluster ad a segment borrowed or missed that another one has otherwise)."""
        pm = self.spec.pathmap
        clusters = {}
        for part in parts:
            for c, values in part['clusters'].items():
                if c in clusters:
                    raise NotSelfContained('cluster %d has a cluster ad in two segments' % c)
                clusters[c] = values
        for part in parts:
            for c, values in part['borrowed'].items():
                if clusters.get(c) != values:
                    raise NotSelfContained('cluster %d: the borrowed cluster ad is not the final one' % c)
            if any(c in clusters for c in part['missing']):
                raise NotSelfContained('a cluster ad comes after the procs of another segment')
        problems = Problems()
        for part in parts:
            count, items = part['problems']
            problems.count += count
            problems.items.extend(items[:MAX_PROBLEMS - len(problems.items)])
            pm.used.update(part['used'])
        if len(parts) == 1:
            files = [{'src': src, 'dest': dest} for dest, src in parts[0]['files']]
            directories = parts[0]['directories']
            iwds = parts[0]['iwds']
        else:
            # each part is sorted: the sort merges runs; a destination two parts share must have one source
            merged = []
            for part in parts:
                merged.extend(part['files'])
            merged.sort()
            files = []
            last = last_src = None
            for dest, src in merged:
                if dest == last:
                    if src != last_src:
                        raise NotSelfContained('two segments fill %s from different files' % dest)
                    continue
                files.append({'src': src, 'dest': dest})
                last, last_src = dest, src
            del merged
            merged = []
            for part in parts:
                merged.extend(part['directories'])
            merged.sort()
            directories = list(dict.fromkeys(merged))
            iwds = {}
            for part in parts:
                iwds.update(part['iwds'])
        unused = [s for s, _d in pm.pairs if s not in pm.used]
        manifest = {
            'jobs': sum(part['jobs'] for part in parts),
            'files': files,
            'directories': directories,
            'iwds': [{'home': h, 'site': s} for h, s in sorted(iwds.items())],
            'unused_mappings': unused,
        }
        return manifest, problems

    def run(self, out=None, workers=None, cuts=None):
        """Scan (and, with `out`, write) the log. Returns (state, appended lines, manifest, problems).

        A big log is done in parallel segments (workers: how many; None picks what pays off, 1 never;
        cuts: the segments' start offsets, for tests). When the segments' results would not add up to one
        scan's, or a segment meets an error, the log is scanned in one go, which gives the same result or
        error as if it had been from the start. After a parallel run, state.ads is None (the ads of the
        other segments stay in their workers). self.processes tells how many processes did the work."""
        with paused_gc():
            if cuts is None and workers != 1 and not self.scanner.line_by_line and self._export_shaped():
                size = os.path.getsize(self.path)
                count = worker_count(size, workers)
                if count > 1:
                    cuts = cut_points(self.path, size, count)
            if cuts and not self.scanner.line_by_line:
                done = self._run_segments(out, cuts)
                if done is not None:
                    self.processes = len(cuts) + 1
                    return done
            self.processes = 1
            state = self.scanner.run(edit=self.edit, out=out)
            appended = self.appended_records(state)
            if out is not None and appended:
                out.write(b'\n'.join(appended) + b'\n')
            self.apply_to_state(state)
            manifest, problems = self.manifest(state)
        return state, appended, manifest, problems

    def _export_shaped(self):
        """False for a log whose end holds transactions, destroyed ads or deleted attributes: a schedd's
        live log, whose later records refer to ads from anywhere before them, so segments would not add up.
        (An export holds whole ads only.)"""
        try:
            with open(self.path, 'rb') as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(0, size - (1 << 20)))
                tail = f.read()
        except (IOError, OSError):
            return False    # the one scan reports it
        return not any(op in tail for op in (b'\n105 ', b'\n102 ', b'\n104 '))

    def _segment(self, index, start, stop, out):
        """Scan one segment and compute what it adds: a dict the parent process (or this one, for the first
        segment) puts together with the others'."""
        scanner = QueueScanner(self.path, self.names, start=start, stop=stop, segment=index > 0,
                               **self._scanner_kwargs)
        state = scanner.run(edit=self.edit, out=out)
        if stop is not None and state.truncated:
            raise NotSelfContained('a transaction runs on past the end of the segment')
        split = cluster_and_proc_ads(state)
        borrowed = self._borrow_cluster_ads(split, start) if index > 0 else {}
        submit_iwds, set_lines = self.appended_parts(state, borrowed)
        self.apply_to_state(state)
        for c, values in borrowed.items():
            if self._selected(b'%d.-1' % c):
                self.apply_to_values(values)
        part = self.manifest_part(state, borrowed, split)
        summary = (state.warnings, state.changes, state.examples, state.truncated, state.transactions,
                   state.bytes_in, state.bytes_out)
        if index == 0:
            return {'summary': summary, 'keys': set(state.ads), 'submit': submit_iwds, 'set': set_lines,
                    'part': part}
        # a worker's answer is pickled: a few long strings cost far less to send than a million short ones
        keys = b'\n'.join(list(state.ads) + state.destroyed)
        return {'summary': summary, 'keys': keys, 'submit': b'\n'.join(submit_iwds), 'set': b'\n'.join(set_lines),
                'part': _packed(part)}

    def _borrow_cluster_ads(self, split, start):
        """{cluster id: values} of the cluster ads, written before `start`, of this segment's procs that have
        none in the segment (a big cluster spans segments); split: the segment's cluster_and_proc_ads. Only
        the ad's first run of records is read; the parent checks that it is the ad the log ends with."""
        clusters, procs = split
        wanted = sorted(set(c for c, _p, _v in procs if c not in clusters))
        borrowed = {}
        if not wanted or len(wanted) > 16:
            return borrowed
        with open(self.path, 'rb') as f:
            for c in wanted:
                at = -1
                for spelling in (b'\n101 0%d.-1 ' % c, b'\n101 %d.-1 ' % c):
                    at = max(at, _rfind_before(f, spelling, start))
                if at < 0:
                    continue
                f.seek(at + 1)
                data = f.read(1 << 20)
                key = data[4:data.index(b' ', 4)]
                prefix = b'103 ' + key + b' '
                end = data.index(b'\n') + 1
                while data.startswith(prefix, end):
                    nl = data.find(b'\n', end)
                    if nl < 0:
                        break
                    end = nl + 1
                else:
                    one = QueueScanner(self.path, self.names, start=at + 1, stop=at + 1 + end).run()
                    values = one.ads.get(key)
                    if values is not None:
                        borrowed[c] = values
        return borrowed

    def apply_to_values(self, values):
        """What apply_to_state does to a selected ad, for the values of one ad."""
        for slot in self.delete_slots:
            values[slot] = None
        for slot, value in self.set_values.items():
            values[slot] = value

    def _run_segments(self, out, cuts):
        """The parallel run, or None when it does not add up to one scan's (the caller then scans)."""
        pm = self.spec.pathmap
        used_before = set(pm.used)
        out_at = out.tell() if out is not None else None
        bounds = [0] + list(cuts) + [None]
        tasks = [functools.partial(self._segment, i, bounds[i], bounds[i + 1]) for i in range(len(cuts) + 1)]
        name = getattr(out, 'name', None)
        out_dir = os.path.dirname(os.path.abspath(name)) if isinstance(name, str) else None
        temporaries = []
        try:
            with Workers(tasks, out_dir, outputs=out is not None) as workers:
                # the children's teardown overlaps with putting their results together
                return self._put_together(out, out_at, used_before, tasks, workers, temporaries)
        finally:
            for tmp in temporaries:
                if tmp is not None:
                    tmp.close()

    def _put_together(self, out, out_at, used_before, tasks, workers, temporaries):
        pm = self.spec.pathmap
        try:
            results = [tasks[0](out)]
            for ok, result, tmp in workers.results():
                temporaries.append(tmp)
                if not ok:
                    raise NotSelfContained(result)
                results.append(_unpacked(result))
            seen = results[0]['keys']
            for result in results[1:]:
                if not seen.isdisjoint(result['keys']):
                    raise NotSelfContained('an ad of a segment was created before it')
                seen.update(result['keys'])
            manifest, problems = self.finish_manifest([r['part'] for r in results])
        except (NotSelfContained, QueueLogError):
            pm.used.clear()
            pm.used.update(used_before)
            if out is not None:
                out.seek(out_at)
                out.truncate()
            return None
        state = ScanState(self.names)
        state.ads = None
        for r in results:
            warnings, changes, examples, truncated, transactions, bytes_in, bytes_out = r['summary']
            state.warnings.extend(warnings)
            for n, count in changes.items():
                state.changes[n] = state.changes.get(n, 0) + count
            state.examples.extend(examples[:QueueScanner.max_examples - len(state.examples)])
            state.truncated = state.truncated or truncated
            state.transactions += transactions
            state.bytes_in += bytes_in
            state.bytes_out += bytes_out
        if out is not None:
            for tmp in temporaries:
                append(out, tmp)
        appended = [line for r in results for line in r['submit']] + [line for r in results for line in r['set']]
        if out is not None and appended:
            out.write(b'\n'.join(appended) + b'\n')
        return state, appended, manifest, problems


def _packed(part):
    """A manifest part with its lists of paths joined by NUL (no path holds one)."""
    part = dict(part)
    part['files_dest'] = '\0'.join(d for d, _s in part['files'])
    part['files_src'] = '\0'.join(s for _d, s in part.pop('files'))
    part['directories'] = '\0'.join(part['directories'])
    iwds = part.pop('iwds')
    part['iwds_home'] = '\0'.join(iwds)
    part['iwds_site'] = '\0'.join(iwds.values())
    return part


def _split(text, sep):
    return text.split(sep) if text else []


def _unpacked(result):
    """A worker's answer as the first segment's: what _segment and _packed joined, split again."""
    part = result['part']
    part['files'] = list(zip(_split(part.pop('files_dest'), '\0'), _split(part.pop('files_src'), '\0')))
    part['directories'] = _split(part['directories'], '\0')
    part['iwds'] = dict(zip(_split(part.pop('iwds_home'), '\0'), _split(part.pop('iwds_site'), '\0')))
    result['keys'] = set(_split(result['keys'], b'\n'))
    result['submit'] = _split(result['submit'], b'\n')
    result['set'] = _split(result['set'], b'\n')
    return result


def _rfind_before(f, needle, end, window=1 << 24):
    """The offset of the last `needle` that lies wholly before offset `end` of file f, or -1. Reads backwards
    in windows that overlap by the needle's length (a big cluster's procs span hundreds of megabytes)."""
    hi = end
    while hi > 0:
        lo = max(0, hi - window)
        f.seek(lo)
        data = f.read(min(end, hi + len(needle)) - lo)
        i = data.rfind(needle)
        if i >= 0:
            return lo + i
        hi = lo
    return -1
