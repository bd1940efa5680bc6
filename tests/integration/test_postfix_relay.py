# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Container-free tests of the postfix_relay role: bad input is refused before the host is
touched, and the templates render what docs/postfix_relay.md promises.

The real relay (Postfix against the emulator) is tested by the molecule scenarios in
extensions/molecule/postfix_relay*.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from playbook import failures, run_playbook

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "postfix_relay"
SECRET = "zyxwvutsrqponmlk"  # a made-up app password that must never appear in output


def _debian_major():
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_ID="):
            return int(line.split("=", 1)[1].strip('"').split(".")[0])
    return 0


# Without Postfix the role writes the database type this Debian's Postfix uses.
DB_TYPE = "lmdb" if _debian_major() >= 13 else "hash"


GOOD = {"postfix_relay_username": "ops.alerts@gmail.com", "postfix_relay_password": SECRET}

# host name -> (variables, text the failure must contain). Every case fails before any
# task touches the host: argument_specs validation or tasks/preflight.yml.
BAD_INPUT = {
    "no_username": ({"postfix_relay_password": SECRET}, "postfix_relay_username"),
    "no_password": ({"postfix_relay_username": "ops.alerts@gmail.com"}, "postfix_relay_password"),
    "empty_password": ({**GOOD, "postfix_relay_password": ""}, "postfix_relay_password must be"),
    "password_crlf": ({**GOOD, "postfix_relay_password": SECRET + "\r\nRCPT TO:<x@y>"}, "postfix_relay_password must"),
    "not_an_address": ({**GOOD, "postfix_relay_username": "ops.alerts"}, "postfix_relay_username must be"),
    "address_newline": ({**GOOD, "postfix_relay_username": "ops@gmail.com\n"}, "postfix_relay_username must be"),
    "address_space": ({**GOOD, "postfix_relay_username": "ops alerts@gmail.com"}, "postfix_relay_username must be"),
    "bad_from": ({**GOOD, "postfix_relay_from": "noreply"}, "postfix_relay_from must be"),
    "bad_root_alias": ({**GOOD, "postfix_relay_root_alias": "a@b.c\nBcc: x@y.z"}, "postfix_relay_root_alias must"),
    "bad_test_to": ({**GOOD, "postfix_relay_test_to": "root"}, "postfix_relay_test_to must"),
    "465_starttls": ({**GOOD, "postfix_relay_port": 465, "postfix_relay_security": "starttls"},
                     "postfix_relay_security=starttls does not work with postfix_relay_port=465"),
    "587_tls": ({**GOOD, "postfix_relay_port": 587, "postfix_relay_security": "tls"},
                "postfix_relay_security=tls does not work with postfix_relay_port=587"),
    "2525_auto": ({**GOOD, "postfix_relay_port": 2525}, "postfix_relay_port=2525 needs postfix_relay_security stated"),
    "port_range": ({**GOOD, "postfix_relay_port": 70000, "postfix_relay_security": "tls"}, "a TCP port"),
    "port_text": ({**GOOD, "postfix_relay_port": "smtp"}, "postfix_relay_port"),
    "bad_security": ({**GOOD, "postfix_relay_security": "ssl"}, "postfix_relay_security"),
    "insecure_tls": ({**GOOD, "postfix_relay_tls_security_level": "encrypt"}, "postfix_relay_allow_insecure_tls"),
    "unknown_level": ({**GOOD, "postfix_relay_tls_security_level": "dane"}, "postfix_relay_tls_security_level"),
    "host_crlf": ({**GOOD, "postfix_relay_host": "smtp.gmail.com\r\nx"}, "postfix_relay_host must"),
    "host_space": ({**GOOD, "postfix_relay_host": "smtp.gmail.com evil"}, "postfix_relay_host must"),
    "host_port": ({**GOOD, "postfix_relay_host": "[smtp.gmail.com]:587"}, "postfix_relay_host must"),
    "rate_delay": ({**GOOD, "postfix_relay_rate_delay": "1 sec"}, "postfix_relay_rate_delay"),
    "extra_name": ({**GOOD, "postfix_relay_main_cf_extra": {"bad name": "x"}}, "postfix_relay_main_cf_extra"),
    "extra_crlf": ({**GOOD, "postfix_relay_main_cf_extra": {"smtp_helo_name": "a\nrelayhost = x"}}, "one-line"),
    "extra_tls_none": ({**GOOD, "postfix_relay_main_cf_extra": {"smtp_tls_security_level": "none"}},
                       "postfix_relay_main_cf_extra: smtp_tls_security_level is set by the role"),
    "extra_sasl": ({**GOOD, "postfix_relay_main_cf_extra": {"relayhost": "[evil.example]:25",
                                                            "smtp_sasl_tls_security_options": "noanonymous"}},
                   "relayhost, smtp_sasl_tls_security_options are set by the role"),
    "password_dict": ({**GOOD, "postfix_relay_password": {"value": SECRET}}, "postfix_relay_password must be"),
    "bad_mode": ({**GOOD, "postfix_relay_mode": "relay"}, "postfix_relay_mode"),
    "hub_no_password": ({"postfix_relay_mode": "hub", "postfix_relay_username": "ops.alerts@gmail.com"},
                        "required in hub mode"),
    "hub_port_25": ({**GOOD, "postfix_relay_mode": "hub", "postfix_relay_hub_port": 25}, "other than 25"),
    "hub_negative_limit": ({**GOOD, "postfix_relay_mode": "hub", "postfix_relay_daily_limit": -1},
                           "postfix_relay_daily_limit"),
    "revoked_md5": ({**GOOD, "postfix_relay_mode": "hub",
                     "postfix_relay_revoked_certificates": [":".join(["ab"] * 16)]},
                    "postfix_relay_revoked_certificates must list SHA-256 fingerprints"),
    "satellite_no_hubs": ({"postfix_relay_mode": "satellite", "postfix_relay_username": "ops.alerts@gmail.com"},
                          "postfix_relay_hubs"),
    "satellite_hub_port": ({"postfix_relay_mode": "satellite", "postfix_relay_hubs": ["[relay1]:587"],
                            "postfix_relay_root_alias": "ops.alerts@gmail.com"}, "no brackets or ports"),
    "satellite_no_alias": ({"postfix_relay_mode": "satellite", "postfix_relay_hubs": ["relay1"]},
                           "postfix_relay_root_alias or postfix_relay_username"),
    "bad_alias": ({**GOOD, "postfix_relay_sender_aliases": ["noreply"]}, "postfix_relay_sender_aliases must"),
    # The Workspace relay: no password needs a sender of the domain; the senders must be in the domains.
    "relay_no_sender": ({"postfix_relay_service": "workspace_relay"},
                        "postfix_relay_from (or postfix_relay_username) must be an address of your Workspace domain"),
    "relay_gmail_domain": ({**GOOD, "postfix_relay_service": "workspace_relay"}, "gmail.com is no Workspace domain"),
    "relay_alias_outside": ({"postfix_relay_service": "workspace_relay", "postfix_relay_from": "alerts@example.com",
                             "postfix_relay_sender_aliases": ["noreply@example.org"]},
                            "postfix_relay_from and postfix_relay_sender_aliases must be addresses of your Workspace"
                            " domains (example.com)"),
    "bad_service": ({**GOOD, "postfix_relay_service": "smtp-relay"}, "postfix_relay_service"),
}


def test_bad_input_is_refused_with_the_variable_named(tmp_path):
    play = [{"hosts": "all", "gather_facts": False, "roles": ["mailops.gmail.postfix_relay"]}]
    hosts = {name: case[0] for name, case in BAD_INPUT.items()}
    result = run_playbook(tmp_path, play, hosts=hosts)
    assert result.rc != 0
    found = failures(result)
    assert found.keys() == BAD_INPUT.keys(), result.output[-3000:]
    for name, (_dummy, expected) in BAD_INPUT.items():
        assert expected in found[name], (name, found[name])
        assert ("Workspace domain" in found[name]) == name.startswith("relay_"), (name, found[name])
        assert "Traceback" not in found[name]
    # Nothing ran after the checks: every task seen is argument validation or preflight.
    tasks = {entry["task"] for entry in result.tasks}
    assert all("alidat" in name or name.split(" : ")[-1].startswith("Check ") for name in tasks), tasks


# An action that reports the facts of another system, as fact gathering on it would.
OTHER_SYSTEM = """
from ansible.plugins.action import ActionBase

class ActionModule(ActionBase):
    def run(self, tmp=None, task_vars=None):
        facts = {"distribution": "Ubuntu", "distribution_major_version": "24", "os_family": "Debian",
                 "fqdn": "relay.example.test", "hostname": "relay"}
        return {"changed": False, "ansible_facts": facts}
"""


def test_an_untested_system_is_refused_before_anything_is_done(tmp_path):
    (tmp_path / "action_plugins").mkdir()
    (tmp_path / "action_plugins" / "other_system.py").write_text(OTHER_SYSTEM)
    play = [{"hosts": "localhost", "gather_facts": False, "vars": GOOD,
             "tasks": [{"name": "Look like Ubuntu 24", "other_system": {}},
                       {"ansible.builtin.include_role": {"name": "mailops.gmail.postfix_relay"}}]}]
    result = run_playbook(tmp_path, play, env={"ANSIBLE_ACTION_PLUGINS": str(tmp_path / "action_plugins")})
    assert result.rc != 0
    assert "postfix_relay supports Debian 12 and 13 (bookworm, trixie); localhost runs Ubuntu 24" in result.stdout
    ran = [entry["task"].split(" : ")[-1] for entry in result.tasks]
    assert ran[-1] == "Refuse a system the role is not tested on", ran
    assert not any(name.startswith("Look at") for name in ran)


def test_relay_without_password_needs_a_helo_name_in_the_domains(tmp_path):
    """Checked after the facts (the default HELO name is the FQDN), before anything is looked at or changed."""
    relay = {"postfix_relay_service": "workspace_relay", "postfix_relay_from": "alerts@example.com"}
    hosts = {"outside": {**relay, "postfix_relay_myhostname": "web1.example.org"},
             "extra": {**relay, "postfix_relay_myhostname": "web1.example.com",
                       "postfix_relay_main_cf_extra": {"smtp_helo_name": "mail.example.org"}},
             "auth": {**relay, "postfix_relay_myhostname": "web1.example.org",
                      "postfix_relay_username": "alerts@example.com", "postfix_relay_password": SECRET,
                      "postfix_relay_test_to": "x"}}
    play = [{"hosts": "all", "gather_facts": False, "roles": ["mailops.gmail.postfix_relay"]}]
    result = run_playbook(tmp_path, play, hosts=hosts)
    found = failures(result)
    assert found["outside"].startswith("postfix_relay_myhostname (web1.example.org, the HELO name) is not in your "
                                       "Workspace domains (example.com)"), found
    assert found["extra"].startswith("postfix_relay_main_cf_extra.smtp_helo_name (mail.example.org, the HELO name)")
    # With a password the relay knows the domain by the login: the HELO name is free (this host then
    # fails on the next check, the bad test address, to stop before anything is done).
    assert "postfix_relay_test_to must" in found["auth"] and "HELO" not in found["auth"], found
    ran = {entry["task"].split(" : ")[-1] for entry in result.tasks}
    assert ran <= {"Check the role's variables", "Gather the facts the role needs",
                   "Check that the Workspace relay can tell the domain by the HELO name"} | {
                       name for name in ran if "alidat" in name}, ran
    assert SECRET not in result.output


def test_password_never_printed_on_refusal(tmp_path):
    play = [{"hosts": "all", "gather_facts": False, "roles": ["mailops.gmail.postfix_relay"]}]
    hosts = {name: BAD_INPUT[name][0] for name in ("password_crlf", "insecure_tls", "465_starttls", "no_username")}
    result = run_playbook(tmp_path, play, ["-vvv", "--diff"], hosts=hosts)
    assert result.rc != 0 and "postfix_relay_allow_insecure_tls" in result.stdout
    assert SECRET not in result.output


# host name -> variables; each renders the role's templates into <tmp>/<host>/. What the role reads
# from the host comes from its own probe, run here on this machine (no Postfix: the database type is
# the one the distribution's Postfix would use, hash on Debian 12; lmdb on 13 is molecule's).
RENDER = {
    "default": {**GOOD},
    "port465": {
        **GOOD,
        "postfix_relay_port": 465,
        "postfix_relay_from": "noreply@example.com",
        "postfix_relay_root_alias": "team.reports@gmail.com",
        "postfix_relay_sender_rewrite": "all",
        "postfix_relay_inet_protocols": "ipv4",
        "postfix_relay_main_cf_extra": {"smtp_helo_name": "relay.example.test"},
    },
    "norewrite": {
        **GOOD,
        "postfix_relay_sender_rewrite": "none",
        "postfix_relay_tls_connection_reuse": False,
    },
}
FLEET = {}
REVOKED = ":".join(["ab"] * 32)
RENDER["hub"] = {**GOOD, **FLEET, "postfix_relay_mode": "hub", "postfix_relay_daily_limit": 5,
                 "postfix_relay_sender_aliases": ["noreply@example.com"],
                 "postfix_relay_revoked_certificates": [REVOKED]}
RENDER["hub_nolimit"] = {**GOOD, **FLEET, "postfix_relay_mode": "hub", "postfix_relay_daily_limit": 0}
# The Workspace relay: known by address (no secret on the host), and a hub that logs in.
RENDER["relay"] = {"postfix_relay_service": "workspace_relay", "postfix_relay_from": "alerts@example.com",
                   "postfix_relay_domains": ["example.com", "example.test"]}
RENDER["relay_hub"] = {**FLEET, "postfix_relay_service": "workspace_relay", "postfix_relay_mode": "hub",
                       "postfix_relay_username": "alerts@example.com", "postfix_relay_password": SECRET}
# A satellite gets the address (for root's mail) but no password.
RENDER["satellite"] = {**FLEET, "postfix_relay_mode": "satellite", "postfix_relay_username": "ops.alerts@gmail.com",
                       "postfix_relay_hubs": ["relay1.example.net", "relay2.example.net", "relay3.example.net"]}
TEMPLATES = ("main.cf", "master.cf", "sasl_passwd", "sender_canonical", "recipient_canonical", "mailops-budget.conf",
             "revoked", "relay_replies")
# Written only where the role writes them.
WRITTEN_WHEN = {"sasl_passwd": "__postfix_relay_has_credential | bool",
                "relay_replies": "__postfix_relay_to_relay | bool"}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("render")
    tasks = [
        {
            "name": "Render " + name,
            "ansible.builtin.template": {
                "src": str(ROLE / "templates" / f"{name}.j2"),
                "dest": str(tmp_path) + "/{{ inventory_hostname }}/" + name,
                "mode": "0600",
            },
            **({"when": WRITTEN_WHEN[name]} if name in WRITTEN_WHEN else {}),
        }
        for name in TEMPLATES
    ]
    play = [
        {
            "hosts": "all",
            "gather_facts": True,
            "gather_subset": ["min"],
            "vars_files": [str(ROLE / "vars" / "main.yml")],
            "tasks": [
                # The role's own read-only look at the host, as a run begins with it.
                {"ansible.builtin.include_role": {"name": "mailops.gmail.postfix_relay", "tasks_from": "probe"}},
                {
                    "ansible.builtin.file": {
                        "path": str(tmp_path) + "/{{ inventory_hostname }}",
                        "state": "directory",
                        "mode": "0700",
                    }
                },
                *tasks,
            ],
        }
    ]
    # Role defaults as group vars: the lowest precedence a playbook can give them here.
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    defaults["postfix_relay_myhostname"] = "relay.example.test"
    result = run_playbook(tmp_path, play, hosts=RENDER, group_vars=defaults)
    assert result.rc == 0, result.output[-3000:]

    def read(host, name):
        return (tmp_path / host / name).read_text()

    return read


def _params(text):
    """main.cf as a dict (the last setting wins, as in Postfix)."""
    params = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _dummy, value = line.partition("=")
            params[name.strip()] = value.strip()
    return params


def _regexp_map(text):
    """The (pattern, result) pairs of a Postfix regexp table, compiled for Python (case-insensitive)."""
    import re

    pairs = []
    for line in text.splitlines():
        if line.startswith("/"):
            pattern, result = line[1:].split("/ ", 1)
            pairs.append((re.compile(pattern, re.IGNORECASE), result))
    return pairs


def _lookup(pairs, address):
    return next((result for pattern, result in pairs if pattern.search(address)), None)


def test_default_main_cf_is_a_verified_587_null_client(rendered):
    main = _params(rendered("default", "main.cf"))
    assert main["relayhost"] == "[smtp.gmail.com]:587"
    assert main["smtp_tls_wrappermode"] == "no"
    assert main["smtp_tls_security_level"] == "secure"
    assert main["smtp_tls_CAfile"] == "/etc/ssl/certs/ca-certificates.crt"
    assert main["smtp_sasl_password_maps"] == f"{DB_TYPE}:/etc/postfix/sasl_passwd"
    assert main["smtp_sasl_security_options"] == main["smtp_sasl_tls_security_options"] == "noanonymous"
    assert main["smtp_host_lookup"] == "native"
    assert main["inet_interfaces"] == "loopback-only"
    assert main["mydestination"] == ""
    assert (main["myhostname"], main["mydomain"]) == ("relay.example.test", "example.test")
    assert main["mynetworks"] == "127.0.0.0/8 [::1]/128"
    assert main["smtp_tls_connection_reuse"] == "yes"
    assert main["compatibility_level"] == "3.6"
    assert main["sender_canonical_maps"] == "regexp:/etc/postfix/sender_canonical"
    assert (main["smtp_destination_concurrency_limit"], main["smtp_destination_rate_delay"]) == ("2", "1s")


def test_sasl_passwd_key_matches_relayhost(rendered):
    for host in ("default", "port465"):
        relayhost = _params(rendered(host, "main.cf"))["relayhost"]
        lines = [line for line in rendered(host, "sasl_passwd").splitlines() if not line.startswith("#")]
        assert lines == [f"{relayhost} ops.alerts@gmail.com:{SECRET}"]


def test_465_uses_wrappermode(rendered):
    main = _params(rendered("port465", "main.cf"))
    assert main["relayhost"] == "[smtp.gmail.com]:465"
    assert main["smtp_tls_wrappermode"] == "yes"
    assert main["smtp_tls_security_level"] == "secure"
    assert main["smtp_tls_connection_reuse"] == "yes"
    assert main["inet_protocols"] == "ipv4"
    assert main["smtp_helo_name"] == "relay.example.test"


def test_local_senders_and_recipients_are_rewritten(rendered):
    senders = _regexp_map(rendered("default", "sender_canonical"))
    for local in ("root@relay.example.test", "www-data@localhost", "cron@LOCALHOST.localdomain"):
        assert _lookup(senders, local) == "ops.alerts@gmail.com", local
    for foreign in ("someone@example.com", "root@relay.example.test.evil.org", "root@xrelay.example.test"):
        assert _lookup(senders, foreign) is None, foreign
    recipients = _regexp_map(rendered("default", "recipient_canonical"))
    assert _lookup(recipients, "root@relay.example.test") == "ops.alerts@gmail.com"
    assert _lookup(recipients, "boss@example.com") is None


def test_rewrite_all_to_alias_and_root_alias(rendered):
    senders = _regexp_map(rendered("port465", "sender_canonical"))
    assert _lookup(senders, "anyone@example.com") == "noreply@example.com"
    recipients = _regexp_map(rendered("port465", "recipient_canonical"))
    assert _lookup(recipients, "root@relay.example.test") == "team.reports@gmail.com"


def test_rewrite_none_and_reuse_off(rendered):
    main = _params(rendered("norewrite", "main.cf"))
    assert "sender_canonical_maps" not in main
    assert main["smtp_tls_connection_reuse"] == "no"
    assert _regexp_map(rendered("norewrite", "sender_canonical")) == []


def test_master_cf_has_tlsproxy_and_postlog(rendered):
    def services(host):
        return {tuple(line.split()[:2]) for line in rendered(host, "master.cf").splitlines() if line[:1].isalpha()}

    assert {("smtp", "inet"), ("smtp", "unix"), ("tlsproxy", "unix"), ("postlog", "unix-dgram")} <= services("default")


def _master(text):
    """master.cf: (service, type) -> [-o options and other continuation words]."""
    services, key = {}, None
    for line in text.splitlines():
        if line[:1].isalnum():
            key = tuple(line.split()[:2])
            services[key] = []
        elif line.strip().startswith("-o") and key:
            services[key].append(line.split(None, 1)[1])
        elif line[:1].isspace() and key:
            services[key].extend(line.split())
    return services


def test_hub_listens_for_certified_satellites_only(rendered):
    services = _master(rendered("hub", "master.cf"))
    # Port 25 only on loopback; the hub port: TLS required, relay only for fleet certificates.
    assert ("smtp", "inet") not in services and ("127.0.0.1:smtp", "inet") in services
    options = services[("587", "inet")]
    assert "smtpd_tls_security_level=encrypt" in options
    # A revoked certificate is refused before the fleet CA is trusted.
    assert ("smtpd_relay_restrictions=check_ccert_access,texthash:/etc/postfix/fleet/revoked,"
            "permit_tls_all_clientcerts,reject_unauth_destination,reject") in options
    assert rendered("hub", "revoked").splitlines()[-1] == (
        REVOKED.upper() + " REJECT 5.7.1 Certificate revoked by the fleet's operator")
    assert "local_header_rewrite_clients=permit_inet_interfaces,permit_tls_all_clientcerts" in options
    assert "smtpd_end_of_data_restrictions=check_policy_service,unix:private/mailops_budget" in options
    # The budget's policy service: spawned per smtpd as its own user, reading the limit at each message.
    assert services[("mailops_budget", "unix")] == [
        "user=mailops-budget", "argv=/usr/bin/python3", "-I", "/usr/local/lib/mailops-budget-policy",
        "/etc/postfix/mailops-budget.conf", "/var/lib/mailops-budget/accepted.json"]
    assert "smtpd_sasl_auth_enable=no" in options
    main = _params(rendered("hub", "main.cf"))
    # The fleet CA is the only CA trusted from satellites; Gmail is still verified with the system bundle.
    assert main["smtpd_tls_CAfile"] == "/etc/postfix/fleet/ca.crt"
    assert main["smtpd_tls_chain_files"] == "/etc/postfix/fleet/host.key, /etc/postfix/fleet/host.crt"
    assert main["relayhost"] == "[smtp.gmail.com]:587" and main["smtp_sasl_auth_enable"] == "yes"
    assert main["smtp_tls_CAfile"] == "/etc/ssl/certs/ca-certificates.crt"
    assert main["smtp_tls_security_level"] == "secure"
    assert main["mailops_budget_time_limit"] == "3600"
    budget = {"limit": "5", "window": "86400", "name": "relay.example.test"}
    assert _params(rendered("hub", "mailops-budget.conf")) == budget
    assert "smtpd_end_of_data_restrictions" not in rendered("hub_nolimit", "master.cf")
    assert "mailops_budget" not in rendered("hub_nolimit", "master.cf") + rendered("hub_nolimit", "main.cf")


def test_hub_rewrites_every_sender_but_the_account_and_aliases(rendered):
    senders = _regexp_map(rendered("hub", "sender_canonical"))
    for kept in ("ops.alerts@gmail.com", "noreply@example.com"):
        assert _lookup(senders, kept) == kept
    for sender in ("root@sat1.example.net", "www-data@web2", "someone@example.com"):
        assert _lookup(senders, sender) == "ops.alerts@gmail.com", sender


def test_satellite_relays_to_its_hubs_with_a_certificate_and_no_secret(rendered, tmp_path):
    main = _params(rendered("satellite", "main.cf"))
    assert main["relayhost"] == "[relay1.example.net]:587"
    assert main["smtp_fallback_relay"] == "[relay2.example.net]:587, [relay3.example.net]:587"
    assert main["smtp_sasl_auth_enable"] == "no" and "smtp_sasl_password_maps" not in main
    assert main["smtp_tls_security_level"] == "secure"
    assert main["smtp_tls_CAfile"] == "/etc/postfix/fleet/ca.crt"
    assert main["smtp_tls_chain_files"] == "/etc/postfix/fleet/host.key, /etc/postfix/fleet/host.crt"
    assert main["inet_interfaces"] == "loopback-only" and "sender_canonical_maps" not in main
    assert ("smtp", "inet") in _master(rendered("satellite", "master.cf"))
    recipients = _regexp_map(rendered("satellite", "recipient_canonical"))
    assert _lookup(recipients, "root@relay.example.test") == "ops.alerts@gmail.com"
    with pytest.raises(FileNotFoundError):
        rendered("satellite", "sasl_passwd")


RELAY_DENIED = """550-5.7.1 Invalid credentials for relay [192.0.2.7]. The IP address you've
550-5.7.1 registered in your Workspace SMTP Relay service doesn't match domain of
550 5.7.1 one of your domain names in the HELO or EHLO command. d9443c01a7336-2 - gsmtp"""


def _filter(pairs, line):
    """A Postfix regexp smtp_reply_filter applied to one reply line (${1} as Python's \\g<1>)."""
    for pattern, result in pairs:
        match = pattern.search(line)
        if match:
            return match.expand(re.sub(r"\$\{(\d)\}", r"\\g<\1>", result))
    return line


def test_relay_by_address_holds_no_secret_and_asks_for_the_relay_by_name(rendered):
    main = _params(rendered("relay", "main.cf"))
    assert main["relayhost"] == "[smtp-relay.gmail.com]:587"
    assert main["smtp_sasl_auth_enable"] == "no" and "smtp_sasl_password_maps" not in main
    assert (main["smtp_tls_security_level"], main["smtp_tls_servername"]) == ("secure", "hostname")
    assert main["smtp_reply_filter"] == "regexp:/etc/postfix/relay_replies"
    with pytest.raises(FileNotFoundError):
        rendered("relay", "sasl_passwd")
    senders = _regexp_map(rendered("relay", "sender_canonical"))
    assert _lookup(senders, "root@relay.example.test") == "alerts@example.com"
    recipients = _regexp_map(rendered("relay", "recipient_canonical"))
    assert _lookup(recipients, "root@relay.example.test") == "alerts@example.com"  # no username: root's mail to From


def test_relay_refusals_of_a_setting_keep_the_mail_queued(rendered):
    """The relay's 550 5.7.1 and its daily limit become 4xx (Postfix takes the code of the last line); others stay."""
    pairs = _regexp_map(rendered("relay", "relay_replies"))
    lines = [_filter(pairs, line) for line in RELAY_DENIED.splitlines()]
    assert [line[:10] for line in lines] == ["450-4.7.1 ", "450-4.7.1 ", "450 4.7.1 "], lines
    assert lines[0].endswith("Invalid credentials for relay [192.0.2.7]. The IP address you've")
    assert _filter(pairs, "550 5.4.5 Daily SMTP relay limit exceeded for user. x - gsmtp").startswith(
        "450 4.4.5 Daily SMTP relay limit exceeded")
    for other in ("550-5.1.1 The email account that you tried to reach does not exist.", "250 2.1.0 OK x - gsmtp",
                  "552-5.3.4 Your message exceeded Google's message size limits."):
        assert _filter(pairs, other) == other


def test_relay_hub_logs_in_and_its_budget_is_the_relays(rendered):
    main = _params(rendered("relay_hub", "main.cf"))
    assert main["relayhost"] == "[smtp-relay.gmail.com]:587"
    assert main["smtp_sasl_auth_enable"] == "yes" and main["smtp_tls_servername"] == "hostname"
    lines = [line for line in rendered("relay_hub", "sasl_passwd").splitlines() if not line.startswith("#")]
    assert lines == [f"[smtp-relay.gmail.com]:587 alerts@example.com:{SECRET}"]
    assert "limit = 9000" in rendered("relay_hub", "mailops-budget.conf").splitlines()
    default = _params(rendered("default", "main.cf"))
    assert "smtp_reply_filter" not in default and "smtp_tls_servername" not in default
