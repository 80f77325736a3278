#!/usr/bin/env python
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time queue_rewrite's engine against cp and a sed one-liner on the same big job_queue.log.

    benchmarks/bench_queue_rewrite.py [--jobs 200000] [--workdir /var/tmp/lj-bench] [--keep]

Generates a synthetic log (gen_queue_log.py: ~45 attributes per job, paths under one home directory) unless
it exists, then in one run times `cp`, `sed` rewriting only the Iwd prefix (what people do by hand today)
and the engine doing the whole rewrite (every path attribute and TransferInput entry, SUBMIT_Iwd, the
manifest), each written to a new file. Prints throughput, the ratio sed time / engine time (>= 1.0 means the
engine is at least as fast as sed) and the engine's peak memory. Run it with the controller venv's Python.
"""
import argparse
import os
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


def timed(cmd, **kw):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, **kw)
    return time.perf_counter() - t


def engine(src, dest):
    """Run the engine in a child process so its peak memory is its own."""
    code = r'''
import resource, sys, time
sys.path.insert(0, sys.argv[3])
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_rewrite import QueueRewriter, RewriteSpec
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._sandbox import PathMap
pm = PathMap([{"from": "/home/alice", "to": "/scratch/run1/sandbox/home/alice"}], sandbox="/scratch/run1/sandbox")
t = time.perf_counter()
with open(sys.argv[2], "wb") as out:
    state, appended, manifest, problems = QueueRewriter(sys.argv[1], RewriteSpec(pm)).run(out)
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, sum(state.changes.values()),
      len(manifest["files"]), len(manifest["directories"]), problems.count)
'''
    out = subprocess.run([sys.executable, '-c', code, src, dest, os.path.join(ROOT, '.build', 'collections')],
                         check=True, stdout=subprocess.PIPE, universal_newlines=True).stdout.split()
    return float(out[0]), int(out[1]) / 1024.0, int(out[2]), int(out[3]), int(out[4]), int(out[5])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--jobs', type=int, default=200000)
    ap.add_argument('--workdir', default='/var/tmp/lj-bench')
    ap.add_argument('--keep', action='store_true', help='keep the generated log for the next run')
    a = ap.parse_args()
    collection_path()
    os.makedirs(a.workdir, exist_ok=True)
    src = os.path.join(a.workdir, 'job_queue.%d.log' % a.jobs)
    if not os.path.exists(src):
        subprocess.run([sys.executable, os.path.join(HERE, 'gen_queue_log.py'), src, '--jobs', str(a.jobs)], check=True)
    size = os.path.getsize(src)
    subprocess.run(['cat', src], stdout=subprocess.DEVNULL, check=True)     # same page-cache state for all
    t_cp = timed(['cp', src, src + '.cp'])
    with open(src + '.sed', 'wb') as out:
        t_sed = timed(['sed', r's|^\(103 [^ ]* Iwd "\)/home/alice|\1/scratch/run1/sandbox/home/alice|', src], stdout=out)
    t_eng, rss, changes, files, dirs, problems = engine(src, src + '.engine')
    mb = size / 1e6
    print('log: %s, %.0f MB, %d jobs (locale %s)' % (src, mb, a.jobs, os.environ.get('LC_ALL') or os.environ.get('LANG', 'C')))
    for name, t in (('cp', t_cp), ('sed (Iwd only)', t_sed), ('engine (full rewrite + manifest)', t_eng)):
        print('%-34s %7.2f s %8.1f MB/s' % (name, t, mb / t))
    print('ratio sed/engine: %.2f (>= 1.0: the engine is at least as fast as sed)' % (t_sed / t_eng))
    print('engine: %d records changed, %d files and %d directories in the manifest, %d problems, peak memory %.0f MB'
          % (changes, files, dirs, problems, rss))
    for suffix in ('.cp', '.sed', '.engine'):
        os.unlink(src + suffix)
    if not a.keep:
        os.unlink(src)
    return 0


if __name__ == '__main__':
    sys.exit(main())
