# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Gmail's rules for addresses and ports, and the argument checks built on them.

The one place these rules live: the modules call the check_* functions, and the roles reach the same
rules through the Jinja test mailops.gmail.address and the filters mailops.gmail.smtp_security and
mailops.gmail.smtp_security_problem (plugins/test/gmail.py, plugins/filter/gmail.py). Messages name the
parameter and the fix, never a secret value.
"""

from __future__ import annotations

import re
import ssl

# Pragmatic address check: local@domain.tld, no spaces, no angle brackets, one @.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_ADDRESS = re.compile(rf'[^@\s<>()",;:\\\[\]]+@{_LABEL}(?:\.{_LABEL})+')

# Gmail's submission ports and their TLS modes: STARTTLS on 587, TLS from the first byte on 465.
PORT_SECURITY = {587: "starttls", 465: "tls"}
_SECURITY_MEANS = {"starttls": "plain connection upgraded with STARTTLS", "tls": "TLS from the first byte"}


class ParameterError(ValueError):
    """Bad module input; the message names the parameter and says how to fix it."""


def check_no_crlf(value, param):
    """Refuse CR, LF and NUL in a string (header and command injection)."""
    if isinstance(value, str) and ("\r" in value or "\n" in value or "\0" in value):
        raise ParameterError(f"{param} must not contain CR, LF or NUL characters: remove the line break")
    return value


def check_strings(params, prefix=""):
    """check_no_crlf on every string in a (nested) parameter dict or list."""
    for key, value in params.items() if isinstance(params, dict) else enumerate(params):
        name = f"{prefix}{key}" if isinstance(params, dict) else "{}[{}]".format(prefix.rstrip("."), key)
        if isinstance(value, (dict, list)):
            check_strings(value, name + ".")
        else:
            check_no_crlf(value, name)


def is_address(value):
    """One plain address, local@domain.tld: no name, brackets, spaces, line breaks or second address."""
    return isinstance(value, str) and _ADDRESS.fullmatch(value) is not None


# Consumer Gmail's domains: no Workspace domain, never the Workspace relay's.
CONSUMER_DOMAINS = ("gmail.com", "googlemail.com")


def is_consumer_domain(domain):
    """Whether a domain (or an address's) is consumer Gmail's, which smtp-relay.gmail.com relays for none of."""
    return isinstance(domain, str) and domain.rpartition("@")[2].strip().lower().rstrip(".") in CONSUMER_DOMAINS


def workspace_domains(domains, identity=""):
    """The Workspace relay's domains: ``domains`` (trimmed, lower case), else the domain of the address
    ``identity``; [] when neither gives one."""
    found = [str(d).strip().lower().rstrip(".") for d in domains or [] if d and str(d).strip()]
    if not found and "@" in (identity or ""):
        found = [identity.rpartition("@")[2].strip().lower()]
    return found


def in_domains(name, domains):
    """Whether a host name, or an address's domain, is one of ``domains`` or under one (the Workspace relay's rule
    for the EHLO name and the sender)."""
    name = (name or "").rpartition("@")[2].strip().lower().rstrip(".")
    return any(name == d or name.endswith("." + d) for d in (str(d).strip().lower().rstrip(".") for d in domains))


def check_address(value, param):
    check_no_crlf(value, param)
    if not is_address(value):
        raise ParameterError(f"{param} must be a full e-mail address such as ops.alerts@gmail.com, got {value!r}")
    return value


def check_port(value, param):
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise ParameterError(f"{param} must be a TCP port between 1 and 65535, got {value!r}")
    return value


def resolve_security(port, security, param_names=("port", "security"), spelling=None):
    """The TLS mode for an SMTP port: 587 -> starttls, 465 -> tls; other ports need it stated.

    ``security`` None (or "auto") means "from the port". ``spelling`` maps a mode to how the caller's
    parameter writes it (msmtp's tls_starttls: {"starttls": "true", "tls": "false"}), for the messages.
    """
    port_name, security_name = param_names
    said = dict(spelling or {})

    def spell(mode):
        return said.get(mode, mode)

    check_port(port, port_name)
    expected = PORT_SECURITY.get(port)
    if security in (None, "auto"):
        if expected is None:
            raise ParameterError(
                f"{port_name}={port} needs {security_name} stated: "
                + " or ".join(f"{spell(mode)} ({means})" for mode, means in _SECURITY_MEANS.items())
            )
        return expected
    if expected is not None and security != expected:
        other = [p for p, s in PORT_SECURITY.items() if s == security]
        hint = f" or use {port_name}={other[0]} for {spell(security)}" if other else ""
        raise ParameterError(
            f"{security_name}={spell(security)} does not work with {port_name}={port}: "
            f"port {port} uses {security_name}={spell(expected)}{hint}"
        )
    return security


def check_readable_file(path, param):
    """A CA bundle: readable, and holding at least one PEM certificate that OpenSSL loads."""
    if path is None:
        return None
    check_no_crlf(path, param)
    try:
        with open(path, "rb"):
            pass
    except (OSError, UnicodeError) as exc:
        raise ParameterError(
            f"{param}={path} cannot be read ({exc.strerror or exc}): give a readable PEM CA bundle"
        ) from None
    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        raise ParameterError(
            f"{param}={path} holds no certificate OpenSSL can load ({reason}): give a PEM CA bundle "
            "(-----BEGIN CERTIFICATE----- blocks)"
        ) from None
    return path
