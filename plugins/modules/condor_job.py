#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: condor_job
short_description: Submit HTCondor jobs to a remote access point, wait for them, retrieve their outputs
version_added: 0.1.0
description:
  - Submits a batch of jobs to a condor_schedd located through its pool's collector, typically from a host
    outside the pool, authenticating with an IDTOKEN of the access point (see
    M(hepcloud.lumberjack.condor_token)).
  - The batch is named (O(batch_name), the jobs' C(JobBatchName)) and the name is what makes the module
    idempotent. While jobs of that name and of the authenticated user are in the queue and not removed, the
    module reports them and submits nothing.
  - With O(spool=true) (the default) the input files are sent to the schedd with the jobs (C(Schedd.spool)),
    and the outputs stay there until O(state=retrieved) fetches them into the submit directory.
  - With O(wait=true) the module polls the queue until every job of the batch is completed, removed or held,
    and returns their status, exit codes and hold reasons. Access points ask not to be polled more often
    than every 30 seconds; O(poll_interval) is never shorter unless O(poll_interval_force=true).
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
extends_documentation_fragment:
  - hepcloud.lumberjack._schedd.connection
attributes:
  check_mode:
    support: full
    description: Reports what would be submitted, retrieved or removed (and the jobs already there); nothing
      is sent to the schedd and no file is written.
  diff_mode:
    support: none
    description: No diff is produced.
  platform:
    support: full
    platforms: posix
    description: Runs on the submitting host; the schedd may be on another host.
options:
  batch_name:
    description:
      - Name of the batch (the jobs' C(JobBatchName)); identifies the jobs on later runs.
      - It is set on the submitted jobs. A description that sets another C(batch_name) is refused.
    type: str
    required: true
  state:
    description:
      - V(present) submits the batch unless jobs of that batch are in the queue (and not removed).
      - V(retrieved) fetches the outputs of the completed jobs of the batch into their submit directory
        (C(Schedd.retrieve)) and then lets them leave the queue (C(LeaveJobInQueue = false)). Jobs not
        completed yet are reported in RV(pending); with O(wait=true) they are waited for first.
      - V(absent) removes the jobs of the batch that are in the queue.
    type: str
    choices: [present, retrieved, absent]
    default: present
  description:
    description:
      - The submit description as a dict of submit commands (C(executable), C(arguments),
        C(transfer_input_files), ...), without the C(queue) statement (see O(count) and O(items)).
      - Exactly one of O(description) and O(submit_file) is required with O(state=present).
    type: dict
  submit_file:
    description:
      - A submit file on the submitting host. Its C(queue) statement is used unless O(count) or O(items)
        is given.
    type: path
  submit_dir:
    description:
      - The submit directory. Relative paths of the description are relative to it, it becomes the jobs'
        C(Iwd), and O(state=retrieved) fetches the outputs into it.
      - Defaults to the directory of O(submit_file). Required with O(description).
    type: path
  count:
    description:
      - Number of jobs to queue (C(queue N)). Default one job, or the submit file's C(queue) statement.
    type: int
  items:
    description:
      - Item data, one job per item (C(queue ... from)). Strings are available as C($(item)); dicts give
        one submit variable per key (all items must have the same keys).
    type: list
    elements: raw
  spool:
    description:
      - Send the input files to the schedd with the jobs, and keep the outputs there until they are
        retrieved (O(state=retrieved)). Needed when the submitting host does not share a file system with
        the access point.
    type: bool
    default: true
  oauth_services:
    description:
      - OAuth services (such as V(scitokens) or V(rdrive)) for which the access point's condor_credd must
        hold a credential of the user before the jobs are submitted, else the jobs go on hold with C(Job
        credentials not available). For every service without one, a placeholder credential is stored
        (C(Credd.add_user_service_cred), an access token, not a refresh token, which the credd writes as
        C(SERVICE.use)); a credential that is there is left alone.
      - The placeholder holds the user's name (HTCondor's own C(LOCAL:) credentials hold the same). It is not
        empty because the starter refuses an empty credential (C(Failed to decode credential sent by
        shadow!)) and the job goes back to idle, again and again. A job finds it, as any OAuth credential, in
        the directory E(_CONDOR_CREDS) as C(SERVICE.use) (C(SERVICE_HANDLE.use) with a handle).
      - It is no token. A job that must authenticate to the service needs a real one, stored by the user
        (C(condor_store_cred)) or by the access point's credential monitor, before this module runs.
      - A service may be given as C(SERVICE*HANDLE) for a credential with a handle.
    type: list
    elements: str
    default: []
  credd_name:
    description:
      - Name of the condor_credd in the collector. Default the credd on the schedd's machine.
    type: str
  wait:
    description:
      - Wait until every job of the batch is completed, removed or held (for O(state=present) and
        O(state=retrieved)).
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait at most; then the module fails and reports the jobs as they are.
    type: int
    default: 3600
  poll_interval:
    description:
      - Seconds between two queries of the queue while waiting. Raised to 30 unless
        O(poll_interval_force=true).
    type: int
    default: 60
  poll_interval_force:
    description:
      - Allow a O(poll_interval) under 30 seconds (for a test pool of one's own; access points ask not to
        be polled faster).
    type: bool
    default: false
notes:
  - The jobs are selected by O(batch_name) and by the user the schedd authenticates the module as (the
    identity of the token), so another user's batch of the same name is never touched.
  - Idempotence holds while the batch is in the queue. Once its jobs have left it (retrieved, or
    completed without spool, or removed), O(state=present) submits the batch again.
  - A held job ends the wait; the module then fails with the hold reasons, and the jobs stay in the queue
    for the user to release or remove (O(state=absent)).
seealso:
  - module: hepcloud.lumberjack.condor_token
'''

EXAMPLES = r'''
- name: Submit a batch to the access point, sending the inputs
  hepcloud.lumberjack.condor_job:
    pool: ap.example.org:9618
    schedd_name: ap.example.org
    token_file: ~/.condor/tokens.d/ap.example.org
    batch_name: calib-2024-07
    submit_dir: /data/calib
    description:
      executable: run.sh
      arguments: $(item)
      transfer_input_files: calib.cfg
      output: out.$(ProcId)
      error: err.$(ProcId)
      log: calib.log
      request_memory: 1024
    items: [run1, run2, run3]
    oauth_services: [scitokens]

- name: Wait for the batch, then fetch the outputs into /data/calib and let the jobs leave the queue
  hepcloud.lumberjack.condor_job:
    pool: ap.example.org:9618
    schedd_name: ap.example.org
    token_file: ~/.condor/tokens.d/ap.example.org
    batch_name: calib-2024-07
    state: retrieved
    wait: true
    wait_timeout: 86400
    poll_interval: 300

- name: Remove the batch
  hepcloud.lumberjack.condor_job:
    pool: ap.example.org:9618
    token_file: ~/.condor/tokens.d/ap.example.org
    batch_name: calib-2024-07
    state: absent
'''

RETURN = r'''
cluster_id:
  description: Cluster id of the batch (the first one, when the batch has several clusters).
  returned: when jobs of the batch are in the queue or were submitted
  type: int
  sample: 42
cluster_ids:
  description: All cluster ids of the batch's jobs.
  returned: always
  type: list
  elements: int
  sample: [42]
job_ids:
  description: Ids of the batch's jobs (C(cluster.proc)). In check mode for a new batch, empty.
  returned: always
  type: list
  elements: str
  sample: ["42.0", "42.1"]
jobs:
  description: The batch's jobs as the schedd last reported them.
  returned: always
  type: list
  elements: dict
  contains:
    job_id:
      description: C(cluster.proc).
      type: str
    status:
      description: Job status by name (V(idle), V(running), V(completed), V(held), V(removed), ...).
      type: str
    status_code:
      description: C(JobStatus).
      type: int
    exit_code:
      description: C(ExitCode), for completed jobs.
      type: int
    exit_signal:
      description: C(ExitSignal), for jobs killed by a signal.
      type: int
    hold_reason:
      description: C(HoldReason), for held jobs.
      type: str
    hold_reason_code:
      description: C(HoldReasonCode), for held jobs.
      type: int
    iwd:
      description: The job's submit directory (where retrieved outputs land).
      type: str
  sample: [{"job_id": "42.0", "status": "completed", "status_code": 4, "exit_code": 0}]
submitted:
  description: Number of jobs submitted by this run (in check mode, that would be submitted; -1 when a
    submit file's queue statement decides).
  returned: state=present
  type: int
  sample: 3
retrieved:
  description: Jobs whose outputs were fetched by this run (or would be, in check mode).
  returned: state=retrieved
  type: list
  elements: str
  sample: ["42.0"]
pending:
  description: Jobs of the batch that are not completed (not retrieved).
  returned: state=retrieved
  type: list
  elements: str
  sample: []
removed:
  description: Jobs removed by this run (or that would be, in check mode).
  returned: state=absent
  type: list
  elements: str
  sample: ["42.0", "42.1"]
oauth_stored:
  description: OAuth services for which a placeholder credential was stored (or would be, in check mode).
  returned: state=present
  type: list
  elements: str
  sample: ["scitokens"]
identity:
  description: The identity the schedd authenticated the module as (the token's).
  returned: always
  type: str
  sample: alice@ap.example.org
'''

import os
import time

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._schedd import (
    ScheddClient,
    ad_to_dict,
    is_super_user,
    status_name,
    user_name_part,
    _text,
)

MIN_POLL = 30
DONE = (3, 4)          # removed, completed
HELD = 5
# A spooled job is held with this code until the schedd has its input files (HoldReasonCode SpoolingInput):
# not a hold to stop waiting for.
SPOOLING_INPUT = 16
COMPLETED = 4
REMOVED = 3
JOB_ATTRS = ['ClusterId', 'ProcId', 'Owner', 'JobStatus', 'JobBatchName', 'ExitCode', 'ExitBySignal',
             'ExitSignal', 'HoldReason', 'HoldReasonCode', 'Iwd', 'LeaveJobInQueue']
BATCH_KEYS = ('batch_name', '+jobbatchname', 'my.jobbatchname')


def quote(text):
    """A ClassAd string literal."""
    return '"%s"' % text.replace('\\', '\\\\').replace('"', '\\"')


def submit_value(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return ', '.join(submit_value(v) for v in value)
    return str(value)


def job_record(ad):
    job = {
        'job_id': '%d.%d' % (int(ad['ClusterId']), int(ad['ProcId'])),
        'status_code': int(ad.get('JobStatus', 0)),
        'iwd': ad.get('Iwd'),
    }
    job['status'] = status_name(job['status_code'])
    if ad.get('ExitCode') is not None:
        job['exit_code'] = ad['ExitCode']
    if ad.get('ExitBySignal') and ad.get('ExitSignal') is not None:
        job['exit_signal'] = ad['ExitSignal']
    if job['status_code'] == HELD:
        job['hold_reason'] = ad.get('HoldReason')
        job['hold_reason_code'] = ad.get('HoldReasonCode')
    return job


def is_spooling(job):
    return job['status_code'] == HELD and job.get('hold_reason_code') == SPOOLING_INPUT


def placeholder_credential(identity):
    """The bytes of a placeholder OAuth credential: the user's name, never empty."""
    return (user_name_part(identity) or 'placeholder').encode('utf-8')


def id_sort_key(job_id):
    cluster, proc = job_id.split('.')
    return int(cluster), int(proc)


class JobManager(object):

    def __init__(self, client):
        self.client = client
        self.p = client.params
        self.check_mode = client.module.check_mode
        self.identity = None
        self.owner = None
        self.changed = False
        interval = self.p['poll_interval']
        if interval < MIN_POLL and not self.p['poll_interval_force']:
            client.warn('poll_interval %d is under %d seconds: raised to %d (access points ask not to be polled '
                        'faster; poll_interval_force allows it on a pool of your own)' % (interval, MIN_POLL, MIN_POLL))
            interval = MIN_POLL
        self.poll_interval = max(1, interval)

    def fail(self, msg, **kwargs):
        kwargs.setdefault('changed', self.changed)
        self.client.fail(msg, identity=self.identity, **kwargs)

    # -- the batch in the queue ---------------------------------------------------------------------------
    def batch_constraint(self):
        constraint = 'JobBatchName == %s' % quote(self.p['batch_name'])
        if self.owner:
            constraint += ' && Owner == %s' % quote(self.owner)
        return constraint

    def batch_jobs(self, extra=None):
        constraint = self.batch_constraint()
        if extra:
            constraint = '(%s) && (%s)' % (constraint, extra)
        ads = self.client.query(constraint, JOB_ATTRS)
        return sorted((job_record(ad) for ad in ads), key=lambda j: id_sort_key(j['job_id']))

    def history_jobs(self, job_ids):
        """Records of jobs that left the queue (from the schedd's history), by id."""
        if not job_ids:
            return []
        clauses = ' || '.join('(ClusterId == %s && ProcId == %s)' % tuple(j.split('.')) for j in job_ids)
        constraint = '(%s) && (%s)' % (self.batch_constraint(), clauses)
        try:
            ads = self.client.schedd.history(constraint, JOB_ATTRS, len(job_ids))
        except Exception as e:  # pylint: disable=broad-except
            self.client.warn('the history of %s could not be read: %s' % (', '.join(job_ids), _text(e)))
            return []
        return [job_record(ad_to_dict(ad)) for ad in ads]

    # -- waiting ---------------------------------------------------------------------------------------
    def wait(self, job_ids):
        """Poll until every job is completed, removed or held (or gone from the queue); returns the records."""
        deadline = time.time() + self.p['wait_timeout']
        wanted = set(job_ids)
        while True:
            jobs = [j for j in self.batch_jobs() if j['job_id'] in wanted]
            gone = sorted(wanted - set(j['job_id'] for j in jobs), key=id_sort_key)
            open_jobs = [j for j in jobs if j['status_code'] not in DONE + (HELD,) or is_spooling(j)]
            if not open_jobs:
                jobs += self.history_jobs(gone)
                return sorted(jobs, key=lambda j: id_sort_key(j['job_id']))
            if time.time() + self.poll_interval > deadline:
                self.fail('timed out after %d seconds waiting for batch %s: %s not finished'
                          % (self.p['wait_timeout'], self.p['batch_name'],
                             ', '.join('%s (%s)' % (j['job_id'], j['status']) for j in open_jobs)),
                          jobs=jobs, job_ids=sorted(wanted, key=id_sort_key))
            time.sleep(self.poll_interval)

    def check_held(self, jobs, out):
        held = [j for j in jobs if j['status_code'] == HELD and not is_spooling(j)]
        if held:
            out['failed'] = True
            out['msg'] = 'jobs of batch %s are held: %s. Fix the cause, then release them (condor_release) or ' \
                         'remove the batch (state=absent)' % (
                             self.p['batch_name'], '; '.join('%s: %s' % (j['job_id'], j.get('hold_reason')) for j in held))

    # -- OAuth credentials -----------------------------------------------------------------------------
    def credd(self):
        h = self.client.htcondor
        collector = self.client.collector
        try:
            if self.p['credd_name']:
                ad = collector.locate(h.DaemonType.Credd, self.p['credd_name'])
            else:
                machine = self.client.location.get('Machine')
                projection = ['Name', 'Machine', 'MyAddress', 'CondorVersion', 'AddressV1', 'CondorPlatform']
                ads = collector.query(h.AdType.Credd, projection=projection)
                ads = [a for a in ads if a.get('Machine') == machine] or list(ads)
                if not ads:
                    self.fail('oauth_services needs the condor_credd of the access point, and the collector lists '
                              'none: ask the access point\'s administrators, or drop oauth_services')
                ad = ads[0]
            return h.Credd(ad)
        except Exception as e:  # pylint: disable=broad-except
            self.fail('cannot locate the condor_credd%s: %s' % (
                (' ' + self.p['credd_name']) if self.p['credd_name'] else '', _text(e)))

    def has_cred(self, credd, service, handle):
        """Whether the credd holds a credential of the user for the service (and handle)."""
        h = self.client.htcondor
        try:
            answer = credd.query_user_service_cred(h.CredType.OAuth, service, handle)
        except Exception as e:  # pylint: disable=broad-except
            if 'parsing credential' in _text(e):
                return True          # there is one, refresh-style and not JSON: the credd's to deal with
            self.fail('asking the credd for the %s credential failed: %s' % (service, _text(e)))
        # the answer is a ClassAd in the old syntax: fully_qualified_user, and one attribute per credential
        names = set(line.split('=', 1)[0].strip().lower() for line in (answer or '').splitlines() if '=' in line)
        return (service + ('_' + handle if handle else '')).lower() in names

    def ensure_oauth(self):
        services = self.p['oauth_services']
        if not services:
            return []
        h = self.client.htcondor
        credd = self.credd()
        # not empty: the starter takes a credential of zero bytes for one it failed to receive
        placeholder = placeholder_credential(self.identity)
        stored = []
        for entry in services:
            service, _sep, handle = entry.partition('*')
            if self.has_cred(credd, service, handle or None):
                continue
            stored.append(entry)
            if self.check_mode:
                continue
            try:
                credd.add_user_service_cred(h.CredType.OAuth, placeholder, service, handle or None, refresh=False)
                self.changed = True
            except Exception as e:  # pylint: disable=broad-except
                self.fail('storing a placeholder OAuth credential for service %s in the credd failed: %s' % (entry, _text(e)))
        return stored

    # -- states ----------------------------------------------------------------------------------------
    def authenticate(self):
        self.identity = self.client.identity()
        if not is_super_user(self.identity):
            self.owner = user_name_part(self.identity)

    def description(self):
        """(htcondor2.Submit, submit_dir, number of jobs or -1)."""
        h = self.client.htcondor
        p = self.p
        if p['submit_file']:
            path = p['submit_file']
            try:
                with open(path) as f:
                    text = f.read()
            except (IOError, OSError) as e:
                self.fail('cannot read submit_file %s: %s' % (path, _text(e)))
            try:
                sub = h.Submit(text)
            except Exception as e:  # pylint: disable=broad-except
                self.fail('submit_file %s is not a valid submit description: %s' % (path, _text(e)))
            submit_dir = p['submit_dir'] or os.path.dirname(os.path.abspath(path))
        else:
            commands = {}
            for key, value in p['description'].items():
                if key.strip().lower() == 'queue':
                    self.fail('description: leave out "queue"; give count or items instead')
                commands[str(key)] = submit_value(value)
            try:
                sub = h.Submit(commands)
            except Exception as e:  # pylint: disable=broad-except
                self.fail('description is not a valid submit description: %s' % _text(e))
            submit_dir = p['submit_dir']
        for key in list(sub.keys()):
            if key.lower() in BATCH_KEYS:
                value = sub[key].strip().strip('"')
                if value != p['batch_name']:
                    self.fail('the submit description sets %s = %s, but batch_name is %s: the batch name is what '
                              'identifies the jobs; drop it from the description or make them equal'
                              % (key, sub[key], p['batch_name']))
                del sub[key]
        sub['batch_name'] = p['batch_name']
        if not os.path.isdir(submit_dir):
            self.fail('submit_dir %s is not a directory' % submit_dir)
        if p['items'] is not None:
            count = len(p['items'])
        elif p['count'] is not None:
            count = p['count']
        elif p['submit_file']:
            count = -1
        else:
            count = 1
        return sub, submit_dir, count

    def submit_kwargs(self):
        p = self.p
        kwargs = dict(spool=p['spool'])
        if p['items'] is not None:
            items = p['items']
            if not items:
                self.fail('items is empty: give at least one item, or count')
            if all(isinstance(i, dict) for i in items):
                keys = set(items[0])
                for n, item in enumerate(items):
                    if set(item) != keys:
                        self.fail('items[%d] has the keys %s, items[0] has %s: all items need the same keys'
                                  % (n, sorted(item), sorted(keys)))
                kwargs['itemdata'] = iter([dict((str(k), submit_value(v)) for k, v in i.items()) for i in items])
            elif all(not isinstance(i, (dict, list)) for i in items):
                kwargs['itemdata'] = iter([submit_value(i) for i in items])
            else:
                self.fail('items must all be strings or all be dicts')
        elif p['count'] is not None:
            if p['count'] < 1:
                self.fail('count must be at least 1 (got %d)' % p['count'])
            kwargs['count'] = p['count']
        elif not p['submit_file']:
            kwargs['count'] = 1
        return kwargs

    def present(self):
        existing = self.batch_jobs('JobStatus != %d' % REMOVED)
        out = dict(submitted=0, oauth_stored=[])
        if existing:
            ids = [j['job_id'] for j in existing]
            if self.p['wait']:
                existing = self.wait(ids)
                self.check_held(existing, out)
            return self.result(existing, out, changed=False,
                               msg='batch %s is in the queue (%d jobs); nothing submitted' % (self.p['batch_name'], len(ids)))
        sub, submit_dir, count = self.description()
        kwargs = self.submit_kwargs()
        out['oauth_stored'] = self.ensure_oauth()
        out['submitted'] = count
        if self.check_mode:
            return self.result([], out, changed=True, msg='would submit batch %s (%s jobs)' % (
                self.p['batch_name'], count if count >= 0 else 'the submit file\'s queue statement decides how many'))
        cwd = os.getcwd()
        schedd = self.client.schedd
        try:
            os.chdir(submit_dir)
            try:
                result = schedd.submit(sub, **kwargs)
            except Exception as e:  # pylint: disable=broad-except
                self.fail('submitting batch %s failed: %s' % (self.p['batch_name'], _text(e)))
            self.changed = True
            cluster = int(result.cluster())
            first = int(result.first_proc())
            n = int(result.num_procs())
            if self.p['spool']:
                try:
                    schedd.spool(result)
                except Exception as e:  # pylint: disable=broad-except
                    self.fail('cluster %d of batch %s was submitted, but sending its input files failed: %s. The jobs '
                              'stay held; remove them (state=absent) and submit again' % (cluster, self.p['batch_name'], _text(e)),
                              cluster_id=cluster)
        finally:
            os.chdir(cwd)
        self.changed = True
        out['submitted'] = n
        ids = ['%d.%d' % (cluster, first + i) for i in range(n)]
        if self.p['wait']:
            jobs = self.wait(ids)
            self.check_held(jobs, out)
        else:
            jobs = [j for j in self.batch_jobs() if j['job_id'] in ids]
        return self.result(jobs, out, changed=True, msg='submitted batch %s: %d jobs in cluster %d'
                           % (self.p['batch_name'], n, cluster))

    def retrieved(self):
        jobs = self.batch_jobs('JobStatus != %d' % REMOVED)
        out = dict(retrieved=[], pending=[])
        if self.p['wait'] and jobs:
            jobs = self.wait([j['job_id'] for j in jobs])
            self.check_held(jobs, out)
        ready = self.batch_jobs('JobStatus == %d && LeaveJobInQueue =!= false' % COMPLETED)
        ready_ids = [j['job_id'] for j in ready]
        out['retrieved'] = ready_ids
        out['pending'] = [j['job_id'] for j in jobs if j['status_code'] != COMPLETED]
        if not ready_ids:
            return self.result(jobs, out, changed=False, msg='batch %s: no completed job left to retrieve' % self.p['batch_name'])
        if self.check_mode:
            return self.result(jobs, out, changed=True, msg='would retrieve %s' % ', '.join(ready_ids))
        schedd = self.client.schedd
        for job in ready:
            if job.get('iwd') and not os.path.isdir(job['iwd']):
                self.fail('job %s of batch %s was submitted from %s, which is not a directory here: the outputs '
                          'are retrieved into the submit directory; create it or run from the submitting host'
                          % (job['job_id'], self.p['batch_name'], job['iwd']))
        ids = ['%s' % j for j in ready_ids]
        try:
            schedd.retrieve(ids)
        except Exception as e:  # pylint: disable=broad-except
            self.fail('retrieving the outputs of %s failed: %s' % (', '.join(ids), _text(e)))
        self.changed = True
        try:
            schedd.edit(ids, 'LeaveJobInQueue', 'false')
        except Exception as e:  # pylint: disable=broad-except
            self.fail('the outputs of %s were retrieved, but letting the jobs leave the queue failed: %s'
                      % (', '.join(ids), _text(e)))
        jobs = self.batch_jobs()
        return self.result(jobs, out, changed=True, msg='retrieved the outputs of %s' % ', '.join(ids))

    def absent(self):
        jobs = self.batch_jobs('JobStatus != %d' % REMOVED)
        ids = [j['job_id'] for j in jobs]
        out = dict(removed=ids)
        if not ids:
            return self.result([], out, changed=False, msg='batch %s: no job in the queue' % self.p['batch_name'])
        if self.check_mode:
            return self.result(jobs, out, changed=True, msg='would remove %s' % ', '.join(ids))
        h = self.client.htcondor
        try:
            ad = ad_to_dict(self.client.schedd.act(h.JobAction.Remove, ids, 'removed by hepcloud.lumberjack.condor_job'))
        except Exception as e:  # pylint: disable=broad-except
            self.fail('removing %s failed: %s' % (', '.join(ids), _text(e)))
        if ad.get('TotalSuccess', len(ids)) < len(ids):
            self.fail('the schedd removed %s of %d jobs of batch %s: %s'
                      % (ad.get('TotalSuccess'), len(ids), self.p['batch_name'], ad), result=ad)
        self.changed = True
        for job in jobs:          # as removed; the schedd may have let them leave the queue already
            job.update(status_code=REMOVED, status=status_name(REMOVED))
            job.pop('hold_reason', None)
            job.pop('hold_reason_code', None)
        return self.result(jobs, out, changed=True, msg='removed %s' % ', '.join(ids))

    def result(self, jobs, out, changed, msg):
        ids = [j['job_id'] for j in jobs]
        clusters = sorted(set(int(i.split('.')[0]) for i in ids))
        out.update(changed=changed, jobs=jobs, job_ids=ids, cluster_ids=clusters, identity=self.identity)
        if clusters:
            out['cluster_id'] = clusters[0]
        out.setdefault('msg', msg)
        if out.get('failed'):
            self.client.fail(**out)
        self.client.exit(**out)

    def run(self):
        self.authenticate()
        getattr(self, self.p['state'])()


def main():
    client = ScheddClient(
        argument_spec=dict(
            batch_name=dict(type='str', required=True),
            state=dict(type='str', default='present', choices=['present', 'retrieved', 'absent']),
            description=dict(type='dict'),
            submit_file=dict(type='path'),
            submit_dir=dict(type='path'),
            count=dict(type='int'),
            items=dict(type='list', elements='raw'),
            spool=dict(type='bool', default=True),
            oauth_services=dict(type='list', elements='str', default=[]),
            credd_name=dict(type='str'),
            wait=dict(type='bool', default=False),
            wait_timeout=dict(type='int', default=3600),
            poll_interval=dict(type='int', default=60),
            poll_interval_force=dict(type='bool', default=False),
        ),
        mutually_exclusive=[('description', 'submit_file'), ('count', 'items')],
        required_if=[('state', 'present', ('description', 'submit_file'), True)],
        required_by={'description': ('submit_dir',)},
        required_methods=('submit', 'spool', 'retrieve', 'edit', 'act'),
        supports_check_mode=True,
    )
    if not client.params['batch_name'].strip():
        client.fail('batch_name is empty: give the batch a name, it is what identifies its jobs')
    JobManager(client).run()


if __name__ == '__main__':
    main()
