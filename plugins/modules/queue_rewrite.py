#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: queue_rewrite
short_description: Rewrite an HTCondor job_queue.log for a new location and return the sandbox manifest
version_added: 0.1.0
description:
  - Rewrites an HTCondor C(job_queue.log), typically the one C(Schedd.export_jobs) wrote, so that the jobs
    run from a sandbox on another host, for example an HPC site's shared storage.
  - Maps path prefixes (O(path_map)) in C(Iwd), C(Cmd), C(In), C(Out), C(Err), C(UserLog), every entry of
    C(TransferInput) and the destinations of C(TransferOutputRemaps). Relative paths stay relative to the
    mapped C(Iwd). Each ad whose C(Iwd) moved gets C(SUBMIT_Iwd) with its original C(Iwd), for the way back.
  - Gives every job a working directory in the sandbox, whichever shape the export left (a common
    C(initialdir) in the cluster ad, or a proc's own C(Iwd) that C(export_jobs) replaced by a placeholder in
    its new spool directory (give the real ones in O(original_iwds); M(hepcloud.lumberjack.condor_export)
    returns them).
  - Sets or deletes attributes on every job or on chosen clusters.
  - Returns the manifest, the files to stage (source on the submit side, destination in the sandbox) and the
    directories to create.
  - Streams the log and writes it atomically beside the destination; the original is untouched until the
    new file is complete, and kept as a backup when O(backup=true). Bad input fails before anything is
    written, naming the file, line or job and what to do.
  - Needs only the Python standard library on the host that holds the file.
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Computes every change and the manifest, writes nothing.
  diff_mode:
    support: full
    details: The diff gives the number of changed records per attribute and a few example lines.
  platform:
    support: full
    platforms: posix
options:
  path:
    description:
      - The C(job_queue.log) to read.
    type: path
    required: true
  dest:
    description:
      - Where to write the rewritten log. By default O(path) is rewritten in place.
      - An existing O(dest) with other content is only replaced with O(backup=true) or O(force=true).
    type: path
  path_map:
    description:
      - Path prefix mappings. A path under V(from) moves to the same place under V(to). Prefixes match whole
        path components; the longest V(from) wins.
      - A path already under some V(to) is left alone, which makes a second run change nothing.
      - Every V(from) must match at least one path of the jobs (a mapping that matches nothing is almost
        always a typo).
    type: list
    elements: dict
    default: []
    suboptions:
      from:
        description: Absolute directory on the submit side.
        type: path
        required: true
      to:
        description: Absolute directory in the sandbox.
        type: path
        required: true
  sandbox:
    description:
      - The sandbox root. Every V(to) of O(path_map) and O(spool_map) must lie in it, and every path a job
        reads or writes must stay in it after mapping (a relative path with V(..) that climbs out is an
        error).
      - Without it, the sandbox is the set of V(to) directories.
    type: path
  spool_map:
    description:
      - The C(new_spool_dir) given to C(Schedd.export_jobs) (V(from)) and the directory in the sandbox that
        takes its place (V(to)). Applied to any path still under V(from) after O(original_iwds).
    type: dict
    suboptions:
      from:
        description: The placeholder spool directory of the export.
        type: path
        required: true
      to:
        description: Its replacement in the sandbox.
        type: path
        required: true
  original_iwds:
    description:
      - The real working directory of jobs whose C(Iwd) the export replaced by its spool placeholder, as a
        mapping of job id (V(cluster.proc)) to directory on the submit side. The directory is then mapped
        by O(path_map).
    type: dict
    default: {}
  site_paths:
    description:
      - Absolute path prefixes that exist on the site as they are (for example V(/cvmfs)); paths under them
        are neither mapped nor staged.
    type: list
    elements: path
    default: [/dev/null]
  set_attributes:
    description:
      - Attributes to set, as V(name) to value. Strings are written as ClassAd strings, booleans as
        V(true)/V(false), numbers as numbers.
      - Set in the cluster ad of each chosen cluster and replaced in place in any proc ad that has its own
        copy.
    type: dict
    default: {}
  set_expressions:
    description:
      - Attributes to set to a ClassAd expression written as is, for example V(RequestMemory * 2).
    type: dict
    default: {}
  delete_attributes:
    description:
      - Attributes to remove from the chosen jobs' cluster and proc ads.
    type: list
    elements: str
    default: []
  cluster_ids:
    description:
      - Limit O(set_attributes), O(set_expressions) and O(delete_attributes) to these clusters. Paths are
        always mapped for every job.
    type: list
    elements: int
  backup:
    description:
      - Keep a copy of the file that is replaced, with a timestamp in its name.
    type: bool
    default: false
  force:
    description:
      - Replace an existing O(dest) with other content even without O(backup).
    type: bool
    default: false
  mode:
    description:
      - The permissions of O(dest), as an octal string such as V('0600'). A O(dest) whose content is right but
        whose mode differs gets this mode (and counts as a change).
      - By default a new O(dest) takes the mode of O(path), and an existing one keeps its own.
    type: str
    version_added: 0.2.0
  manifest_dest:
    description:
      - Also write the manifest as JSON to this file (atomically, mode 0644). Useful when the manifest of a
        big queue is too large to pass around as a variable.
    type: path
  return_manifest:
    description:
      - Return the full file and directory lists in RV(manifest). With V(false) only the counts are returned.
    type: bool
    default: true
  workers:
    description:
      - How many processes share the work on a big log (from 64 MiB), each taking a segment of it cut at a
        cluster ad. V(0) picks the usable CPUs, at most 4; V(1) uses one process. Use V(1) on a login node
        whose rules ask for one core.
      - The result is the same whatever the value; a log whose segments do not stand on their own (a
        schedd's live log with transactions) is done in one process.
    type: int
    default: 0
notes:
  - Attribute names are matched without regard to case, as ClassAds do.
  - A last record without its newline, or a last transaction that was never ended, is dropped from the
    rewritten log, as the schedd itself would ignore it; the module warns.
seealso:
  - module: hepcloud.lumberjack.queue_info
  - module: hepcloud.lumberjack.condor_export
"""

EXAMPLES = r"""
- name: Rewrite an exported queue for a sandbox on the site's scratch file system
  hepcloud.lumberjack.queue_rewrite:
    path: /scratch/alice/lumberjack/run-42/export/job_queue.log
    dest: /scratch/alice/lumberjack/run-42/local_dir/spool/job_queue.log
    sandbox: /scratch/alice/lumberjack/run-42/sandbox
    path_map:
      - from: /home/alice
        to: /scratch/alice/lumberjack/run-42/sandbox/home/alice
    spool_map:
      from: /var/lib/condor/lumberjack-spool
      to: /scratch/alice/lumberjack/run-42/sandbox/spool
    original_iwds: "{{ export.iwds }}"
    set_attributes:
      LumberjackRun: run-42
  register: rewrite

- name: Create the directories the jobs need
  ansible.builtin.file:
    path: "{{ item }}"
    state: directory
    mode: "0755"
  loop: "{{ rewrite.manifest.directories }}"

- name: Check what a rewrite would do, without writing
  hepcloud.lumberjack.queue_rewrite:
    path: /tmp/job_queue.log
    path_map:
      - from: /home/alice
        to: /scratch/sandbox/home/alice
  check_mode: true
  diff: true
"""

RETURN = r"""
path:
  description: The log that was read.
  returned: always
  type: str
dest:
  description: The log that was written (or would be, in check mode).
  returned: always
  type: str
backup_file:
  description: The copy of the replaced file.
  returned: when O(backup=true) and a file was replaced
  type: str
changes:
  description: Number of records changed in place or removed, per attribute name.
  returned: always
  type: dict
  sample: {"Iwd": 5, "Cmd": 2, "UserLog": 2}
added:
  description: Number of records added at the end (C(SUBMIT_Iwd), attributes an ad did not have).
  returned: always
  type: int
dropped:
  description: What was dropped from the end of the log (a cut-off record or an unterminated transaction).
  returned: always
  type: list
  elements: str
processes:
  description: How many processes did the work (see O(workers)); V(1) when the log was done in one go.
  returned: always
  type: int
  sample: 2
manifest:
  description: What the sandbox needs.
  returned: always
  type: dict
  contains:
    jobs:
      description: Number of jobs.
      type: int
    files:
      description: Files to stage, V(src) on the submit side and V(dest) in the sandbox.
      type: list
      elements: dict
      sample: [{"src": "/home/alice/work/input.txt", "dest": "/scratch/sandbox/home/alice/work/input.txt"}]
    directories:
      description: Directories to create in the sandbox (working directories, output and log directories).
      type: list
      elements: str
    iwds:
      description: Each working directory, V(home) on the submit side and V(site) in the sandbox; what
        outputs are brought back by.
      type: list
      elements: dict
    file_count:
      description: Number of files to stage.
      type: int
    directory_count:
      description: Number of directories to create.
      type: int
"""

import json
import os
import re
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._io import AtomicFile, StagedFile, remove_quietly, same_content
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_log import QueueLogError, literal
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._queue_rewrite import QueueRewriter, RewriteSpec
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._sandbox import PathMap, PathMapError


class QueueRewrite(object):
    def __init__(self, module):
        self.module = module
        p = module.params
        self.path = p['path']
        self.dest = p['dest'] or p['path']
        self.in_place = os.path.abspath(self.dest) == os.path.abspath(self.path)

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=msg, **kwargs)

    def mode(self):
        mode = self.module.params['mode']
        if mode is None:
            return None
        if not re.match(r'^0?[0-7]{3}$', mode):
            self.fail('mode %s is not an octal mode such as 0600' % mode)
        return int(mode, 8)

    def spec(self):
        p = self.module.params
        mappings = [{'from': m['from'], 'to': m['to']} for m in p['path_map']]
        if p['spool_map']:
            mappings.append({'from': p['spool_map']['from'], 'to': p['spool_map']['to']})
        try:
            pathmap = PathMap(mappings, sandbox=p['sandbox'], site_paths=p['site_paths'])
        except PathMapError as e:
            self.fail(to_native(e))
        values = {}
        for name, value in p['set_attributes'].items():
            if isinstance(value, (dict, list)):
                self.fail('set_attributes.%s must be a string, number or boolean; use set_expressions for '
                          'ClassAd expressions' % name)
            try:
                values[name] = literal(value)
            except ValueError as e:
                self.fail('set_attributes.%s: %s' % (name, to_native(e)))
        for name, expr in p['set_expressions'].items():
            expr = to_native(expr)
            if not expr.strip() or '\n' in expr:
                self.fail('set_expressions.%s must be a one-line, non-empty ClassAd expression' % name)
            if name in values:
                self.fail('%s is in both set_attributes and set_expressions' % name)
            values[name] = expr
        originals = dict((to_native(k), to_native(v)) for k, v in p['original_iwds'].items())
        try:
            return RewriteSpec(pathmap, original_iwds=originals, set_attributes=values,
                               delete_attributes=p['delete_attributes'], cluster_ids=p['cluster_ids'])
        except ValueError as e:
            self.fail(to_native(e))

    def run(self):
        p = self.module.params
        if p['workers'] < 0:
            self.fail('workers is %d: give 0 (as many processes as pay off) or a positive number' % p['workers'])
        if not os.path.isfile(self.path):
            self.fail('%s does not exist or is not a file: give the job_queue.log to rewrite' % self.path)
        if os.path.isdir(self.dest):
            self.fail('dest %s is a directory: give the path of the job_queue.log to write' % self.dest)
        # checked before anything is written. In check mode a missing directory is no error: in a play, an
        # earlier task (skipped in check mode) usually creates it, and the preview must go on
        dest_dir_missing = not os.path.isdir(os.path.dirname(os.path.abspath(self.dest)))
        if dest_dir_missing and not self.module.check_mode:
            self.fail('the directory of dest %s does not exist' % self.dest)
        manifest_dir_missing = False
        if p['manifest_dest']:
            if os.path.isdir(p['manifest_dest']):
                self.fail('manifest_dest %s is a directory: give the path of the JSON file to write' % p['manifest_dest'])
            manifest_dir_missing = not os.path.isdir(os.path.dirname(os.path.abspath(p['manifest_dest'])))
            if manifest_dir_missing and not self.module.check_mode:
                self.fail('the directory of manifest_dest %s does not exist' % p['manifest_dest'])
        mode = self.mode()
        spec = self.spec()
        rewriter = QueueRewriter(self.path, spec)
        spool_from = p['spool_map']['from'] if p['spool_map'] else None
        tmp = None
        compare = None
        try:
            if self.module.check_mode:
                if not self.in_place and os.path.exists(self.dest):
                    # to tell honestly whether dest would change, rewrite into an anonymous temporary file
                    compare = tempfile.TemporaryFile()
                state, appended, manifest, problems = rewriter.run(out=compare, workers=p['workers'] or None)
            else:
                writer = AtomicFile(self.dest, like=self.path, commit=False)
                with writer as out:
                    state, appended, manifest, problems = rewriter.run(out=out, workers=p['workers'] or None)
                tmp = writer.name
                if mode is not None:
                    os.chmod(tmp, mode)
        except QueueLogError as e:
            remove_quietly(tmp)
            self.fail(to_native(e))
        except (IOError, OSError) as e:
            remove_quietly(tmp)
            self.fail('cannot write beside %s: %s' % (self.dest, to_native(e)))

        unused = [m for m in manifest.pop('unused_mappings') if m != spool_from]
        if unused and manifest['jobs']:
            remove_quietly(tmp)
            self.fail('path_map "from" %s matches no path of any job in %s: check the spelling against the '
                      'iwds, inputs and outputs that queue_info reports' % (', '.join(unused), self.path))
        if problems.count:
            remove_quietly(tmp)
            self.fail('%d problem(s) in %s, nothing was written: %s' % (problems.count, self.path, problems.message()))

        edited = bool(state.changes or appended or state.truncated)
        if self.in_place:
            changed = edited
        elif not os.path.exists(self.dest):
            changed = True
        elif compare is not None:
            changed = not same_content(compare, self.dest)
            compare.close()
        else:
            with open(tmp, 'rb') as written:
                changed = not same_content(written, self.dest)
        # content alone decides whether the file is replaced; a mode that differs is set on the file in place
        chmod = (mode is not None and not changed and os.path.exists(self.dest)
                 and stat.S_IMODE(os.stat(self.dest).st_mode) != mode)
        result = dict(changed=changed or chmod, path=self.path, dest=self.dest, changes=state.changes, added=len(appended),
                      dropped=list(state.warnings), processes=rewriter.processes)
        for w in state.warnings:
            self.module.warn(w)

        if changed and os.path.exists(self.dest) and not self.in_place and not (p['backup'] or p['force']):
            remove_quietly(tmp)
            self.fail('dest %s exists with other content; set backup=true to keep a copy of it, or '
                      'force=true to replace it' % self.dest)
        manifest_file = None
        if manifest_dir_missing:
            result['changed'] = True        # check mode: the directory and the manifest would be made
        elif p['manifest_dest']:
            # staged before the log is replaced: a manifest that cannot be written leaves the log as it was
            manifest_file = StagedFile(p['manifest_dest'], self.module.check_mode)
            try:
                with manifest_file as f:
                    f.write(json.dumps(manifest, indent=1, sort_keys=True).encode('utf-8') + b'\n')
            except (IOError, OSError) as e:
                remove_quietly(tmp)
                self.fail('cannot write manifest_dest %s: %s' % (p['manifest_dest'], to_native(e)))
            if manifest_file.changed:
                result['changed'] = True
        try:
            if not self.module.check_mode:
                if changed:
                    if p['backup'] and os.path.exists(self.dest):
                        result['backup_file'] = self.module.backup_local(self.dest)
                    os.rename(tmp, self.dest)
                    tmp = None
                elif chmod:
                    os.chmod(self.dest, mode)
                if manifest_file is not None and manifest_file.changed:
                    manifest_file.commit(mode=0o644)
        except (IOError, OSError) as e:
            self.fail('cannot replace %s: %s' % (self.dest, to_native(e)))
        finally:
            remove_quietly(tmp)
            if manifest_file is not None:
                manifest_file.discard()

        manifest['file_count'] = len(manifest['files'])
        manifest['directory_count'] = len(manifest['directories'])
        if not p['return_manifest']:
            for k in ('files', 'directories', 'iwds'):
                manifest.pop(k)
        result['manifest'] = manifest
        if self.module._diff:
            result['diff'] = self.diff(state, appended)
        return result

    @staticmethod
    def diff(state, appended):
        def text(b):
            return b.decode('utf-8', 'replace')
        counts = ''.join('%s: %d record(s)\n' % kv for kv in sorted(state.changes.items()))
        before = ''.join(text(old) + '\n' for old, _new in state.examples)
        after = ''.join((text(new) if new is not None else '(removed)') + '\n' for _old, new in state.examples)
        after += ''.join(text(line) + '\n' for line in appended[:5])
        if len(appended) > 5:
            after += '... and %d more added record(s)\n' % (len(appended) - 5)
        summary = counts.strip().replace('\n', ', ') or 'none'
        return {
            'before_header': 'job_queue.log (examples of changed records)',
            'after_header': 'job_queue.log (changed: %s; added %d)' % (summary, len(appended)),
            'before': before,
            'after': after,
        }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            dest=dict(type='path'),
            path_map=dict(type='list', elements='dict', default=[], options=dict(
                **{'from': dict(type='path', required=True), 'to': dict(type='path', required=True)})),
            sandbox=dict(type='path'),
            spool_map=dict(type='dict', options=dict(
                **{'from': dict(type='path', required=True), 'to': dict(type='path', required=True)})),
            original_iwds=dict(type='dict', default={}),
            site_paths=dict(type='list', elements='path', default=['/dev/null']),
            set_attributes=dict(type='dict', default={}),
            set_expressions=dict(type='dict', default={}),
            delete_attributes=dict(type='list', elements='str', default=[]),
            cluster_ids=dict(type='list', elements='int'),
            backup=dict(type='bool', default=False),
            force=dict(type='bool', default=False),
            mode=dict(type='str'),
            manifest_dest=dict(type='path'),
            return_manifest=dict(type='bool', default=True),
            workers=dict(type='int', default=0),
        ),
        supports_check_mode=True,
    )
    module.exit_json(**QueueRewrite(module).run())


if __name__ == '__main__':
    main()
