# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Gmail's address rule for the roles: the check the modules make (plugins/module_utils/_validate.py)."""

from __future__ import annotations

from ansible_collections.mailops.gmail.plugins.module_utils import _validate


def address(value):
    """True for one plain address, local@domain.tld (no name, brackets, spaces or line breaks)."""
    return _validate.is_address(value)


class TestModule:
    def tests(self):
        return {"address": address}
