# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection's client for a condor_schedd, through the PyPI `htcondor` bindings (`htcondor2`).

ScheddClient owns the AnsibleModule of a schedd module: it adds the common options (see the
`hepcloud.lumberjack._schedd` doc fragment), prepares the HTCondor configuration before the bindings are
imported (they read CONDOR_CONFIG once, when imported), imports them behind a guard that fails with
missing_required_lib('htcondor'), locates the schedd, and turns every binding exception and every error
ClassAd into a fail_json that says what to do. Nothing in here changes the queue by itself.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import atexit
import os
import shutil
import stat
import tempfile
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

HTCONDOR_PIP = 'htcondor'      # the PyPI package; it installs the modules htcondor2 and classad2
HTCONDOR_MIN_VERSION = '24'    # Lumberjack export/import is in the bindings from HTCondor 24 on

# How HTCondor marks the jobs Lumberjack hands to another scheduler (schedd.cpp ExportJobs).
MANAGED = 'Managed'
MANAGED_MANAGER = 'ManagedManager'
MANAGED_EXTERNAL = 'External'
LUMBERJACK = 'Lumberjack'

JOB_STATUS_NAMES = {
    1: 'idle', 2: 'running', 3: 'removed', 4: 'completed', 5: 'held', 6: 'transferring output',
    7: 'suspended',
}

# Identities the schedd treats as queue super users by default (QUEUE_SUPER_USERS = root, condor; a root
# client is mapped to the condor account). They may act on any user's jobs, and never have a user record.
SUPER_USER_NAMES = ('root', 'condor', 'condor_pool')

# The Schedd methods the Lumberjack modules call; a module that needs others passes required_methods.
LUMBERJACK_METHODS = ('export_jobs', 'unexport_jobs', 'import_exported_job_results')

# The job attributes the modules need from the queue.
JOB_PROJECTION = ['ClusterId', 'ProcId', 'Owner', 'User', 'JobStatus', MANAGED, MANAGED_MANAGER,
                  'GlobalJobId', 'HoldReason']

COMMON_ARGUMENT_SPEC = dict(
    schedd_name=dict(type='str'),
    pool=dict(type='str', aliases=['collector']),
    condor_config=dict(type='path'),
    token_dir=dict(type='path'),
    token_file=dict(type='path'),
    idtoken=dict(type='str', no_log=True),
    timeout=dict(type='int', default=20),
)


def standard_configs():
    """Where HTCondor looks for its configuration when CONDOR_CONFIG is not set."""
    return ('/etc/condor/condor_config', '/usr/local/etc/condor_config', os.path.expanduser('~condor/condor_config'))


def status_name(status):
    try:
        return JOB_STATUS_NAMES.get(int(status), 'status %s' % status)
    except (TypeError, ValueError):
        return 'status %r' % (status,)


def user_name_part(identity):
    """'alice@example.org' -> 'alice' (an identity or a job's User attribute)."""
    return (identity or '').split('@', 1)[0]


def is_super_user(identity):
    return user_name_part(identity) in SUPER_USER_NAMES


def plain(value):
    """A value taken from a classad2.ClassAd as plain JSON-able Python (expressions become their text)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, 'keys') and hasattr(value, '__getitem__'):
        return dict((str(k), plain(value[k])) for k in value.keys())
    return str(value)


def ad_to_dict(ad):
    """A result or job ClassAd as a dict (attribute names as the schedd spelled them)."""
    if ad is None:
        return {}
    return dict((str(k), plain(ad[k])) for k in ad.keys())


def job_key(ad):
    return '%d.%d' % (int(ad['ClusterId']), int(ad['ProcId']))


def job_sort_key(jid):
    """Sort key of a job id 'C.P': numerically, cluster then proc."""
    c, p = jid.split('.')
    return int(c), int(p)


def list_ids(ids, limit=20):
    """Job ids for a message: sorted, at most `limit` of them, and how many more."""
    ids = sorted(ids, key=job_sort_key)
    text = ', '.join(ids[:limit])
    if len(ids) > limit:
        text += ' and %d more' % (len(ids) - limit)
    return text


def cluster_constraint(clusters):
    """A job constraint selecting whole clusters."""
    clusters = sorted(set(int(c) for c in clusters))
    if len(clusters) == 1:
        return 'ClusterId == %d' % clusters[0]
    return 'member(ClusterId, {%s})' % ', '.join(str(c) for c in clusters)


def cluster_spec(clusters):
    """The job_spec that makes export_jobs/unexport_jobs act on exactly these clusters (by id, no constraint)."""
    return ['%d.0' % c for c in sorted(set(int(c) for c in clusters))]


def is_lumberjack(job):
    return job.get(MANAGED) == MANAGED_EXTERNAL and job.get(MANAGED_MANAGER) == LUMBERJACK


def is_external(job):
    return job.get(MANAGED) == MANAGED_EXTERNAL


class ScheddClient(object):
    """An AnsibleModule plus a connection to one condor_schedd.

    argument_spec and the AnsibleModule keyword arguments are the module's own; the common options are
    added here. Binding calls go through query(), identity() and call(), which fail the module cleanly."""

    def __init__(self, argument_spec=None, mutually_exclusive=None, required_methods=LUMBERJACK_METHODS, **kwargs):
        spec = dict(COMMON_ARGUMENT_SPEC)
        spec.update(argument_spec or {})
        exclusive = list(mutually_exclusive or []) + [('token_dir', 'idtoken', 'token_file')]
        self.module = AnsibleModule(argument_spec=spec, mutually_exclusive=exclusive, **kwargs)
        self.params = self.module.params
        self.required_methods = tuple(required_methods)
        self._htcondor = None
        self._collector = None
        self._location = None
        self._schedd = None
        self._token_tmp = None

    # -- results ---------------------------------------------------------------------------------------
    def fail(self, msg, **kwargs):
        self._cleanup()
        self.module.fail_json(msg=msg, **kwargs)

    def exit(self, **kwargs):
        self._cleanup()
        self.module.exit_json(**kwargs)

    def warn(self, text):
        self.module.warn(text)

    def _cleanup(self):
        if self._token_tmp:
            shutil.rmtree(self._token_tmp, ignore_errors=True)
            self._token_tmp = None

    # -- configuration and import ----------------------------------------------------------------------
    def _configure(self):
        """Set the environment the bindings read when imported: CONDOR_CONFIG, token, timeouts."""
        p = self.params
        env = os.environ
        if p['condor_config']:
            path = p['condor_config']
            if path != '/dev/null' and not os.path.isfile(path):
                self.fail('condor_config %s does not exist (or is not a file): give the path of the HTCondor '
                          'configuration of the pool the schedd belongs to' % path)
            if path != '/dev/null' and not os.access(path, os.R_OK):
                self.fail('condor_config %s is not readable by this user (uid %d)' % (path, os.geteuid()))
            env['CONDOR_CONFIG'] = path
        elif not env.get('CONDOR_CONFIG'):
            if not any(os.path.isfile(c) for c in standard_configs()):
                env['CONDOR_CONFIG'] = '/dev/null'
        if env.get('CONDOR_CONFIG') == '/dev/null' and not p['pool']:
            self.fail('there is no HTCondor configuration here (CONDOR_CONFIG unset, no /etc/condor/condor_config):'
                      ' set condor_config to the pool\'s configuration file, or pool (and schedd_name) to reach '
                      'the schedd through its collector')
        token_dir = p['token_dir']
        token = None
        if p['token_file']:
            token = self._read_token_file(p['token_file'])
        elif p['idtoken']:
            token = p['idtoken'].strip()
        if token is not None:
            self._token_tmp = tempfile.mkdtemp(prefix='lumberjack-token-')
            atexit.register(shutil.rmtree, self._token_tmp, True)
            token_file = os.path.join(self._token_tmp, 'token')
            fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, 'w') as f:
                f.write(token + '\n')
            token_dir = self._token_tmp
        elif token_dir:
            if not os.path.isdir(token_dir):
                self.fail('token_dir %s is not a directory' % token_dir)
            exposed = [name for name in sorted(os.listdir(token_dir)) if _exposed(os.path.join(token_dir, name))]
            if exposed:
                self.warn('token_dir %s holds files other users may read (%s): an IDTOKEN is a password; make them '
                          'private with chmod 600' % (token_dir, ', '.join(exposed)))
        if token_dir:
            env['_CONDOR_SEC_TOKEN_DIRECTORY'] = token_dir
            # offer only the token: on the schedd's own host FS would win and authenticate the Unix user
            env['_CONDOR_SEC_CLIENT_AUTHENTICATION_METHODS'] = 'IDTOKENS'
        timeout = str(max(1, p['timeout']))
        env['_CONDOR_Q_QUERY_TIMEOUT'] = timeout
        env['_CONDOR_QUERY_TIMEOUT'] = timeout

    def _check_private(self, path):
        """Refuse a token file that other users may read (an IDTOKEN is a password)."""
        if _exposed(path):
            mode = stat.S_IMODE(os.stat(path).st_mode)
            self.fail('token file %s has mode %04o: other users may read it. An IDTOKEN is a password; make it '
                      'private with: chmod 600 %s' % (path, mode, path))

    def _read_token_file(self, path):
        if not os.path.isfile(path):
            self.fail('token_file %s does not exist (or is not a file): fetch a token from the access point '
                      '(hepcloud.lumberjack.condor_token, or condor_token_fetch there) and give its path' % path)
        self._check_private(path)
        try:
            with open(path) as f:
                lines = [line.strip() for line in f if line.strip() and not line.lstrip().startswith('#')]
        except (IOError, OSError) as e:
            self.fail('cannot read token_file %s as uid %d: %s' % (path, os.geteuid(), _text(e)))
        if not lines:
            self.fail('token_file %s holds no token: fetch it again' % path)
        return '\n'.join(lines)

    @property
    def htcondor(self):
        """The htcondor2 module, imported after the environment is prepared; fails when it is missing."""
        if self._htcondor is None:
            self._configure()
            try:
                import htcondor2  # pylint: disable=import-outside-toplevel
            except ImportError:
                self.fail(missing_required_lib('%s >= %s (Python module htcondor2)' % (HTCONDOR_PIP, HTCONDOR_MIN_VERSION)),
                          exception=traceback.format_exc())
            try:
                htcondor2.reload_config()
            except Exception:  # pylint: disable=broad-except
                pass
            for method in self.required_methods:
                if not hasattr(htcondor2.Schedd, method):
                    self.fail(missing_required_lib('%s >= %s (htcondor2.Schedd.%s is missing)'
                                                   % (HTCONDOR_PIP, HTCONDOR_MIN_VERSION, method)))
            self._htcondor = htcondor2
        return self._htcondor

    def _where(self):
        where = 'the schedd'
        if self.params['schedd_name']:
            where += ' %s' % self.params['schedd_name']
        if self.params['pool']:
            where += ' of pool %s' % self.params['pool']
        return where

    @property
    def schedd(self):
        self._locate()
        return self._schedd

    @property
    def collector(self):
        """The htcondor2.Collector of the pool (O(pool), else COLLECTOR_HOST of the configuration)."""
        if self._collector is None:
            h = self.htcondor
            try:
                self._collector = h.Collector(self.params['pool']) if self.params['pool'] else h.Collector()
            except Exception as e:  # pylint: disable=broad-except
                self.fail('cannot reach the collector %s: %s' % (self.params['pool'] or '(COLLECTOR_HOST)', _text(e)))
        return self._collector

    @property
    def location(self):
        """The schedd's location ClassAd (from the collector)."""
        self._locate()
        return self._location

    def _locate(self):
        if self._schedd is None:
            h = self.htcondor
            name = self.params['schedd_name'] or None
            collector = self.collector
            try:
                self._location = collector.locate(h.DaemonType.Schedd, name)
                self._schedd = h.Schedd(self._location)
            except Exception as e:  # pylint: disable=broad-except
                self.fail('cannot locate %s: %s. Check that it runs, and schedd_name / pool / condor_config '
                          '(CONDOR_CONFIG=%s)' % (self._where(), _text(e), os.environ.get('CONDOR_CONFIG')))

    # -- calls -----------------------------------------------------------------------------------------
    def check_constraint(self, constraint):
        """Fail unless the text parses as a ClassAd expression (the schedd only says 'Failed to fetch ads')."""
        try:
            self.htcondor.classad.ExprTree(constraint)
        except Exception as e:  # pylint: disable=broad-except
            self.fail('constraint %r is not a valid ClassAd expression: %s' % (constraint, _text(e)))

    def select_clusters(self, cluster_ids, constraint, projection=None):
        """The jobs (dicts, in id order) of whole clusters, given as ids or as the clusters of the jobs a
        constraint matches (as Lumberjack exports them), and the cluster ids asked for but not in the queue."""
        if cluster_ids is not None:
            wanted = set(cluster_ids)
            bad = sorted(c for c in wanted if c <= 0)
            if bad:
                self.fail('cluster_ids must be positive cluster ids, got %s' % ', '.join(str(c) for c in bad))
        else:
            constraint = (constraint or '').strip()
            if not constraint:
                self.fail('constraint is empty: give a ClassAd expression selecting jobs, or cluster_ids')
            wanted = set(int(j['ClusterId']) for j in self.query(constraint, ['ClusterId', 'ProcId']))
        if not wanted:
            return [], []
        jobs = self.query(cluster_constraint(wanted), projection)
        jobs.sort(key=lambda j: (int(j['ClusterId']), int(j['ProcId'])))
        return jobs, sorted(wanted - set(int(j['ClusterId']) for j in jobs))

    def query(self, constraint, projection=None):
        """Job ads matching a constraint, as dicts."""
        self.check_constraint(constraint)
        try:
            ads = self.schedd.query(constraint=constraint, projection=list(projection or JOB_PROJECTION))
        except Exception as e:  # pylint: disable=broad-except
            self.fail('querying %s for %s failed: %s' % (self._where(), constraint, _text(e)))
        return [ad_to_dict(ad) for ad in ads]

    def identity(self):
        """The identity the schedd maps this client to for WRITE commands (e.g. 'alice@example.org').

        Fails when the schedd refuses WRITE for it."""
        self._locate()
        try:
            ad = self.htcondor.ping(self._location, 'WRITE')
        except Exception as e:  # pylint: disable=broad-except
            self.fail('cannot authenticate with %s: %s' % (self._where(), _text(e)))
        ad = ad_to_dict(ad)
        who = ad.get('MyRemoteUserName') or ad.get('User')
        if ad.get('AuthorizationSucceeded') is False:
            self.fail('%s does not allow WRITE for %s (authentication %s): changing the queue needs it'
                      % (self._where(), who, ad.get('AuthMethods')))
        if not who or who.startswith('unauthenticated'):
            self.fail('%s did not authenticate this client (got %r): changing the queue needs an authenticated '
                      'user (give a token: token_file, token_dir or idtoken)' % (self._where(), who))
        return who

    def call(self, what, method, *args):
        """Call a queue-changing Schedd method; return its result ad as a dict, failing on any error."""
        func = getattr(self.schedd, method)
        try:
            ad = func(*args)
        except Exception as e:  # pylint: disable=broad-except
            self.fail('%s failed: %s' % (what, explain(_text(e))), error=_text(e))
        if ad is None:
            self.fail('%s failed: %s returned no result' % (what, self._where()))
        result = ad_to_dict(ad)
        if result.get('ActionResult') != 1:
            reason = result.get('ErrorString') or 'no reason given'
            self.fail('%s failed: %s (ErrorCode %s)' % (what, explain(reason), result.get('ErrorCode')),
                      result=result)
        return result


_EXPLANATIONS = (
    ('Failed to initialize export job log',
     'the schedd could not create job_queue.log in the export directory as the job owner (the directory must '
     'exist and be writable by the owner)'),
    ('Failed to initialize import job log',
     'the schedd could not open job_queue.log in the import directory as this user (it must be readable and '
     'writable by the job owner, and the directory writable)'),
    ('Failed to init user ids',
     'the schedd could not act as the calling user: import must run as the job owner (become_user)'),
    ('not authorized',
     'the schedd refused: the calling identity may not change these jobs'),
    ("Can't read response ad",
     'the schedd did not answer; it may have died or be restarting (see its SchedLog)'),
    ('Failed to connect',
     'the schedd cannot be reached'),
    ('Cannot export for more than one user',
     'the selection holds jobs of several owners; export one owner at a time'),
)


def explain(text):
    for needle, why in _EXPLANATIONS:
        if needle.lower() in text.lower():
            return '%s (%s)' % (why, text)
    return text


def _exposed(path):
    """True for a regular file that users other than its owner may read or write."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and bool(st.st_mode & 0o077)


def _text(e):
    text = str(e).strip()
    return text or type(e).__name__
