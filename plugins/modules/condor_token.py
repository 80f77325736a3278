#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: condor_token
short_description: Fetch an HTCondor IDTOKEN from an access point and keep it in the user's tokens directory
version_added: 0.1.0
description:
  - Stores an IDTOKEN, readable by its owner only (mode C(0600)), as E(~/.condor/tokens.d/NAME) (or in
    O(tokens_dir)), where HTCondor tools and M(hepcloud.lumberjack.condor_job) (option C(token_file)) find it.
  - The token is given by value (O(token)), or fetched from the access point over ssh
    (O(access_point)). C(condor_token_fetch) runs there as the ssh user, who is authenticated by the access
    point's own means, and prints a token for that user.
  - Idempotent. A given O(token) equal to the stored one changes nothing. A token fetched over ssh is
    fetched only when there is no stored token, when the stored one has expired (or expires within
    O(renew_before) seconds), or with O(force=true); each fetch mints a new token.
  - The token is never logged and never returned; the module returns its claims (identity, issuer, expiry).
  - Needs nothing but the Python standard library (and an C(ssh) client for O(access_point)).
author:
  - HEPCloud Lumberjack maintainers (@hepcloud)
attributes:
  check_mode:
    support: full
    description: Reports whether the token would be stored, fetched or removed; nothing is fetched and no
      file changes.
  diff_mode:
    support: none
    description: No diff is produced (the content is a secret).
  platform:
    support: full
    platforms: posix
    description: Runs on the submitting host, as the user who submits.
options:
  name:
    description:
      - File name of the token in the tokens directory, usually the access point's host name.
      - A plain file name, without C(/).
    type: str
    required: true
  state:
    description:
      - V(present) stores the token; V(absent) removes the file.
    type: str
    choices: [present, absent]
    default: present
  token:
    description:
      - The token by value. Mutually exclusive with O(access_point).
    type: str
  access_point:
    description:
      - Where to fetch the token from, an ssh destination (C(host) or C(user@host)) on which C(condor_token_fetch)
        runs.
    type: str
  ssh_args:
    description:
      - Extra arguments for C(ssh) before the destination, for example C([-p, 2222, -i, ~/.ssh/ap_key]).
      - C(ssh) always runs with C(-o BatchMode=yes), so it never asks for a password.
    type: list
    elements: str
    default: []
  ssh_executable:
    description:
      - The ssh client to run.
    type: str
    default: ssh
  fetch_command:
    description:
      - The command that prints a token on the access point.
    type: str
    default: condor_token_fetch
  lifetime:
    description:
      - Requested lifetime of a fetched token in seconds (C(condor_token_fetch -lifetime)). The access point
        may cap it.
    type: int
  authz:
    description:
      - Authorizations to restrict a fetched token to (C(condor_token_fetch -authz), for example V(READ),
        V(WRITE)). Default all of the user's.
    type: list
    elements: str
    default: []
  renew_before:
    description:
      - Fetch a new token when the stored one expires within this many seconds.
    type: int
    default: 0
  force:
    description:
      - Fetch a new token even when the stored one is still valid.
    type: bool
    default: false
  tokens_dir:
    description:
      - The directory of the user's tokens. Default E(~/.condor/tokens.d) of the user running the module
        (C(SEC_TOKEN_DIRECTORY)'s default). Created with mode C(0700) when missing.
    type: path
notes:
  - HTCondor's C(condor_token_fetch) gives a user a token for the identity the access point authenticated
    them as; the access point's administrators may restrict it (C(SEC_TOKEN_FETCH_ALLOWED_SIGNING_KEYS), the
    C(TOKEN_FETCH) authorization).
seealso:
  - module: hepcloud.lumberjack.condor_job
'''

EXAMPLES = r'''
- name: Fetch a token from the access point over ssh into ~/.condor/tokens.d/ap.example.org
  hepcloud.lumberjack.condor_token:
    name: ap.example.org
    access_point: alice@ap.example.org
    lifetime: 604800
    renew_before: 86400

- name: Store a token kept in a vault
  hepcloud.lumberjack.condor_token:
    name: ap.example.org
    token: "{{ vault_ap_token }}"

- name: Forget the token
  hepcloud.lumberjack.condor_token:
    name: ap.example.org
    state: absent
'''

RETURN = r'''
path:
  description: Path of the token file.
  returned: always
  type: str
  sample: /home/alice/.condor/tokens.d/ap.example.org
fetched:
  description: Whether a token was fetched from the access point by this run (or would be, in check mode).
  returned: always
  type: bool
  sample: true
identity:
  description: The token's subject (C(sub) claim), the identity it authenticates as.
  returned: when a token is stored
  type: str
  sample: alice@ap.example.org
issuer:
  description: The token's issuer (C(iss) claim), the access point's trust domain.
  returned: when a token is stored
  type: str
  sample: ap.example.org
key_id:
  description: The signing key of the token (C(kid) header).
  returned: when a token is stored and names its key
  type: str
  sample: POOL
expires:
  description: Expiry of the token (C(exp) claim) in seconds since the epoch; absent for a token that does
    not expire.
  returned: when a token is stored and expires
  type: int
  sample: 1767225600
scope:
  description: The authorizations the token is limited to (C(scope) claim), when it is limited.
  returned: when a token is stored and limited
  type: str
  sample: condor:/READ condor:/WRITE
'''

import base64
import json
import os
import pwd
import shlex
import stat
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.hepcloud.lumberjack.plugins.module_utils._io import AtomicFile


class TokenError(Exception):
    pass


def _b64json(part, what):
    try:
        padded = part + '=' * (-len(part) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode('ascii')).decode('utf-8'))
    except (ValueError, TypeError, UnicodeError) as e:
        raise TokenError('its %s is not base64url-encoded JSON (%s)' % (what, e))


def parse_token(text):
    """The claims of an IDTOKEN (a JSON Web Token: header.payload.signature). Raises TokenError."""
    parts = text.strip().split('.')
    if len(parts) != 3 or not all(parts):
        raise TokenError('it is not a JSON Web Token (three base64url parts separated by dots)')
    header = _b64json(parts[0], 'header')
    claims = _b64json(parts[1], 'payload')
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenError('its header or payload is not a JSON object')
    claims = dict(claims)
    if header.get('kid'):
        claims['kid'] = header['kid']
    return claims


def token_lines(text):
    """The token in a token file or in condor_token_fetch's output (comments and blank lines dropped)."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith('#')]
    return lines


class TokenManager(object):

    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.check_mode = module.check_mode
        name = self.p['name']
        if not name or '/' in name or name in ('.', '..'):
            module.fail_json(msg='name %r must be a plain file name (the token file in the tokens directory)' % name)
        self.tokens_dir = self.p['tokens_dir'] or os.path.join(pwd.getpwuid(os.geteuid()).pw_dir, '.condor', 'tokens.d')
        self.path = os.path.join(self.tokens_dir, name)

    def fail(self, msg):
        self.module.fail_json(msg=msg, path=self.path)

    # -- the stored token ------------------------------------------------------------------------------
    def stored(self):
        """(token text or None, mode or None)."""
        try:
            st = os.stat(self.path)
        except OSError:
            return None, None
        if not stat.S_ISREG(st.st_mode):
            self.fail('%s exists and is not a regular file: remove it' % self.path)
        try:
            with open(self.path) as f:
                lines = token_lines(f.read())
        except (IOError, OSError) as e:
            self.fail('cannot read %s: %s' % (self.path, to_native(e)))
        return ('\n'.join(lines) if lines else None), stat.S_IMODE(st.st_mode)

    def still_valid(self, token):
        try:
            claims = parse_token(token)
        except TokenError:
            return False
        exp = claims.get('exp')
        return exp is None or float(exp) > time.time() + self.p['renew_before']

    # -- fetching --------------------------------------------------------------------------------------
    def fetch(self):
        p = self.p
        ssh = self.module.get_bin_path(p['ssh_executable'], required=False) or p['ssh_executable']
        if not os.path.isabs(ssh) or not os.access(ssh, os.X_OK):
            self.fail('ssh client %r not found: install openssh-client or set ssh_executable' % p['ssh_executable'])
        remote = [p['fetch_command']]
        if p['lifetime'] is not None:
            remote += ['-lifetime', str(p['lifetime'])]
        for authz in p['authz']:
            remote += ['-authz', authz]
        argv = [ssh, '-o', 'BatchMode=yes'] + list(p['ssh_args']) + [p['access_point'], ' '.join(shlex.quote(a) for a in remote)]
        rc, out, err = self.module.run_command(argv)
        lines = token_lines(out)
        if rc != 0:
            self.fail('fetching a token from %s failed: %s exited with %d: %s. Check that ssh %s works without a '
                      'password and that %s runs there'
                      % (p['access_point'], remote[0], rc, err.strip()[-500:] or 'no message', p['access_point'],
                         p['fetch_command']))
        if len(lines) != 1:
            self.fail('fetching a token from %s: %s printed %d lines, expected one token (stderr: %s)'
                      % (p['access_point'], p['fetch_command'], len(lines), err.strip()[-300:]))
        try:
            parse_token(lines[0])
        except TokenError as e:
            self.fail('fetching a token from %s: what %s printed is not a token: %s' % (
                p['access_point'], p['fetch_command'], e))
        return lines[0]

    # -- writing ---------------------------------------------------------------------------------------
    def write(self, token):
        if not os.path.isdir(self.tokens_dir):
            try:
                os.makedirs(self.tokens_dir, 0o700)
            except OSError as e:
                self.fail('cannot create the tokens directory %s: %s' % (self.tokens_dir, to_native(e)))
        try:
            with AtomicFile(self.path, mode=0o600, binary=False) as f:
                f.write(token + '\n')
            os.chmod(self.path, 0o600)
        except (IOError, OSError) as e:
            self.fail('cannot write %s: %s' % (self.path, to_native(e)))

    def describe(self, token):
        out = {}
        try:
            claims = parse_token(token)
        except TokenError:
            return out
        for key, name in (('sub', 'identity'), ('iss', 'issuer'), ('kid', 'key_id'), ('scope', 'scope')):
            if claims.get(key) is not None:
                out[name] = claims[key]
        if claims.get('exp') is not None:
            out['expires'] = int(claims['exp'])
        return out

    # -- states ----------------------------------------------------------------------------------------
    def present(self):
        p = self.p
        current, mode = self.stored()
        fetched = False
        if p['token'] is not None:
            lines = token_lines(p['token'])
            if len(lines) != 1:
                self.fail('token holds %d lines of text, expected one token' % len(lines))
            try:
                parse_token(lines[0])
            except TokenError as e:
                self.fail('token is not an IDTOKEN: %s' % e)
            wanted = lines[0]
        elif current is not None and not p['force'] and self.still_valid(current):
            wanted = current
        else:
            fetched = True
            if self.check_mode:
                why = 'no token stored' if current is None else ('forced' if p['force'] else 'the stored token expires')
                self.module.exit_json(changed=True, path=self.path, fetched=True,
                                      msg='would fetch a token from %s (%s)' % (p['access_point'], why))
            wanted = self.fetch()
        changed = wanted != current or mode != 0o600
        if changed and not self.check_mode:
            self.write(wanted)
        result = dict(changed=changed, path=self.path, fetched=fetched)
        result.update(self.describe(wanted))
        if changed and wanted == current:
            result['msg'] = 'token file mode %04o made 0600' % mode
        self.module.exit_json(**result)

    def absent(self):
        exists = os.path.lexists(self.path)
        if exists and not self.check_mode:
            try:
                os.unlink(self.path)
            except OSError as e:
                self.fail('cannot remove %s: %s' % (self.path, to_native(e)))
        self.module.exit_json(changed=exists, path=self.path, fetched=False)

    def run(self):
        getattr(self, self.p['state'])()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str', required=True),
            state=dict(type='str', default='present', choices=['present', 'absent']),
            token=dict(type='str', no_log=True),
            access_point=dict(type='str'),
            ssh_args=dict(type='list', elements='str', default=[]),
            ssh_executable=dict(type='str', default='ssh'),
            fetch_command=dict(type='str', default='condor_token_fetch'),
            lifetime=dict(type='int'),
            authz=dict(type='list', elements='str', default=[]),
            renew_before=dict(type='int', default=0),
            force=dict(type='bool', default=False),
            tokens_dir=dict(type='path'),
        ),
        mutually_exclusive=[('token', 'access_point')],
        required_if=[('state', 'present', ('token', 'access_point'), True)],
        supports_check_mode=True,
    )
    TokenManager(module).run()


if __name__ == '__main__':
    main()
