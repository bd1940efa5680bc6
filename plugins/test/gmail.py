# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Gmail's address rules for the roles: the checks the modules make (plugins/module_utils/_validate.py)."""

from __future__ import annotations

from ansible_collections.mailops.gmail.plugins.module_utils import _validate


def address(value):
    """True for one plain address, local@domain.tld (no name, brackets, spaces or line breaks)."""
    return _validate.is_address(value)


def in_domains(value, domains):
    """True when a host name, or an address's domain, is one of ``domains`` or a name under one."""
    return isinstance(value, str) and _validate.in_domains(value, domains or [])


def consumer_domain(value):
    """True for consumer Gmail's domains (gmail.com, googlemail.com) or an address in one."""
    return _validate.is_consumer_domain(value)


class TestModule:
    def tests(self):
        return {"address": address, "in_domains": in_domains, "consumer_domain": consumer_domain}
