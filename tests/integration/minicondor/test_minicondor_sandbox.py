# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pool_password and minicondor_sandbox roles against real HTCondor daemons.

An ordinary local account (created here) applies the roles through a real ansible-playbook with
/usr/bin/python3, then runs the generated personal pool itself (no root): the exported queue in
tests/data/export_two_clusters.job_queue.log is loaded by the schedd and its five jobs run to completion; a
cluster-networking run authenticates with the role's pool password and accepts an IDTOKEN the role minted;
a file condor_store_cred wrote is recognised as the same password.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'support'))

from condor_pool import condor_path, demote, which  # noqa: E402  pylint: disable=wrong-import-position
from playbook import ROOT, TARGET_PYTHON, collections_path  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.hepcloud.lumberjack.plugins.module_utils import _queue_log as ql  # noqa: E402

SAMPLE = os.path.join(ROOT, 'tests', 'data', 'export_two_clusters.job_queue.log')
UID_DOMAIN = 'personal.local'  # the domain of the sample's User attributes (lumber@personal.local)
FAST = {'SCHEDD_INTERVAL': 5, 'NEGOTIATOR_INTERVAL': 2, 'NEGOTIATOR_CYCLE_DELAY': 5, 'UPDATE_INTERVAL': 5,
        'STARTER_UPDATE_INTERVAL': 5, 'MASTER_UPDATE_INTERVAL': 5}
JOB_SH = '#!/bin/sh\n# args: job id, seconds\necho "job $1 ran in $(pwd) as $(id -un)"\ncat input.txt\nsleep "$2"\n'

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason='creates a local account and runs sudo: run as root'),
    pytest.mark.skipif(which('condor_master') is None, reason='condor_master is not installed (PATH, /opt/condor)'),
    pytest.mark.skipif(shutil.which('sudo') is None, reason='sudo is needed for become_user'),
]


@pytest.fixture(scope='module')
def site_user():
    """An ordinary account, like the site account that runs the batch job."""
    name = 'ljmc%s' % uuid.uuid4().hex[:6]
    subprocess.run(['useradd', '--create-home', '--shell', '/bin/sh', name], check=True)
    try:
        yield name
    finally:
        subprocess.run(['pkill', '-KILL', '-u', name], check=False)
        time.sleep(1)
        subprocess.run(['userdel', '--remove', name], check=False, stderr=subprocess.DEVNULL)
        # the startd probes Java as the account, which leaves the JVM's perf data behind
        shutil.rmtree('/tmp/hsperfdata_%s' % name, ignore_errors=True)


@pytest.fixture
def base_dir(site_user):
    """Shared storage for runs, owned by the site account."""
    path = tempfile.mkdtemp(prefix='ljmc-', dir='/tmp')
    os.chmod(path, 0o755)
    pw = pwd.getpwnam(site_user)
    os.chown(path, pw.pw_uid, pw.pw_gid)
    yield path
    shutil.rmtree(path, ignore_errors=True)


class Play(object):
    """The roles applied through ansible-playbook as `user` (become through sudo) on /usr/bin/python3."""

    def __init__(self, workdir, user):
        self.workdir = workdir
        self.user = user
        self.collections = collections_path(workdir)
        self.count = 0

    def run(self, roles, variables, expect_failure=False, check=False):
        self.count += 1
        base = os.path.join(self.workdir, 'play%d' % self.count)
        os.makedirs(base)
        facts = os.path.join(base, 'facts.json')
        play = [{
            'name': 'Prepare a run', 'hosts': 'localhost', 'gather_facts': False,
            'become': True, 'become_user': self.user, 'become_method': 'sudo',
            'vars': variables,
            'roles': ['hepcloud.lumberjack.%s' % r for r in roles],
            'tasks': [{'name': 'Keep the facts', 'become': False, 'check_mode': False, 'ansible.builtin.copy': {
                'dest': facts, 'mode': '0644',
                'content': '{{ {"run_dir": minicondor_sandbox_run_dir | default(""), '
                           '"config": minicondor_sandbox_config_file | default(""), '
                           '"local_dir": minicondor_sandbox_local_dir | default(""), '
                           '"manifest": minicondor_sandbox_manifest | default({})} | to_json }}'}}],
        }]
        with open(os.path.join(base, 'play.yml'), 'w') as f:
            json.dump(play, f)
        with open(os.path.join(base, 'inventory'), 'w') as f:
            f.write('localhost ansible_connection=local ansible_python_interpreter=%s\n' % TARGET_PYTHON)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=self.collections, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='false',
                   ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='false',
                   ANSIBLE_LOCAL_TEMP=os.path.join(base, 'tmp'))
        env.pop('PYTHONPATH', None)
        argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'inventory', 'play.yml']
        if check:
            argv.append('--check')
        p = subprocess.run(argv, cwd=base, env=env, capture_output=True, text=True, timeout=600, check=False)
        if expect_failure:
            assert p.returncode != 0, 'the play should have failed:\n' + p.stdout[-4000:]
            return p.stdout
        if p.returncode != 0:
            raise AssertionError('ansible-playbook failed (%d):\n%s\n%s' % (
                p.returncode, p.stdout[-8000:], p.stderr[-3000:]))
        recap = re.search(r'localhost\s+:\s+ok=(\d+)\s+changed=(\d+)', p.stdout)
        assert recap, p.stdout
        with open(facts) as f:
            result = json.load(f)
        # changes of the roles: the fact-keeping task always writes a new file
        result['changed'] = int(recap.group(2)) - 1
        result['stdout'] = p.stdout
        return result


class UserPool(object):
    """condor_master started from the role's configuration by the site account."""

    def __init__(self, config, user, env=None):
        self.config = config
        self.user = user
        self.extra_env = env or {}
        self.master = None
        self.log_dir = os.path.join(os.path.dirname(config), 'local_dir', 'log')

    def env(self):
        env = dict((k, v) for k, v in os.environ.items() if not k.startswith('_CONDOR_'))
        env.update(CONDOR_CONFIG=self.config, PATH=condor_path())
        env.update(self.extra_env)
        return env

    def run(self, args, check=True, env=None):
        e = self.env()
        e.update(env or {})
        p = subprocess.run(args, env=e, preexec_fn=demote(self.user), cwd='/', capture_output=True, text=True,
                           timeout=60, check=False)
        if check and p.returncode != 0:
            raise AssertionError('%s failed (%d): %s %s\n%s' % (' '.join(args), p.returncode, p.stdout, p.stderr,
                                                                self.logs()))
        return p

    def logs(self):
        out = []
        for name in ('MasterLog', 'SchedLog', 'CollectorLog', 'StartLog'):
            path = os.path.join(self.log_dir, name)
            if os.path.exists(path):
                with open(path, errors='replace') as f:
                    out.append('--- %s ---\n%s' % (name, f.read()[-2500:]))
        return '\n'.join(out)

    def start(self):
        self.master = subprocess.Popen([which('condor_master'), '-f'], env=self.env(), cwd='/',
                                       preexec_fn=demote(self.user), start_new_session=True,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.wait(lambda: all(self.run(['condor_status', kind, '-af', 'Name'], check=False).stdout.strip()
                              for kind in ('-collector', '-schedd', '-startd')), 120, 'the pool to come up')
        return self

    def wait(self, predicate, timeout, what):
        deadline = time.time() + timeout
        while True:
            if self.master is not None and self.master.poll() is not None:
                raise AssertionError('condor_master exited with %s\n%s' % (self.master.returncode, self.logs()))
            if predicate():
                return
            if time.time() > deadline:
                raise AssertionError('timed out waiting for %s\n%s' % (what, self.logs()))
            time.sleep(2)

    def stop(self):
        if self.master is None or self.master.poll() is not None:
            return
        self.run(['condor_off', '-master'], check=False)
        try:
            self.master.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.master.pid, 9)
            self.master.wait(10)
            raise AssertionError('condor_master did not stop within 60 s after condor_off -master')


def sample_vars(base_dir, run_id, **extra):
    variables = {
        'minicondor_sandbox_base_dir': base_dir,
        'minicondor_sandbox_run_id': run_id,
        'minicondor_sandbox_uid_domain': UID_DOMAIN,
        'minicondor_sandbox_condor_release_dir': os.path.dirname(os.path.dirname(os.path.realpath(
            which('condor_master')))),
        # the sample's jobs ask for a machine with LumberPool = "B" (the pool they were exported for)
        'minicondor_sandbox_config': dict(FAST, LumberPool='"B"', STARTD_ATTRS='$(STARTD_ATTRS) LumberPool'),
        'minicondor_sandbox_queue_log': SAMPLE,
        'minicondor_sandbox_path_map': [{'from': '/home/lumber/work', 'to': 'home/lumber/work'}],
        'minicondor_sandbox_spool_map': {'from': '/tmp/condor-lj-iwd', 'to': 'spool'},
        'minicondor_sandbox_original_iwds': {'7.1': '/home/lumber/work/p1', '7.2': '/home/lumber/work/p2'},
    }
    variables.update(extra)
    return variables


def stage_inputs(manifest, user):
    """Put the jobs' inputs where the manifest says (what the staging step does): job.sh and input.txt."""
    pw = pwd.getpwnam(user)
    for item in manifest['files']:
        dest = item['dest']
        with open(dest, 'w') as f:
            f.write(JOB_SH if dest.endswith('.sh') else 'input of %s\n' % os.path.dirname(dest))
        os.chmod(dest, 0o755 if dest.endswith('.sh') else 0o644)
        os.chown(dest, pw.pw_uid, pw.pw_gid)


def test_exported_queue_runs_in_the_sandbox_as_the_site_account(site_user, base_dir, tmp_path):
    os.chmod(str(tmp_path), 0o755)
    play = Play(str(tmp_path), site_user)
    checked = play.run(['minicondor_sandbox'], sample_vars(base_dir, 'run-1'), check=True)
    assert checked['changed'] > 0 and os.listdir(base_dir) == [], checked['stdout']
    first = play.run(['minicondor_sandbox'], sample_vars(base_dir, 'run-1'))
    run_dir = os.path.join(base_dir, 'run-1')
    assert first['run_dir'] == run_dir
    assert first['config'] == os.path.join(run_dir, 'condor_config')
    assert first['local_dir'] == os.path.join(run_dir, 'local_dir')
    assert first['manifest']['jobs'] == 5

    # a second identical run changes nothing (only the test's own fact file is rewritten)
    second = play.run(['minicondor_sandbox'], sample_vars(base_dir, 'run-1'))
    assert second['changed'] == 0, second['stdout']
    checked = play.run(['minicondor_sandbox'], sample_vars(base_dir, 'run-1'), check=True)
    assert checked['changed'] == 0, checked['stdout']

    uid = pwd.getpwnam(site_user).pw_uid
    queue = os.path.join(run_dir, 'local_dir', 'spool', 'job_queue.log')
    st = os.stat(queue)
    assert (st.st_uid, st.st_mode & 0o777) == (uid, 0o600)
    for sub in ('log', 'spool', 'execute', 'lock', 'run'):
        assert os.stat(os.path.join(run_dir, 'local_dir', sub)).st_uid == uid
    for sub in ('passwords.d', 'tokens.d'):
        assert os.stat(os.path.join(run_dir, 'local_dir', sub)).st_mode & 0o777 == 0o700
    sandbox = os.path.join(run_dir, 'sandbox')
    for d in first['manifest']['directories']:
        assert d.startswith(sandbox + '/') and os.path.isdir(d), d
    stage_inputs(first['manifest'], site_user)

    pool = UserPool(first['config'], site_user)
    try:
        pool.start()
        names = pool.run(['condor_status', '-schedd', '-af', 'Name']).stdout.split()
        assert names == ['lumberjack-run-1@%s' % names[0].split('@', 1)[1]]
        listed = pool.run(['condor_q', '-allusers', '-af', 'ClusterId', 'ProcId', 'Owner', 'Iwd']).stdout
        jobs = sorted(tuple(line.split()[:2]) for line in listed.splitlines() if line.strip())
        assert jobs == [('6', '0'), ('6', '1'), ('7', '0'), ('7', '1'), ('7', '2')], listed
        assert all(line.split()[3].startswith(sandbox + '/') for line in listed.splitlines()), listed

        def all_completed():
            out = pool.run(['condor_q', '-allusers', '-af', 'JobStatus'], check=False).stdout.split()
            if '5' in out:
                held = pool.run(['condor_q', '-allusers', '-af', 'HoldReason'], check=False).stdout
                raise AssertionError('a job went on hold: %s' % held)
            return len(out) == 5 and set(out) == {'4'}
        pool.wait(all_completed, 240, 'the five jobs to complete')
        pool.run(['condor_off', '-schedd'])
        pool.wait(lambda: not pool.run(['condor_status', '-schedd', '-af', 'Name'], check=False).stdout.strip()
                  or True, 5, 'the schedd to stop')
    finally:
        pool.stop()

    # the stopped schedd left a consistent log: every job completed with its exit code, no open transaction
    warnings = []
    state = ql.QueueState()
    for rec in ql.iter_records(queue, warnings=warnings):
        state.apply(rec, path=queue)
    assert warnings == []
    keys = sorted(state.job_keys())
    assert len(keys) == 5
    for key in keys:
        assert state.job_attr(key, 'JobStatus') == '4', key
        assert state.job_attr(key, 'ExitCode') == '0', key
    out = os.path.join(sandbox, 'home', 'lumber', 'work', 'out', 'run.6.1.out')
    execute = os.path.join(run_dir, 'local_dir', 'execute')
    with open(out) as f:
        text = f.read()
    # file transfer: the job ran in a scratch directory of the run's EXECUTE, with input.txt from its Iwd
    assert re.match(r'job 6\.1 ran in %s/\S+ as %s\ninput of %s/home/lumber/work\n' % (
        re.escape(execute), site_user, re.escape(sandbox)), text), text
    with open(os.path.join(sandbox, 'home', 'lumber', 'work', 'p2', 'out.txt')) as f:
        assert 'input of %s/home/lumber/work/p2' % sandbox in f.read()

    # the run's log now differs from the export: preparing the run again must not overwrite it
    refused = play.run(['minicondor_sandbox'], sample_vars(base_dir, 'run-1'), expect_failure=True)
    assert 'exists with other content' in refused


def test_run_dir_of_another_run_is_refused(site_user, base_dir, tmp_path):
    os.chmod(str(tmp_path), 0o755)
    play = Play(str(tmp_path), site_user)
    foreign = os.path.join(base_dir, 'run-2')
    os.mkdir(foreign)
    with open(os.path.join(foreign, 'notes.txt'), 'w') as f:
        f.write('somebody else\n')
    pw = pwd.getpwnam(site_user)
    os.chown(foreign, pw.pw_uid, pw.pw_gid)
    out = play.run(['minicondor_sandbox'], sample_vars(base_dir, 'run-2'), expect_failure=True)
    assert 'is not an empty directory of run run-2' in out
    assert sorted(os.listdir(foreign)) == ['notes.txt']


def test_cluster_pool_authenticates_with_the_role_password_and_token(site_user, base_dir, tmp_path):
    os.chmod(str(tmp_path), 0o755)
    play = Play(str(tmp_path), site_user)
    identity = '%s@%s' % (site_user, UID_DOMAIN)
    variables = sample_vars(base_dir, 'run-3', minicondor_sandbox_network='cluster',
                            minicondor_sandbox_queue_log='', pool_password_token_identity=identity,
                            pool_password_token_name='user')
    first = play.run(['minicondor_sandbox'], variables)
    local_dir = first['local_dir']
    pool_file = os.path.join(local_dir, 'passwords.d', 'POOL')
    token_file = os.path.join(local_dir, 'tokens.d', 'user')
    uid = pwd.getpwnam(site_user).pw_uid
    for path in (pool_file, token_file):
        st = os.stat(path)
        assert (st.st_uid, st.st_mode & 0o777) == (uid, 0o600), path
    with open(pool_file, 'rb') as f:
        key = f.read()
    with open(token_file) as f:
        token = f.read()
    assert 'Authenticated' not in first['stdout'] and key.decode('latin-1') not in first['stdout']

    second = play.run(['minicondor_sandbox'], variables)
    assert second['changed'] == 0, second['stdout']
    with open(pool_file, 'rb') as f:
        assert f.read() == key
    with open(token_file) as f:
        assert f.read() == token

    # the daemons may only use the pool password between them, and not the session a master shares with its
    # own daemons (daemons on other nodes have none); this node's interface comes from the environment, as
    # the pilot sets it
    pool = UserPool(first['config'], site_user, env={
        '_CONDOR_NETWORK_INTERFACE': '127.0.0.1', '_CONDOR_CONDOR_HOST': '127.0.0.1',
        '_CONDOR_SEC_USE_FAMILY_SESSION': 'False',
        '_CONDOR_SEC_DEFAULT_AUTHENTICATION_METHODS': 'PASSWORD, IDTOKENS',
        '_CONDOR_SEC_CLIENT_AUTHENTICATION_METHODS': 'PASSWORD'})
    try:
        pool.start()
        startd = pool.run(['condor_status', '-startd', '-af', 'AuthenticationMethod', 'AuthenticatedIdentity'])
        assert startd.stdout.split() == ['PASSWORD', 'condor@password'], startd.stdout
        with open(os.path.join(local_dir, 'log', '.collector_address')) as f:
            assert '127.0.0.1' in f.read()
        # a client with nothing but the token the role minted is accepted by the schedd
        client = os.path.join(base_dir, 'client-tokens.d')
        os.mkdir(client, 0o700)
        shutil.copy(token_file, os.path.join(client, 'user'))
        subprocess.run(['chown', '-R', site_user, client], check=True)
        ping = pool.run(['condor_ping', '-verbose', '-type', 'SCHEDD', 'WRITE'], env={
            '_CONDOR_SEC_CLIENT_AUTHENTICATION_METHODS': 'IDTOKENS',
            '_CONDOR_SEC_TOKEN_DIRECTORY': client,
            '_CONDOR_SEC_PASSWORD_FILE': '/nonexistent',
            '_CONDOR_SEC_PASSWORD_DIRECTORY': '/nonexistent',
            '_CONDOR_SEC_TOKEN_POOL_SIGNING_KEY_FILE': '/nonexistent',
            '_CONDOR_SEC_TOKEN_SYSTEM_DIRECTORY': '/nonexistent'})
        assert re.search(r'Authenticated using:\s+IDTOKENS', ping.stdout), ping.stdout
        assert re.search(r'Remote Mapping:\s+%s\n' % re.escape(identity), ping.stdout), ping.stdout
        assert re.search(r'Authorized:\s+TRUE', ping.stdout), ping.stdout

        # while its pool runs, the run is not prepared again
        refused = play.run(['minicondor_sandbox'], variables, expect_failure=True)
        assert 'A condor_master of run run-3 is running' in refused, refused
    finally:
        pool.stop()


def test_password_file_of_condor_store_cred_is_the_same_password(site_user, base_dir, tmp_path):
    store_cred = which('condor_store_cred')
    if store_cred is None:
        pytest.skip('condor_store_cred is not installed')
    os.chmod(str(tmp_path), 0o755)
    play = Play(str(tmp_path), site_user)
    pw = pwd.getpwnam(site_user)
    secrets = os.path.join(base_dir, 'secrets')
    os.mkdir(secrets, 0o700)
    os.chown(secrets, pw.pw_uid, pw.pw_gid)
    path = os.path.join(secrets, 'POOL')
    subprocess.run([store_cred, 'add', '-c', '-p', 'Sh4red-by-AP', '-f', path], env={'CONDOR_CONFIG': '/dev/null'},
                   preexec_fn=demote(site_user), cwd='/', check=True, capture_output=True)
    with open(path, 'rb') as f:
        written = f.read()

    same = play.run(['pool_password'], {'pool_password_file': path, 'pool_password_value': 'Sh4red-by-AP'})
    assert same['changed'] == 0, same['stdout']
    with open(path, 'rb') as f:
        assert f.read() == written

    other = play.run(['pool_password'], {'pool_password_file': path, 'pool_password_value': 'An0ther-one'})
    assert other['changed'] == 1, other['stdout']
    reference = os.path.join(secrets, 'REF')
    subprocess.run([store_cred, 'add', '-c', '-p', 'An0ther-one', '-f', reference],
                   env={'CONDOR_CONFIG': '/dev/null'}, preexec_fn=demote(site_user), cwd='/', check=True,
                   capture_output=True)
    with open(path, 'rb') as f, open(reference, 'rb') as g:
        assert f.read() == g.read()
    st = os.stat(path)
    assert (st.st_uid, st.st_mode & 0o777) == (pw.pw_uid, 0o600)
