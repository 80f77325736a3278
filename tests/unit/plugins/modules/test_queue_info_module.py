# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The queue_info module on the real job_queue.log samples: what it reports, and that it never writes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import posixpath
import shutil

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils import _queue_log as ql
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_manifest import (
    JOB_STATUS,
    SCAN_NAMES,
    Job,
    bool_value,
    job_paths,
)
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._sandbox import resolve, spool_placeholder_job
from ansible_collections.hepcloud.lumberjack.plugins.modules import queue_info
from ansible_collections.hepcloud.lumberjack.tests.unit.plugins.modules.queue_module_support import (
    read,
    run_alone,
    snapshot,
)

SUMMARY_KEYS = ('total_jobs', 'jobs', 'owners', 'statuses', 'exported_jobs', 'lumberjack_export', 'export_shape',
                'iwds', 'inputs', 'outputs', 'directories', 'spool_placeholder_iwds')


def run(args, **kwargs):
    return run_alone(queue_info.main, args, **kwargs)


def copy_sample(sample, name, tmp_path):
    path = str(tmp_path / 'job_queue.log')
    shutil.copyfile(sample(name), path)
    os.chmod(path, 0o600)
    return path


def replayed_summary(path):
    """What queue_info should report, from the engine's line-by-line replay (_queue_log.replay) of the whole
    log rather than the streaming scanner the module uses: each job's effective attributes (proc over cluster)
    fed to the manifest's own reading of a job's paths."""
    state = ql.replay(path)
    transactions = any(rec.op == ql.OP_BEGIN for _lineno, _line, rec in ql.iter_lines(path))
    jobs = []
    owners = {}
    statuses = {}
    iwds, inputs, outputs, directories = set(), set(), set(), set()
    placeholders = []
    exported = 0
    leave_in_queue = 0
    for key in state.job_keys():
        raw = [state.job_attr(key, n) for n in SCAN_NAMES]
        job = Job(*[int(x) for x in ql.job_id(key).split('.')],
                  values=[None if v is None else v.encode('utf-8', 'surrogateescape') for v in raw],
                  own_iwd=state.get(key, 'Iwd') is not None)
        owner = job.string('Owner')
        status = JOB_STATUS.get(int(job.raw('JobStatus') or b'0'), 'unknown')
        managed = job.string('Managed')
        lumberjack = managed == 'External' and job.string('ManagedManager') == 'Lumberjack'
        exported += lumberjack
        leave_in_queue += bool_value(job.raw('LeaveJobInQueue'), False)
        owners[owner] = owners.get(owner, 0) + 1
        statuses[status] = statuses.get(status, 0) + 1
        iwd, ins, outs = job_paths(job)
        iwds.add(iwd)
        directories.add(iwd)
        if job.own_iwd and spool_placeholder_job(iwd) == job.id:
            placeholders.append(job.id)
        inputs.update(resolve(entry, iwd) for _kind, entry in ins)
        for kind, entry in outs:
            outputs.add(resolve(entry, iwd))
            if kind != 'output':
                directories.add(posixpath.dirname(resolve(entry, iwd)))
        jobs.append({'id': job.id, 'owner': owner, 'status': status, 'iwd': iwd, 'exported': lumberjack,
                     'managed': managed})
    other_ads = [k for k in state.ads if k != ql.HEADER_KEY and not ql.is_proc_key(k) and not k.endswith('.-1')]
    export_shape = bool(jobs) and not transactions and not other_ads and leave_in_queue == len(jobs)
    return {
        'total_jobs': len(jobs),
        'jobs': jobs,
        'owners': owners,
        'statuses': statuses,
        'exported_jobs': exported,
        'lumberjack_export': bool(jobs) and (exported == len(jobs) or export_shape),
        'export_shape': export_shape,
        'iwds': sorted(iwds),
        'inputs': sorted(inputs),
        'outputs': sorted(outputs),
        'directories': sorted(directories),
        'spool_placeholder_iwds': placeholders,
    }


# -- the summary of each sample ------------------------------------------------------------------------------

def test_summary_of_each_sample_is_the_replayed_queue(any_sample):
    name, path = any_sample
    r = run({'path': path})
    assert not r.get('failed'), r.get('msg')
    assert r['changed'] is False
    assert r['path'] == path
    assert r['dropped'] == [] and r['warnings'] == []
    expected = replayed_summary(path)
    for key in SUMMARY_KEYS:
        assert r[key] == expected[key], (name, key)
    assert set(SUMMARY_KEYS) <= set(r), name


W = '/home/lumber/work'
P1 = '/tmp/condor-lj-iwd/7/1/cluster7.proc1.subproc0'
P2 = '/tmp/condor-lj-iwd/7/2/cluster7.proc2.subproc0'
EXPORT_JOBS = ['6.0', '6.1', '7.0', '7.1', '7.2']


def test_export_sample_facts(sample):
    # read off the file: two cluster ads (06.-1, 07.-1) owned by lumber, JobStatus 1, LeaveJobInQueue true;
    # procs 7.1 and 7.2 carry their own placeholder Iwd; no transactions, no user record
    r = run({'path': sample('export_two_clusters')})
    assert r['total_jobs'] == 5
    assert [j['id'] for j in r['jobs']] == EXPORT_JOBS
    assert [j['iwd'] for j in r['jobs']] == [W, W, W + '/p0', P1, P2]
    assert r['owners'] == {'lumber': 5}
    assert r['statuses'] == {'idle': 5}
    assert r['iwds'] == [W, W + '/p0', P1, P2]
    assert r['spool_placeholder_iwds'] == ['7.1', '7.2']
    # the file has no Managed flags (they stay in the exporting schedd), but it has the shape of an export
    assert r['exported_jobs'] == 0
    assert [(j['exported'], j['managed']) for j in r['jobs']] == [(False, None)] * 5
    assert r['export_shape'] is True and r['lumberjack_export'] is True
    # Cmd is transferred (no TransferExecutable false), In is /dev/null and TransferIn false
    assert W + '/job.sh' in r['inputs'] and W + '/input.txt' in r['inputs'] and P1 + '/input.txt' in r['inputs']
    assert '/dev/null' not in r['inputs']
    # Out/Err relative to the Iwd, UserLog absolute
    assert W + '/out/run.6.1.out' in r['outputs'] and P2 + '/err.txt' in r['outputs']
    assert W + '/run.log' in r['outputs'] and W + '/run-perproc.log' in r['outputs']
    assert W + '/out' in r['directories']


def test_spooled_submit_sample_facts(sample):
    # one job 1.0, JobStatus 5, its Owner only in the cluster ad 01.-1, its Iwd set twice in one
    # transaction (the last value, the spool placeholder, wins); a user record 0.2 and transactions
    r = run({'path': sample('spooled_submit')})
    assert [(j['id'], j['owner'], j['status']) for j in r['jobs']] == [('1.0', 'bbockelm', 'held')]
    iwd = r['jobs'][0]['iwd']
    assert iwd.endswith('/spool/1/0/cluster1.proc0.subproc0')
    assert r['iwds'] == [iwd] and r['spool_placeholder_iwds'] == ['1.0']
    assert r['inputs'] == [iwd + '/sleep']      # the last Cmd is "sleep", relative to the Iwd
    assert r['outputs'] == [iwd + '/test.err', iwd + '/test.log', iwd + '/test.out']
    assert r['export_shape'] is False and r['lumberjack_export'] is False


def test_hpc_sample_facts(sample):
    # the same five jobs after the run: 7.2 held (JobStatus 5), the others completed (JobStatus 4);
    # a schedd's own log with its user record 0.2, not an export
    r = run({'path': sample('hpc_after_run')})
    assert [(j['id'], j['status']) for j in r['jobs']] == [
        ('6.0', 'completed'), ('6.1', 'completed'), ('7.0', 'completed'), ('7.1', 'completed'), ('7.2', 'held')]
    assert r['statuses'] == {'completed': 4, 'held': 1}
    assert r['owners'] == {'lumber': 5}
    assert r['export_shape'] is False and r['lumberjack_export'] is False


def test_managed_jobs_of_a_schedd_log_are_a_lumberjack_export(sample, write_log):
    # the schedd's own log after condor_export marked the jobs: Managed/ManagedManager in both cluster ads
    lines = read(sample('export_two_clusters')).decode('utf-8').splitlines()
    lines += ['103 0%d.-1 Managed "External"' % c for c in (6, 7)]
    lines += ['103 0%d.-1 ManagedManager "Lumberjack"' % c for c in (6, 7)]
    lines += ['105 ', '103 6.0 JobPrio 1', '106 ']     # a transaction: no longer the shape of an export
    path = write_log(lines)
    r = run({'path': path})
    assert r['export_shape'] is False
    assert r['exported_jobs'] == 5 and r['lumberjack_export'] is True
    assert all(j['exported'] and j['managed'] == 'External' for j in r['jobs'])
    assert r['total_jobs'] == replayed_summary(path)['exported_jobs'] == 5


def test_partly_managed_schedd_log_is_not_an_export(sample, write_log):
    lines = read(sample('hpc_after_run')).decode('utf-8').splitlines()
    lines += ['103 06.-1 Managed "External"', '103 06.-1 ManagedManager "Lumberjack"']
    r = run({'path': write_log(lines)})
    assert r['exported_jobs'] == 2
    assert [j['exported'] for j in r['jobs']] == [True, True, False, False, False]
    assert r['lumberjack_export'] is False


# -- max_jobs --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('max_jobs, listed', [(0, []), (2, EXPORT_JOBS[:2]), (5, EXPORT_JOBS), (10000, EXPORT_JOBS)])
def test_max_jobs_limits_the_list_not_the_counts(sample, max_jobs, listed):
    r = run({'path': sample('export_two_clusters'), 'max_jobs': max_jobs})
    assert [j['id'] for j in r['jobs']] == listed
    assert r['total_jobs'] == 5 and r['owners'] == {'lumber': 5} and r['statuses'] == {'idle': 5}
    assert len(r['iwds']) == 4


def test_negative_max_jobs_fails(sample):
    r = run({'path': sample('export_two_clusters'), 'max_jobs': -1})
    assert r['failed'] is True and r['msg'] == 'max_jobs must be 0 or more, got -1'


# -- never writes -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize('check_mode', [False, True])
def test_never_changes_the_file(any_sample, tmp_path, check_mode):
    name, path = any_sample
    copy = str(tmp_path / (name + '.job_queue.log'))
    shutil.copyfile(path, copy)
    os.chmod(copy, 0o600)
    before = snapshot(str(tmp_path))
    r = run({'path': copy}, check_mode=check_mode)
    assert r['changed'] is False and r['total_jobs'] == replayed_summary(path)['total_jobs']
    assert snapshot(str(tmp_path)) == before
    assert read(copy) == read(path)


# -- the end of a log a schedd left behind ---------------------------------------------------------------------

def test_cut_off_last_record_is_dropped_with_a_warning(sample, tmp_path):
    path = copy_sample(sample, 'export_two_clusters', tmp_path)
    with open(path, 'ab') as f:
        f.write(b'103 7.2 JobStatus 5')     # no newline: a write that was cut off
    before = snapshot(str(tmp_path))
    r = run({'path': path})
    assert not r.get('failed'), r.get('msg')
    assert len(r['dropped']) == 1 and 'without its newline' in r['dropped'][0] and path in r['dropped'][0]
    assert r['warnings'] == r['dropped']
    # the cut-off record is ignored: 7.2 is still idle, as the replay of the sample says
    assert r['statuses'] == {'idle': 5}
    assert r['jobs'] == replayed_summary(sample('export_two_clusters'))['jobs']
    assert snapshot(str(tmp_path)) == before


def test_unterminated_last_transaction_is_dropped(sample, write_log):
    # spooled_submit's last transaction creates job 1.0; without its closing "106 " the job does not exist
    data = read(sample('spooled_submit'))
    assert data.endswith(b'\n106 \n')
    path = write_log(data[:-len(b'106 \n')])
    r = run({'path': path})
    assert not r.get('failed'), r.get('msg')
    assert r['total_jobs'] == 0 and r['jobs'] == [] and r['lumberjack_export'] is False
    assert r['total_jobs'] == replayed_summary(path)['total_jobs']
    assert len(r['dropped']) == 1 and 'never ended' in r['dropped'][0]
    assert r['warnings'] == r['dropped']


# -- failures ----------------------------------------------------------------------------------------------------

def test_missing_file_fails_naming_it(tmp_path):
    path = str(tmp_path / 'no-such.job_queue.log')
    r = run({'path': path})
    assert r['failed'] is True
    assert r['msg'].startswith(path + ': cannot open the job queue log')
    assert 'Traceback' not in r['msg']
    assert os.listdir(str(tmp_path)) == []


def test_not_a_queue_log_fails_naming_file_and_line(write_log, tmp_path):
    path = write_log(['just some text', 'on two lines'])
    before = snapshot(str(tmp_path))
    r = run({'path': path})
    assert r['failed'] is True
    assert r['msg'].startswith("%s line 1: corrupt record: 'just some text'" % path)
    assert snapshot(str(tmp_path)) == before


def test_corrupt_record_inside_a_sample_names_its_line(sample, tmp_path):
    path = copy_sample(sample, 'export_two_clusters', tmp_path)
    lines = read(path).split(b'\n')
    lines[9] = b'103 06.-1 Args'     # line 10 (Args) loses its value
    with open(path, 'wb') as f:
        f.write(b'\n'.join(lines))
    before = snapshot(str(tmp_path))
    r = run({'path': path})
    assert r['failed'] is True
    assert r['msg'].startswith("%s line 10: corrupt record: '103 06.-1 Args'" % path)
    assert snapshot(str(tmp_path)) == before
