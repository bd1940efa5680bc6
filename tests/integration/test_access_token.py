# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""The mailops.gmail.access_token lookup through ansible-playbook against the emulator's token endpoint."""

from __future__ import annotations

from playbook import run_playbook
from test_credentials_info import CLIENT, MODULE, OPS, SECRETS, play

LOOKUP = (
    "{{ lookup('mailops.gmail.access_token', client_id=cid, client_secret=client_secret, refresh_token=%s,"
    " token_uri=token_uri, ca_file=ca_file, cache_dir=cache_dir) }}"
)


def test_lookup_refreshes_once_and_the_token_works(gmail_emulator, tmp_path):
    emu = gmail_emulator
    tasks = [
        {"name": "First", "ansible.builtin.set_fact": {"token_a": LOOKUP % "ops_refresh"}, "no_log": True},
        {"name": "Second (cached)", "ansible.builtin.set_fact": {"token_b": LOOKUP % "ops_refresh"}, "no_log": True},
        {"name": "Same token", "ansible.builtin.assert": {"that": ["token_a == token_b", "token_a | length > 10"]}},
        {"name": "Use it", MODULE: {"username": OPS, "access_token": "{{ token_a }}", "protocols": ["smtp", "imap"]}},
        {
            "name": "Dict term",
            "ansible.builtin.set_fact": {
                "token_c": "{{ lookup('mailops.gmail.access_token', {'client_id': cid, 'client_secret': client_secret,"
                " 'refresh_token': '1//refresh-team-reports', 'token_uri': token_uri}, ca_file=ca_file,"
                " cache_dir=cache_dir) }}"
            },
            "no_log": True,
        },
        {
            "name": "Revoked",
            "ansible.builtin.set_fact": {"bad": LOOKUP % "'1//refresh-revoked'"},
            "ignore_errors": True,
        },
    ]
    plays = play(emu, tasks)
    cache = tmp_path / "token-cache"
    plays[0]["vars"].update(cid=CLIENT["client_id"], token_uri=emu.token_uri, ca_file=emu.ca_file, cache_dir=str(cache))
    result = run_playbook(tmp_path, plays)
    assert result.rc == 0, result.output

    assert result.task("Use it")["smtp"]["mechanism"] == "XOAUTH2" and result.task("Use it")["valid"]
    requests = emu.token_requests()
    # ops-alerts once (second lookup from the file cache), team-reports once, revoked once
    assert [r["user"] for r in requests] == ["ops.alerts@gmail.com", "team.reports@gmail.com", None]
    assert len(list(cache.iterdir())) == 2
    assert result.status("Revoked") == "failed"
    message = result.task("Revoked")["msg"]
    assert "invalid_grant" in message and "7 days" in message
    for secret in [*SECRETS.values(), *emu.state.issued]:
        assert secret not in result.output
