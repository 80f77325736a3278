# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""place_outputs with real files: a home tree, the site files below a src_root, as the transport leaves them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import grp
import hashlib
import json
import os
import pwd

import pytest

from ansible_collections.hepcloud.lumberjack.plugins.modules import place_outputs
from ansible_collections.hepcloud.lumberjack.tests.unit.utils.module_runner import run_module

ROOT = os.geteuid() == 0
# as root the files go to a real other user; otherwise only to oneself
OWNER = 'nobody' if ROOT else pwd.getpwuid(os.geteuid()).pw_name
SITE = '/scratch/hpc/lj/run1/sandbox'
EXPORT = 1700000000.0
SITE_MTIME = 1700000500


def owner_ids():
    pw = pwd.getpwnam(OWNER)
    return pw.pw_uid, pw.pw_gid


def needs_root(why):
    if not ROOT:
        pytest.skip('needs root (the CI runs these tests as root): %s' % why)


class Tree(object):
    """home/w (the job's Iwd at home) and src/<site path> (what came back)."""

    def __init__(self, tmp_path):
        self.home = str(tmp_path / 'home')
        self.src_root = str(tmp_path / 'src')
        os.makedirs(os.path.join(self.home, 'w'))
        os.makedirs(self.src_root)
        self.files = []

    def site(self, home):
        return SITE + home

    def src(self, home):
        return os.path.join(self.src_root, self.site(home).lstrip('/'))

    def output(self, name, data, mode=0o644, kind='stdout', job='1.0', owner=OWNER, **extra):
        home = os.path.join(self.home, name)
        src = self.src(home)
        if not os.path.isdir(os.path.dirname(src)):
            os.makedirs(os.path.dirname(src))
        with open(src, 'wb') as f:
            f.write(data)
        os.chmod(src, mode)
        os.utime(src, (SITE_MTIME, SITE_MTIME))
        entry = {'job': job, 'owner': owner, 'kind': kind, 'site': self.site(home), 'home': home, 'exists': True,
                 'size': len(data)}
        entry.update(extra)
        self.files.append(entry)
        return home

    def home_file(self, name, data, mtime):
        path = os.path.join(self.home, name)
        with open(path, 'wb') as f:
            f.write(data)
        os.utime(path, (mtime, mtime))
        return path

    def run(self, check_mode=False, **args):
        args.setdefault('src_root', self.src_root)
        args.setdefault('files', self.files)
        return run_module(place_outputs.main, args, check_mode=check_mode)


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def listing(top):
    found = {}
    for d, _dirs, files in os.walk(top):
        for n in files:
            st = os.lstat(os.path.join(d, n))
            found[os.path.join(d, n)] = (st.st_size, st.st_mtime_ns, st.st_mode, st.st_uid, st.st_ino)
    return found


def test_placed_with_owner_mode_mtime_then_unchanged(tmp_path):
    t = Tree(tmp_path)
    out = t.output('w/out.0', b'hello\n', mode=0o6755)
    err = t.output('w/err.0', b'', mode=0o640, kind='stderr')
    t.files.append(dict(t.files[0]))                # the same home path twice: placed once
    r = t.run(since=EXPORT)
    assert r['changed'] is True and r['placed'] == [out, err] and r['conflicts'] == []
    assert r['count'] == 2 and r['bytes'] == 6
    assert read(out) == b'hello\n' and read(err) == b''
    st = os.stat(out)
    assert st.st_mode & 0o7777 == 0o755            # no setuid, no setgid
    assert os.stat(err).st_mode & 0o7777 == 0o640
    assert int(st.st_mtime) == SITE_MTIME
    assert sorted(os.listdir(os.path.dirname(out))) == ['err.0', 'out.0']    # no temporary file left
    assert (st.st_uid, st.st_gid) == owner_ids()
    if ROOT:    # not root: the owner is oneself, which says nothing about giving files to another user
        assert owner_ids() == (pwd.getpwnam('nobody').pw_uid, grp.getgrnam('nogroup').gr_gid)
    # a second run: all already there, though their mtime is later than `since`
    r = t.run(since=SITE_MTIME - 1)
    assert r['changed'] is False and r['placed'] == [] and sorted(r['unchanged']) == sorted([out, err])
    assert r['conflicts'] == []


def test_an_existing_file_that_differs_is_replaced(tmp_path):
    t = Tree(tmp_path)
    out = t.output('w/out.0', b'new content', mode=0o600)
    t.home_file('w/out.0', b'old', EXPORT - 100)
    r = t.run(since=EXPORT)
    assert r['placed'] == [out] and read(out) == b'new content'


def test_inputs_and_files_changed_after_the_export_are_never_overwritten(tmp_path):
    t = Tree(tmp_path)
    inp = t.output('w/input.txt', b'what the job made of it', kind='iwd')
    t.home_file('w/input.txt', b'the input', EXPORT - 100)
    edited = t.output('w/notes.txt', b'from the job', kind='iwd')
    t.home_file('w/notes.txt', b'edited at home while the job ran', EXPORT + 10)
    fine = t.output('w/out.0', b'out')
    r = t.run(inputs=[inp], since=EXPORT, on_conflict='report')
    assert r.get('failed') is not True and r['changed'] is True and r['placed'] == [fine]
    assert read(inp) == b'the input' and read(edited) == b'edited at home while the job ran'
    reasons = dict((c['home'], c['reason']) for c in r['conflicts'])
    assert reasons == {inp: 'it is an input of the jobs: never overwritten',
                       edited: 'the home file changed after the export'}
    assert all(c['job'] == '1.0' and c['src'] == t.src(c['home']) and os.path.isfile(c['src'])
               for c in r['conflicts'])


def test_files_and_inputs_read_from_files(tmp_path):
    """files_from (queue_outputs files_dest) and inputs_from (a sandbox manifest) act as files and inputs."""
    t = Tree(tmp_path)
    inp = t.output('w/input.txt', b'what the job made of it', kind='iwd')
    t.home_file('w/input.txt', b'the input', EXPORT - 100)
    fine = t.output('w/out.0', b'out')
    files = tmp_path / 'outputs.json'
    files.write_text(json.dumps({'files': t.files}))
    manifest = tmp_path / 'manifest.json'
    manifest.write_text(json.dumps({'files': [{'src': inp, 'dest': '/sb' + inp}], 'directories': []}))
    r = run_module(place_outputs.main, dict(src_root=t.src_root, files_from=str(files), inputs_from=str(manifest),
                                            since=EXPORT, on_conflict='report'))
    assert r['placed'] == [fine] and [c['home'] for c in r['conflicts']] == [inp]
    assert read(inp) == b'the input'
    again = run_module(place_outputs.main, dict(src_root=t.src_root, files_from=str(files), since=EXPORT,
                                                inputs_from=str(manifest), on_conflict='report'))
    assert again['changed'] is False and again['unchanged'] == [fine]


def test_files_from_and_inputs_from_must_be_readable_lists(tmp_path):
    t = Tree(tmp_path)
    t.output('w/out.0', b'out')
    bad = tmp_path / 'bad.json'
    bad.write_text('{"files": {"not": "a list"}}')
    r = run_module(place_outputs.main, dict(src_root=t.src_root, files_from=str(bad)))
    assert r['failed'] and '%s is not a list of outputs' % bad in r['msg']
    r = run_module(place_outputs.main, dict(src_root=t.src_root, files_from=str(tmp_path / 'gone.json')))
    assert r['failed'] and 'cannot read a list of outputs %s' % (tmp_path / 'gone.json') in r['msg']
    r = run_module(place_outputs.main, dict(src_root=t.src_root, files=t.files, inputs_from=str(bad)))
    assert r['failed'] and 'is not a sandbox manifest' in r['msg']
    r = run_module(place_outputs.main, dict(src_root=t.src_root))
    assert r['failed'] and 'files, files_from' in r['msg']
    r = run_module(place_outputs.main, dict(src_root=t.src_root, files=t.files, files_from=str(bad)))
    assert r['failed'] and 'mutually exclusive' in r['msg']


def test_fail_places_everything_else_then_fails_listing_conflicts(tmp_path):
    t = Tree(tmp_path)
    fine = t.output('w/out.0', b'out')
    lost = t.output('gone/out.1', b'out', job='1.1')          # its Iwd does not exist at home
    blocked = t.output('w/plots', b'png', kind='output', job='1.2')
    os.mkdir(blocked)
    r = t.run()
    assert r['failed'] is True and r['placed'] == [fine] and read(fine) == b'out'
    assert '2 file(s) not placed, 1 placed' in r['msg']
    assert 'job 1.1: %s: the parent directory cannot be used' % lost in r['msg']
    assert 'job 1.2: %s: a directory is in the way (it waits at %s)' % (blocked, t.src(blocked)) in r['msg']
    assert not os.path.exists(lost) and os.path.isdir(blocked)
    r = t.run(on_conflict='report')
    assert 'failed' not in r or r['failed'] is False
    assert r['changed'] is False and r['unchanged'] == [fine] and len(r['conflicts']) == 2


def test_missing_sources_unknown_owners_and_ignored_entries(tmp_path):
    t = Tree(tmp_path)
    gone = t.output('w/out.0', b'x')
    os.unlink(t.src(gone))
    stranger = t.output('w/out.1', b'x', owner='no-such-user-ljtest')
    not_made = t.output('w/err.1', b'x', kind='stderr', exists=False)
    log = t.output('w/jobs.log', b'events', kind='userlog')
    r = t.run(on_conflict='report')
    assert r['placed'] == [] and r['changed'] is False
    reasons = dict((c['home'], c['reason']) for c in r['conflicts'])
    assert reasons == {gone: 'the source is missing under src_root',
                       stranger: "its owner 'no-such-user-ljtest' is not a user here"}
    assert not os.path.exists(not_made) and not os.path.exists(log)


def test_check_mode_decides_everything_and_writes_nothing(tmp_path):
    t = Tree(tmp_path)
    out = t.output('w/out.0', b'out')
    t.output('w/out.1', b'differs')
    t.home_file('w/out.1', b'old', EXPORT - 10)
    inp = t.output('w/in.txt', b'in')
    t.home_file('w/in.txt', b'input', EXPORT - 10)
    before = listing(str(tmp_path))
    r = t.run(check_mode=True, inputs=[inp], since=EXPORT)
    assert r['failed'] is True and r['changed'] is True
    assert r['placed'] == [out, os.path.join(t.home, 'w/out.1')] and r['bytes'] == 10
    assert [c['home'] for c in r['conflicts']] == [inp]
    assert listing(str(tmp_path)) == before


def test_symbolic_links_are_not_followed(tmp_path):
    t = Tree(tmp_path)
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    link = os.path.join(t.home, 'w', 'link')
    os.symlink(str(elsewhere), link)
    if ROOT:
        os.lchown(link, owner_ids()[0], -1)        # a link the user made
    through = t.output('w/link/out.0', b'x')
    # below src_root: a file the site left as a symlink, and a symlinked directory
    secret = tmp_path / 'secret'
    (secret / 'd').mkdir(parents=True)
    (secret / 'f').write_bytes(b'not for users')
    (secret / 'd' / 'out.2').write_bytes(b'not for users')
    linked = t.output('w/out.1', b'x')
    os.unlink(t.src(linked))
    os.symlink(str(secret / 'f'), t.src(linked))
    in_dir = os.path.join(t.home, 'w', 'd', 'out.2')
    os.mkdir(os.path.dirname(in_dir))
    os.symlink(str(secret / 'd'), os.path.dirname(t.src(in_dir)))
    t.files.append({'job': '1.0', 'owner': OWNER, 'kind': 'output', 'site': t.site(in_dir), 'home': in_dir})
    r = t.run(on_conflict='report')
    reasons = dict((c['home'], c['reason']) for c in r['conflicts'])
    assert reasons[through].startswith('the parent directory cannot be used: ') and 'symbolic link' in reasons[through]
    assert reasons[linked] == 'the source is a symbolic link: not followed'
    assert reasons[in_dir].startswith('the source is missing under src_root: ') and 'symbolic link' in reasons[in_dir]
    assert os.listdir(os.path.dirname(in_dir)) == [] and r['placed'] == []
    assert os.listdir(str(elsewhere)) == [] and not os.path.exists(linked)


def test_a_symlink_root_owns_is_followed(tmp_path):
    needs_root('only root makes a link root owns and gives one to another user')
    t = Tree(tmp_path)
    real = tmp_path / 'export' / 'w'
    real.mkdir(parents=True)
    os.symlink(str(real), os.path.join(t.home, 'w2'))
    out = t.output('w2/out.0', b'via /home link')
    r = t.run()
    assert r['placed'] == [out] and read(str(real / 'out.0')) == b'via /home link'
    os.lchown(os.path.join(t.home, 'w2'), owner_ids()[0], -1)
    os.unlink(str(real / 'out.0'))
    r = t.run(on_conflict='report')
    assert r['placed'] == [] and 'owned by uid %d' % owner_ids()[0] in r['conflicts'][0]['reason']


def test_a_big_file_is_copied_whole(tmp_path):
    t = Tree(tmp_path)
    out = t.output('w/big.root', b'head')
    src = t.src(out)
    with open(src, 'r+b') as f:                     # 50 MB, sparse, with data at both ends and in between
        f.seek(25 << 20)
        f.write(os.urandom(1 << 20))
        f.seek((50 << 20) - 4)
        f.write(b'tail')
    os.utime(src, (SITE_MTIME, SITE_MTIME))
    r = t.run()
    assert r['placed'] == [out] and r['bytes'] == 50 << 20

    def digest(path):
        h = hashlib.sha256()
        with open(path, 'rb') as f:
            for block in iter(lambda: f.read(1 << 20), b''):
                h.update(block)
        return h.hexdigest()

    assert os.path.getsize(out) == 50 << 20 and digest(out) == digest(src)


def test_bad_arguments(tmp_path):
    t = Tree(tmp_path)
    r = t.run(src_root=str(tmp_path / 'none'))
    assert r['failed'] and 'src_root %s cannot be used' % (tmp_path / 'none') in r['msg']
    r = t.run(files=[{'job': '1.0', 'site': '/s/x', 'home': '/h/x'}])
    assert r['failed'] and 'files[0]' in r['msg'] and 'owner' in r['msg']
