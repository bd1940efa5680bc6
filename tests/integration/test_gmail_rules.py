# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""One table of Gmail's address and port -> TLS rules, held against the modules' checks and every role.

The rules live once, in plugins/module_utils/_validate.py; the roles reach them through the Jinja test
mailops.gmail.address and the filters mailops.gmail.smtp_security(_problem). Each case below must get
the same verdict from the module code and from each role's own checks (run through the role, as a
playbook would), and a refusal must name the role's variable.
"""

from __future__ import annotations

import pytest
from playbook import failures, run_playbook

from ansible_collections.mailops.gmail.plugins.filter.gmail import smtp_security
from ansible_collections.mailops.gmail.plugins.module_utils._validate import (
    ParameterError,
    check_address,
    resolve_security,
)

SECRET = "zyxwvutsrqponmlk"
GOOD_ADDRESS = "ops.alerts@gmail.com"

# address -> accepted?
ADDRESSES = {
    GOOD_ADDRESS: True,
    "a+tag@example.co.uk": True,
    "x_y@sub.domain-1.org": True,
    "ops.alerts": False,
    "@gmail.com": False,
    "a@b": False,
    "a b@gmail.com": False,
    "<a@gmail.com>": False,
    "Ops <ops@gmail.com>": False,
    "a@gmail.com, b@gmail.com": False,
    "a@-bad.com": False,
    "ops:x@gmail.com": False,
    "ops@-gmail-.com": False,
    "ops@gmail.com\n": False,
    "a@gmail.com\r\nRCPT TO:<x@y.z>": False,
}

# (port, security) -> the mode, or None when refused. security "auto" means "from the port".
PORTS = {
    (587, "auto"): "starttls",
    (465, "auto"): "tls",
    (587, "starttls"): "starttls",
    (465, "tls"): "tls",
    (2525, "starttls"): "starttls",
    (2465, "tls"): "tls",
    (465, "starttls"): None,
    (587, "tls"): None,
    (2525, "auto"): None,
    (70000, "tls"): None,
}

# Each role's names for the rules' inputs, and what else it needs to get as far as its checks.
ROLES = {
    "postfix_relay": {
        "username": "postfix_relay_username", "port": "postfix_relay_port", "security": "postfix_relay_security",
        "base": {"postfix_relay_password": SECRET},
    },
    "msmtp": {
        "username": "msmtp_username", "port": "msmtp_port", "security": "msmtp_tls_starttls",
        "base": {"msmtp_password": SECRET},
        # msmtp says tls_starttls true/false; unset (null) means "from the port".
        "spell": {"auto": None, "starttls": True, "tls": False},
        "spelling": {"starttls": "true", "tls": "false"},
    },
    "app_smtp": {
        "username": "app_smtp_username", "port": "app_smtp_port", "security": "app_smtp_security",
        "base": {"app_smtp_password": SECRET},
    },
}


def module_says_address(value):
    try:
        check_address(value, "username")
    except ParameterError:
        return False
    return True


def module_says_port(port, security, role):
    """The module's verdict and message, with the role's variable names."""
    names = ROLES[role]
    try:
        return resolve_security(port, None if security == "auto" else security, (names["port"], names["security"]),
                                names.get("spelling")), ""
    except ParameterError as exc:
        return None, str(exc)


def test_the_modules_follow_the_table():
    for value, accepted in ADDRESSES.items():
        assert module_says_address(value) is accepted, value
    for (port, security), mode in PORTS.items():
        assert module_says_port(port, security, "postfix_relay")[0] == mode, (port, security)


def test_the_filter_gives_the_modes_of_the_table():
    for (port, security), mode in PORTS.items():
        if mode:
            assert smtp_security(port, security) == mode
            assert smtp_security(str(port), security) == mode
    assert smtp_security(587, None) == "starttls" and smtp_security(465, False) == "tls"


def cases(role, tmp_path):
    """host name -> (host variables, expected failure text or None)."""
    names = ROLES[role]
    spell = names.get("spell", {})
    base = dict(names["base"])
    if role == "app_smtp":
        base["app_smtp_configs"] = [{"preset": "dotenv", "dest": str(tmp_path / "{{ inventory_hostname }}.env")}]
    found = {}
    for index, (value, accepted) in enumerate(ADDRESSES.items()):
        found[f"address{index}"] = ({**base, names["username"]: value}, None if accepted else names["username"])
    for index, ((port, security), _mode) in enumerate(PORTS.items()):
        variables = {**base, names["username"]: GOOD_ADDRESS, names["port"]: port,
                     names["security"]: spell.get(security, security)}
        found[f"port{index}"] = (variables, module_says_port(port, security, role)[1] or None)
    return found


def run_role(role, tmp_path, hosts):
    if role == "app_smtp":
        # Through the whole role in check mode: its checks need its presets and its look at the host.
        task = {"ansible.builtin.include_role": {"name": "mailops.gmail.app_smtp"}}
        return run_playbook(tmp_path, [{"hosts": "all", "gather_facts": False, "tasks": [task]}], ["--check"],
                            hosts=hosts)
    task = {"ansible.builtin.include_role": {"name": f"mailops.gmail.{role}", "tasks_from": "preflight"}}
    return run_playbook(tmp_path, [{"hosts": "all", "gather_facts": False, "tasks": [task]}], hosts=hosts)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_role_follows_the_table(role, tmp_path):
    table = cases(role, tmp_path)
    result = run_role(role, tmp_path, {host: variables for host, (variables, _dummy) in table.items()})
    found = failures(result)
    assert "Traceback" not in result.output and SECRET not in result.output
    for host, (variables, expected) in table.items():
        if expected is None:
            assert host not in found, (host, variables, found.get(host))
        else:
            assert host in found, (host, variables, "accepted by the role, refused by the modules")
            assert expected in found[host], (host, variables, found[host])
