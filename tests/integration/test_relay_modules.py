# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""service=workspace_relay in credentials_info and send against the emulator's smtp-relay.gmail.com
(its own port here: the modules connect by address), with and without SMTP AUTH, and the relay's
rules checked before anything is sent."""

from __future__ import annotations

from playbook import run_playbook
from test_credentials_info import play

INFO, SEND = "mailops.gmail.credentials_info", "mailops.gmail.send"
USER, PASSWORD = "alerts@example.com", "wxyzwxyzwxyzwxyz"


def relay(emu, **extra):
    return {"service": "workspace_relay", "host": emu.host, "port": emu.smtp_relay_port, "security": "starttls",
            "ca_file": emu.ca_file, "timeout": 5, "ehlohost": "web1.example.com", **extra}


def mail(emu, **extra):
    return {**relay(emu), "to": ["oncall@example.org"], "subject": "via the relay", "body": "x",
            "quota_dir": "{{ playbook_dir }}/quota", **extra}


def test_the_relay_by_address_and_by_smtp_auth(gmail_emulator, tmp_path):
    emu = gmail_emulator
    emu.set(relay_allowlist=["127.0.0.0/8"])
    tasks = [
        {"name": "Check by address", INFO: relay(emu, username=USER)},
        {"name": "Send by address", SEND: mail(emu, sender=USER)},
        {"name": "Check with AUTH", INFO: relay(emu, username=USER, password=PASSWORD, ehlohost="web1.internal")},
        {"name": "Send with AUTH", SEND: mail(emu, username=USER, password=PASSWORD, ehlohost="web1.internal")},
        {"name": "Stop allowing this address", "ansible.builtin.uri": {
            "url": emu.token_uri.replace("/token", "/_emulator/set"), "method": "POST", "body_format": "json",
            "body": {"relay_allowlist": ["10.0.0.0/8"]}, "ca_path": emu.ca_file}},
        {"name": "Check, address not allowed", INFO: relay(emu, username=USER), "ignore_errors": True},
        {"name": "Send, address not allowed", SEND: mail(emu, sender=USER, retries=0), "ignore_errors": True},
    ]
    result = run_playbook(tmp_path, play(emu, tasks))
    assert result.rc == 0, result.output
    by_address = result.task("Check by address")["smtp"]
    assert by_address["valid"] and not by_address["authenticated"] and by_address["mechanism"] is None
    with_auth = result.task("Check with AUTH")["smtp"]
    assert with_auth["valid"] and with_auth["mechanism"] == "PLAIN"
    assert result.task("Send by address")["quota"]["limit"] == 10000  # the relay's per-sender limit
    denied = result.task("Check, address not allowed")["smtp"]["error"]
    assert denied["category"] == "relay_denied" and "Invalid credentials for relay [127.0.0.1]" in denied["message"]
    assert "allowed IP addresses" in denied["remediation"]
    assert result.status("Send, address not allowed") == "failed"
    assert "relay_denied" not in result.task("Send, address not allowed")["msg"]  # the message, not the category
    assert "Invalid credentials for relay" in result.task("Send, address not allowed")["msg"]
    sent = [(m["auth_user"], m["mail_from"], m["service"]) for m in emu.messages()]
    assert sent == [(None, USER, "relay"), (USER, USER, "relay")]
    # The three checks sent nothing: a bare MAIL FROM (then RSET when it was taken), never DATA or BDAT.
    checks = [s["commands"] for s in emu.sessions() if f"MAIL FROM:<{USER}>" in s["commands"]]
    assert len(checks) == 3, checks
    assert [c for commands in checks for c in commands if c.split()[0] in ("DATA", "BDAT", "RCPT")] == []
    assert [commands.count("RSET") for commands in checks] == [1, 1, 0]


BAD_INPUT = [
    ("EHLO name outside the domains", INFO, {"username": USER, "ehlohost": "web1.internal"},
     "ehlohost=web1.internal is not in your Workspace domains (example.com)"),
    ("Sender outside the domains", SEND, {"sender": "ops@other.example"},
     "sender=ops@other.example is not in your Workspace domains (example.com)"),
    ("No domain known", SEND, {"messages": [{"sender": "alerts@example.com"}], "to": None, "subject": None},
     "service=workspace_relay needs domains"),
    ("A gmail.com address", INFO, {"username": "ops.alerts@gmail.com", "ehlohost": "x.gmail.com"},
     "smtp-relay.gmail.com is for Google Workspace domains, not gmail.com"),
    ("Plain text to the relay", SEND, {"sender": USER, "security": "none", "port": 25},
     "smtp-relay.gmail.com takes mail over TLS on 587"),
    ("IMAP without a credential", INFO, {"username": USER, "protocols": ["smtp", "imap"]},
     "protocols imap and pop need password, access_token or oauth"),
    ("domains with smtp.gmail.com", INFO, {"username": USER, "password": PASSWORD, "service": "gmail",
                                           "domains": ["example.com"]}, "domains is for service=workspace_relay"),
]


def test_the_relay_rules_are_checked_before_connecting(gmail_emulator, tmp_path):
    emu = gmail_emulator
    tasks = []
    for name, module, args, _words in BAD_INPUT:
        base = mail(emu, domains=["example.com"]) if module == SEND else relay(emu)
        merged = {k: v for k, v in {**base, **args}.items() if v is not None}
        if name == "No domain known":
            merged.pop("domains")
        tasks.append({"name": name, module: merged, "ignore_errors": True})
    result = run_playbook(tmp_path, play(emu, tasks))
    assert result.rc == 0, result.output
    for name, _module, _args, words in BAD_INPUT:
        assert result.status(name) == "failed", name
        assert words in result.task(name)["msg"], (name, result.task(name)["msg"])
    assert emu.sessions() == []
