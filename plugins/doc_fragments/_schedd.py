# -*- coding: utf-8 -*-
# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # Options shared by the modules that talk to a condor_schedd (plugins/module_utils/_schedd.py):
    # hepcloud.lumberjack._schedd.connection. DOCUMENTATION is the same text plus the notes of the Lumberjack
    # export and import (doc fragments must be plain string literals; a unit test keeps the two in step).
    CONNECTION = r'''
options:
  schedd_name:
    description:
      - Name of the schedd (its C(Name) in the collector), for a host with more than one.
      - Without it, the host's own schedd of the configured pool is used.
    type: str
  pool:
    description:
      - Collector of the pool, as C(host[:port]), used to locate the schedd.
      - Without it, C(COLLECTOR_HOST) of the HTCondor configuration is used.
    type: str
    aliases:
      - collector
  condor_config:
    description:
      - Path of the HTCondor configuration file the bindings read (C(CONDOR_CONFIG)).
      - Without it, the C(CONDOR_CONFIG) environment variable, else the standard locations; when none
        exists, C(/dev/null) and then O(pool) is required.
    type: path
  token_dir:
    description:
      - Directory of IDTOKEN files to authenticate with (C(SEC_TOKEN_DIRECTORY)).
      - When a token is given (here, in O(token_file) or in O(idtoken)) the client offers only IDTOKENS
        authentication, so the schedd acts for the token's identity and not for the local Unix user.
      - Files in it that other users may read are reported in a warning; make them private (C(chmod 600)).
    type: path
  token_file:
    description:
      - A file holding one IDTOKEN to authenticate with (such as C(~/.condor/tokens.d/NAME)).
      - It must be readable by its owner only (mode C(0600)); a token file that other users may read is
        refused. The token is copied into a private temporary directory for the run, so no other token of
        the user is offered.
    type: path
  idtoken:
    description:
      - An IDTOKEN, by value, to authenticate with. It is written to a private temporary directory for
        the run and removed afterwards.
    type: str
  timeout:
    description:
      - Seconds to wait for the collector and for schedd queries (C(QUERY_TIMEOUT), C(Q_QUERY_TIMEOUT)).
      - The export, un-export and import commands themselves use HTCondor's own fixed socket timeout.
    type: int
    default: 20
requirements:
  - The PyPI package C(htcondor) (module C(htcondor2)), version 24 or later, on the managed host, in the
    Python that runs the module.
'''

    DOCUMENTATION = r'''
options:
  schedd_name:
    description:
      - Name of the schedd (its C(Name) in the collector), for a host with more than one.
      - Without it, the host's own schedd of the configured pool is used.
    type: str
  pool:
    description:
      - Collector of the pool, as C(host[:port]), used to locate the schedd.
      - Without it, C(COLLECTOR_HOST) of the HTCondor configuration is used.
    type: str
    aliases:
      - collector
  condor_config:
    description:
      - Path of the HTCondor configuration file the bindings read (C(CONDOR_CONFIG)).
      - Without it, the C(CONDOR_CONFIG) environment variable, else the standard locations; when none
        exists, C(/dev/null) and then O(pool) is required.
    type: path
  token_dir:
    description:
      - Directory of IDTOKEN files to authenticate with (C(SEC_TOKEN_DIRECTORY)).
      - When a token is given (here, in O(token_file) or in O(idtoken)) the client offers only IDTOKENS
        authentication, so the schedd acts for the token's identity and not for the local Unix user.
      - Files in it that other users may read are reported in a warning; make them private (C(chmod 600)).
    type: path
  token_file:
    description:
      - A file holding one IDTOKEN to authenticate with (such as C(~/.condor/tokens.d/NAME)).
      - It must be readable by its owner only (mode C(0600)); a token file that other users may read is
        refused. The token is copied into a private temporary directory for the run, so no other token of
        the user is offered.
    type: path
  idtoken:
    description:
      - An IDTOKEN, by value, to authenticate with. It is written to a private temporary directory for
        the run and removed afterwards.
    type: str
  timeout:
    description:
      - Seconds to wait for the collector and for schedd queries (C(QUERY_TIMEOUT), C(Q_QUERY_TIMEOUT)).
      - The export, un-export and import commands themselves use HTCondor's own fixed socket timeout.
    type: int
    default: 20
requirements:
  - The PyPI package C(htcondor) (module C(htcondor2)), version 24 or later, on the managed host, in the
    Python that runs the module.
notes:
  - The module runs on the host of the schedd. The export and import directories are read and written there,
    by the schedd itself acting as the job owner.
  - Before any call that changes the queue, the module asks the schedd which identity it authenticates the
    module as, and goes on only when that identity is a queue super user (C(root), C(condor)) or owns the
    jobs. A user the schedd has never seen a job from makes an HTCondor 25 schedd crash on these commands.
'''
