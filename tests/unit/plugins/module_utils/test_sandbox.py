# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Path prefix mapping between the submit side and a sandbox, and HTCondor's path lists (_sandbox)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._sandbox import (
    PathMap,
    PathMapError,
    is_url,
    is_within,
    normalize_dir,
    resolve,
    split_list,
    split_remaps,
    spool_placeholder_job,
)

PROPERTY = settings(max_examples=150, deadline=None)


def pm(*pairs, **kwargs):
    return PathMap([{'from': f, 'to': t} for f, t in pairs], **kwargs)


# -- PathMap ----------------------------------------------------------------------------------------------

def test_prefixes_match_whole_components():
    m = pm(('/home/al', '/sb/al'))
    assert m.classify('/home/al') == ('mapped', '/sb/al')
    assert m.classify('/home/al/x/y') == ('mapped', '/sb/al/x/y')
    assert m.classify('/home/alice/x') == ('unmapped', '/home/alice/x')
    assert m.classify('/home') == ('unmapped', '/home')
    assert m.map_bytes(b'/home/al/x') == b'/sb/al/x'
    assert m.map_bytes(b'/home/al') == b'/sb/al'
    assert m.map_bytes(b'/home/alice/x') is None


def test_longest_from_wins_whatever_the_order():
    for pairs in ((('/home', '/sb/home'), ('/home/u/data', '/sb/data')),
                  (('/home/u/data', '/sb/data'), ('/home', '/sb/home'))):
        m = pm(*pairs)
        assert m.classify('/home/u/data/f') == ('mapped', '/sb/data/f')
        assert m.classify('/home/u/other') == ('mapped', '/sb/home/u/other')
        assert m.map_bytes(b'/home/u/data/f') == b'/sb/data/f'
        assert m.map_bytes(b'/home/u/datafile') == b'/sb/home/u/datafile'


def test_path_under_a_to_is_already_mapped():
    m = pm(('/home/u', '/sb/u'))
    assert m.classify('/sb/u/x') == ('already', '/sb/u/x')
    assert m.classify('/sb/u') == ('already', '/sb/u')
    assert m.classify('/sb/other') == ('unmapped', '/sb/other')
    assert m.map_bytes(b'/sb/u/x') is None


def test_to_under_from_is_idempotent():
    m = pm(('/home/u', '/home/u/sandbox'))
    assert m.classify('/home/u/x') == ('mapped', '/home/u/sandbox/x')
    assert m.classify('/home/u/sandbox/x') == ('already', '/home/u/sandbox/x')
    once = m.map_bytes(b'/home/u/x')
    assert once == b'/home/u/sandbox/x'
    assert m.map_bytes(once) is None
    assert m.unmap('/home/u/sandbox/x') == '/home/u/x'


def test_site_paths_are_left_alone():
    m = pm(('/home/u', '/sb/u'), site_paths=['/cvmfs', '/dev/null'])
    assert m.classify('/cvmfs/sft.cern.ch/x') == ('site', '/cvmfs/sft.cern.ch/x')
    assert m.classify('/dev/null') == ('site', '/dev/null')
    assert m.classify('/cvmfsx') == ('unmapped', '/cvmfsx')
    assert m.map_bytes(b'/cvmfs/x') is None
    assert pm(('/home/u', '/sb/u')).classify('/dev/null') == ('site', '/dev/null')      # the default
    assert pm(('/home/u', '/sb/u'), site_paths=None).classify('/dev/null') == ('unmapped', '/dev/null')


def test_a_from_beats_a_site_path():
    m = pm(('/cvmfs/mine', '/sb/mine'), site_paths=['/cvmfs'])
    assert m.classify('/cvmfs/mine/x') == ('mapped', '/sb/mine/x')
    assert m.classify('/cvmfs/other') == ('site', '/cvmfs/other')


def test_unmap_is_the_inverse():
    m = pm(('/home/u', '/sb/u'), ('/data', '/sb/data'))
    for path in ('/home/u/a/b', '/data/x', '/home/u'):
        status, new = m.classify(path)
        assert status == 'mapped'
        assert m.unmap(new) == path
    assert m.unmap('/elsewhere/x') == '/elsewhere/x'


def test_used_records_the_froms_that_matched():
    m = pm(('/home/u', '/sb/u'), ('/data', '/sb/data'), ('/never', '/sb/never'))
    m.classify('/home/u/x')
    m.classify('/sb/data/y')                   # already mapped counts as a use of its mapping
    m.classify('/nowhere')
    assert m.used == {'/home/u', '/data'}


def test_mappings_are_normalized():
    m = pm(('/home/u/', '/sb//u/./'), ('//data/../data2', '/sb/d'))
    assert sorted(m.pairs) == [('/data2', '/sb/d'), ('/home/u', '/sb/u')]
    assert m.classify('/home/u/x') == ('mapped', '/sb/u/x')


def test_roots_and_inside_roots():
    m = pm(('/home/u', '/sb/u'), ('/data', '/sb2/data'))
    assert sorted(m.roots()) == ['/sb/u', '/sb2/data']
    assert m.inside_roots('/sb2/data/x') and not m.inside_roots('/sb2/other')
    m = pm(('/home/u', '/sb/u'), sandbox='/sb/')
    assert m.sandbox == '/sb' and m.roots() == ['/sb']
    assert m.inside_roots('/sb/anything') and not m.inside_roots('/sbx')


@pytest.mark.parametrize('mappings, sandbox, words', [
    ([{'from': 'home/u', 'to': '/sb/u'}], None, 'path_map[0].from must be an absolute path'),
    ([{'from': '/home/u', 'to': 'sb/u'}], None, 'path_map[0].to must be an absolute path'),
    ([{'from': '/home/u'}], None, 'path_map[0].to must be an absolute path'),
    ([{'to': '/sb'}], None, 'path_map[0].from must be an absolute path'),
    ([{'from': '/home/u', 'to': '/sb/u'}, {'from': '/', 'to': '/sb/root'}], None, 'path_map[1].from is "/"'),
    ([{'from': '//', 'to': '/sb/root'}], None, 'is "/"'),
    ([{'from': '/a/..', 'to': '/sb/root'}], None, 'is "/"'),
    ([{'from': '/home/u', 'to': '/scratch/u'}], '/sb', 'outside the sandbox'),
    ([{'from': '/home/u', 'to': '/sbx/u'}], '/sb', 'outside the sandbox'),
    ([{'from': '/home/u', 'to': '/sb/../u'}], '/sb', 'outside the sandbox'),
    ([{'from': '/home/u', 'to': '/sb/a'}, {'from': '/home/u/', 'to': '/sb/b'}], None, '"from" /home/u twice'),
    ([{'from': '/a', 'to': '/sb/x'}, {'from': '/b', 'to': '/sb/x/'}], None, '"to" /sb/x twice'),
    ([], 'relative', 'sandbox must be an absolute path'),
])
def test_bad_mappings(mappings, sandbox, words):
    with pytest.raises(PathMapError) as e:
        PathMap(mappings, sandbox=sandbox)
    assert words in str(e.value)
    assert isinstance(e.value, ValueError)


def test_relative_site_path_is_refused():
    with pytest.raises(PathMapError, match='site_paths entry'):
        pm(('/a', '/sb/a'), site_paths=['cvmfs'])


def test_to_may_be_the_sandbox_itself():
    m = pm(('/home/u', '/sb'), sandbox='/sb')
    assert m.classify('/home/u/x') == ('mapped', '/sb/x')


def test_no_mappings():
    m = PathMap(None)
    assert m.classify('/x') == ('unmapped', '/x')
    assert m.map_bytes(b'/x') is None
    assert m.roots() == []


def test_to_root_is_refused_or_consistent():
    try:
        m = pm(('/a', '/'))
    except PathMapError:
        return
    status, new = m.classify('/a/x')
    mapped = m.map_bytes(b'/a/x')
    assert (status == 'mapped' and mapped == new.encode()) or (status == 'already' and mapped is None)


def test_nested_targets_of_nested_sources():
    m = pm(('/home/u', '/sb/u'), ('/home/u/big', '/sb/u/big'))
    for path in ('/home/u/x', '/home/u/big/y', '/home/u/bigger'):
        status, new = m.classify(path)
        assert status == 'mapped'
        assert m.unmap(new) == path
        assert m.classify(new) == ('already', new)


def test_nested_targets_are_refused_or_unambiguous():
    try:
        m = pm(('/home/u', '/sb/u'), ('/data', '/sb/u/data'))
    except PathMapError:
        return
    status, new = m.classify('/home/u/data/g.txt')
    assert status == 'mapped'
    assert m.unmap(new) == '/home/u/data/g.txt'


_COMPONENTS = st.sampled_from(['home', 'u', 'al', 'alice', 'data', 'sb', 'x', 'work', 'p0'])
_DIRS = st.lists(_COMPONENTS, min_size=1, max_size=4).map(lambda parts: '/' + '/'.join(parts))


def _nested(dirs):
    return any(a != b and is_within(a, b) for a in dirs for b in dirs)


@st.composite
def path_maps(draw):
    """Mappings whose targets do not lie inside one another (see test_nested_targets_are_refused_or_unambiguous
    for those that do)."""
    froms = draw(st.lists(_DIRS, min_size=1, max_size=4, unique=True))
    tos = draw(st.lists(_DIRS.map(lambda d: '/sb' + d), min_size=len(froms), max_size=len(froms), unique=True)
               .filter(lambda ts: not _nested(ts)))
    return [{'from': f, 'to': t} for f, t in zip(froms, tos)]


@PROPERTY
@given(path_maps(), st.lists(_DIRS, max_size=6))
def test_map_bytes_agrees_with_classify(mappings, paths):
    m = PathMap(mappings, sandbox='/sb')
    for path in paths + [p['from'] + '/f' for p in mappings] + [p['to'] + '/f' for p in mappings]:
        status, new = m.classify(path)
        mapped = m.map_bytes(path.encode())
        if status == 'mapped':
            assert mapped == new.encode()
            # a mapped path lands in the sandbox, and mapping again changes nothing
            assert m.inside_roots(new)
            assert m.classify(new) == ('already', new)
            assert m.map_bytes(mapped) is None
            assert m.unmap(new) == path
        else:
            assert mapped is None


# -- helpers ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('path, iwd, expected', [
    ('/abs/x', '/iwd', '/abs/x'),
    ('/abs/./y/../x', None, '/abs/x'),
    ('rel.txt', '/iwd', '/iwd/rel.txt'),
    ('sub/../rel.txt', '/iwd/', '/iwd/rel.txt'),
    ('../../x', '/a/b', '/x'),
    ('../../../x', '/a/b', '/x'),
    ('x', '/', '/x'),
    ('//a//b', '/iwd', '/a/b'),
    ('rel', None, None),
])
def test_resolve(path, iwd, expected):
    assert resolve(path, iwd) == expected


@pytest.mark.parametrize('value, expected', [
    ('a,b', ['a', 'b']),
    (' a , b,,c ', ['a', 'b', 'c']),
    ('', []),
    (' , ,', []),
    ('one', ['one']),
    ('with space.txt, /abs/y', ['with space.txt', '/abs/y']),
    ('http://host/x, file', ['http://host/x', 'file']),
])
def test_split_list(value, expected):
    assert split_list(value) == expected


@pytest.mark.parametrize('value, expected', [
    ('a = /x/y; b=c', [('a', '/x/y'), ('b', 'c')]),
    ('out1 = /home/u/res/o1;out2=rel/o2;', [('out1', '/home/u/res/o1'), ('out2', 'rel/o2')]),
    ('a\\;b = /d\\=e', [('a;b', '/d=e')]),
    ('a = b = c', [('a', 'b = c')]),
    ('noequals; x = y', [('x', 'y')]),
    ('', []),
    (' ; ; ', []),
    ('  spaced name.txt  =  /dest dir/f  ', [('spaced name.txt', '/dest dir/f')]),
])
def test_split_remaps(value, expected):
    assert split_remaps(value) == expected


@pytest.mark.parametrize('path, job', [
    ('/tmp/condor-lj-iwd/7/1/cluster7.proc1.subproc0', '7.1'),
    ('/tmp/condor-lj-iwd/7/2/cluster7.proc2.subproc0/', '7.2'),
    ('/var/folders/3r/T/001/spool/1/0/cluster1.proc0.subproc0', '1.0'),
    ('/spool/2345/6789/cluster12345.proc6789.subproc0', '12345.6789'),
    ('/tmp/condor-lj-iwd/7/1/cluster7.proc1.subproc0/sub', None),
    ('/tmp/condor-lj-iwd/7/1/cluster7.proc1.subproc1', None),
    ('/tmp/cluster7.proc1.subproc0', None),
    ('/home/lumber/work', None),
    ('', None),
])
def test_spool_placeholder_job(path, job):
    assert spool_placeholder_job(path) == job


def test_is_within_and_is_url():
    assert is_within('/a/b', '/a') and is_within('/a', '/a') and is_within('/x', '/')
    assert not is_within('/ab', '/a') and not is_within('/', '/a')
    assert is_url('http://x/y') and is_url('osdf:///path') and not is_url('/a:b') and not is_url('x.txt')


def test_normalize_dir():
    assert normalize_dir('/a/b/', 'x') == '/a/b'
    assert normalize_dir('//a', 'x') == '/a'
    assert normalize_dir('///a/./b/..', 'x') == '/a'
    with pytest.raises(PathMapError, match='what must be an absolute path'):
        normalize_dir(None, 'what')
    with pytest.raises(PathMapError):
        normalize_dir(b'/bytes', 'what')


@PROPERTY
@given(st.lists(st.sampled_from(['a', 'b', '.', '..', '', 'c d']), max_size=6),
       st.lists(st.sampled_from(['x', 'y', '.', '..', '']), max_size=6))
def test_resolve_is_normalized_and_absolute(parts, iwd_parts):
    iwd = '/' + '/'.join(iwd_parts)
    path = '/'.join(parts) or '.'
    got = resolve(path, iwd)
    assert got.startswith('/') and not got.startswith('//')
    assert got == posixpath.normpath(got)
    assert got == '/' + posixpath.normpath(posixpath.join(iwd, path)).lstrip('/')
