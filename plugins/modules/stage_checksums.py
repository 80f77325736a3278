#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: stage_checksums
short_description: Checksum the files of a sandbox manifest on one side, and verify them on the other
version_added: 0.1.0
description:
  - Staging moves the files a manifest lists (M(hepcloud.lumberjack.queue_rewrite) returns it, or writes it
    with C(manifest_dest)) from the submit side to the sandbox at a site, and outputs back. This module
    computes the SHA-256 of each file on one side, streaming (files of many GB never sit in memory), and with
    O(expected) verifies the other side against the checksums computed first.
  - With O(manifest), the files are the manifest's C(src) paths (O(side=src)) or its C(dest) paths
    (O(side=dest)); keys of the result are the C(dest) paths in both cases, so the two results compare
    directly. With O(paths), the files are those paths.
  - Never changes anything. Needs only the Python standard library.
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: It never changes anything.
  diff_mode:
    support: N/A
    details: It never changes anything.
  platform:
    support: full
    platforms: posix
options:
  manifest:
    description:
      - A manifest (JSON with C(files), a list of C(src)/C(dest) pairs) as M(hepcloud.lumberjack.queue_rewrite)
        writes it.
      - One of O(manifest) and O(paths) is required.
    type: path
  side:
    description:
      - Which paths of O(manifest) to read here.
    type: str
    choices: [src, dest]
    default: src
  paths:
    description:
      - Files to checksum (keys of the result are these paths).
    type: list
    elements: path
  expected:
    description:
      - Checksums computed on the other side (the RV(checksums) of an earlier run). Every file must be here
        with the same size and SHA-256; the task fails listing every file that is missing or differs.
    type: dict
seealso:
  - module: hepcloud.lumberjack.queue_rewrite
"""

EXAMPLES = r"""
- name: Checksum the inputs on the schedd host
  hepcloud.lumberjack.stage_checksums:
    manifest: /var/lib/lumberjack/run7/site-a/manifest.json
    side: src
  register: sent
  delegate_to: "{{ groups['lumberjack_schedds'][0] }}"

- name: Verify them in the sandbox at the site
  hepcloud.lumberjack.stage_checksums:
    manifest: /scratch/alice/run7/manifest.json
    side: dest
    expected: "{{ sent.checksums }}"
"""

RETURN = r"""
checksums:
  description: Per file (the manifest's C(dest) path, or the given path), its size in bytes and SHA-256.
  returned: always
  type: dict
  sample: {"/scratch/sb/home/alice/w/input.txt": {"size": 1024, "sha256": "9f86d081884c7d65..."}}
bytes:
  description: Total size of the files read.
  returned: always
  type: int
  sample: 1024
missing:
  description: Files that do not exist here.
  returned: always
  type: list
  elements: str
  sample: []
mismatched:
  description: With O(expected), files whose size or checksum differ, and expected files not read here.
  returned: always
  type: list
  elements: str
  sample: []
"""

import hashlib
import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

_BLOCK = 1 << 20


def sha256_of(path):
    h = hashlib.sha256()
    size = 0
    with open(path, 'rb') as f:
        while True:
            block = f.read(_BLOCK)
            if not block:
                break
            size += len(block)
            h.update(block)
    return size, h.hexdigest()


def files_of(module):
    """[(key, path to read)]."""
    p = module.params
    if p['paths'] is not None:
        return [(path, path) for path in p['paths']]
    try:
        with open(p['manifest'], 'rb') as f:
            manifest = json.loads(f.read().decode('utf-8'))
        entries = manifest['files']
        pairs = [(e['dest'], e[p['side']]) for e in entries]
    except (IOError, OSError) as e:
        module.fail_json(msg='cannot read the manifest %s: %s' % (p['manifest'], to_native(e)))
    except (ValueError, KeyError, TypeError) as e:
        module.fail_json(msg='%s is not a sandbox manifest (JSON with files: [{src, dest}]): %s'
                         % (p['manifest'], to_native(e)))
    return pairs


def main():
    module = AnsibleModule(
        argument_spec=dict(
            manifest=dict(type='path'),
            side=dict(type='str', choices=['src', 'dest'], default='src'),
            paths=dict(type='list', elements='path'),
            expected=dict(type='dict'),
        ),
        required_one_of=[('manifest', 'paths')],
        mutually_exclusive=[('manifest', 'paths')],
        supports_check_mode=True,
    )
    checksums = {}
    missing = []
    total = 0
    for key, path in files_of(module):
        if not os.path.isfile(path):
            missing.append(key)
            continue
        try:
            size, digest = sha256_of(path)
        except (IOError, OSError) as e:
            module.fail_json(msg='cannot read %s: %s' % (path, to_native(e)))
        checksums[key] = {'size': size, 'sha256': digest}
        total += size
    result = dict(changed=False, checksums=checksums, bytes=total, missing=sorted(missing), mismatched=[])
    expected = module.params['expected']
    if expected is not None:
        mismatched = []
        for key, want in sorted(expected.items()):
            got = checksums.get(key)
            if got is None or not isinstance(want, dict) or got['sha256'] != want.get('sha256') \
                    or got['size'] != want.get('size'):
                mismatched.append(key)
        result['mismatched'] = mismatched
        if mismatched:
            module.fail_json(msg='%d of %d files differ from the other side or are missing here: %s'
                             % (len(mismatched), len(expected), ', '.join(mismatched[:20])
                                + (' ...' if len(mismatched) > 20 else '')), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
