# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""A Workspace service account (JWT-bearer grant) in credentials_info, send and the access_token lookup,
against the emulator's token endpoint: tokens for the user acted as, the classified refusals, and no key
material in any output."""

from __future__ import annotations

import json
import shutil

from playbook import run_playbook
from test_credentials_info import OPS, play
from test_credentials_info_secrets import SITECUSTOMIZE, assert_no_secret

INFO, SEND = "mailops.gmail.credentials_info", "mailops.gmail.send"


def key_file(emu, tmp_path, name="relay-sender", mode=0o600):
    """A copy of one of the emulator's service account keys, with the given mode."""
    path = tmp_path / f"{name}.json"
    shutil.copy(emu.service_account_files[name], path)
    path.chmod(mode)
    return str(path)


def key_material(emu, name="relay-sender"):
    """Pieces of the key that must never be shown: the private key's lines and its id."""
    with open(emu.service_account_files[name], encoding="utf-8") as fh:
        key = json.load(fh)
    lines = [line for line in key["private_key"].splitlines() if "-----" not in line]
    return lines[1:3] + [key["private_key_id"]]


def test_service_account_logs_in_and_sends_as_the_user_it_acts_as(gmail_emulator, tmp_path):
    emu = gmail_emulator
    (tmp_path / "other").mkdir()
    good, bad_mode = key_file(emu, tmp_path), key_file(emu, tmp_path / "other", mode=0o644)
    undelegated = key_file(emu, tmp_path, "undelegated")
    sa = {"service_account_file": good, "token_uri": emu.token_uri}
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    capture = tmp_path / "syslog.txt"
    tasks = [
        {"name": "Check", INFO: {"username": OPS, "oauth": sa, "protocols": ["smtp", "imap"]}},
        {"name": "Send", SEND: {"username": OPS, "oauth": {"service_account_key": "{{ sa_key }}",
                                                           "token_uri": emu.token_uri},
                                "to": ["oncall@example.org"], "subject": "from a service account", "body": "x",
                                "host": emu.host, "port": emu.smtp_starttls_port, "security": "starttls",
                                "ca_file": emu.ca_file, "timeout": 5}},
        {"name": "Lookup", "ansible.builtin.debug": {
            "msg": "{{ lookup('mailops.gmail.access_token', service_account_file=good, subject=ops, token_uri=uri,"
                   " ca_file=ca, cache_dir='') | length > 20 }}"}},
        {"name": "Undelegated", INFO: {"username": OPS, "oauth": dict(sa, service_account_file=undelegated)},
         "ignore_errors": True},
        {"name": "Unknown user", INFO: {"username": OPS, "oauth": dict(sa, subject="nobody@example.com")},
         "ignore_errors": True},
        {"name": "Key readable by others", INFO: {"username": OPS, "oauth": dict(sa, service_account_file=bad_mode)},
         "ignore_errors": True},
        {"name": "Not a key",
         INFO: {"username": OPS, "oauth": {"service_account_key": '{"type": "user"}', "token_uri": emu.token_uri}},
         "ignore_errors": True},
        {"name": "Key and refresh token", INFO: {"username": OPS, "oauth": dict(sa, refresh_token="1//x")},
         "ignore_errors": True},
    ]
    plays = play(emu, tasks)
    with open(good, encoding="utf-8") as fh:
        plays[0]["vars"].update(sa_key=fh.read(), good=good, ops=OPS, uri=emu.token_uri, ca=emu.ca_file)
    env = {"PYTHONPATH": str(site), "SYSLOG_CAPTURE": str(capture)}
    result = run_playbook(tmp_path, plays, extra_args=("-vvv", "--diff"), env=env)
    assert result.rc == 0, result.output

    check = result.task("Check")
    assert check["valid"] and check["smtp"]["mechanism"] == check["imap"]["mechanism"] == "XOAUTH2"
    [sent] = emu.messages()
    assert (sent["auth_user"], sent["auth_mechanism"], sent["subject"]) == (OPS, "XOAUTH2", "from a service account")
    assert result.task("Lookup")["msg"] is True
    grants = [r for r in emu.token_requests() if r["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert [r["user"] for r in grants if r["status"] == 200] == [OPS] * 3  # check, send, lookup

    undelegated_error = result.task("Undelegated")["smtp"]["error"]
    assert undelegated_error["category"] == "oauth_unauthorized_client"
    assert "domain-wide delegation" in undelegated_error["remediation"]
    unknown = result.task("Unknown user")["smtp"]["error"]
    assert unknown["category"] == "oauth_invalid_grant" and "Invalid email or User ID" in unknown["message"]
    assert "not a user of the service account's Workspace domain" in unknown["remediation"]
    assert "can be read by others (mode 0644)" in result.task("Key readable by others")["msg"]
    assert "is not a service account key" in result.task("Not a key")["msg"]
    assert "parameters are mutually exclusive: refresh_token|service_account_file|service_account_key" in \
        result.task("Key and refresh token")["msg"]
    assert len([r for r in emu.token_requests() if r["status"] != 200]) == 2  # the refusals above asked nothing

    syslog = capture.read_text()
    assert syslog.count("Invoked with") >= 6, syslog
    assert_no_secret(result, syslog, key_material(emu) + key_material(emu, "undelegated") + emu.issued_tokens())
