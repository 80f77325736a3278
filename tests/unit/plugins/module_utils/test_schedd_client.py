# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat
import sys

import classad2
import pytest

from ansible_collections.hepcloud.lumberjack.plugins.module_utils import _schedd
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._schedd import (
    ScheddClient,
    ad_to_dict,
    cluster_constraint,
    cluster_spec,
    explain,
    is_lumberjack,
    is_super_user,
    status_name,
)
from ansible_collections.hepcloud.lumberjack.tests.unit.utils.fake_htcondor import HTCondorException
from ansible_collections.hepcloud.lumberjack.tests.unit.utils.module_runner import run_module

SEEN = {}


def probe_main():
    """A minimal schedd module: connect, report the environment the bindings saw and the identity."""
    client = ScheddClient(argument_spec={}, supports_check_mode=True)
    client.schedd  # pylint: disable=pointless-statement
    token_dir = os.environ.get('_CONDOR_SEC_TOKEN_DIRECTORY')
    SEEN['token_dir'] = token_dir
    if token_dir and os.path.exists(os.path.join(token_dir, 'token')):
        SEEN['token_mode'] = stat.S_IMODE(os.stat(os.path.join(token_dir, 'token')).st_mode)
    client.exit(condor_config=os.environ.get('CONDOR_CONFIG'), identity=client.identity(),
                methods=os.environ.get('_CONDOR_SEC_CLIENT_AUTHENTICATION_METHODS'),
                timeout=os.environ.get('_CONDOR_Q_QUERY_TIMEOUT'))


def call_main():
    client = ScheddClient(argument_spec={}, supports_check_mode=True)
    client.exit(result=client.call('test call', 'unexport_jobs', ['1.0']))


def test_condor_config_option_is_set_before_the_import(queue, condor_config):
    r = run_module(probe_main, {'condor_config': condor_config, 'timeout': 7})
    assert not r.get('failed'), r['msg']
    assert r['condor_config'] == condor_config
    assert r['timeout'] == '7'
    assert r['identity'] == 'condor@lumberjack.test'      # root, mapped as a real pool maps it
    assert r['methods'] is None


def test_condor_config_from_the_environment(queue, condor_config, monkeypatch):
    monkeypatch.setenv('CONDOR_CONFIG', condor_config)
    r = run_module(probe_main, {})
    assert r['condor_config'] == condor_config


def test_no_configuration_anywhere(queue, monkeypatch):
    monkeypatch.delenv('CONDOR_CONFIG', raising=False)
    monkeypatch.setattr(_schedd, 'standard_configs', lambda: ('/nonexistent/condor_config',))
    r = run_module(probe_main, {})
    assert r['failed'] and 'there is no HTCondor configuration here' in r['msg']
    r = run_module(probe_main, {'pool': 'cm.example.org:9618'})
    assert not r.get('failed'), r['msg']
    assert r['condor_config'] == '/dev/null'


def test_missing_condor_config_file(queue):
    r = run_module(probe_main, {'condor_config': '/nonexistent/condor_config'})
    assert r['failed'] and 'condor_config /nonexistent/condor_config does not exist' in r['msg']


def test_missing_bindings(condor_config, monkeypatch):
    monkeypatch.setitem(sys.modules, 'htcondor2', None)      # import htcondor2 -> ImportError
    r = run_module(probe_main, {'condor_config': condor_config})
    assert r['failed']
    assert 'Failed to import the required Python library (htcondor >= 24' in r['msg']


def test_bindings_without_lumberjack_calls(queue, condor_config, monkeypatch):
    old = sys.modules['htcondor2']
    schedd = type('Schedd', (object,), {'query': lambda self: []})
    monkeypatch.setattr(old, 'Schedd', schedd)
    r = run_module(probe_main, {'condor_config': condor_config})
    assert r['failed'] and 'htcondor2.Schedd.export_jobs is missing' in r['msg']


def test_idtoken_is_written_privately_and_removed(queue, condor_config, users):
    SEEN.clear()
    r = run_module(probe_main, {'condor_config': condor_config, 'idtoken': 'fake:%s@lumberjack.test' % users.bob})
    assert not r.get('failed'), r['msg']
    assert r['identity'] == '%s@lumberjack.test' % users.bob
    assert r['methods'] == 'IDTOKENS'
    assert SEEN['token_mode'] == 0o600
    assert not os.path.exists(SEEN['token_dir'])
    assert 'fake:' not in json.dumps(r)                      # no_log: the token is nowhere in the result


def test_token_dir(queue, condor_config, workdir):
    with open(os.path.join(workdir, 'mytoken'), 'w') as f:
        f.write('fake:someone@lumberjack.test')
    r = run_module(probe_main, {'condor_config': condor_config, 'token_dir': workdir})
    assert r['identity'] == 'someone@lumberjack.test' and r['methods'] == 'IDTOKENS'
    r = run_module(probe_main, {'condor_config': condor_config, 'token_dir': os.path.join(workdir, 'none')})
    assert r['failed'] and 'is not a directory' in r['msg']


def test_token_options_are_exclusive(queue, condor_config, workdir):
    r = run_module(probe_main, {'condor_config': condor_config, 'token_dir': workdir,
                                'idtoken': 'fake:a-token-by-value'})
    assert r['failed'] and 'mutually exclusive' in r['msg']


def test_unknown_schedd_name(queue, condor_config):
    r = run_module(probe_main, {'condor_config': condor_config, 'schedd_name': 'nope@example.org'})
    assert r['failed'] and r['msg'].startswith('cannot locate the schedd nope@example.org: Unable to find address')


def test_known_schedd_name(queue, condor_config):
    r = run_module(probe_main, {'condor_config': condor_config, 'schedd_name': 'fake@127.0.0.1'})
    assert not r.get('failed'), r['msg']


def test_call_returns_the_result_ad_as_a_dict(queue, condor_config):
    queue.fail_next['unexport_jobs'] = {'TotalJobAds': 0, 'ActionResult': 1, 'TotalClusterAds': 1}
    queue.users.add('condor@lumberjack.test')
    r = run_module(call_main, {'condor_config': condor_config})
    assert r['result'] == {'TotalJobAds': 0, 'ActionResult': 1, 'TotalClusterAds': 1}


def test_call_with_an_exception(queue, condor_config):
    queue.fail_next['unexport_jobs'] = HTCondorException('DCSchedd::unexportJobs:1:No clusters to unexport')
    r = run_module(call_main, {'condor_config': condor_config})
    assert r['failed'] and r['msg'] == 'test call failed: DCSchedd::unexportJobs:1:No clusters to unexport'
    assert r['error'] == 'DCSchedd::unexportJobs:1:No clusters to unexport'


def test_call_with_an_error_ad(queue, condor_config):
    queue.fail_next['unexport_jobs'] = {'ActionResult': 0, 'ErrorCode': 1, 'ErrorString': 'Invalid arguments'}
    r = run_module(call_main, {'condor_config': condor_config})
    assert r['failed'] and r['msg'] == 'test call failed: Invalid arguments (ErrorCode 1)'


def test_call_with_no_result(queue, condor_config, monkeypatch):
    monkeypatch.setattr(queue, 'unexport_jobs', lambda spec: None)
    r = run_module(call_main, {'condor_config': condor_config})
    assert r['failed'] and 'returned no result' in r['msg']


# -- helpers -----------------------------------------------------------------------------------------

def test_ad_to_dict_with_real_classads():
    ad = classad2.ClassAd({'Log': '/x/job_queue.log', 'TotalJobAds': 2, 'Ok': True, 'Rate': 0.5})
    ad['Expr'] = classad2.ExprTree('TotalJobAds + 1')
    ad['List'] = classad2.ExprTree('{1, "a"}')
    ad['Nested'] = classad2.ExprTree('[ A = 1 ]')
    d = ad_to_dict(ad)
    assert d['Log'] == '/x/job_queue.log' and d['TotalJobAds'] == 2 and d['Ok'] is True and d['Rate'] == 0.5
    assert d['Expr'] == 'TotalJobAds + 1'
    assert d['List'] in ([1, 'a'], '{ 1,"a" }', '{ 1, "a" }')
    assert d['Nested'] in ({'A': 1}, '[ A = 1 ]')
    assert ad_to_dict(None) == {}


def test_job_spec_and_constraint():
    assert cluster_spec([12, 3, 12]) == ['3.0', '12.0']
    assert cluster_constraint([5]) == 'ClusterId == 5'
    assert cluster_constraint([7, 5]) == 'member(ClusterId, {5, 7})'
    ad = classad2.ClassAd({'ClusterId': 7})
    assert classad2.ExprTree(cluster_constraint([7, 5])).eval(ad) is True


def test_identities_and_flags():
    assert is_super_user('root@x') and is_super_user('condor@lumberjack.test') and not is_super_user('alice@x')
    assert is_lumberjack({'Managed': 'External', 'ManagedManager': 'Lumberjack'})
    assert not is_lumberjack({'Managed': 'External', 'ManagedManager': 'Grid'})
    assert status_name(2) == 'running' and status_name(99) == 'status 99' and status_name(None) == 'status None'


@pytest.mark.parametrize('text,words', [
    ('DCSchedd::exportJobs:4007:Failed to initialize export job log', 'writable by the owner'),
    ('Failed to init user ids', 'import must run as the job owner'),
    ('something new', 'something new'),
])
def test_explain(text, words):
    assert words in explain(text)
    assert text in explain(text)
