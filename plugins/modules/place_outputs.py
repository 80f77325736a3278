#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: place_outputs
short_description: Put the outputs brought home from a site at their home paths, owned by the job owners
version_added: 0.1.0
description:
  - After the jobs ran at a site, the transport copies their outputs to the schedd host below O(src_root),
    each file at its site path (the site file C(/scratch/x/f) at C(SRC_ROOT/scratch/x/f)). This module puts
    each one at its home path, as listed by M(hepcloud.lumberjack.queue_outputs).
  - Each file is copied (streamed, never read whole into memory) to a temporary file in its home directory,
    given the site file's mode bits (without setuid and setgid), its modification time and the job owner's
    uid and primary gid, then renamed over the home path. A home file already equal to its source (same
    size, modification time in whole seconds, owner and mode) is left as it is and reported in
    RV(unchanged).
  - A file that cannot be placed is a conflict and is never placed. A home path that is an input of the
    jobs (O(inputs)); a home file changed after the export (O(since)); a missing parent directory (the job's
    C(Iwd) must exist at home); a source missing below O(src_root); a directory or anything but a regular
    file in the way; an owner that is not a user here.
  - Directories are opened one component at a time; symbolic links are followed only when root owns them
    (such as C(/home) pointing to C(/export/home)), and never below O(src_root), so a link a user made
    never sends a file elsewhere.
  - Runs as root (to give each file its owner). Needs only the Python standard library.
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Decides every file (placed, unchanged or conflict), writes nothing.
  diff_mode:
    support: N/A
    details: Files are copied whole; RV(placed) lists them.
  platform:
    support: full
    platforms: posix
options:
  src_root:
    description:
      - The directory the transport copied the site files into, each below it at its site path.
    type: path
    required: true
  files:
    description:
      - The C(files) returned by M(hepcloud.lumberjack.queue_outputs),
        each a dict with at least C(job), C(owner), C(site) and C(home) (C(kind) and C(exists) are used when
        present).
      - Entries with C(exists=false) and user logs (kind V(userlog)) are ignored; user logs are appended with
        M(hepcloud.lumberjack.userlog_append). A home path listed twice is placed once, from its first entry.
      - Exactly one of O(files) and O(files_from) is required.
    type: list
    elements: dict
  files_from:
    description:
      - A JSON file on this host holding those entries (an object whose key C(files) holds the list), as
        M(hepcloud.lumberjack.queue_outputs) writes it with C(files_dest); for queues of many jobs, whose list
        should not pass through Ansible.
    type: path
  inputs:
    description:
      - Home paths that were inputs of the jobs. Never overwritten (a conflict when an output would).
    type: list
    elements: path
    default: []
  inputs_from:
    description:
      - A sandbox manifest on this host, as M(hepcloud.lumberjack.queue_rewrite) writes it with
        C(manifest_dest). The C(src) of each of its files is an input, as if listed in O(inputs).
    type: path
  since:
    description:
      - The time of the export, in seconds since the epoch. A home file modified later (it changed at home
        while the jobs ran) is never overwritten (a conflict).
    type: float
  on_conflict:
    description:
      - V(fail) places everything else, then fails listing each conflict.
      - V(report) only returns the conflicts in RV(conflicts).
    type: str
    choices: [fail, report]
    default: fail
seealso:
  - module: hepcloud.lumberjack.queue_outputs
  - module: hepcloud.lumberjack.userlog_append
"""

EXAMPLES = r"""
- name: Put the outputs at home
  hepcloud.lumberjack.place_outputs:
    src_root: /var/lib/lumberjack/run7/site-a/outputs
    files: "{{ outputs.files }}"
    inputs: "{{ rewrite.manifest.files | map(attribute='src') | list }}"
    since: "{{ export.time }}"
  become: true

- name: Place what can be placed, look at the rest afterwards
  hepcloud.lumberjack.place_outputs:
    src_root: /var/lib/lumberjack/run7/site-a/outputs
    files: "{{ outputs.files }}"
    on_conflict: report
  become: true
  register: placed

- name: Put the outputs of many jobs at home, the lists read from files (queue_outputs files_dest)
  hepcloud.lumberjack.place_outputs:
    src_root: /var/lib/lumberjack/run7/site-a/outputs
    files_from: /var/lib/lumberjack/run7/site-a/outputs/scratch/alice/run7/outputs.json
    inputs_from: /var/lib/lumberjack/run7/site-a/manifest.json
    since: "{{ export.time }}"
  become: true
"""

RETURN = r"""
placed:
  description: Home paths written (in check mode, that would be written).
  returned: always
  type: list
  elements: str
  sample: ["/home/alice/w/out.0", "/home/alice/w/result.root"]
unchanged:
  description: Home paths already equal to their source.
  returned: always
  type: list
  elements: str
  sample: ["/home/alice/w/err.0"]
conflicts:
  description: Files not placed, each with its job, home path, the reason, and V(src), where it waits below
    O(src_root).
  returned: always
  type: list
  elements: dict
  sample: [{"job": "12.0", "home": "/home/alice/w/input.txt", "reason": "it is an input of the jobs: never overwritten",
            "src": "/var/lib/lumberjack/run7/site-a/outputs/scratch/alice/run7/sandbox/home/alice/w/input.txt"}]
bytes:
  description: Bytes placed.
  returned: always
  type: int
  sample: 1048576
count:
  description: Number of files placed.
  returned: always
  type: int
  sample: 2
"""

import json

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._place_outputs import Conflict, Placer

MAX_LISTED = 20


def check_files(module, files):
    for i, entry in enumerate(files):
        lacking = [k for k in ('job', 'owner', 'site', 'home') if not isinstance(entry.get(k), str) or not entry.get(k)]
        if lacking and entry.get('exists', True) and entry.get('kind') != 'userlog':
            module.fail_json(msg='files[%d] (%r) has no %s: give the files of queue_outputs'
                             % (i, entry.get('home') or entry.get('site'), ', '.join(lacking)))


def describe(conflicts):
    text = '; '.join('job %s: %s: %s (it waits at %s)' % (c['job'], c['home'], c['reason'], c['src'])
                     for c in conflicts[:MAX_LISTED])
    if len(conflicts) > MAX_LISTED:
        text += ' (and %d more)' % (len(conflicts) - MAX_LISTED)
    return text


def read_json_list(module, path, what, key, field=None):
    """The list `key` of the JSON file `path` (the `field` of each entry, when given)."""
    try:
        with open(path, 'rb') as f:
            entries = json.loads(f.read().decode('utf-8', 'surrogateescape'))[key]
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise ValueError('%s is not a list of objects' % key)
        return [e[field] for e in entries] if field else entries
    except (IOError, OSError) as e:
        module.fail_json(msg='cannot read %s %s: %s' % (what, path, to_native(e)))
    except (ValueError, KeyError, TypeError) as e:
        module.fail_json(msg='%s is not %s (JSON with %s: [{...}]): %s' % (path, what, key, to_native(e)))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src_root=dict(type='path', required=True),
            files=dict(type='list', elements='dict'),
            files_from=dict(type='path'),
            inputs=dict(type='list', elements='path', default=[]),
            inputs_from=dict(type='path'),
            since=dict(type='float'),
            on_conflict=dict(type='str', choices=['fail', 'report'], default='fail'),
        ),
        required_one_of=[('files', 'files_from')],
        mutually_exclusive=[('files', 'files_from')],
        supports_check_mode=True,
    )
    p = module.params
    files = p['files']
    if p['files_from']:
        files = read_json_list(module, p['files_from'], 'a list of outputs', 'files')
    inputs = list(p['inputs'])
    if p['inputs_from']:
        inputs += read_json_list(module, p['inputs_from'], 'a sandbox manifest', 'files', 'src')
    check_files(module, files)
    try:
        placer = Placer(p['src_root'], inputs=inputs, since=p['since'], check_mode=module.check_mode)
        with placer:
            for entry in files:
                placer.place(entry)
            placer.sync()
    except Conflict as e:
        module.fail_json(msg='src_root %s cannot be used: %s' % (p['src_root'], to_native(e)))
    except (IOError, OSError) as e:
        module.fail_json(msg='src_root %s cannot be opened: %s' % (p['src_root'], to_native(e)))
    result = dict(changed=bool(placer.placed), placed=placer.placed, unchanged=placer.unchanged,
                  conflicts=placer.conflicts, bytes=placer.bytes, count=len(placer.placed))
    if placer.conflicts and p['on_conflict'] == 'fail':
        module.fail_json(msg='%d file(s) not placed, %d placed: %s' % (
            len(placer.conflicts), len(placer.placed), describe(placer.conflicts)), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
