# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""condor_submit_check through ansible-playbook with the real htcondor2 parser, and its augmented output
accepted by a real condor_submit (dry run, then submitted to a real personal pool)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import subprocess

MODULE = 'hepcloud.lumberjack.condor_submit_check'
POLICY = '''\
required: [request_cpus]
forbidden: [getenv, "+AccountingGroup"]
defaults:
  request_disk: 1GB
  +ProjectName: '"lumberjack"'
  +SiteTag: '"ap1"'
append_requirements: 'TARGET.HasFileTransfer =?= true'
limits:
  request_cpus: 4
  request_memory: 2G
'''
GOOD = '''\
# analysis
executable = run.sh
arguments = $(Process)
transfer_input_files = data/in.txt
output = out.$(Process)
error = err.$(Process)
log = job.log
request_cpus = 1
request_memory = 64MB
requirements = (OpSys == "LINUX") && \\
    (Arch == "X86_64")
queue 2
'''
BAD = '''\
executable = missing.sh
transfer_input_files = data/in.txt, data/nowhere.txt
request_cpus = 8
getenv = true
+AccountingGroup = "group_x.alice"
queue
'''
SYNTAX = '''\
executable = run.sh
request_cpus = 1
request_memory = 10
arguments foo bar
queue
'''


def workspace(user):
    user.file('sub/run.sh', '#!/bin/sh\necho "$1"\n', 0o755)
    user.file('sub/data/in.txt', 'input\n')
    policy = user.file('sub/policy.yml', POLICY)
    return os.path.join(user.home, 'sub'), policy


def test_good_description_is_augmented_and_submitted(pool, users, runner):
    user = users[0]
    sub, policy = workspace(user)
    src = user.file('sub/good.sub', GOOD)
    dest = os.path.join(sub, 'good.site.sub')
    args = dict(src=src, dest=dest, policy=policy)

    r = runner.task(MODULE, args, check_mode=True)
    assert r['changed'] is True and r['problems'] == [] and not os.path.exists(dest)

    r = runner.task(MODULE, args)
    assert r['changed'] is True and r['problems'] == []
    assert r['executable'] == os.path.join(sub, 'run.sh')
    assert r['requirements'] == ('((OpSys == "LINUX") && (Arch == "X86_64")) && '
                                 '(TARGET.HasFileTransfer =?= true)')
    added = dict((a['command'], (a['line'], a['value'])) for a in r['augmentation'])
    assert added['executable'] == (2, os.path.join(sub, 'run.sh'))
    assert added['requirements'][0] == 10
    assert added['request_disk'] == (None, '1GB') and added['+ProjectName'] == (None, '"lumberjack"')
    with open(dest) as f:
        text = f.read()
    assert 'executable = %s/run.sh\n' % sub in text
    assert text.count('requirements') == 1 and '(Arch == "X86_64")) && (TARGET.HasFileTransfer' in text
    assert text.index('+SiteTag = "ap1"') < text.index('queue 2')
    with open(src) as f:
        assert f.read() == GOOD
    mtime = os.stat(dest).st_mtime_ns

    r = runner.task(MODULE, args)
    assert r['changed'] is False and os.stat(dest).st_mtime_ns == mtime

    # HTCondor accepts it: a dry run, then a real submission whose job ads carry the site's settings
    os.chown(dest, user.uid, user.gid)
    dry = pool.run(['condor_submit', '-dry-run', '-', dest], user=user.name, cwd=sub)
    assert 'ProjectName="lumberjack"' in dry.stdout and 'HasFileTransfer' in dry.stdout
    # held, so the jobs never run (nor reach the history as completed)
    proc = pool.run(['condor_submit', '-terse', '-append', 'hold = true', dest], user=user.name, cwd=sub)
    cluster = int(proc.stdout.split('.')[0])
    try:
        jobs = pool.jobs('ClusterId == %d' % cluster, ('ProcId', 'ProjectName', 'SiteTag', 'Cmd', 'RequestDisk'))
        assert len(jobs) == 2
        assert all(j['ProjectName'] == 'lumberjack' and j['SiteTag'] == 'ap1' for j in jobs)
        assert all(j['Cmd'] == os.path.join(sub, 'run.sh') for j in jobs)
        assert all(int(j['RequestDisk']) == 1024 * 1024 for j in jobs)
        req = pool.run(['condor_q', '-allusers', str(cluster), '-af:r', 'Requirements']).stdout
        assert 'HasFileTransfer' in req and 'X86_64' in req
    finally:
        pool.run(['condor_rm', str(cluster)], check=False)


def test_every_problem_is_reported_with_its_line(users, runner):
    user = users[0]
    sub, policy = workspace(user)
    src = user.file('sub/bad.sub', BAD)
    dest = os.path.join(sub, 'bad.site.sub')
    r = runner.task(MODULE, dict(src=src, dest=dest, policy=policy), expect_failure=True)
    found = [(p['line'], p['command']) for p in r['problems']]
    assert (1, 'executable') in found
    assert (2, 'transfer_input_files') in found
    assert (3, 'request_cpus') in found
    assert (4, 'getenv') in found
    assert (5, '+AccountingGroup') in found
    assert (None, 'request_memory') in found
    assert len(found) == 6
    text = dict(((p['line'], p['command']), p['message']) for p in r['problems'])
    assert 'missing.sh does not exist' in text[(1, 'executable')]
    assert 'data/nowhere.txt' in text[(2, 'transfer_input_files')]
    assert 'data/in.txt' not in text[(2, 'transfer_input_files')]
    assert 'over the site limit 4' in text[(3, 'request_cpus')]
    assert 'forbidden' in text[(4, 'getenv')]
    assert 'line 1: ' in r['msg'] and '6 problems' in r['msg']
    assert not os.path.exists(dest)

    # warn_only: the same problems as warnings, and the file is written
    r = runner.task(MODULE, dict(src=src, dest=dest, policy=policy, warn_only=True))
    assert len(r['problems']) == 6 and r['changed'] is True and os.path.exists(dest)
    assert any('line 4' in w and 'getenv' in w for w in r['warnings'])


def test_syntax_error_htcondor_rejects_is_reported_on_its_line(users, runner, pool):
    user = users[1]
    sub, policy = workspace(user)
    src = user.file('sub/syntax.sub', SYNTAX)
    r = runner.task(MODULE, dict(src=src, policy=policy), expect_failure=True)
    assert [p['line'] for p in r['problems']] == [4]
    assert 'arguments foo bar' in r['problems'][0]['message']
    # condor_submit itself refuses the file too
    proc = pool.run(['condor_submit', '-dry-run', '-', src], user=user.name, cwd=sub, check=False)
    assert proc.returncode != 0


def test_in_place_needs_force_and_keeps_a_backup(users, runner):
    user = users[1]
    sub, policy = workspace(user)
    src = user.file('sub/inplace.sub', GOOD)
    r = runner.task(MODULE, dict(src=src, dest=src, policy=policy), expect_failure=True)
    assert 'force' in r['msg']
    with open(src) as f:
        assert f.read() == GOOD
    r = runner.task(MODULE, dict(src=src, dest=src, policy=policy, force=True))
    assert r['changed'] is True
    with open(r['backup_file']) as f:
        assert f.read() == GOOD
    assert os.stat(src).st_uid == user.uid
    with open(src) as f:
        augmented = f.read()
    assert 'HasFileTransfer' in augmented
    r = runner.task(MODULE, dict(src=src, dest=src, policy=policy, force=True))
    assert r['changed'] is False and 'backup_file' not in r
    with open(src) as f:
        assert f.read() == augmented


def test_policy_errors_name_the_file_and_key(users, runner):
    user = users[1]
    sub, dummy = workspace(user)
    src = user.file('sub/good2.sub', GOOD)
    unknown = user.file('sub/unknown.yml', 'required: [request_cpus]\nmaximums: {request_cpus: 2}\n')
    r = runner.task(MODULE, dict(src=src, policy=unknown), expect_failure=True)
    assert unknown in r['msg'] and 'maximums' in r['msg']
    broken = user.file('sub/broken.yml', 'defaults:\n  request_disk: [1GB\nlimits: {}\n')
    r = runner.task(MODULE, dict(src=src, policy=broken), expect_failure=True)
    assert broken in r['msg'] and 'not valid YAML' in r['msg'] and 'line' in r['msg']


def test_diff_mode_shows_the_augmentation(users, runner, base):
    user = users[0]
    sub, policy = workspace(user)
    src = user.file('sub/diff.sub', GOOD)
    dest = os.path.join(sub, 'diff.site.sub')
    play = os.path.join(base, 'diff.yml')
    with open(play, 'w') as f:
        f.write('- hosts: localhost\n  gather_facts: false\n  tasks:\n'
                '    - name: Check\n      %s:\n        src: %s\n        dest: %s\n        policy: %s\n'
                '      diff: true\n' % (MODULE, src, dest, policy))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=runner.collections, ANSIBLE_NOCOLOR='1')
    proc = subprocess.run([runner.ansible_playbook, '-i', 'localhost,', '-c', 'local', '--check',
                           '-e', 'ansible_python_interpreter=%s' % runner.python, play],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout
    assert '+SiteTag = "ap1"' in proc.stdout and '+executable = %s/run.sh' % sub in proc.stdout
    assert not os.path.exists(dest)
