#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: pool_password_file
short_description: Write an HTCondor pool password file (the POOL signing key) idempotently
version_added: 0.1.0
description:
  - Writes an HTCondor pool password in HTCondor's own file format, the one C(condor_store_cred add -c -f FILE)
    writes and HTCondor reads through C(SEC_PASSWORD_FILE), C(SEC_PASSWORD_DIRECTORY) (file C(POOL)) and
    C(SEC_TOKEN_POOL_SIGNING_KEY_FILE) (the IDTOKENS signing key). That is the password bytes XORed with the
    repeating key C(DE AD BE EF), without a trailing NUL.
  - With O(password), the file is made to hold that password; a file that already holds it is left alone.
    Without O(password), a random password is generated when the file is missing (or with O(rotate=true));
    an existing file is kept.
  - The file is written atomically, mode C(0600), owned by the account that runs the module. HTCondor reads
    it only when the account running the daemons (or the tool) owns it and nobody else can read it.
  - The password is never returned or logged.
  - Needs only the Python standard library.
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Compares with the existing file and reports what would change, writes nothing.
  diff_mode:
    support: none
    details: The content is a secret; no diff is ever shown.
  platform:
    support: full
    platforms: posix
options:
  path:
    description:
      - The password file, for example V(RUN_DIR/local_dir/passwords.d/POOL). Its directory must exist.
    type: path
    required: true
  password:
    description:
      - The password to store. Omit it to keep the file's password or generate a random one.
      - Must not be empty or contain a NUL byte, and no byte may equal the scramble key's byte at its position
        (HTCondor would cut the password there).
    type: str
  rotate:
    description:
      - Without O(password), replace an existing file with a new random password.
    type: bool
    default: false
  length:
    description:
      - Length of a generated password (letters and digits).
    type: int
    default: 64
notes:
  - The scramble only prevents accidental viewing; the file's protection is its mode and owner.
seealso:
  - name: condor_store_cred
    description: HTCondor's tool that writes the same format with C(add -c -f FILE).
    link: https://htcondor.readthedocs.io/en/latest/man-pages/condor_store_cred.html
"""

EXAMPLES = r"""
- name: Make sure the run's pool password exists
  hepcloud.lumberjack.pool_password_file:
    path: /scratch/alice/lumberjack/run-42/local_dir/passwords.d/POOL

- name: Store a password kept in a vault
  hepcloud.lumberjack.pool_password_file:
    path: /scratch/alice/lumberjack/run-42/local_dir/passwords.d/POOL
    password: "{{ vault_pool_password }}"
  no_log: true
"""

RETURN = r"""
path:
  description: The password file.
  returned: always
  type: str
generated:
  description: Whether a new random password was (or, in check mode, would be) written.
  returned: always
  type: bool
existed:
  description: Whether the file existed before.
  returned: always
  type: bool
"""

import errno
import os
import pwd
import random
import string
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.hepcloud.lumberjack.plugins.module_utils._io import fsync_dir, remove_quietly

SCRAMBLE_KEY = bytearray(b'\xde\xad\xbe\xef')
ALPHABET = string.ascii_letters + string.digits


def scramble(data):
    """HTCondor's simple_scramble (src/condor_utils/secure_file.cpp): XOR with DE AD BE EF repeating. It is
    its own inverse."""
    data = bytearray(data)
    return bytes(bytearray(b ^ SCRAMBLE_KEY[i % 4] for i, b in enumerate(data)))


def encode(password):
    """The file content for `password` (bytes), as condor_store_cred writes it: no trailing NUL."""
    return scramble(password)


def decode(content):
    """The password HTCondor reads from a file's content: the content up to its first NUL byte, unscrambled,
    and again up to the first NUL (read_password_from_filename and getTokenSigningKey)."""
    content = bytes(content).split(b'\0', 1)[0]
    return scramble(content).split(b'\0', 1)[0]


def password_problem(password):
    """Why HTCondor would not read `password` (bytes) back whole, or None."""
    if not password:
        return 'is empty'
    if b'\0' in password:
        return 'contains a NUL byte'
    for i, b in enumerate(bytearray(password)):
        if b == SCRAMBLE_KEY[i % 4]:
            return ('has byte 0x%02x at position %d, which HTCondor\'s scramble turns into a NUL that ends the '
                    'password' % (b, i))
    return None


def generate(length):
    rng = random.SystemRandom()
    return ''.join(rng.choice(ALPHABET) for dummy in range(length)).encode('ascii')


class PoolPasswordFile(object):
    def __init__(self, module):
        self.module = module
        p = module.params
        self.path = p['path']
        self.rotate = p['rotate']
        self.length = p['length']
        self.password = None
        if p['password'] is not None:
            self.password = to_bytes(p['password'], errors='surrogate_or_strict')

    def fail(self, msg):
        self.module.fail_json(msg=msg, path=self.path)

    def read_existing(self):
        """(content, stat) of the existing file, or (None, None)."""
        try:
            st = os.stat(self.path)
        except OSError as e:
            if e.errno == errno.ENOENT:
                return None, None
            self.fail('cannot stat %s: %s' % (self.path, to_native(e)))
        if not os.path.isfile(self.path):
            self.fail('%s exists and is not a regular file: remove it or choose another path' % self.path)
        euid = os.geteuid()
        if st.st_uid != euid:
            owner = _user_name(st.st_uid)
            self.fail('%s is owned by %s, not by %s that runs this task: HTCondor reads a pool password file only '
                      'when the account that uses it owns it; run the task as that account (become_user) or '
                      'remove the file' % (self.path, owner, _user_name(euid)))
        try:
            with open(self.path, 'rb') as f:
                return f.read(), st
        except (IOError, OSError) as e:
            self.fail('cannot read %s: %s' % (self.path, to_native(e)))

    def run(self):
        if self.length < 16 or self.length > 1024:
            self.fail('length must be between 16 and 1024, not %d' % self.length)
        if self.password is not None:
            problem = password_problem(self.password)
            if problem:
                self.fail('the password given for %s %s: choose another one' % (self.path, problem))
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            if self.module.check_mode:
                # a task before this one would have created it
                self.module.exit_json(changed=True, path=self.path, generated=self.password is None, existed=False)
            self.fail('the directory of %s does not exist: create %s first (mode 0700)' % (self.path, directory))

        content, st = self.read_existing()
        existed = content is not None
        generated = False
        if self.password is not None:
            wanted = self.password
            write = not existed or decode(content) != wanted
        elif not existed or self.rotate:
            wanted = generate(self.length)
            write = generated = True
        else:
            if not decode(content):
                self.fail('%s holds no password (empty, or starts with a NUL byte): remove it, give a password, '
                          'or set rotate=true to write a new one' % self.path)
            wanted = None
            write = False

        fix_mode = existed and not write and (st.st_mode & 0o7777) != 0o600
        changed = write or fix_mode
        if changed and not self.module.check_mode:
            if write:
                try:
                    write_secret(self.path, encode(wanted))
                except (IOError, OSError) as e:
                    self.fail('cannot write %s: %s' % (self.path, to_native(e)))
            else:
                try:
                    os.chmod(self.path, 0o600)
                except OSError as e:
                    self.fail('cannot set the mode of %s to 0600: %s' % (self.path, to_native(e)))
        self.module.exit_json(changed=changed, path=self.path, generated=generated, existed=existed)


def write_secret(path, content):
    """Write `content` to `path` atomically; the file is 0600 from its creation (mkstemp) to its rename."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.rename(tmp, path)
    except BaseException:
        remove_quietly(tmp)
        raise
    fsync_dir(directory)


def _user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return 'uid %d' % uid


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', required=True),
            password=dict(type='str', no_log=True),
            rotate=dict(type='bool', default=False),
            length=dict(type='int', default=64),
        ),
        supports_check_mode=True,
    )
    PoolPasswordFile(module).run()


if __name__ == '__main__':
    main()
