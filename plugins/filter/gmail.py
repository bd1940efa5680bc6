# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Gmail's port -> TLS rule for the roles: a few lines around plugins/module_utils/_validate.py."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.mailops.gmail.plugins.module_utils import _validate

# msmtp writes the mode as tls_starttls on/off (true/false in the role's variables).
_BOOLEAN_MODES = {True: "starttls", False: "tls"}


def _mode(security):
    if isinstance(security, bool):
        return _BOOLEAN_MODES[security]
    return None if security in (None, "", "auto") else security


def _port(port):
    if isinstance(port, str) and port.strip().isdigit():
        return int(port)
    return port


def smtp_security_problem(port, security="auto", port_var="port", security_var="security", spelling=None):
    """What is wrong with this port and TLS mode, naming the variables and the fix; '' when nothing is.
    ``spelling`` says how the security variable writes each mode ({"starttls": "true", "tls": "false"})."""
    try:
        _validate.resolve_security(_port(port), _mode(security), (port_var, security_var), spelling)
    except _validate.ParameterError as exc:
        return str(exc)
    return ""


def smtp_security(port, security="auto"):
    """The TLS mode to configure, starttls or tls: from the port when security is auto (or none), else
    security itself; a pair that cannot work is an error (the roles' preflights report it first)."""
    try:
        return _validate.resolve_security(_port(port), _mode(security))
    except _validate.ParameterError as exc:
        raise AnsibleFilterError(f"smtp_security: {exc}") from None


def relay_domains(domains, identity=""):
    """The Workspace relay's domains, as the modules take them: ``domains``, else the address's domain."""
    return _validate.workspace_domains(domains, identity if isinstance(identity, str) else "")


class FilterModule:
    def filters(self):
        return {"smtp_security": smtp_security, "smtp_security_problem": smtp_security_problem,
                "relay_domains": relay_domains}
