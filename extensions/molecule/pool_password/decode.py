# Copyright (c) hepcloud.lumberjack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Print the length and the SHA-256 of the pool password in the file named by the first argument.

HTCondor's format (pool_password_file): the password XORed with the repeating key DE AD BE EF."""

import hashlib
import sys

KEY = b'\xde\xad\xbe\xef'
with open(sys.argv[1], 'rb') as f:
    data = f.read()
password = bytes(b ^ KEY[i % len(KEY)] for i, b in enumerate(data))
print(len(password), hashlib.sha256(password).hexdigest())
