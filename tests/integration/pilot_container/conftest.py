# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the pilot's podman suite: an ordinary site account with a rootless podman of its own (runc,
cgroupfs, the file events log and the vfs storage driver: what works without systemd, a user session or a
shared mount, as on a batch node), the real HTCondor of /opt/condor imported as an image into that account's
storage, and real exports from a real home pool."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd
import secrets
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'support'))

from condor_image import build_rootfs_tar, import_image  # noqa: E402  pylint: disable=wrong-import-position,import-error
from condor_pool import condor_available  # noqa: E402  pylint: disable=wrong-import-position,import-error
from pilot_run_dir import base_dir, export_samples, sites_dir  # noqa: E402  pylint: disable=wrong-import-position,import-error

CONTAINERS_CONF = '''\
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
'''
STORAGE_CONF = '''\
[storage]
driver = "vfs"
'''
SUBID_COUNT = 65536


def need_podman():
    if os.geteuid() != 0:
        pytest.skip('the pilot container suite needs root (it creates a site account with its own podman)')
    if not condor_available():
        pytest.skip('condor_master is not on PATH: the suite puts the real HTCondor (/opt/condor) in an image')
    for program, package in (('podman', 'podman'), ('runc', 'runc'), ('newuidmap', 'uidmap'),
                             ('useradd', 'passwd'), ('sudo', 'sudo')):
        if not shutil.which(program, path=os.environ.get('PATH', '') + ':/usr/sbin:/sbin'):
            pytest.skip('%s is missing (Debian package %s): the suite runs a real rootless podman' % (program, package))


def _has_subids(path, name):
    try:
        with open(path) as f:
            return any(line.split(':')[0] == name for line in f)
    except IOError:
        return False


def _free_subid_start():
    """The first subordinate id after every range /etc/subuid and /etc/subgid hand out (at least 100000)."""
    end = 100000
    for path in ('/etc/subuid', '/etc/subgid'):
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    parts = line.strip().split(':')
                    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                        end = max(end, int(parts[1]) + int(parts[2]))
    return end


class SiteUser(object):
    """The site account: `pw` (its passwd entry) and `env` (what its podman needs: HOME, XDG_RUNTIME_DIR)."""

    def __init__(self, pw, runtime_dir):
        self.pw = pw
        self.pw_name, self.pw_uid, self.pw_gid, self.pw_dir = pw.pw_name, pw.pw_uid, pw.pw_gid, pw.pw_dir
        self.env = dict(HOME=pw.pw_dir, XDG_RUNTIME_DIR=runtime_dir,
                        PATH='/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin')

    def podman(self, *args, **kwargs):
        """Run podman as the account; CompletedProcess (text)."""
        cmd = ['sudo', '-u', self.pw_name, 'env'] + ['%s=%s' % kv for kv in sorted(self.env.items())]
        return subprocess.run(cmd + ['podman'] + list(args), capture_output=True, text=True, cwd='/',
                              timeout=kwargs.get('timeout', 120), check=kwargs.get('check', False))


@pytest.fixture(scope='session')
def base():
    yield from base_dir('lj-pilot-ctr-')


@pytest.fixture(scope='session')
def site_user(base):
    """An ordinary account running rootless podman: subordinate ids, a runtime directory of its own, and its
    podman configured in ~/.config/containers."""
    need_podman()
    name = 'ljpod%s' % secrets.token_hex(3)
    subprocess.run(['useradd', '--create-home', '--shell', '/bin/sh', '--user-group', name], check=True)
    pw = pwd.getpwnam(name)
    os.chmod(pw.pw_dir, 0o755)
    # useradd hands out subordinate ids only where login.defs says so: rootless podman needs them
    if not (_has_subids('/etc/subuid', name) and _has_subids('/etc/subgid', name)):
        start = _free_subid_start()
        r = '%d-%d' % (start, start + SUBID_COUNT - 1)
        subprocess.run(['usermod', '--add-subuids', r, '--add-subgids', r, name], check=True)
    conf = os.path.join(pw.pw_dir, '.config', 'containers')
    os.makedirs(conf)
    for file_name, text in (('containers.conf', CONTAINERS_CONF), ('storage.conf', STORAGE_CONF)):
        with open(os.path.join(conf, file_name), 'w') as f:
            f.write(text)
    runtime_dir = os.path.join(base, 'xdg-%s' % name)
    os.mkdir(runtime_dir, 0o700)
    for d in (runtime_dir, os.path.dirname(conf), conf) + tuple(os.path.join(conf, n) for n in os.listdir(conf)):
        os.chown(d, pw.pw_uid, pw.pw_gid)
    user = SiteUser(pw, runtime_dir)
    yield user
    # podman's pause process and whatever a failed test left; then the account with its image storage
    subprocess.run(['pkill', '-KILL', '-u', name], check=False)
    subprocess.run(['userdel', '--remove', name], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope='session')
def image(base, site_user):
    """The image of /opt/condor in the site account's podman storage (built once a session)."""
    tar_dir = os.path.join(base, 'image')
    os.mkdir(tar_dir)
    tar_path = build_rootfs_tar(os.path.join(tar_dir, 'rootfs.tar'))
    os.chmod(tar_path, 0o644)
    return import_image(tar_path, site_user.pw_name, site_user.env)


@pytest.fixture(scope='session')
def exports(base, site_user):
    return export_samples(base, site_user)


@pytest.fixture
def sites(base, site_user):
    return sites_dir(base, site_user)
