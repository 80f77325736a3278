# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""condor_job against a real access point, through ansible-playbook, authenticated by an IDTOKEN only.

A personal pool (collector, negotiator, schedd, startd) plays the access point. An ordinary local user gets a
token minted by the pool (condor_token_create) in ~/.condor/tokens.d, mode 0600, and runs the module (become)
with a client configuration that has nothing but COLLECTOR_HOST and SEC_CLIENT_AUTHENTICATION_METHODS =
IDTOKENS: no file system authentication, no schedd address. The batch is submitted with spool and an input
file, found again by its name on the second run, waited for, retrieved into the submit directory and the jobs
leave the queue. Check mode, a 0644 token and state=absent are checked against the real queue.

Needs root (users, pools started as root), sudo (become) and condor_master on PATH; skipped otherwise.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

MODULE = 'hepcloud.lumberjack.condor_job'


def args_for(ap, **more):
    args = dict(condor_config=ap.client_config, pool=ap.pool.collector_host, schedd_name='ap@127.0.0.1',
                token_file=ap.token_file, poll_interval=2, poll_interval_force=True, wait_timeout=240)
    args.update(more)
    return args


def description():
    return {
        'executable': 'job.sh',
        'arguments': '$(ProcId)',
        'transfer_input_files': 'in.txt',
        'should_transfer_files': 'YES',
        'when_to_transfer_output': 'ON_EXIT',
        'output': 'out.$(ProcId)',
        'error': 'err.$(ProcId)',
        'log': 'jobs.log',
        'request_memory': 16,
        'request_disk': 1024,
    }


def queue(ap, batch):
    attrs = ('ClusterId', 'ProcId', 'JobStatus', 'Owner', 'LeaveJobInQueue')
    return ap.pool.jobs('JobBatchName == "%s"' % batch, attrs)


def test_submit_wait_retrieve_with_only_a_token(ap):
    batch = 'spooled'
    submit = args_for(ap, batch_name=batch, description=description(), submit_dir=ap.work, count=2)

    # check mode submits nothing
    r = ap.runner.task(MODULE, submit, become_user=ap.user, check_mode=True)
    assert r['changed'] is True
    assert r['submitted'] == 2
    assert r['job_ids'] == []
    assert r['identity'] == '%s@lumberjack.test' % ap.user
    assert queue(ap, batch) == []

    r = ap.runner.task(MODULE, submit, become_user=ap.user)
    assert r['changed'] is True, r
    cluster = r['cluster_id']
    assert r['job_ids'] == ['%d.0' % cluster, '%d.1' % cluster]
    assert r['submitted'] == 2
    jobs = queue(ap, batch)
    assert sorted(j['ProcId'] for j in jobs) == ['0', '1']
    assert all(j['Owner'] == ap.user for j in jobs)
    assert ap.token not in r['_output']

    # the second run finds the batch by its name and submits nothing
    r = ap.runner.task(MODULE, submit, become_user=ap.user)
    assert r['changed'] is False
    assert r['cluster_ids'] == [cluster]
    assert len(queue(ap, batch)) == 2

    # wait for the batch: exit codes come back, the jobs stay in the queue (spooled: LeaveJobInQueue)
    r = ap.runner.task(MODULE, dict(submit, wait=True), become_user=ap.user)
    assert r['changed'] is False
    assert [(j['job_id'], j['status'], j['exit_code']) for j in r['jobs']] == [
        ('%d.0' % cluster, 'completed', 0), ('%d.1' % cluster, 'completed', 0)]
    assert not os.path.exists(os.path.join(ap.work, 'out.0'))        # outputs are still on the access point

    retrieve = args_for(ap, batch_name=batch, state='retrieved')
    r = ap.runner.task(MODULE, retrieve, become_user=ap.user, check_mode=True)
    assert r['changed'] is True and r['retrieved'] == ['%d.0' % cluster, '%d.1' % cluster]
    assert not os.path.exists(os.path.join(ap.work, 'out.0'))

    r = ap.runner.task(MODULE, retrieve, become_user=ap.user)
    assert r['changed'] is True
    assert r['retrieved'] == ['%d.0' % cluster, '%d.1' % cluster]
    for proc in (0, 1):
        out = os.path.join(ap.work, 'out.%d' % proc)
        with open(out) as f:
            text = f.read()
        assert 'job %d ran as %s' % (proc, ap.user) in text
        assert 'input: hello from the submit host' in text
        assert os.stat(out).st_uid == ap.uid
    with open(os.path.join(ap.work, 'result.txt')) as f:
        assert f.read().startswith('result of job')

    # the jobs leave the queue; retrieving again changes nothing
    ap.pool.wait_for(lambda: queue(ap, batch) == [], timeout=120, what='the retrieved jobs to leave the queue')
    r = ap.runner.task(MODULE, retrieve, become_user=ap.user)
    assert r['changed'] is False
    assert r['retrieved'] == []


def test_submit_file_with_items_then_absent(ap):
    batch = 'from-file'
    path = os.path.join(ap.work, 'items.sub')
    with open(path, 'w') as f:
        f.write('executable = job.sh\narguments = $(item)\nlog = items.log\nrequest_memory = 16\n'
                'should_transfer_files = YES\ntransfer_input_files = in.txt\n'
                # held at once, so the jobs stay in the queue for state=absent (the schedd refuses hold with
                # spool: this batch is submitted without, the submit directory is on the access point's host)
                'hold = true\nqueue\n')
    os.chown(path, ap.uid, ap.gid)
    submit = args_for(ap, batch_name=batch, submit_file=path, items=['a', 'b', 'c'], spool=False)
    r = ap.runner.task(MODULE, submit, become_user=ap.user)
    assert r['changed'] is True and len(r['job_ids']) == 3
    assert sorted(j['JobStatus'] for j in queue(ap, batch)) == ['5', '5', '5']

    # waiting on held jobs ends with a failure that names them and the reason
    r = ap.runner.task(MODULE, dict(submit, wait=True), become_user=ap.user, expect_failure=True)
    assert 'held' in r['msg'] and r['job_ids'][0] in r['msg']

    absent = args_for(ap, batch_name=batch, state='absent')
    r = ap.runner.task(MODULE, absent, become_user=ap.user, check_mode=True)
    assert r['changed'] is True and len(r['removed']) == 3
    assert len([j for j in queue(ap, batch) if j['JobStatus'] != '3']) == 3

    r = ap.runner.task(MODULE, absent, become_user=ap.user)
    assert r['changed'] is True and len(r['removed']) == 3
    assert all(j['JobStatus'] == '3' for j in queue(ap, batch))
    r = ap.runner.task(MODULE, absent, become_user=ap.user)
    assert r['changed'] is False and r['removed'] == []


def test_a_token_others_can_read_is_refused(ap):
    os.chmod(ap.token_file, 0o644)
    try:
        r = ap.runner.task(MODULE, args_for(ap, batch_name='refused', description=description(), submit_dir=ap.work),
                           become_user=ap.user, expect_failure=True)
    finally:
        os.chmod(ap.token_file, 0o600)
    assert 'chmod 600 %s' % ap.token_file in r['msg']
    assert ap.token not in r['_output']
    assert queue(ap, 'refused') == []


def test_without_a_token_the_schedd_does_not_know_the_user(ap):
    empty = os.path.join(ap.base, 'no-tokens')
    os.mkdir(empty, 0o755)
    args = args_for(ap, batch_name='anonymous', description=description(), submit_dir=ap.work)
    del args['token_file']
    args['token_dir'] = empty
    r = ap.runner.task(MODULE, args, become_user=ap.user, expect_failure=True)
    assert 'authenticat' in r['msg'] or 'WRITE' in r['msg'], r['msg']
    assert queue(ap, 'anonymous') == []


CREDS_JOB = '''#!/bin/sh
# the OAuth credentials the job was given, one line each: file name, content
[ -n "$_CONDOR_CREDS" ] || exit 3
[ -s "$_CONDOR_CREDS/rdrive.use" ] || exit 4
cd "$_CONDOR_CREDS" || exit 5
for f in *; do echo "$f: $(cat "$f")"; done
'''


def test_oauth_services_get_a_placeholder_credential_jobs_can_use(ap):
    """The access point's real condor_credd gets a placeholder OAuth credential of the user, once, and a job
    that uses the services runs and finds the credentials in its _CONDOR_CREDS directory."""
    batch = 'oauth'
    script = os.path.join(ap.work, 'creds.sh')
    with open(script, 'w') as f:
        f.write(CREDS_JOB)
    os.chmod(script, 0o755)
    os.chown(script, ap.uid, ap.gid)
    job = {
        'executable': 'creds.sh',
        'should_transfer_files': 'YES',
        'when_to_transfer_output': 'ON_EXIT',
        'output': 'creds.out',
        'error': 'creds.err',
        'log': 'creds.log',
        'request_memory': 16,
        'request_disk': 1024,
        'use_oauth_services': 'rdrive, scitokens',
        'scitokens_oauth_permissions_ap': '',
    }
    submit = args_for(ap, batch_name=batch, description=job, submit_dir=ap.work,
                      oauth_services=['rdrive', 'scitokens*ap'])
    creds = os.path.join(ap.oauth_dir, ap.user)

    r = ap.runner.task(MODULE, submit, become_user=ap.user, check_mode=True)
    assert r['oauth_stored'] == ['rdrive', 'scitokens*ap']
    assert not os.path.exists(os.path.join(creds, 'rdrive.use'))

    # waiting right after a spooled submit: the job is held for its input files first, which is not a hold
    r = ap.runner.task(MODULE, dict(submit, wait=True), become_user=ap.user)
    assert r['changed'] is True and r['oauth_stored'] == ['rdrive', 'scitokens*ap']
    assert [(j['status'], j['exit_code']) for j in r['jobs']] == [('completed', 0)]
    for name in ('rdrive.use', 'scitokens_ap.use'):
        path = os.path.join(creds, name)
        st = os.stat(path)
        with open(path, 'rb') as f:
            assert f.read() == ap.user.encode(), name
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o600), name

    # the credentials are there: another batch stores nothing
    r = ap.runner.task(MODULE, dict(submit, batch_name='oauth-again'), become_user=ap.user, check_mode=True)
    assert r['oauth_stored'] == []

    # what the job saw
    r = ap.runner.task(MODULE, args_for(ap, batch_name=batch, state='retrieved'), become_user=ap.user)
    assert r['retrieved'] == r['job_ids'] and len(r['retrieved']) == 1
    with open(os.path.join(ap.work, 'creds.out')) as f:
        assert f.read().splitlines() == ['rdrive.use: %s' % ap.user, 'scitokens_ap.use: %s' % ap.user]
