# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A test double for the part of htcondor2 that talks to a condor_schedd.

Only the daemon is replaced: `FakeQueue` holds cluster and proc ads and behaves like the HTCondor 25 schedd's
export / unexport / import handlers as read from schedd.cpp and measured on real daemons (see the module
docstrings and tests). Everything else is real: ClassAds and constraint evaluation are the real `classad2`,
the export log is written as the job owner (a forked child that switches uid, like the schedd's user priv)
with the collection's job_queue.log writer, and the import reads the returned log with the collection's
engine, as the calling process.

The identity the fake schedd authenticates a client as follows FS authentication: the calling process's Unix
user @ UID_DOMAIN, and root is mapped to condor (as a root client of a real pool is). With a token directory
configured (_CONDOR_SEC_TOKEN_DIRECTORY), the identity is the text of the first file there after 'fake:'.
A call to export / unexport / import by an identity that is not a super user and has no user record (never
submitted a job) "crashes" the schedd, as HTCondor 25.14 does: the call raises "Can't read response ad" and
`crashes` counts it. The modules must never get there.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import copy
import os
import pwd
import types

import classad2

from ansible_collections.hepcloud.lumberjack.plugins.module_utils import _queue_log as ql

UID_DOMAIN = 'lumberjack.test'
SCHEDD_NAME = 'fake@127.0.0.1'
SUPER = ('root', 'condor')
# attributes the import never merges back (schedd.cpp ImportExportedJobResults)
NOT_MERGED = ('leavejobinqueue', 'iwd', 'owner', 'user', 'mytype', 'targettype')


class HTCondorException(Exception):
    """Stands for htcondor2.HTCondorException (the real one cannot be raised from Python code)."""


def caller_identity():
    token_dir = os.environ.get('_CONDOR_SEC_TOKEN_DIRECTORY')
    if token_dir and os.path.isdir(token_dir):
        for name in sorted(os.listdir(token_dir)):
            with open(os.path.join(token_dir, name)) as f:
                text = f.read().strip()
            if text.startswith('fake:'):
                return text[len('fake:'):]
    name = pwd.getpwuid(os.geteuid()).pw_name
    if name == 'root':
        name = 'condor'
    return '%s@%s' % (name, UID_DOMAIN)


class FakeQueue(object):
    """The queue of one fake schedd. State is plain data (picklable), so a test that runs a module in a
    child process can bring the child's changes back (see module_runner)."""

    def __init__(self):
        self.clusters = collections.OrderedDict()   # cluster id -> cluster ad {name: python value}
        self.procs = collections.OrderedDict()      # (cluster, proc) -> proc ad
        self.users = set()                          # identities with a user record
        self.next_cluster = 1
        self.calls = []                             # (method, args) of every queue-changing call
        self.crashes = 0
        self.fail_next = {}                         # method -> exception to raise / ad to return, once
        self.result_override = {}                   # method -> dict merged into the next result ad

    # -- state --------------------------------------------------------------------------------------
    def state(self):
        return copy.deepcopy(self.__dict__)

    def restore(self, state):
        self.__dict__.update(copy.deepcopy(state))

    def submit(self, owner, count=1, cluster_attrs=None, proc_attrs=None):
        """Queue a cluster of `count` idle jobs of a local user, like condor_submit; returns the cluster id."""
        cid = self.next_cluster
        self.next_cluster += 1
        ad = {
            'ClusterId': cid, 'Owner': owner, 'User': '%s@%s' % (owner, UID_DOMAIN), 'JobStatus': 1,
            'Cmd': '/bin/true', 'Iwd': '/tmp', 'QDate': 1795303287, 'JobUniverse': 5, 'MyType': 'Job',
            'TargetType': 'Machine', 'RequestCpus': 1,
        }
        ad.update(cluster_attrs or {})
        self.clusters[cid] = ad
        for p in range(count):
            pad = {'ProcId': p, 'GlobalJobId': '%s#%d.%d#1795303287' % (SCHEDD_NAME, cid, p)}
            pad.update((proc_attrs or {}).get(p, {}))
            self.procs[(cid, p)] = pad
        self.users.add('%s@%s' % (owner, UID_DOMAIN))
        return cid

    def job(self, jid):
        c, p = (int(x) for x in jid.split('.'))
        merged = dict(self.clusters[c])
        merged.update(self.procs[(c, p)])
        return merged

    def set(self, jid, **attrs):
        c, p = (int(x) for x in jid.split('.'))
        self.procs[(c, p)].update(attrs)

    def unset(self, jid, *names):
        c, p = (int(x) for x in jid.split('.'))
        for n in names:
            self.procs[(c, p)].pop(n, None)

    def remove(self, jid):
        c, p = (int(x) for x in jid.split('.'))
        del self.procs[(c, p)]

    def _ad(self, c, p):
        ad = dict(self.clusters[c])
        ad.update(self.procs[(c, p)])
        return ad

    # -- the schedd's rules -------------------------------------------------------------------------
    def _guard(self, method, who):
        """What the 25.14 schedd does with a caller: super user ok, no user record = SIGSEGV."""
        if who.split('@')[0] in SUPER or who in self.users:
            return
        self.crashes += 1
        raise HTCondorException('DCSchedd::%s:6004:Can\'t read response ad' % method)

    def _may_edit(self, who, owner):
        return who.split('@')[0] in SUPER or who.split('@')[0] == owner

    def _injected(self, method):
        if method in self.fail_next:
            what = self.fail_next.pop(method)
            if isinstance(what, Exception):
                raise what
            return classad2.ClassAd(what)
        return None

    def _result(self, method, values):
        values.update(self.result_override.pop(method, {}))
        return classad2.ClassAd(values)

    @staticmethod
    def _clusters(job_spec):
        if isinstance(job_spec, list):
            return sorted(set(int(s.split('.')[0]) for s in job_spec))
        raise AssertionError('the modules must pass explicit "C.P" ids, got %r' % (job_spec,))

    def export_jobs(self, job_spec, export_dir, new_spool_dir):
        self.calls.append(('export_jobs', (job_spec, export_dir, new_spool_dir)))
        who = caller_identity()
        self._guard('exportJobs', who)
        injected = self._injected('export_jobs')
        if injected is not None:
            return injected
        clusters = self._clusters(job_spec)
        present = [c for c in clusters if c in self.clusters]
        if not clusters:
            raise HTCondorException('DCSchedd::exportJobs:4007:No clusters to export')
        if not present:
            raise HTCondorException('DCSchedd::exportJobs:4007:No valid clusters to export')
        owners = set(self.clusters[c]['Owner'] for c in present)
        if len(owners) > 1:
            raise HTCondorException('DCSchedd::exportJobs:4007:Cannot export for more than one user')
        owner = owners.pop()
        if not self._may_edit(who, owner):
            raise HTCondorException('DCSchedd::exportJobs:4007:User not authorized to export given jobs')
        records = [ql.new_ad('0.0'), ql.set_attribute('0.0', 'NextClusterNum', str(self.next_cluster))]
        exported = []
        for c in present:
            ckey = '0%d.-1' % c
            records.append(ql.new_ad(ckey))
            for name, value in self.clusters[c].items():
                records.append(ql.set_attribute(ckey, name, ql.literal(value)))
            records.append(ql.set_attribute(ckey, 'LeaveJobInQueue', 'true'))
            for (cc, p), pad in self.procs.items():
                if cc != c or self._ad(c, p).get('Managed') == 'External':
                    continue
                key = '%d.%d' % (c, p)
                records.append(ql.new_ad(key))
                for name, value in pad.items():
                    if name.lower() == 'iwd':
                        value = '%s/%d/%d/cluster%d.proc%d.subproc0' % (new_spool_dir, c % 10000, p % 10000, c, p)
                    records.append(ql.set_attribute(key, name, ql.literal(value)))
                exported.append((c, p))
        if not _write_as(owner, os.path.join(export_dir, 'job_queue.log'), records):
            raise HTCondorException('DCSchedd::exportJobs:4007:Failed to initialize export job log')
        for c, p in exported:
            self.procs[(c, p)].update(Managed='External', ManagedManager='Lumberjack')
        return self._result('export_jobs', {
            'Log': os.path.join(export_dir, 'job_queue.log'), 'User': self.clusters[present[0]]['User'],
            'TotalJobAds': len(exported), 'ActionResult': 1, 'TotalClusterAds': len(clusters)})

    def unexport_jobs(self, job_spec):
        self.calls.append(('unexport_jobs', (job_spec,)))
        who = caller_identity()
        self._guard('unexportJobs', who)
        injected = self._injected('unexport_jobs')
        if injected is not None:
            return injected
        clusters = self._clusters(job_spec)
        if not clusters:
            raise HTCondorException('DCSchedd::unexportJobs:1:No clusters to unexport')
        count = 0
        for c in clusters:
            if c not in self.clusters:
                continue
            if not self._may_edit(who, self.clusters[c]['Owner']):
                raise HTCondorException('DCSchedd::unexportJobs:1:User not authorized to unexport given jobs')
            for (cc, p), pad in self.procs.items():
                if cc == c and self._ad(c, p).get('Managed') == 'External':   # any manager: not checked
                    pad.pop('Managed', None)
                    pad.pop('ManagedManager', None)
                    count += 1
        return self._result('unexport_jobs', {'TotalJobAds': count, 'ActionResult': 1,
                                              'TotalClusterAds': len(clusters)})

    def import_exported_job_results(self, import_dir):
        self.calls.append(('import_exported_job_results', (import_dir,)))
        who = caller_identity()
        self._guard('importExportedJobResults', who)
        injected = self._injected('import_exported_job_results')
        if injected is not None:
            return injected
        if who.split('@')[0] in SUPER:
            return classad2.ClassAd({'ErrorCode': 1, 'ErrorString': 'Failed to init user ids', 'ActionResult': 0})
        path = os.path.join(import_dir, 'job_queue.log')
        if not os.access(path, os.R_OK | os.W_OK):
            return classad2.ClassAd({'ErrorCode': 1, 'ErrorString': 'Failed to initialize import job log',
                                     'ActionResult': 0})
        state = ql.replay(path)
        count = 0
        for key in state.job_keys():
            c, p = ql.split_key(key)
            if (c, p) not in self.procs:
                continue
            job = self._ad(c, p)
            if not self._may_edit(who, job['Owner']):
                return classad2.ClassAd({'ErrorCode': 1, 'ErrorString': 'User not authorized to import given jobs',
                                         'ActionResult': 0})
            if job['JobStatus'] in (3, 5):
                continue
            if job.get('Managed') != 'External' or job.get('ManagedManager') != 'Lumberjack':
                continue
            count += 1
            for name, raw in state.ads[key].items():      # proc ad only: not chained to the cluster ad
                if name.lower() in NOT_MERGED:
                    continue
                self.procs[(c, p)][name] = _value(raw)
            self.procs[(c, p)].pop('Managed', None)
            self.procs[(c, p)].pop('ManagedManager', None)
        return self._result('import_exported_job_results', {'TotalJobAds': count, 'ActionResult': 1})

    def query(self, constraint='true', projection=None):
        expr = classad2.ExprTree(str(constraint))
        out = []
        for (c, p) in self.procs:
            ad = classad2.ClassAd(self._ad(c, p))
            if expr.eval(ad) is True:
                if projection:
                    ad = classad2.ClassAd(dict((k, ad[k]) for k in projection if k in ad))
                out.append(ad)
        return out


def _value(raw):
    value = classad2.ExprTree(raw).eval()
    return raw if isinstance(value, classad2.Value) else value


def _write_as(owner, path, records):
    """Append records to path as `owner` with mode 0600 (what the schedd's InitLogFile does as user priv)."""
    pw = pwd.getpwnam(owner)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            if os.geteuid() != pw.pw_uid:
                os.setgroups(os.getgrouplist(pw.pw_name, pw.pw_gid))
                os.setgid(pw.pw_gid)
                os.setuid(pw.pw_uid)
            new = not os.path.exists(path)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, 'w') as f:
                if new:
                    f.write('107 1 CreationTimestamp 1795303302\n')
                ql.write_records(f, records)
            code = 0
        except BaseException:  # pylint: disable=broad-except
            code = 1
        finally:
            os._exit(code)  # pylint: disable=protected-access
    return os.waitpid(pid, 0)[1] == 0


class FakeSchedd(object):
    """htcondor2.Schedd bound to the FakeQueue of the fake module."""

    queue = None   # set by make_module

    def __init__(self, location=None):
        self.location = location

    def query(self, constraint='true', projection=None, **kwargs):
        return self.queue.query(constraint, projection)

    def export_jobs(self, job_spec, export_dir, new_spool_dir):
        return self.queue.export_jobs(job_spec, export_dir, new_spool_dir)

    def unexport_jobs(self, job_spec):
        return self.queue.unexport_jobs(job_spec)

    def import_exported_job_results(self, import_dir):
        return self.queue.import_exported_job_results(import_dir)


class FakeCollector(object):

    def __init__(self, pool=None):
        self.pool = pool

    def locate(self, daemon_type, name=None):
        if name not in (None, SCHEDD_NAME):
            raise HTCondorException('Unable to find address for %s' % name)
        return classad2.ClassAd({'Name': SCHEDD_NAME, 'MyType': 'Scheduler', 'MyAddress': '<127.0.0.1:9618>'})


def fake_ping(location, authz=None, security=None):
    return classad2.ClassAd({'MyRemoteUserName': caller_identity(), 'AuthorizationSucceeded': True,
                             'AuthMethods': 'FS', 'Command': 60021})


def make_module(queue):
    """A module object to install as sys.modules['htcondor2']: the names of the bindings the modules use,
    with the daemon clients bound to `queue` and the real classad2."""
    mod = types.ModuleType('htcondor2')
    mod.DaemonType = types.SimpleNamespace(Schedd='Schedd', Collector='Collector')
    schedd_cls = type('Schedd', (FakeSchedd,), {'queue': queue})
    mod.Schedd = schedd_cls
    mod.Collector = FakeCollector
    mod.ping = fake_ping
    mod.HTCondorException = HTCondorException
    mod.classad = classad2
    mod.reload_config = lambda: None
    mod._is_fake = True
    return mod
