# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""mailops.gmail.mailbox_info through ansible-playbook against the Gmail emulator: results, classified
failures, bad input, and no secret in any output (the same checks as credentials_info's)."""

from __future__ import annotations


from playbook import run_playbook
from test_credentials_info import CLIENT, OPS, OPS_PW, SECRETS, assert_refused, oauth, vaulted
from test_credentials_info_secrets import SITECUSTOMIZE, WRONG_PW, assert_no_secret
from test_mailbox import PROBE_TO, submit

MODULE = "mailops.gmail.mailbox_info"


def play(emu, tasks, **module_defaults):
    args = {"host": emu.host, "port": emu.imap_port, "ca_file": emu.ca_file, "timeout": 5}
    args.update(module_defaults)
    return [{"name": "mailbox_info", "hosts": "localhost", "gather_facts": False, "vars": dict(SECRETS),
             "module_defaults": {MODULE: {k: v for k, v in args.items() if v is not None}},
             "tasks": vaulted(tasks)}]


def test_finds_waits_and_reports(gmail_emulator, tmp_path):
    emu = gmail_emulator
    submit(emu, "run-a", count=2)
    tasks = [
        {"name": "Probes in All Mail",
         MODULE: {"username": OPS, "password": OPS_PW, "special_use": "all", "header": {"X-Probe": "run-a"},
                  "headers": ["Subject"], "wait_for": 2, "wait_timeout": 10}},
        {"name": "In the inbox by recipient, with OAuth", MODULE: {"username": OPS, "oauth": oauth(emu),
                                                                   "to": PROBE_TO, "limit": 1}},
        {"name": "In Sent Mail by Message-ID", MODULE: {"username": OPS, "access_token": SECRETS["ops_token"],
                                                        "special_use": "sent", "message_id": "<run-a.1@test>"}},
        {"name": "Too few in time", MODULE: {"username": OPS, "password": OPS_PW, "subject": "probe",
                                             "wait_for": 3, "wait_timeout": 1}, "ignore_errors": True},
        {"name": "Too few, reported only", MODULE: {"username": OPS, "password": OPS_PW, "subject": "probe",
                                                    "wait_for": 3, "wait_timeout": 1, "fail_on_timeout": False}},
        {"name": "Wrong password", MODULE: {"username": OPS, "password": "{{ wrong_pw }}"}, "ignore_errors": True},
        {"name": "No such folder", MODULE: {"username": OPS, "password": OPS_PW, "folder": "Nope"},
         "ignore_errors": True},
    ]
    plays = play(emu, tasks)
    plays[0]["vars"]["wrong_pw"] = WRONG_PW
    result = run_playbook(tmp_path, plays, extra_args=("--check",))
    assert result.rc == 0, result.output

    found = result.task("Probes in All Mail")
    assert (found["changed"], found["count"], found["complete"], found["folder"]) == (False, 2, True,
                                                                                      "[Gmail]/All Mail")
    assert [m["headers"] for m in found["messages"]] == [{"Subject": "probe 0", "X-Probe": "run-a"},
                                                         {"Subject": "probe 1", "X-Probe": "run-a"}]
    assert found["session"]["mechanism"] == "LOGIN" and found["session"]["tls_version"] == "TLSv1.3"
    inbox = result.task("In the inbox by recipient, with OAuth")
    assert (inbox["folder"], inbox["count"], len(inbox["messages"])) == ("INBOX", 2, 1)
    assert inbox["messages"][0]["message_id"] == "<run-a.1@test>"  # the newest of the two
    assert inbox["session"]["mechanism"] == "XOAUTH2"
    assert result.task("In Sent Mail by Message-ID")["count"] == 1

    assert result.status("Too few in time") == "failed"
    short = result.task("Too few in time")
    assert "2 of 3 messages matched in INBOX within 1.0 s" in short["msg"] and len(short["messages"]) == 2
    assert result.status("Too few, reported only") == "ok"
    assert result.task("Too few, reported only")["complete"] is False

    wrong = result.task("Wrong password")
    assert result.status("Wrong password") == "failed" and wrong["error"]["category"] == "auth"
    assert "app password" in wrong["msg"]
    missing = result.task("No such folder")
    assert result.status("No such folder") == "failed" and "Nope" in missing["msg"]
    for session in emu.sessions():
        assert not any(c.split(" ")[1].upper() in ("SELECT", "STORE", "EXPUNGE", "MOVE", "COPY")
                       for c in session["commands"] if " " in c)


BAD_INPUT = [
    ("Missing username", {"password": OPS_PW}, "missing required arguments: username"),
    ("Password and token", {"username": OPS, "password": OPS_PW, "access_token": "ya29.valid-ops-alerts"},
     "mutually exclusive: password|access_token|oauth"),
    ("No credential", {"username": OPS}, "one of the following is required: password, access_token, oauth"),
    ("OAuth without refresh_token", {"username": OPS, "oauth": dict(CLIENT)},
     "one of the following is required: refresh_token, service_account_file, service_account_key found in oauth"),
    ("Folder and special_use", {"username": OPS, "password": OPS_PW, "folder": "INBOX", "special_use": "all"},
     "mutually exclusive: folder|special_use"),
    ("Unknown special_use", {"username": OPS, "password": OPS_PW, "special_use": "spam"},
     "value of special_use must be one of"),
    ("wait_for without wait_timeout", {"username": OPS, "password": OPS_PW, "wait_for": 2},
     "missing parameter(s) required by 'wait_for': wait_timeout"),
    ("Negative wait_for", {"username": OPS, "password": OPS_PW, "wait_for": -1, "wait_timeout": 5},
     "wait_for must be 0 or more"),
    ("Zero poll_interval", {"username": OPS, "password": OPS_PW, "poll_interval": 0},
     "poll_interval must be a positive number"),
    ("Port 0", {"username": OPS, "password": OPS_PW, "port": 0}, "port must be a TCP port between 1 and 65535"),
    ("Username not an address", {"username": "ops.alerts", "password": OPS_PW},
     "username must be a full e-mail address"),
    ("CR/LF in password", {"username": OPS, "password": OPS_PW + "\r\nA1 LOGOUT"},
     "password must not contain CR, LF or NUL"),
    ("CR/LF in a search value", {"username": OPS, "password": OPS_PW, "subject": "x\r\nA9 DELETE INBOX"},
     "subject must not contain CR, LF or NUL"),
    ("CR/LF in a header value", {"username": OPS, "password": OPS_PW, "header": {"X-Probe": "a\nb"}},
     "header.X-Probe must not contain CR, LF or NUL"),
    ("Header name with a space", {"username": OPS, "password": OPS_PW, "header": {"X Probe": "a"}},
     "header field name 'X Probe' (in header or headers) is not valid"),
    ("Non-ASCII subject", {"username": OPS, "password": OPS_PW, "subject": "Prüfung"},
     "subject must be ASCII text"),
    ("since not a day", {"username": OPS, "password": OPS_PW, "since": "02/12/2026"},
     "since must be a day as YYYY-MM-DD"),
    ("since not a date", {"username": OPS, "password": OPS_PW, "since": "2026-02-30"},
     "since must be a day as YYYY-MM-DD"),
    ("Empty folder", {"username": OPS, "password": OPS_PW, "folder": " "}, "folder must name a folder"),
    ("Unreadable ca_file", {"username": OPS, "password": OPS_PW, "ca_file": "/nonexistent/ca.pem"},
     "ca_file=/nonexistent/ca.pem cannot be read"),
    ("Timeout 0", {"username": OPS, "password": OPS_PW, "timeout": 0}, "timeout must be a positive number"),
    ("token_uri over http", {"username": OPS, "oauth": dict(CLIENT, refresh_token="1//x", token_uri="http://x/t")},
     "oauth.token_uri must be an https:// URL"),
]


def test_bad_input_is_refused_with_the_parameter_named(gmail_emulator, tmp_path):
    emu = gmail_emulator
    tasks = [{"name": name, MODULE: args, "ignore_errors": True} for name, args, _dummy in BAD_INPUT]
    assert_refused(run_playbook(tmp_path, play(emu, tasks)), BAD_INPUT, emu)


def test_no_secret_in_output_results_or_syslog(gmail_emulator, tmp_path):
    emu = gmail_emulator
    submit(emu, "run-s")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    capture = tmp_path / "syslog.txt"
    tasks = [
        {"name": "App password", MODULE: {"username": OPS, "password": OPS_PW, "wait_for": 1, "wait_timeout": 5}},
        {"name": "Access token", MODULE: {"username": OPS, "access_token": SECRETS["ops_token"]}},
        {"name": "OAuth", MODULE: {"username": OPS, "oauth": oauth(emu), "special_use": "all"}},
        {"name": "Wrong password", MODULE: {"username": OPS, "password": "{{ wrong_pw }}"}, "ignore_errors": True},
        {"name": "Bad input with a secret in it",
         MODULE: {"username": OPS, "password": "{{ wrong_pw }}\r\nA1 LOGOUT", "since": "x"}, "ignore_errors": True},
    ]
    plays = play(emu, tasks)
    plays[0]["vars"]["wrong_pw"] = WRONG_PW
    env = {"PYTHONPATH": str(site), "SYSLOG_CAPTURE": str(capture)}
    result = run_playbook(tmp_path, plays, extra_args=("-vvv", "--check", "--diff"), env=env)
    assert result.rc == 0, result.output
    assert result.task("App password")["count"] == 1 and result.task("OAuth")["count"] == 1
    assert result.status("Wrong password") == "failed"
    assert "must not contain CR, LF" in result.task("Bad input with a secret in it")["msg"]
    syslog = capture.read_text()
    assert syslog.count("Invoked with") >= 4, syslog
    issued = emu.issued_tokens()
    assert len(issued) == 1
    assert_no_secret(result, syslog, list(SECRETS.values()) + [WRONG_PW] + issued)


def test_trash_moves_only_what_matches_and_never_more_than_allowed(gmail_emulator, tmp_path):
    emu = gmail_emulator
    submit(emu, "run-t", count=2)
    submit(emu, "keep")
    trash = "mailops.gmail.mailbox_trash"
    base = {"username": OPS, "password": OPS_PW, "special_use": "all"}
    tasks = [
        {"name": "No search option", trash: base, "ignore_errors": True},
        {"name": "Too many", trash: dict(base, subject="probe", max_messages=2), "ignore_errors": True},
        {"name": "Check mode", trash: dict(base, header={"X-Probe": "run-t"}), "check_mode": True},
        {"name": "Move", trash: dict(base, header={"X-Probe": "run-t"})},
        {"name": "Again", trash: dict(base, header={"X-Probe": "run-t"})},
        {"name": "Left in All Mail", MODULE: dict(base, subject="probe")},
        {"name": "In the Trash", MODULE: dict(base, special_use="trash", header={"X-Probe": "run-t"})},
    ]
    plays = play(emu, tasks)
    plays[0]["module_defaults"][trash] = plays[0]["module_defaults"][MODULE]
    result = run_playbook(tmp_path, plays)
    assert result.rc == 0, result.output
    assert "one of the following is required: header, message_id, subject, sender, to, since" in \
        result.task("No search option")["msg"]
    assert "3 messages match, more than max_messages=2: nothing was moved" in result.task("Too many")["msg"]
    checked = result.task("Check mode")
    assert (checked["changed"], checked["count"]) == (True, 2)
    assert [m["message_id"] for m in result.task("Move")["messages"]] == ["<run-t.0@test>", "<run-t.1@test>"]
    assert result.task("Move")["changed"] and not result.task("Again")["changed"]
    assert [m["message_id"] for m in result.task("Left in All Mail")["messages"]] == ["<keep.0@test>"]
    assert result.task("In the Trash")["count"] == 2
    moves = [c for s in emu.sessions() for c in s["commands"] if " MOVE " in c]
    assert len(moves) == 1 and moves[0].endswith('"[Gmail]/Trash"')  # check mode and "Too many" moved nothing
