# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The world of the round-trip suite: a schedd host and HPC sites reached over a real sshd on loopback.

- the schedd host is root@127.0.0.1: a real personal HTCondor (collector and schedd) whose condor_config is
  where HTCondor looks by default (/etc/condor/condor_config, put back afterwards), with jobs of two ordinary
  owners;
- the sites are an ordinary account (no root, no sudo, Debian's /usr/bin/python3 without the htcondor
  bindings) at 127.0.0.2 and 127.0.0.3, with their own base directories, submitting to a real one-node Slurm;
  the pilot starts the minicondor from the same HTCondor binaries (/opt/condor), given by path;
- the controller is this process's ansible-playbook, as root, with the inventory the test writes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile

import pytest

from ansible_collections.hepcloud.lumberjack.tests.support.condor_pool import PersonalPool, condor_available
from ansible_collections.hepcloud.lumberjack.tests.support.slurm_cluster import SlurmCluster, missing_requirements
from ansible_collections.hepcloud.lumberjack.tests.support.sshd import LoopbackSshd, sshd_missing

ETC_CONFIG = '/etc/condor/condor_config'


def _skip_reason():
    if os.geteuid() != 0:
        return 'the round-trip suite needs root (users, an sshd, a home pool and Slurm)'
    if not condor_available():
        return ('condor_master is not on PATH: the round-trip suite runs real HTCondor pools (install HTCondor, '
                'e.g. in /opt/condor)')
    for program in ('useradd', 'sudo', 'rsync', 'tar'):
        if shutil.which(program) is None:
            return '%s is missing' % program
    return sshd_missing() or missing_requirements()


def _add_user(prefix):
    name = '%s%s' % (prefix, secrets.token_hex(3))
    subprocess.run(['useradd', '--create-home', '--shell', '/bin/sh', '--user-group', name], check=True)
    pw = pwd.getpwnam(name)
    os.chmod(pw.pw_dir, 0o755)
    return pw


class World(object):
    pass


@pytest.fixture(scope='module')
def world():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    w = World()
    w.base = tempfile.mkdtemp(prefix='lj-roundtrip-', dir='/tmp')
    os.chmod(w.base, 0o755)
    users = []
    saved_config = None
    w.slurm = w.home = w.sshd = None
    try:
        w.owners = [_add_user('ljown'), _add_user('ljown')]
        w.site_user = _add_user('ljhpc')
        users = w.owners + [w.site_user]
        w.slurm = SlurmCluster(base_dir=w.base).start()
        w.home = PersonalPool(os.path.join(w.base, 'home'), name='home', daemons=('COLLECTOR', 'SCHEDD'))
        w.home.start()
        # the schedd host's own HTCondor: the modules find it without condor_config
        if os.path.exists(ETC_CONFIG):
            saved_config = ETC_CONFIG + '.lumberjack-test-saved'
            os.rename(ETC_CONFIG, saved_config)
        os.makedirs(os.path.dirname(ETC_CONFIG), exist_ok=True)
        with open(ETC_CONFIG, 'w') as f:
            f.write('include : %s\n' % w.home.config_file)
        w.sshd = LoopbackSshd(w.base, addresses=('127.0.0.1', '127.0.0.2', '127.0.0.3'),
                              users=('root', w.site_user.pw_name),
                              environment={'SLURM_CONF': w.slurm.conf}).start()
        yield w
    finally:
        if w.sshd:
            w.sshd.stop()
        if w.slurm:
            w.slurm.stop()
        if w.home:
            w.home.stop()
        if os.path.exists(ETC_CONFIG):
            os.remove(ETC_CONFIG)
        if saved_config:
            os.rename(saved_config, ETC_CONFIG)
        for pw in users:
            subprocess.run(['pkill', '-KILL', '-u', pw.pw_name], check=False)
            subprocess.run(['userdel', '--remove', pw.pw_name], check=False, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        if not os.environ.get('LJ_KEEP_ROUND_TRIP_DIR'):
            shutil.rmtree(w.base, ignore_errors=True)
