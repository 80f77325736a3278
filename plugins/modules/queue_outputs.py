#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: queue_outputs
short_description: List where the outputs of jobs that ran at a site are, and where they belong at home
version_added: 0.1.0
description:
  - Reads the C(job_queue.log) of a site (the one M(hepcloud.lumberjack.queue_rewrite) wrote for the sandbox,
    or the one the site's schedd left) and lists, per job, each output's path at the site and its path at
    home, as HTCondor's own file transfer would have placed it. C(Out), C(Err); every C(TransferOutput)
    entry, under its base name in the C(Iwd) or at its C(TransferOutputRemaps) destination; and, for jobs
    without C(TransferOutput), their C(Iwd) to scan for what the job wrote.
  - User logs are listed per file with their jobs, to be appended at home with
    M(hepcloud.lumberjack.userlog_append).
  - Home paths come from the job's C(SUBMIT_Iwd) (written by M(hepcloud.lumberjack.queue_rewrite)) and from
    O(path_map), the same mappings that sent the jobs to the site. An output outside every mapping's C(to)
    cannot be placed and is a failure naming the job.
  - Each listed file and user log is looked at where it is, at the site, for its size and whether the job
    produced it. With O(scan), the files the jobs without C(TransferOutput) wrote in their C(Iwd) are
    listed too.
  - With O(list_dest), writes the site paths of the files to bring home, for the transport. Changes nothing
    else. Needs only the Python standard library.
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports whether O(list_dest) would change, writes nothing.
  diff_mode:
    support: N/A
    details: The list is NUL-separated paths; RV(count) and RV(bytes) say what it holds.
  platform:
    support: full
    platforms: posix
options:
  path:
    description:
      - The site's C(job_queue.log).
    type: path
    required: true
  path_map:
    description:
      - The mappings the jobs were sent with (V(from) at home, V(to) at the site), as given to
        M(hepcloud.lumberjack.queue_rewrite).
    type: list
    elements: dict
    required: true
    suboptions:
      from:
        description: A directory at home.
        type: path
        required: true
      to:
        description: Where it is at the site.
        type: path
        required: true
  scan:
    description:
      - For every job without C(TransferOutput) (RV(scan_dirs)), list the regular files directly in its
        C(Iwd) at the site as files of kind V(iwd), as HTCondor's file transfer brings them home;
        subdirectories are not looked into, symbolic links are skipped.
      - Not listed are files already listed for a job (C(Out), C(Err), outputs, user logs), HTCondor's own
        files (C(.job.ad), C(.machine.ad), C(.update.ad), C(.chirp.config), names starting with C(_condor_)),
        and the staged inputs of O(manifest).
      - Jobs sharing an C(Iwd) share its files; each is listed once, for the first of those jobs.
    type: bool
    default: false
  manifest:
    description:
      - The sandbox manifest M(hepcloud.lumberjack.queue_rewrite) wrote (C(manifest_dest)), at the site. Its
        C(dest) files were staged as inputs, so O(scan) never lists them.
    type: path
  list_dest:
    description:
      - Write the site paths of every existing file and user log here, sorted, each once, each ended by a NUL
        character, for C(rsync --from0 --files-from) or C(tar --null -T). Written atomically (mode 0644), and
        only when its content changes.
      - Its directory must exist.
    type: path
  list_extra:
    description:
      - More site files to write into O(list_dest), for example the final C(job_queue.log) itself. Each must
        exist. They are not counted in RV(count) and RV(bytes).
    type: list
    elements: path
    default: []
  files_dest:
    description:
      - 'Write RV(files) as JSON (an object whose key C(files) holds the list) here instead of returning it, so that the list of a
        queue of many jobs never passes through Ansible. It is added to O(list_dest), so it travels home with
        the files, where M(hepcloud.lumberjack.place_outputs) reads it (C(files_from)). Written atomically
        (mode 0644), and only when its content changes. Its directory must exist.'
      - The object also holds RV(userlogs) under the key C(userlogs) (they are still returned as well), for
        M(hepcloud.lumberjack.userlog_append) (C(logs_from)).
    type: path
seealso:
  - module: hepcloud.lumberjack.queue_rewrite
  - module: hepcloud.lumberjack.userlog_append
  - module: hepcloud.lumberjack.place_outputs
"""

EXAMPLES = r"""
- name: Find what the jobs left at the site
  hepcloud.lumberjack.queue_outputs:
    path: /scratch/alice/run7/local_dir/spool/job_queue.log
    path_map:
      - from: /home/alice
        to: /scratch/alice/run7/sandbox/home/alice
  register: outputs

- name: Also list what the jobs wrote in their Iwd, and write the list for the transport
  hepcloud.lumberjack.queue_outputs:
    path: /scratch/alice/run7/local_dir/spool/job_queue.log
    path_map:
      - from: /home/alice
        to: /scratch/alice/run7/sandbox/home/alice
    scan: true
    manifest: /scratch/alice/run7/manifest.json
    list_dest: /scratch/alice/run7/outputs.list
  register: outputs

- name: The same for a queue of many jobs, the file list kept out of Ansible (it goes home with the files)
  hepcloud.lumberjack.queue_outputs:
    path: /scratch/alice/run7/local_dir/spool/job_queue.log
    path_map:
      - from: /home/alice
        to: /scratch/alice/run7/sandbox/home/alice
    scan: true
    list_dest: /scratch/alice/run7/outputs.list
    files_dest: /scratch/alice/run7/outputs.json
  register: outputs
"""

RETURN = r"""
jobs:
  description: Number of jobs in the log.
  returned: always
  type: int
  sample: 2
files:
  description:
    - Output files (an empty list with O(files_dest), which holds them), each with its job, owner, kind (V(stdout), V(stderr), V(output), V(remap), and with
      O(scan) V(iwd)), site and home path, whether it exists at the site (a regular file) and its size in
      bytes (0 when it does not exist).
  returned: always
  type: list
  elements: dict
  sample: [{"job": "12.0", "owner": "alice", "kind": "stdout", "site": "/scratch/alice/run7/sandbox/home/alice/w/out",
            "home": "/home/alice/w/out", "exists": true, "size": 1200}]
userlogs:
  description: User logs, each with its site and home path, owner, the jobs writing to it, whether it exists
    at the site and its size.
  returned: always
  type: list
  elements: dict
  sample: [{"site": "/scratch/alice/run7/sandbox/home/alice/w/jobs.log", "home": "/home/alice/w/jobs.log",
            "owner": "alice", "jobs": ["12.0", "12.1"], "exists": true, "size": 5100}]
count:
  description: Number of existing files and user logs to bring home (the entries of O(list_dest)).
  returned: always
  type: int
  sample: 3
bytes:
  description: Their total size in bytes.
  returned: always
  type: int
  sample: 7500
missing:
  description:
    - Listed files and user logs that are not a regular file at the site, each with a job (for a user log,
      the first job writing to it), its kind, site path and the reason. With O(scan), an C(Iwd) that is not
      a directory at the site is listed with kind V(scan_dir).
  returned: always
  type: list
  elements: dict
  sample: [{"job": "12.1", "kind": "stderr", "site": "/scratch/alice/run7/sandbox/home/alice/w/err.1",
            "reason": "not produced"}]
scan_dirs:
  description: For jobs without C(TransferOutput), the Iwd at the site and at home; what the job wrote there
    comes home.
  returned: always
  type: list
  elements: dict
  sample: [{"job": "12.0", "owner": "alice", "site": "/scratch/alice/run7/sandbox/home/alice/w", "home": "/home/alice/w"}]
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._io import StagedFile
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_log import QueueLogError
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_manifest import SCAN_NAMES
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_outputs import (
    encode_list,
    job_outputs,
    site_files,
    transfer_list,
)
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_scan import QueueScanner
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._sandbox import PathMap, PathMapError


def read_inputs(module, path):
    """The dest paths of a sandbox manifest."""
    try:
        with open(path, 'rb') as f:
            manifest = json.loads(f.read().decode('utf-8'))
        return [e['dest'] for e in manifest['files']]
    except (IOError, OSError) as e:
        module.fail_json(msg='cannot read the manifest %s: %s' % (path, to_native(e)))
    except (ValueError, KeyError, TypeError) as e:
        module.fail_json(msg='%s is not a sandbox manifest (JSON with files: [{src, dest}]): %s'
                         % (path, to_native(e)))


def write_list(module, dest, content, option='list_dest'):
    """Put `content` at `dest` when it differs; True when it does (in check mode: would)."""
    if os.path.isdir(dest):
        module.fail_json(msg='%s %s is a directory: give the path of the file to write' % (option, dest))
    if not os.path.isdir(os.path.dirname(os.path.abspath(dest))):
        if module.check_mode:
            return True
        module.fail_json(msg='the directory of %s %s does not exist: create it first' % (option, dest))
    staged = StagedFile(dest, module.check_mode)
    try:
        with staged as f:
            f.write(content)
        if staged.changed:
            staged.commit(mode=0o644)
        return staged.changed
    except (IOError, OSError) as e:
        module.fail_json(msg='cannot write %s %s: %s' % (option, dest, to_native(e)))
    finally:
        staged.discard()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            path_map=dict(type='list', elements='dict', required=True, options=dict(
                **{'from': dict(type='path', required=True), 'to': dict(type='path', required=True)})),
            scan=dict(type='bool', default=False),
            manifest=dict(type='path'),
            list_dest=dict(type='path'),
            list_extra=dict(type='list', elements='path', default=[]),
            files_dest=dict(type='path'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not os.path.isfile(p['path']):
        module.fail_json(msg='%s does not exist or is not a file: give the site\'s job_queue.log' % p['path'])
    try:
        pathmap = PathMap([{'from': m['from'], 'to': m['to']} for m in p['path_map']])
    except PathMapError as e:
        module.fail_json(msg=to_native(e))
    try:
        state = QueueScanner(p['path'], SCAN_NAMES).run()
    except QueueLogError as e:
        module.fail_json(msg=to_native(e))
    for w in state.warnings:
        module.warn(w)
    result, problems = job_outputs(state, pathmap)
    if problems.count:
        module.fail_json(msg='%d problem(s) in %s: %s' % (problems.count, p['path'], problems.message()), **result)
    inputs = read_inputs(module, p['manifest']) if p['manifest'] else []
    try:
        result['missing'] = site_files(result, scan=p['scan'], inputs=inputs)
    except (IOError, OSError) as e:
        module.fail_json(msg='cannot list a job\'s Iwd at the site: %s' % to_native(e), **result)
    paths, result['bytes'] = transfer_list(result)
    result['count'] = len(paths)
    changed = False
    extra = list(p['list_extra'])
    if p['files_dest']:
        content = json.dumps(dict(files=result['files'], userlogs=result['userlogs']), sort_keys=True,
                             separators=(',', ':')) + '\n'
        changed = write_list(module, p['files_dest'], content.encode('utf-8', 'surrogateescape'), 'files_dest')
        result['files'] = []
        extra.append(p['files_dest'])
    if p['list_dest']:
        absent = [x for x in extra if not os.path.isfile(x) and not (module.check_mode and x == p['files_dest'])]
        if absent:
            module.fail_json(msg='list_extra names files that do not exist here: %s' % ', '.join(absent), **result)
        extra = sorted(set(extra) - set(paths))
        changed = write_list(module, p['list_dest'], encode_list(sorted(paths + extra, key=lambda x: x.encode('utf-8', 'surrogateescape')))) or changed
    module.exit_json(changed=changed, **result)


if __name__ == '__main__':
    main()
