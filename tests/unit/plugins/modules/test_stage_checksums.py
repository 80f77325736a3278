# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""stage_checksums over a real manifest: both sides, a copied sandbox that matches and one that does not."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import shutil

from ansible_collections.hepcloud.lumberjack.plugins.modules import stage_checksums
from ansible_collections.hepcloud.lumberjack.tests.unit.utils.module_runner import run_module


def run(args):
    return run_module(stage_checksums.main, args)


def make(tmp_path):
    home = tmp_path / 'home'
    (home / 'w').mkdir(parents=True)
    (home / 'w' / 'input.txt').write_bytes(b'x' * 3000000)       # bigger than one read block
    (home / 'w' / 'with space.dat').write_bytes(b'data\n')
    files = [{'src': str(home / 'w' / n), 'dest': str(tmp_path / 'sb' / 'home' / 'w' / n)}
             for n in ('input.txt', 'with space.dat')]
    manifest = tmp_path / 'manifest.json'
    manifest.write_text(json.dumps({'files': files, 'directories': []}))
    return files, str(manifest)


def test_both_sides_agree_after_a_copy(tmp_path):
    files, manifest = make(tmp_path)
    sent = run(dict(manifest=manifest, side='src'))
    assert sent['changed'] is False and sent['missing'] == [] and sent['bytes'] == 3000005
    dest = files[0]['dest']
    assert sent['checksums'][dest] == {'size': 3000000, 'sha256': hashlib.sha256(b'x' * 3000000).hexdigest()}
    r = run(dict(manifest=manifest, side='dest'))
    assert sorted(r['missing']) == sorted(f['dest'] for f in files)
    for f in files:
        os.makedirs(os.path.dirname(f['dest']), exist_ok=True)
        shutil.copyfile(f['src'], f['dest'])
    r = run(dict(manifest=manifest, side='dest', expected=sent['checksums']))
    assert not r.get('failed') and r['mismatched'] == [] and r['checksums'] == sent['checksums']


def test_a_changed_or_missing_file_fails_naming_it(tmp_path):
    files, manifest = make(tmp_path)
    sent = run(dict(manifest=manifest))
    for f in files:
        os.makedirs(os.path.dirname(f['dest']), exist_ok=True)
        shutil.copyfile(f['src'], f['dest'])
    with open(files[0]['dest'], 'r+b') as f:
        f.write(b'y')
    os.unlink(files[1]['dest'])
    r = run(dict(manifest=manifest, side='dest', expected=sent['checksums']))
    assert r['failed'] and '2 of 2 files differ' in r['msg']
    assert r['mismatched'] == sorted(f['dest'] for f in files) and r['missing'] == [files[1]['dest']]


def test_paths_and_bad_manifests(tmp_path):
    files, _manifest = make(tmp_path)
    r = run(dict(paths=[files[1]['src']]))
    assert r['checksums'] == {files[1]['src']: {'size': 5, 'sha256': hashlib.sha256(b'data\n').hexdigest()}}
    bad = tmp_path / 'bad.json'
    bad.write_text('{"files": [{"src": "/x"}]}')
    r = run(dict(manifest=str(bad)))
    assert r['failed'] and 'is not a sandbox manifest' in r['msg']
    r = run(dict(manifest=str(tmp_path / 'none.json')))
    assert r['failed'] and 'cannot read the manifest' in r['msg']
