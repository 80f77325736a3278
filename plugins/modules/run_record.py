#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: run_record
short_description: Keep the progress of one Lumberjack round trip in a JSON record, so every phase runs once
version_added: 0.1.0
description:
  - A round trip (export, stage in, launch, collect) can be interrupted anywhere (the controller killed, ssh
    lost, a batch job still queued). Each phase writes what it did into a JSON record beside the export, on
    the schedd host; a re-run reads it and skips what is done, so nothing is exported, submitted or imported
    twice.
  - The record holds the run id and site it belongs to, the time each phase was first reached
    (O(phase)), and values the phases need later (O(values), for example the exported job ids, the manifest
    checksum, the batch job id). A value once recorded is never silently replaced; name it in O(replace) to
    change it on purpose.
  - Written atomically (a reader sees the old record or the new one), mode 0644. Standard library only.
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Returns the record as it would be, writes nothing.
  diff_mode:
    support: full
    details: Shows the record before and after.
  platform:
    support: full
    platforms: posix
options:
  path:
    description:
      - The JSON file of the record. Its directory must exist.
    type: path
    required: true
  run_id:
    description:
      - The run the record belongs to. A record of another run at O(path) is an error.
      - Required with O(state=present).
    type: str
  site:
    description:
      - The site (inventory host) the record belongs to. A record of another site at O(path) is an error.
      - Required with O(state=present).
    type: str
  phase:
    description:
      - A phase this run has reached, or several reached at once (in the order given). Each one's time is
        recorded the first time only.
    type: list
    elements: str
    choices: [preflight, exported, staged_in, launched, finished, staged_out, imported, reported, aborted]
  values:
    description:
      - Values to record (JSON-compatible). A key already recorded with another value is an error unless it is
        named in O(replace).
    type: dict
    default: {}
  replace:
    description:
      - Keys of O(values) that may replace a recorded value (for example a state that moves on).
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) creates or updates the record; V(query) only reads it (a missing record is not an error).
    type: str
    choices: [present, query]
    default: present
seealso:
  - module: hepcloud.lumberjack.condor_export
  - module: hepcloud.lumberjack.batch_job
"""

EXAMPLES = r"""
- name: Read what an earlier run of this round trip did
  hepcloud.lumberjack.run_record:
    path: /var/lib/lumberjack/run7/site-a/run.json
    state: query
  register: record

- name: Export only when the run has not exported yet
  hepcloud.lumberjack.condor_export:
    cluster_ids: [12, 13]
    export_dir: /var/lib/lumberjack/run7/site-a/export/alice
    spool_dir: /scratch/alice/run7/local_dir/spool
  register: exported
  when: "'exported' not in record.phases"

- name: Record the export
  hepcloud.lumberjack.run_record:
    path: /var/lib/lumberjack/run7/site-a/run.json
    run_id: run7
    site: site-a
    phase: exported
    values:
      exported_jobs: "{{ exported.exported }}"
  when: exported is changed
"""

RETURN = r"""
record:
  description: The whole record after this task (in check mode, as it would be).
  returned: always
  type: dict
  sample: {"run_id": "run7", "site": "site-a", "created": "2026-11-22T10:00:00Z",
           "phases": {"exported": "2026-11-22T10:00:03Z"}, "values": {"exported_jobs": ["12.0"]}}
phases:
  description: Names of the phases reached, in the order of the round trip.
  returned: always
  type: list
  elements: str
  sample: [preflight, exported]
exists:
  description: Whether the record exists (after this task).
  returned: always
  type: bool
"""

import json
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._io import StagedFile

PHASES = ('preflight', 'exported', 'staged_in', 'launched', 'finished', 'staged_out', 'imported', 'reported',
          'aborted')


def _now():
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())


class RunRecord(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=msg, **kwargs)

    def load(self, path):
        if not os.path.exists(path):
            return None
        try:
            with open(path, 'rb') as f:
                record = json.loads(f.read().decode('utf-8'))
        except (IOError, OSError) as e:
            self.fail('cannot read the run record %s: %s' % (path, to_native(e)))
        except ValueError as e:
            self.fail('%s is not a run record (not JSON: %s); move it away, it is not overwritten' % (path, to_native(e)))
        if not isinstance(record, dict) or not isinstance(record.get('phases'), dict) \
                or not isinstance(record.get('values'), dict):
            self.fail('%s is not a run record (no phases and values); move it away, it is not overwritten' % path)
        return record

    def run(self):
        p = self.params
        path = p['path']
        if os.path.isdir(path):
            self.fail('path %s is a directory: give the JSON file of the record' % path)
        record = self.load(path)
        if p['state'] == 'query':
            return self.result(False, record, record)
        for name in ('run_id', 'site'):
            if not p[name]:
                self.fail('%s is required with state=present' % name)
        if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            self.fail('the directory of the run record %s does not exist' % path)
        before = record
        if record is None:
            record = dict(run_id=p['run_id'], site=p['site'], created=_now(), phases={}, values={})
        else:
            record = json.loads(json.dumps(record))     # a copy to change
            for name in ('run_id', 'site'):
                if record.get(name) != p[name]:
                    self.fail('%s records %s %r, not %r: it belongs to another round trip. Use another path, or '
                              'move the old record away if that run is over' % (path, name, record.get(name), p[name]))
        for phase in p['phase'] or []:
            if phase not in record['phases']:
                record['phases'][phase] = _now()
        conflicts = []
        for key, value in p['values'].items():
            value = json.loads(json.dumps(value))       # as it will read back
            if key in record['values'] and record['values'][key] != value and key not in p['replace']:
                conflicts.append(key)
            else:
                record['values'][key] = value
        if conflicts:
            self.fail('%s already records %s with other values: a phase is running a second time with other '
                      'results. Check the run; name the keys in replace only if they may change'
                      % (path, ', '.join(sorted(conflicts))),
                      recorded=dict((k, before['values'][k]) for k in conflicts))
        changed = record != before
        if changed:
            record['updated'] = _now()
            staged = StagedFile(path, self.module.check_mode)
            try:
                with staged as f:
                    f.write(json.dumps(record, indent=1, sort_keys=True).encode('utf-8') + b'\n')
                staged.commit(mode=0o644)
            except (IOError, OSError) as e:
                self.fail('cannot write the run record %s: %s' % (path, to_native(e)))
            finally:
                staged.discard()
        return self.result(changed, before, record)

    def result(self, changed, before, record):
        out = dict(changed=changed, record=record or {}, exists=os.path.exists(self.params['path']),
                   phases=[ph for ph in PHASES if record and ph in record['phases']])
        if self.module._diff:
            out['diff'] = dict(before=json.dumps(before, indent=1, sort_keys=True) + '\n' if before else '',
                               after=json.dumps(record, indent=1, sort_keys=True) + '\n' if record else '')
        return out


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            run_id=dict(type='str'),
            site=dict(type='str'),
            phase=dict(type='list', elements='str', choices=list(PHASES)),
            values=dict(type='dict', default={}),
            replace=dict(type='list', elements='str', default=[]),
            state=dict(type='str', choices=['present', 'query'], default='present'),
        ),
        supports_check_mode=True,
    )
    module.exit_json(**RunRecord(module).run())


if __name__ == '__main__':
    main()
