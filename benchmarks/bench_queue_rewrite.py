#!/usr/bin/env python
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time queue_rewrite's engine against cp and a sed one-liner on the same big job_queue.log.

    benchmarks/bench_queue_rewrite.py [--jobs 200000] [--workdir /var/tmp/lj-bench] [--keep] [--runs 1]

Generates a synthetic log (gen_queue_log.py: ~45 attributes per job, paths under one home directory) unless
it exists, then in one run times `cp`, `sed` rewriting only the Iwd prefix (what people do by hand today)
and the engine doing the whole rewrite (every path attribute and TransferInput entry, SUBMIT_Iwd, the
manifest), each written to a new file. Prints throughput, the ratio sed time / engine time (>= 1.0 means the
engine is at least as fast as sed) and the engine's peak memory. The engine cuts a big log into segments for
as many processes as the machine has usable CPUs (at most 4); CPU time is that of all of them. With --runs N, cp, sed and the engine each
run N times (interleaved) and the medians are shown: use it on a shared machine. Run it with the controller
venv's Python.
"""
import argparse
import os
import platform
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def collection_path():
    # the collection imports itself as ansible_collections.hepcloud.lumberjack
    base = os.path.join(ROOT, '.build', 'collections')
    link = os.path.join(base, 'ansible_collections', 'hepcloud', 'lumberjack')
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)
    sys.path.insert(0, base)


def median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2.0


def cpu_of_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd, **kw):
    """(wall seconds, CPU seconds) of a command."""
    c = cpu_of_children()
    t = time.perf_counter()
    subprocess.run(cmd, check=True, **kw)
    return time.perf_counter() - t, cpu_of_children() - c


def engine(src, dest):
    """Run the engine in a child process so its peak memory is its own."""
    code = r'''
import resource, sys, time
sys.path.insert(0, sys.argv[3])
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_rewrite import QueueRewriter, RewriteSpec
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._sandbox import PathMap
pm = PathMap([{"from": "/home/alice", "to": "/scratch/run1/sandbox/home/alice"}], sandbox="/scratch/run1/sandbox")
t = time.perf_counter()
rewriter = QueueRewriter(sys.argv[1], RewriteSpec(pm))
with open(sys.argv[2], "wb") as out:
    state, appended, manifest, problems = rewriter.run(out)
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, sum(state.changes.values()),
      len(manifest["files"]), len(manifest["directories"]), problems.count, rewriter.processes,
      resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
'''
    c = cpu_of_children()
    out = subprocess.run([sys.executable, '-c', code, src, dest, os.path.join(ROOT, '.build', 'collections')],
                         check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout.split()
    cpu = cpu_of_children() - c     # the whole child and its workers, start-up included
    # peak memory: the engine's process, and the largest of the workers it forked (0 without)
    rss = (int(out[1]) / 1024.0, int(out[7]) / 1024.0)
    return (float(out[0]), cpu), rss, int(out[2]), int(out[3]), int(out[4]), int(out[5]), int(out[6])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--jobs', type=int, default=200000)
    ap.add_argument('--workdir', default='/var/tmp/lj-bench')
    ap.add_argument('--keep', action='store_true', help='keep the generated log for the next run')
    ap.add_argument('--runs', type=int, default=1, help='time each command this many times and show the medians')
    a = ap.parse_args()
    collection_path()
    os.makedirs(a.workdir, exist_ok=True)
    src = os.path.join(a.workdir, 'job_queue.%d.log' % a.jobs)
    if not os.path.exists(src):
        subprocess.run([sys.executable, os.path.join(HERE, 'gen_queue_log.py'), src, '--jobs', str(a.jobs)], check=True)
    size = os.path.getsize(src)
    subprocess.run(['cat', src], stdout=subprocess.DEVNULL, check=True)     # same page-cache state for all
    runs = {'cp': [], 'sed': [], 'engine': []}
    for _i in range(a.runs):
        # each command starts with no dirty pages of the one before it being written back meanwhile
        os.sync()
        runs['cp'].append(timed(['cp', src, src + '.cp']))
        os.sync()
        with open(src + '.sed', 'wb') as out:
            runs['sed'].append(timed(['sed', r's|^\(103 [^ ]* Iwd "\)/home/alice|\1/scratch/run1/sandbox/home/alice|', src],
                                     stdout=out))
        os.sync()
        t_eng, rss, changes, files, dirs, problems, processes = engine(src, src + '.engine')
        runs['engine'].append(t_eng)
    t_cp, t_sed, t_eng = (median([w for w, _c in runs[k]]) for k in ('cp', 'sed', 'engine'))
    c_cp, c_sed, c_eng = (median([c for _w, c in runs[k]]) for k in ('cp', 'sed', 'engine'))
    mb = size / 1e6
    print('log: %s, %.0f MB, %d jobs (locale %s, Python %s, %d run(s), medians)'
          % (src, mb, a.jobs, os.environ.get('LC_ALL') or os.environ.get('LANG', 'C'), platform.python_version(), a.runs))
    for name, t, c in (('cp', t_cp, c_cp), ('sed (Iwd only)', t_sed, c_sed),
                       ('engine (full rewrite + manifest)', t_eng, c_eng)):
        print('%-34s %7.2f s %8.1f MB/s   (CPU %.2f s)' % (name, t, mb / t, c))
    print('ratio sed/engine: %.2f (>= 1.0: the engine is at least as fast as sed); per run: %s'
          % (t_sed / t_eng, ' '.join('%.2f' % (s[0] / e[0]) for s, e in zip(runs['sed'], runs['engine']))))
    print('ratio of CPU time sed/engine: %.2f (what a busy machine does not blur)' % (c_sed / c_eng))
    print('engine: %d process(es) on %d usable CPUs; %d records changed, %d files and %d directories in the '
          'manifest, %d problems; peak memory %.0f MB (the engine) and %.0f MB (its largest worker)'
          % (processes, len(os.sched_getaffinity(0)), changes, files, dirs, problems, rss[0], rss[1]))
    for suffix in ('.cp', '.sed', '.engine'):
        os.unlink(src + suffix)
    if not a.keep:
        os.unlink(src)
    return 0


if __name__ == '__main__':
    sys.exit(main())
