# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a module's main() in-process with given arguments and get its exit_json / fail_json result.

    result = run_module(condor_export.main, {...}, queue=queue)                 # as this process (root)
    result = run_module(condor_import.main, {...}, queue=queue, user='ljtest-..')  # as a local user

Arguments go in through ansible.module_utils.testing.patch_module_args (ansible-core >= 2.19); the real
exit_json / fail_json run and their JSON is read back, so the result is what Ansible would receive (with
'failed', 'warnings', 'invocation'). A traceback escaping the module makes the test fail: the modules must
always answer with fail_json.

With user=..., the module runs in a forked child that switches to that user (groups, gid, uid, HOME), the
way `become_user` runs it; the child's result and the fake schedd's queue come back through a pipe, so
changes the module made to the queue are visible to the test afterwards.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import json
import os
import pickle
import pwd
import sys
import traceback

from ansible.module_utils.testing import patch_module_args

from unittest import mock


def _run_here(main, args, check_mode):
    """main() with the real exit_json / fail_json: their JSON is read back from stdout."""
    args = dict(args)
    if check_mode:
        args['_ansible_check_mode'] = True
    out = io.StringIO()
    with patch_module_args(args):
        with mock.patch.object(sys, 'stdout', out):
            try:
                main()
            except SystemExit:
                pass
            else:
                raise AssertionError('the module returned without exit_json or fail_json')
    text = out.getvalue()
    try:
        result = json.loads(text)
    except ValueError:
        raise AssertionError('the module did not answer with JSON:\n%s' % text)
    # ansible-core >= 2.19 sends warnings as structured summaries; the controller shows their message
    result['warnings'] = [_message(w) for w in result.get('warnings', [])]
    return result


def _message(warning):
    if isinstance(warning, dict):
        event = warning.get('event', warning)
        return event.get('msg', str(event))
    return warning


def run_module(main, args, queue=None, user=None, check_mode=False):
    if user is None:
        return _run_here(main, args, check_mode)
    pw = pwd.getpwnam(user)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(read_fd)
            os.setgroups(os.getgrouplist(pw.pw_name, pw.pw_gid))
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
            os.environ.update(HOME=pw.pw_dir, USER=pw.pw_name, LOGNAME=pw.pw_name)
            try:
                reply = {'result': _run_here(main, args, check_mode)}
            except BaseException:  # pylint: disable=broad-except
                reply = {'error': traceback.format_exc()}
            if queue is not None:
                reply['queue'] = queue.state()
            data = pickle.dumps(reply)
            while data:
                data = data[os.write(write_fd, data):]
            os.close(write_fd)
        except BaseException:  # pylint: disable=broad-except
            code = 1
        finally:
            os._exit(code)  # pylint: disable=protected-access
    os.close(write_fd)
    chunks = []
    while True:
        chunk = os.read(read_fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_fd)
    os.waitpid(pid, 0)
    if not chunks:
        raise AssertionError('the module run as %s died without an answer' % user)
    reply = pickle.loads(b''.join(chunks))
    if queue is not None and 'queue' in reply:
        queue.restore(reply['queue'])
    if 'error' in reply:
        raise AssertionError('the module run as %s raised:\n%s' % (user, reply['error']))
    return reply['result']
