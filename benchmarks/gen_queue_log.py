#!/usr/bin/env python
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write a synthetic HTCondor job_queue.log shaped like a real export.

About 2.5 kB and 48 attributes per job (200,000 jobs: about 505 MB). The shape follows the real export in
tests/data/export_two_clusters.job_queue.log: a 107 header, the 0.0 header ad, then per cluster a cluster ad
(key 0C.-1) and proc ads (C.P) that carry their own paths, so a rewrite has to touch every job. All paths sit
under one home directory, as they do for one user's exported work.

    gen_queue_log.py OUT [--jobs N] [--procs-per-cluster K] [--home /home/alice]
"""
import argparse
import sys

CLUSTER_ATTRS = (
    ('JobUniverse', '5'), ('RequestCpus', '1'), ('RequestDisk', '1024'), ('RequestMemory', '2048'),
    ('ShouldTransferFiles', '"YES"'), ('WhenToTransferOutput', '"ON_EXIT"'), ('LeaveJobInQueue', 'true'),
    ('Requirements', '(TARGET.Arch == "X86_64") && (TARGET.OpSys == "LINUX") && (TARGET.Disk >= RequestDisk)'),
    ('Managed', '"External"'), ('ManagedManager', '"Lumberjack"'),
)


def proc_lines(home, c, p, qdate):
    key = '%d.%d' % (c, p)
    base = '%s/analysis/higgs-to-four-leptons/run%04d/job%05d' % (home, c % 10000, p)
    attrs = (
        ('ProcId', str(p)), ('ClusterId', str(c)), ('Owner', '"alice"'), ('User', '"alice@example.org"'),
        ('JobStatus', '1'), ('QDate', str(qdate)), ('Iwd', '"%s"' % base),
        ('Cmd', '"%s/analysis/bin/process.sh"' % home),
        ('Args', '"--seed %d --events 10000 --config %s/config/run%04d.yaml --calibration %s/analysis/common/calib.db '
                 '--output-prefix result_%d --log-level info"' % (c * 1000 + p, base, c % 10000, home, p)),
        ('In', '"/dev/null"'), ('Out', '"%s/out/job.out"' % base), ('Err', '"%s/out/job.err"' % base),
        ('UserLog', '"%s/analysis/run%04d/cluster.log"' % (home, c % 10000)),
        ('TransferInput', '"input_%d.dat,%s/analysis/common/calib.db,config.json"' % (p, home)),
        ('TransferOutput', '"result_%d.root,summary.json"' % p),
        ('GlobalJobId', '"schedd.example.org#%s#%d"' % (key, qdate)), ('EnteredCurrentStatus', str(qdate)),
        ('NumJobStarts', '0'), ('NumRestarts', '0'), ('NumShadowStarts', '0'), ('JobRunCount', '0'),
        ('ImageSize', '1000'), ('ImageSize_RAW', '1000'), ('DiskUsage', '5000'), ('DiskUsage_RAW', '5000'),
        ('ExecutableSize', '10'), ('ExecutableSize_RAW', '10'), ('RemoteWallClockTime', '0.0'),
        ('RemoteUserCpu', '0.0'), ('RemoteSysCpu', '0.0'), ('CumulativeSlotTime', '0'), ('CommittedTime', '0'),
        ('ExitStatus', '0'), ('ExitBySignal', 'false'), ('JobPrio', '0'), ('Rank', '0.0'), ('MaxHosts', '1'),
        ('MinHosts', '1'), ('CurrentHosts', '0'), ('NumCkpts', '0'), ('TotalSuspensions', '0'),
        ('JobNotification', '0'), ('AutoClusterId', '3'),
        ('Environment', '"ANALYSIS_HOME=%s/analysis RUN=%d OMP_NUM_THREADS=1 X509_CERT_DIR=/cvmfs/grid.cern.ch/etc/'
                        'grid-security/certificates PYTHONPATH=%s/analysis/python:%s/analysis/lib/python3.11/site-'
                        'packages LD_LIBRARY_PATH=%s/analysis/lib"' % (home, c, home, home, home)),
        ('JobBatchName', '"bench-%d"' % c), ('AccountingGroup', '"group_physics.higgs.alice"'),
        ('x509userproxysubject', '"/DC=org/DC=cilogon/C=US/O=Example University/CN=Alice Analyst A12345678"'),
        ('Requirements', '((TARGET.Arch == "X86_64") && (TARGET.OpSys == "LINUX") && (TARGET.Disk >= RequestDisk) && '
                         '(TARGET.Memory >= RequestMemory) && (TARGET.HasFileTransfer) && (TARGET.HAS_SINGULARITY =?= '
                         'true) && (TARGET.CVMFS_grid_cern_ch_REVISION >= 1234))'),
    )
    out = ['101 %s Job Machine\n' % key]
    out.extend('103 %s %s %s\n' % (key, n, v) for n, v in attrs)
    return ''.join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('out')
    ap.add_argument('--jobs', type=int, default=200000)
    ap.add_argument('--procs-per-cluster', type=int, default=100)
    ap.add_argument('--home', default='/home/alice')
    a = ap.parse_args(argv)
    qdate = 1795300000
    nclusters = (a.jobs + a.procs_per_cluster - 1) // a.procs_per_cluster
    with open(a.out, 'w', encoding='utf-8', newline='\n') as f:
        f.write('107 1 CreationTimestamp %d\n101 0.0 Job Machine\n103 0.0 NextClusterNum %d\n'
                % (qdate, nclusters + 1))
        done = 0
        for c in range(1, nclusters + 1):
            f.write('101 0%d.-1 Job Machine\n' % c)
            f.write(''.join('103 0%d.-1 %s %s\n' % (c, n, v) for n, v in CLUSTER_ATTRS))
            f.write('103 0%d.-1 ClusterId %d\n' % (c, c))
            for p in range(min(a.procs_per_cluster, a.jobs - done)):
                f.write(proc_lines(a.home, c, p, qdate))
                done += 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
