# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A container image of the real HTCondor in /opt/condor, for the pilot's podman tests.

    tar_path = build_rootfs_tar('/tmp/lj-image/rootfs.tar')          # once per session (cached by path)
    import_image(tar_path, user='ljpilot1234', env={...})           # podman import as that account

No registry is reachable from the test machine and no base image is stored on it, so the image is made from
this host's own files: HTCondor's install prefix, the Debian packages its binaries load (linked and
dlopen()ed: the list the HTCondor tarball's install script names), the few programs the pilot and the
tests' jobs run inside the container (sh, id, sleep, pgrep), and every shared library those need (ldd).
The host is Debian 12, the binaries were built for it: copying its files gives a consistent userland.

What the image holds, and so what a site's image for the pilot needs: HTCondor's bin/ and sbin/ on PATH
(condor_master, condor_config_val, condor_q, condor_off, condor_reschedule), the daemons and libexec/, a
/bin/sh, `pgrep` (the pilot looks for the schedd through `podman exec`), and /etc/passwd and /etc/group
(podman adds the account it runs as with --userns keep-id).

Standard library only; runs as root (it reads every file it copies) and `podman import` runs as the account
whose storage gets the image.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import os
import re
import subprocess
import tarfile
import time

CONDOR_PREFIX = '/opt/condor'
IMAGE = 'localhost/lumberjack-condor-test:latest'
PATH_IN_IMAGE = '%s/bin:%s/sbin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' % (CONDOR_PREFIX, CONDOR_PREFIX)

# Debian packages whose whole contents go in: the libraries HTCondor's binaries link or dlopen() (among them
# libscitokens, libmunge, the Kerberos and curl stacks), and the programs the pilot and the jobs run.
PACKAGES = (
    'libc6', 'libstdc++6', 'libgcc-s1', 'libgomp1', 'libssl3', 'libcurl4', 'libexpat1', 'libpcre2-8-0',
    'libsqlite3-0', 'libuuid1', 'libkrb5-3', 'libgssapi-krb5-2', 'libk5crypto3', 'libkrb5support0',
    'libcom-err2', 'libmunge2', 'libsystemd0', 'libscitokens0',
    'dash', 'bash', 'coreutils', 'procps', 'libproc2-0', 'libprocps8',
)
# Only the programs and libraries are wanted, not documentation.
SKIPPED = re.compile(r'^/usr/share/(doc|man|info|locale|lintian|bug|bash-completion|menu)(/|$)')

PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n'
GROUP = 'root:x:0:\nnogroup:x:65534:\n'
NSSWITCH = 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n'


def _package_files(package):
    p = subprocess.run(['dpkg-query', '-L', package], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       universal_newlines=True, check=False)
    if p.returncode != 0:
        return []   # not installed here (libprocps8 and libproc2-0 are alternatives across releases)
    return [f for f in p.stdout.splitlines() if f.startswith('/') and not SKIPPED.match(f)
            and (os.path.isfile(f) or os.path.islink(f))]


def _is_elf(path):
    try:
        with open(path, 'rb') as f:
            return f.read(4) == b'\x7fELF'
    except (IOError, OSError):
        return False


def _libraries(paths):
    """The shared libraries the ELF files among `paths` load, as ldd resolves them on this host."""
    found = set()
    elves = [p for p in paths if os.path.isfile(p) and not os.path.islink(p) and _is_elf(p)]
    # ldd takes many files at once; a file it cannot handle (a static binary) only prints a message
    for i in range(0, len(elves), 100):
        p = subprocess.run(['ldd'] + elves[i:i + 100], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           universal_newlines=True, check=False)
        for line in p.stdout.splitlines():
            m = re.search(r'(?:=>\s*)?(/\S+)\s+\(0x', line)
            if m:
                found.add(m.group(1))
    return found


class _Tree(object):
    """The files for the tar: each path with every directory above it, symbolic links kept as links and their
    targets added too, and paths through linked directories (/lib -> usr/lib) stored at their real place."""

    def __init__(self):
        self.entries = []
        self.seen = set()

    def add(self, path):
        path = os.path.normpath(path)
        if path == '/' or path in self.seen or not os.path.lexists(path):
            return
        parent = os.path.dirname(path)
        self.add(parent)
        real = os.path.join(os.path.realpath(parent), os.path.basename(path))
        if real in self.seen:
            self.seen.add(path)
            return
        self.seen.update((path, real))
        self.entries.append(real)
        if os.path.islink(real):
            self.add(os.path.join(os.path.dirname(real), os.readlink(real)))

    def add_tree(self, top):
        self.add(top)
        for d, dirs, files in os.walk(top):
            dirs.sort()
            for name in sorted(dirs) + sorted(files):
                self.add(os.path.join(d, name))


def _text_member(tar, name, text, mode=0o644):
    data = text.encode()
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def _dir_member(tar, name, mode=0o755):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, int(time.time())
    tar.addfile(info)


def build_rootfs_tar(dest, prefix=CONDOR_PREFIX):
    """Write the image's root file system to `dest` (a tar) unless it is there already; returns dest."""
    if os.path.exists(dest):
        return dest
    tree = _Tree()
    tree.add_tree(prefix)
    # where the dynamic loader finds the libraries (only a speed-up: it searches the multiarch directories)
    tree.add('/etc/ld.so.cache')
    for package in PACKAGES:
        for f in _package_files(package):
            tree.add(f)
    # the shared libraries of everything so far, and theirs in turn, until nothing new comes
    todo = list(tree.entries)
    while todo:
        before = len(tree.entries)
        for lib in _libraries(todo):
            tree.add(lib)
        todo = tree.entries[before:]
    tmp = dest + '.tmp'
    with tarfile.open(tmp, 'w') as tar:
        for d, mode in (('tmp', 0o1777), ('var', 0o755), ('var/tmp', 0o1777), ('root', 0o700), ('home', 0o755),
                        ('proc', 0o555), ('sys', 0o555), ('dev', 0o755), ('run', 0o755), ('etc', 0o755)):
            _dir_member(tar, d, mode)
        _text_member(tar, 'etc/passwd', PASSWD)
        _text_member(tar, 'etc/group', GROUP)
        _text_member(tar, 'etc/nsswitch.conf', NSSWITCH)
        for path in tree.entries:
            if path.startswith('/etc') and path in ('/etc', '/etc/passwd', '/etc/group', '/etc/nsswitch.conf'):
                continue
            info = tar.gettarinfo(path, arcname=path.lstrip('/'))
            info.uid = info.gid = 0
            info.uname = info.gname = 'root'
            if info.isfile():
                with open(path, 'rb') as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    os.rename(tmp, dest)
    return dest


def import_image(tar_path, user, env, image=IMAGE):
    """`podman import` the tar as `user` (a name; env: that account's environment for podman, with
    XDG_RUNTIME_DIR and HOME) with PATH set to find HTCondor's programs; returns the image name."""
    cmd = ['sudo', '-u', user, 'env'] + ['%s=%s' % kv for kv in sorted(env.items())] + [
        'podman', 'import', '--change', 'ENV PATH=%s' % PATH_IN_IMAGE, '--change', 'CMD ["/bin/sh"]',
        tar_path, image]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                       timeout=300, check=False)
    if p.returncode != 0:
        raise RuntimeError('podman import %s failed: %s' % (tar_path, p.stdout))
    return image
