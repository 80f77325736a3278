#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: condor_submit_check
short_description: Check an HTCondor submit description against a site policy and add the site's settings
version_added: 0.1.0
description:
  - Does what a site's submit wrapper does before C(condor_submit), on the access point.
  - Parses the submit description with HTCondor's own parser (C(htcondor2.Submit)); no pool is needed for
    that. The file is also read line by line so that every problem names its line.
  - "Checks: the description parses (a syntax error is reported with its line); the executable exists and is
    executable, unless it is not transferred (C(transfer_executable = false)); every local entry of
    C(transfer_input_files) exists, relative to C(initialdir) (itself relative to the submit directory);
    C(requirements), C(rank) and custom attributes are valid ClassAd expressions; C(request_cpus),
    C(request_memory) and C(request_disk) are set (by the description or by the policy's defaults) and
    within the policy's limits; the policy's required commands are set and its forbidden ones are not."
  - "Augments: adds the policy's defaults that the description does not set (commands and custom attributes
    such as C(+ProjectName)), and-s the policy's requirements onto C(requirements)
    (C((existing\\) && (appended\\))), and makes the executable path absolute. The augmented description is
    written atomically to O(dest)."
  - Every problem found is returned in RV(problems), not only the first. The task fails when there is any,
    unless O(warn_only=true).
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
attributes:
  check_mode:
    support: full
    description: Checks and reports what would be written; O(dest) is not written.
  diff_mode:
    support: full
    description: Shows the augmentation as the difference between O(dest) before and after.
  platform:
    support: full
    platforms: posix
    description: Runs on the access point (the host where condor_submit runs).
options:
  src:
    description:
      - Path of the user's submit description.
    type: path
    required: true
  dest:
    description:
      - Path to write the augmented submit description to.
      - Without it the description is only checked.
      - The same path as O(src) is refused unless O(force=true); the original is then kept in a backup
        file beside it.
    type: path
  force:
    description:
      - Allow O(dest) to be the same file as O(src) (augment in place, after a backup).
    type: bool
    default: false
  policy:
    description:
      - Path of the site policy, a YAML mapping with the keys C(required) (list of commands the description
        must set), C(forbidden) (list of commands it must not set), C(defaults) (mapping of command to
        value, added when not set; C(+Attr) for custom attributes), C(append_requirements) (an expression or
        a list of them, and-ed onto C(requirements)) and C(limits) (mapping of numeric command to its
        maximum; C(request_memory) and C(request_disk) accept the units K, M, G, T).
      - Any other key is an error.
    type: path
  submit_dir:
    description:
      - The directory C(condor_submit) will run in, which relative paths are resolved against.
      - Defaults to the directory of O(src).
    type: path
  require_requests:
    description:
      - Whether C(request_cpus), C(request_memory) and C(request_disk) must be set (by the description or
        the policy's defaults).
    type: bool
    default: true
  warn_only:
    description:
      - Report the problems, write O(dest) anyway and do not fail.
    type: bool
    default: false
  condor_config:
    description:
      - HTCondor configuration the parser reads (macros such as C($(FULL_HOSTNAME)) come from it).
      - Without it the parser runs with C(CONDOR_CONFIG=/dev/null), isolated from any pool.
    type: path
requirements:
  - The PyPI package C(htcondor) (module C(htcondor2)) and C(PyYAML) (with O(policy)) in the Python that runs
    the module.
notes:
  - The checks follow C(condor_submit) on the access point. Paths with macros that only the schedd
    expands (C($$(...)) and URLs in C(transfer_input_files) are not checked.
  - Commands inside C(if)/C(else) blocks are checked as if the block applied.
seealso:
  - name: HTCondor submit description commands
    description: condor_submit manual page.
    link: https://htcondor.readthedocs.io/en/latest/man-pages/condor_submit.html
'''

EXAMPLES = r'''
- name: Check alice's submit file and write the site's version of it
  hepcloud.lumberjack.condor_submit_check:
    src: /home/alice/run7/job.sub
    dest: /home/alice/run7/job.site.sub
    policy: /etc/lumberjack/submit-policy.yml
  register: checked

- name: Submit the checked description
  ansible.builtin.command:
    cmd: condor_submit {{ checked.dest }}
    chdir: /home/alice/run7
  changed_when: true

- name: Only report what is wrong, without failing
  hepcloud.lumberjack.condor_submit_check:
    src: /home/alice/run7/job.sub
    policy: /etc/lumberjack/submit-policy.yml
    warn_only: true
'''

RETURN = r'''
problems:
  description: Every problem found, in line order (problems without a line come last).
  returned: always
  type: list
  elements: dict
  contains:
    line:
      description: Line of O(src) the problem is on, or null when the problem is something missing.
      type: int
    command:
      description: The submit command concerned (null for a syntax error).
      type: str
    message:
      description: What is wrong and what to do.
      type: str
  sample: [{"line": 3, "command": "request_memory", "message": "request_memory = 64 GB is over the limit 16 GB"}]
augmentation:
  description: What the augmentation changed or added, one entry per command.
  returned: always
  type: list
  elements: dict
  contains:
    line:
      description: Line of O(src) that was changed, or null for an added command.
      type: int
    command:
      description: The command.
      type: str
    value:
      description: Its new value.
      type: str
  sample: [{"line": null, "command": "+ProjectName", "value": "\"lumberjack\""}]
executable:
  description: The absolute path of the executable (as it is after augmentation).
  returned: when the description names one
  type: str
  sample: /home/alice/run7/analyze.sh
requirements:
  description: The requirements expression after augmentation.
  returned: when there is one
  type: str
  sample: (TARGET.HasSingularity) && (OpSysAndVer == "AlmaLinux9")
dest:
  description: Path of the augmented description.
  returned: when O(dest) is given
  type: str
backup_file:
  description: The backup of O(src) made before augmenting it in place.
  returned: when O(dest) is O(src) and it changed
  type: str
'''

import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.hepcloud.lumberjack.plugins.module_utils import _submit_description as sd
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._io import AtomicFile

try:
    import yaml
    HAS_YAML = True
    YAML_IMPORT_ERROR = None
except ImportError:
    HAS_YAML = False
    YAML_IMPORT_ERROR = traceback.format_exc()

EXPRESSION_COMMANDS = ('requirements', 'rank', 'periodic_hold', 'periodic_release', 'periodic_remove',
                       'on_exit_hold', 'on_exit_remove')
FILE_LIST_SEPARATORS = ','


def consume(items):
    """Read the queue items of a description to the end (a bad queue statement raises only then)."""
    if items is not None:
        list(items)


def load_policy(path):
    """The Policy of a YAML file; PolicyError names the file (and line) on any problem."""
    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except (IOError, OSError) as e:
        raise sd.PolicyError('policy %s cannot be read: %s' % (path, to_native(e)))
    except yaml.YAMLError as e:
        mark = getattr(e, 'problem_mark', None)
        where = ' line %d' % (mark.line + 1) if mark is not None else ''
        raise sd.PolicyError('policy %s%s is not valid YAML: %s' % (path, where, ' '.join(to_native(e).split())))
    return sd.Policy(data, path)


class SubmitCheck(object):

    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.problems = []
        self.augmentation = []
        self.htcondor = None
        self.classad = None

    def problem(self, line, command, message):
        self.problems.append(dict(line=line, command=command, message=message))

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=msg, **kwargs)

    def bindings(self):
        config = self.p['condor_config']
        if config:
            if not os.path.isfile(config):
                self.fail('condor_config %s is not a file' % config)
            os.environ['CONDOR_CONFIG'] = config
        else:
            os.environ['CONDOR_CONFIG'] = '/dev/null'
        for key in list(os.environ):
            if key.startswith('_CONDOR_'):
                del os.environ[key]
        try:
            import htcondor2  # pylint: disable=import-outside-toplevel
            import classad2  # pylint: disable=import-outside-toplevel
        except ImportError:
            self.fail(missing_required_lib('htcondor (Python module htcondor2)'), exception=traceback.format_exc())
        self.htcondor = htcondor2
        self.classad = classad2

    def run(self):
        p = self.p
        src = os.path.abspath(p['src'])
        dest = os.path.abspath(p['dest']) if p['dest'] else None
        if not os.path.isfile(src):
            self.fail('src %s does not exist or is not a file' % src)
        if dest and os.path.exists(dest) and os.path.samefile(src, dest) and not p['force']:
            self.fail('dest %s is the user\'s own submit file (src): choose another dest, or set force: true to '
                      'augment it in place (a backup is kept)' % dest)
        policy = sd.Policy()
        if p['policy']:
            if not HAS_YAML:
                self.fail(missing_required_lib('PyYAML'), exception=YAML_IMPORT_ERROR)
            try:
                policy = load_policy(p['policy'])
            except sd.PolicyError as e:
                self.fail(to_native(e))
        try:
            with open(src) as f:
                text = f.read()
        except (IOError, OSError, UnicodeDecodeError) as e:
            self.fail('src %s cannot be read: %s' % (src, to_native(e)))
        submit_dir = os.path.abspath(p['submit_dir'] or os.path.dirname(src))
        if not os.path.isdir(submit_dir):
            self.fail('submit_dir %s is not a directory' % submit_dir)
        self.bindings()
        desc = sd.Description(text, src)
        cwd = os.getcwd()
        os.chdir(submit_dir)   # include files and relative paths resolve as condor_submit's would
        try:
            submit = self.parse(desc)
        finally:
            os.chdir(cwd)

        result = dict(changed=False, problems=[], augmentation=[])
        new_text = text
        if submit is not None:
            edits, inserts, info = self.check(desc, submit, policy, submit_dir)
            result.update(info)
            new_text = sd.augment(desc, edits, inserts)
        self.problems.sort(key=lambda x: (x['line'] is None, x['line'] or 0))
        result['problems'] = self.problems
        result['augmentation'] = self.augmentation
        if self.problems and not p['warn_only']:
            lines = ['%s%s' % ('line %d: ' % x['line'] if x['line'] else '', x['message']) for x in self.problems]
            self.fail('%s: %d problem%s: %s' % (src, len(self.problems), '' if len(self.problems) == 1 else 's',
                                                '; '.join(lines)), **result)
        for x in self.problems:
            self.module.warn('%s%s: %s' % (src, ' line %d' % x['line'] if x['line'] else '', x['message']))
        if dest:
            result['dest'] = dest
            self.write(src, dest, new_text, result)
        self.module.exit_json(**result)

    # -- parsing -----------------------------------------------------------------------------------------
    def parse(self, desc):
        """htcondor2.Submit of the description; on a parse error, the problem on its line and None."""
        Submit = self.htcondor.Submit
        try:
            submit = Submit(desc.text)
            consume(submit.itemdata())
            return submit
        except Exception as e:  # pylint: disable=broad-except
            error = ' '.join(to_native(e).split())
        line = None
        for first, prefix in desc.prefixes():
            try:
                consume(Submit(prefix).itemdata())
            except Exception:  # pylint: disable=broad-except
                line = first
                break
        statement = desc.line_of_physical(line) if line else None
        what = (' (%s)' % statement.text[:80]) if statement else ''
        self.problem(line, None, 'HTCondor cannot parse this line%s: %s' % (what, error))
        return None

    # -- checks and augmentation ---------------------------------------------------------------------------
    def value(self, submit, name):
        """The expanded value of a command, or None when it is not set."""
        try:
            value = submit.expand(name)
        except KeyError:
            return None
        return value if value.strip() != '' else None

    def check(self, desc, submit, policy, submit_dir):
        edits = {}
        inserts = []
        info = {}
        set_names = set(s.name for s in desc.assignments())

        for name in policy.required:
            if sd.canonical(name) not in set_names:
                self.problem(None, name, '%s is required by the site policy %s: add "%s = ..." to the description'
                             % (name, policy.path, name))
        for name in policy.forbidden:
            st = desc.find(name)
            if st is not None:
                self.problem(st.first, st.key, '%s is forbidden by the site policy %s: remove it' % (st.key, policy.path))

        # defaults
        added = {}
        for key, value in policy.defaults:
            if sd.canonical(key) not in set_names:
                inserts.append('%s = %s' % (key, value))
                added[sd.canonical(key)] = value
                self.augmentation.append(dict(line=None, command=key, value=value))

        # ClassAd expressions
        for st in desc.assignments():
            if st.name in EXPRESSION_COMMANDS or st.name.startswith('my.'):
                expanded = self.value(submit, st.key if not st.key.startswith('+') else 'MY.' + st.key[1:])
                if expanded is None or '$' in expanded:
                    continue
                try:
                    self.classad.ExprTree(expanded)
                except Exception:  # pylint: disable=broad-except
                    self.problem(st.first, st.key, '%s = %s is not a valid ClassAd expression' % (st.key, expanded))

        # resources and limits
        for name in sd.RESOURCE_COMMANDS:
            st = desc.find(name)
            value = self.value(submit, name) if st else added.get(name)
            if value is None and self.p['require_requests']:
                self.problem(None, name, '%s is not set: add "%s = ..." to the description (the site policy gives '
                             'no default)' % (name, name))
        for name, (limit_text, limit) in sorted(policy.limits.items()):
            st = desc.find(name)
            value = self.value(submit, name) if st else added.get(name)
            if value is None:
                continue
            amount = sd.quantity(value, name)
            line = st.first if st else None
            if amount is None:
                self.module.warn('%s%s: %s = %s is not a plain number; the limit %s is not checked'
                                 % (desc.path, ' line %d' % line if line else '', name, value, limit_text))
                continue
            if amount > limit:
                self.problem(line, name, '%s = %s is over the site limit %s (%s): lower it'
                             % (name, value, limit_text, sd.human(limit, name)))

        # executable
        st = desc.find('executable')
        transfer = (self.value(submit, 'transfer_executable') or 'true').strip().lower()[:1] not in ('f', '0', 'n')
        universe = (self.value(submit, 'universe') or 'vanilla').strip().lower()
        exe = self.value(submit, 'executable')
        if st is None or exe is None:
            if universe not in ('docker', 'container', 'vm', 'grid') and self.value(submit, 'shell') is None:
                self.problem(None, 'executable', 'no executable is set: add "executable = path"')
        elif transfer and universe not in ('vm', 'grid') and '$$(' not in exe:
            path = exe if os.path.isabs(exe) else os.path.normpath(os.path.join(submit_dir, exe))
            info['executable'] = path
            if not os.path.exists(path):
                self.problem(st.first, st.key, 'executable %s does not exist (looked for %s)' % (exe, path))
            elif os.path.isdir(path) or not os.access(path, os.X_OK):
                self.problem(st.first, st.key, 'executable %s is not an executable file: chmod +x it' % path)
            if path != st.value and '$' not in st.value:
                edits[st] = '%s = %s' % (st.key, path)
                self.augmentation.append(dict(line=st.first, command=st.key, value=path))
            elif path != exe and '$' in st.value:
                self.module.warn('%s line %d: executable %s uses macros; its path is left relative' %
                                 (desc.path, st.first, st.value))
        elif exe is not None:
            info['executable'] = exe

        # transfer_input_files
        st = desc.find('transfer_input_files')
        files = self.value(submit, 'transfer_input_files') if st else None
        if files:
            iwd = self.value(submit, 'initialdir') or '.'
            iwd = os.path.normpath(os.path.join(submit_dir, iwd))
            for entry in [f.strip() for f in files.split(FILE_LIST_SEPARATORS)]:
                if not entry or '://' in entry or '$$(' in entry:
                    continue
                path = entry if os.path.isabs(entry) else os.path.normpath(os.path.join(iwd, entry))
                if not os.path.exists(path):
                    self.problem(st.first, st.key, 'input file %s does not exist (looked for %s)' % (entry, path))

        # requirements
        if policy.append_requirements:
            st = desc.find('requirements')
            existing = st.value if st else None
            combined, appended = sd.combine_requirements(existing, policy.append_requirements)
            if appended:
                if st is not None:
                    edits[st] = '%s = %s' % (st.key, combined)
                else:
                    inserts.append('requirements = %s' % combined)
                self.augmentation.append(dict(line=st.first if st else None, command='requirements', value=combined))
            info['requirements'] = combined
            for term in appended:
                try:
                    self.classad.ExprTree(term)
                except Exception:  # pylint: disable=broad-except
                    self.fail('policy %s: append_requirements %r is not a valid ClassAd expression'
                              % (policy.path, term))
        elif desc.find('requirements') is not None:
            info['requirements'] = desc.find('requirements').value
        return edits, inserts, info

    # -- writing ---------------------------------------------------------------------------------------------
    def write(self, src, dest, new_text, result):
        old = None
        if os.path.exists(dest):
            if not os.path.isfile(dest):
                self.fail('dest %s exists and is not a file' % dest)
            with open(dest) as f:
                old = f.read()
        if self.module._diff:
            result['diff'] = dict(before=old if old is not None else '', after=new_text,
                                  before_header=dest if old is not None else '/dev/null', after_header=dest)
        if old == new_text:
            return
        result['changed'] = True
        if self.module.check_mode:
            return
        if not os.path.isdir(os.path.dirname(dest)):
            self.fail('the directory of dest %s does not exist' % dest)
        if old is not None and os.path.samefile(src, dest):
            result['backup_file'] = self.module.backup_local(dest)
        like = dest if old is not None else src
        try:
            with AtomicFile(dest, like=like, binary=False) as f:
                f.write(new_text)
        except (IOError, OSError) as e:
            self.fail('cannot write %s: %s' % (dest, to_native(e)))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type='path', required=True),
            dest=dict(type='path'),
            force=dict(type='bool', default=False),
            policy=dict(type='path'),
            submit_dir=dict(type='path'),
            require_requests=dict(type='bool', default=True),
            warn_only=dict(type='bool', default=False),
            condor_config=dict(type='path'),
        ),
        supports_check_mode=True,
    )
    SubmitCheck(module).run()


if __name__ == '__main__':
    main()
