# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""mailops.gmail.send through ansible-playbook against the emulator.

Cases are grouped into few playbooks (each ansible-playbook start costs seconds); between tasks,
faults and switches are changed through the emulator's HTTPS control API with ansible.builtin.uri.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from playbook import run_playbook

ROOT = Path(__file__).resolve().parents[2]
SECRETS = ("abcdefghijklmnop", "ponmlkjihgfedcba", "emulator-client-secret", "1//refresh-ops-alerts",
           "ya29.valid-ops-alerts", "YWJjZGVmZ2hpamtsbW5vcA")  # the last: base64 of the app password


def conn(emu, **extra):
    args = {"host": emu.host, "port": emu.smtp_starttls_port, "security": "starttls", "ca_file": emu.ca_file,
            "username": "ops.alerts@gmail.com", "password": "abcdefghijklmnop", "timeout": 5, "retry_delay": 0.05,
            "imap_host": emu.host, "imap_port": emu.imap_port}
    args.update(extra)
    return {k: v for k, v in args.items() if v is not None}


def control(emu, path, body, verify=True):
    """A task that changes the emulator (faults, switches) in the middle of a playbook.
    verify=False only to switch wrong_cert off again (the control API then has the wrong certificate too)."""
    return {"name": f"Emulator {path} {json.dumps(body)}",
            "ansible.builtin.uri": {"url": f"https://{emu.host}:{emu.oauth_port}/_emulator/{path}", "method": "POST",
                                    "body_format": "json", "body": body, "ca_path": emu.ca_file,
                                    "validate_certs": verify}, "check_mode": False}


def send(name, register, args, **task):
    return dict({"name": name, "mailops.gmail.send": args, "register": register, "ignore_errors": True}, **task)


def run_play(tmp_path, tasks, extra_args=(), env=None, name="play"):
    """Run the tasks on localhost (tests/integration/playbook.py); return (result, {register name: result}).

    Each registered result also says "failed" (callbacks do not see that key)."""
    work = tmp_path / name
    work.mkdir(exist_ok=True)
    result = run_playbook(work, [{"name": name, "hosts": "localhost", "gather_facts": False, "tasks": tasks}],
                          extra_args=extra_args, env=env)
    registered = {}
    for task in tasks:
        if "register" in task and any(t["task"] == task["name"] for t in result.tasks):
            registered[task["register"]] = dict(result.task(task["name"]),
                                                failed=result.status(task["name"]) == "failed")
    return result, registered


def assert_no_secret(*texts):
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"secret {secret[:4]}... leaked"
    for text in texts:
        assert "Traceback" not in text


def msg(result):
    return result.get("msg", "")


def test_bad_input_fails_clearly_before_connecting(gmail_emulator, tmp_path):
    emu = gmail_emulator
    many = [f"r{i}@example.com" for i in range(101)]
    ok = {"to": ["a@example.com"], "subject": "s", "body": "b"}
    not_pem = tmp_path / "not-pem.crt"
    not_pem.write_text("not a certificate\n")
    cases = {
        "empty_to": ({"to": [], "subject": "s"}, "to is empty: give at least one recipient"),
        "bad_address": ({"to": ["not-an-address"]}, "to[0]: 'not-an-address' is not an e-mail address"),
        "bad_domain": ({"to": ["a@-x.example.com"]}, "to[0]: 'a@-x.example.com' has an invalid domain"),
        "crlf_subject": (dict(ok, subject="hi\r\nBcc: victim@example.com"), "subject must not contain CR, LF"),
        "crlf_header": (dict(ok, headers={"X-Deploy": "1\nBcc: victim@example.com"}),
                        "headers.X-Deploy must not contain CR, LF"),
        "crlf_address": (dict(ok, to=["a@example.com\r\nBcc: victim@example.com"]), "to[0] must not contain CR, LF"),
        "crlf_sender": (dict(ok, sender="x@example.com\nBcc: v@example.com"), "sender must not contain CR, LF"),
        "too_many": (dict(ok, to=many), "101 recipients, Gmail accepts at most 100 per message"),
        "attach_missing": (dict(ok, attach=[str(tmp_path / "missing.pdf")]), "attach[0]: cannot read attachment"),
        "attach_unreadable": (dict(ok, attach=[str(tmp_path)]), "attach[0]: cannot read attachment"),
        "too_big": (dict(ok, body="x" * 5000, max_message_size=1000), "over the size limit of 1000 bytes"),
        "bad_entry": ({"messages": [ok, ok, dict(ok, to=["nope"])]}, "messages[2].to[0]: 'nope' is not an e-mail"),
        "entry_not_dict": ({"messages": [ok, "text"]}, "messages[1] must be a dictionary"),
        "html_not_text": (dict(ok, html_body={"a": 1}), "html_body must be text (a string), got dict"),
        "html_not_text_entry": ({"messages": [dict(ok, html_body=[1])]}, "messages[0].html_body must be text"),
        "quota_unwritable": (dict(ok, quota_dir="/proc/mailops-quota"), "quota_dir: cannot use the state file"),
        "none_with_password": (dict(ok, security="none", port=2525), "security=none would send the credentials"),
        "no_credential": (dict(ok, password=None), "give one of password, access_token or oauth"),
        "flush_without_spool": ({"flush_spool": True}, "flush_spool needs spool_dir"),
        "ca_not_pem": (dict(ok, ca_file=str(not_pem), dedupe_key="deploy-42"),
                       f"ca_file={not_pem} holds no certificate OpenSSL can load"),
        "vt_subject": (dict(ok, subject="a\x0bb"), "subject must not contain CR, LF, NUL or other control characters"),
        "ls_subject": (dict(ok, subject="a\u2028b"), "(found U+2028; header injection refused)"),
    }
    tasks = [send(name, name, conn(emu, **dict({"quota_dir": str(tmp_path / "q")}, **args)))
             for name, (args, _expected) in cases.items()]
    proc, results = run_play(tmp_path, tasks, extra_args=("-vvv",))
    for name, (_args, expected) in cases.items():
        assert results[name]["failed"], name
        assert expected in msg(results[name]), f"{name}: {msg(results[name])}"
    assert_no_secret(proc.stdout, proc.stderr)
    assert emu.sessions() == []  # nothing connected
    # Refused before anything was reserved: the same message goes out once the input is right.
    fixed = conn(emu, quota_dir=str(tmp_path / "q"), dedupe_key="deploy-42", **ok)
    proc, again = run_play(tmp_path, [send("Fixed", "fixed", fixed)], name="fixed")
    assert again["fixed"]["messages"][0]["status"] == "sent"


def _message_rounds(session):
    """Round trips spent on messages: from the first MAIL up to QUIT, per message."""
    rts, cmds = session["command_round_trips"], session["commands"]
    first = next(i for i, c in enumerate(cmds) if c.startswith("MAIL"))
    quit_ = next(i for i, c in enumerate(cmds) if c.startswith("QUIT"))
    return (rts[quit_] - rts[first]) / sum(c.startswith("MAIL") for c in cmds)


def test_batch_one_session_pipelined_and_fallback(gmail_emulator, tmp_path):
    emu = gmail_emulator
    report = tmp_path / "report.txt"
    report.write_text("deployment log\n")
    batch = [{"to": [f"dev{i}@example.com"], "subject": f"batch {i}", "body": f"message {i}"} for i in range(10)]
    batch[0].update(cc=["cc@example.com"], bcc=["hidden@example.com"], html_body="<b>done</b>", attach=[str(report)],
                    headers={"X-Deploy-Id": "42"})
    tasks = [
        send("Batch with PIPELINING", "piped", conn(emu, messages=batch, quota_dir=str(tmp_path / "q"))),
        control(emu, "set", {"pipelining": False}),
        send("Batch without PIPELINING", "plain", conn(emu, messages=batch, quota_dir=str(tmp_path / "q"))),
    ]
    proc, results = run_play(tmp_path, tasks)
    assert proc.rc == 0, proc.output
    for name in ("piped", "plain"):
        r = results[name]
        assert r["changed"] and [m["status"] for m in r["messages"]] == ["sent"] * 10
        assert (r["session"]["connections"], r["session"]["auths"]) == (1, 1)
        assert r["quota"]["limit"] == 500
    assert results["plain"]["quota"]["used"] == 20
    assert results["piped"]["messages"][0]["accepted"] == ["dev0@example.com", "cc@example.com", "hidden@example.com"]
    sessions = [s for s in emu.sessions() if any(c.startswith("MAIL") for c in s["commands"])]
    assert len(sessions) == 2
    # One round trip per message: each data and dot share a flight with the next message's envelope.
    assert _message_rounds(sessions[0]) == (10 + 1) / 10
    assert _message_rounds(sessions[1]) == (10 * 4 + 2) / 10  # MAIL, RCPT, DATA, dot; batch 0 has 2 more RCPTs
    messages = emu.messages()
    assert len(messages) == 20
    first = next(m for m in messages if m["subject"] == "batch 0")
    assert sorted(first["rcpt_tos"]) == ["cc@example.com", "dev0@example.com", "hidden@example.com"]
    headers = {k.lower(): v for k, v in first["headers"]}
    assert "bcc" not in headers and "hidden@example.com" not in str(first["headers"])
    assert headers["x-deploy-id"] == "42" and headers["cc"] == "cc@example.com"
    assert first["attachments"][0]["filename"] == "report.txt"
    assert headers["content-type"].startswith("multipart/mixed")


@pytest.fixture(scope="module")
def faults(gmail_emulator_server, tmp_path_factory):
    """One play through twelve server faults, one send each; the tests below judge one fault each,
    so a failure in one does not hide the others. What the emulator saw is kept from right after."""
    emu = gmail_emulator_server
    emu.reset()
    tmp_path = tmp_path_factory.mktemp("faults")
    spool = str(tmp_path / "spool")
    ten = [{"to": [f"dev{i}@example.com"], "subject": f"f421 {i}"} for i in range(10)]
    q = str(tmp_path / "q")
    emu.set(login_limit=0)  # some 20 sessions within a minute, one per fault; throttling has its own test
    tasks = [
        control(emu, "faults", [{"stage": "mail", "action": "reply", "nth": 3,
                                 "reply": "421 4.7.0 Try again later, closing connection."}]),
        send("421 at MAIL of the 3rd message", "f421", conn(emu, messages=ten, quota_dir=q)),
        control(emu, "faults", [{"stage": "auth", "action": "reply",
                                 "reply": "454 4.7.0 Too many login attempts, please try again later."}]),
        send("454 at AUTH then success", "f454", conn(emu, to=["a@example.com"], subject="f454", quota_dir=q)),
        control(emu, "faults", [{"stage": "auth", "action": "reply", "times": 0,
                                 "reply": "535 5.7.8 Username and Password not accepted."}]),
        send("535 fails at once", "f535", conn(emu, to=["a@example.com"], subject="f535", quota_dir=q)),
        send("535 with a spool", "f535spool", conn(emu, to=["a@example.com"], subject="f535spool", quota_dir=q,
                                                   spool_dir=str(tmp_path / "spool535"))),
        control(emu, "faults", [{"stage": "eom", "action": "drop"}]),
        send("Drop after the final dot, message kept", "fdrop",
             conn(emu, to=["a@example.com"], subject="fdrop", quota_dir=q)),
        control(emu, "faults", [{"stage": "eom", "action": "silent"}]),
        send("No reply after the final dot, message lost", "fdrop2",
             conn(emu, to=["a@example.com"], subject="fdrop2", quota_dir=q, timeout=2, confirm_timeout=1)),
        control(emu, "faults", [{"stage": "eom", "action": "silent"}]),
        send("Message lost, retry_unknown off", "fdrop3",
             conn(emu, to=["a@example.com"], subject="fdrop3", quota_dir=q, timeout=2, retry_unknown=False,
                  confirm_timeout=1)),
        control(emu, "faults", [{"stage": "eom", "action": "drop"}]),
        send("Drop after the final dot, IMAP unreachable", "fdrop4",
             conn(emu, to=["a@example.com"], subject="fdrop4", quota_dir=q, imap_port=emu.pop_port)),
        control(emu, "faults", [{"stage": "mail", "action": "reply", "nth": 2, "times": 0,
                                 "reply": "550 5.4.5 Daily user sending limit exceeded."}]),
        send("Server quota", "fquota", conn(emu, messages=[{"subject": f"fquota {i}"} for i in range(4)],
                                            to=["a@example.com"], quota_dir=q, spool_dir=spool)),
        control(emu, "faults", []),
        send("Flush the spool", "flush", conn(emu, spool_dir=spool, flush_spool=True, quota_dir=q)),
        control(emu, "faults", [{"stage": "connect", "action": "silent", "times": 0}]),
        {"name": "Clock start", "ansible.builtin.set_fact": {"t0": "{{ lookup('pipe', 'date +%s.%N') | float }}"}},
        send("Silent server", "fsilent",
             conn(emu, to=["a@example.com"], subject="fsilent", timeout=1.5, retries=1, quota_dir=q)),
        {"name": "Clock stop", "ansible.builtin.set_fact": {
            "silent_seconds": "{{ (lookup('pipe', 'date +%s.%N') | float) - (t0 | float) }}"}, "register": "clock"},
        control(emu, "faults", []),
        control(emu, "set", {"wrong_cert": True}),
        send("Wrong-name certificate", "fcert", conn(emu, to=["a@example.com"], subject="fcert", quota_dir=q)),
        control(emu, "set", {"wrong_cert": False, "max_message_size": 3000}, verify=False),
        send("Over the server's SIZE", "fsize",
             conn(emu, to=["a@example.com"], subject="fsize", body="x" * 5000, quota_dir=q)),
    ]
    proc, r = run_play(tmp_path, tasks, extra_args=("-vvv",))
    emu.clear_faults()
    found = SimpleNamespace(proc=proc, r=r, spool=spool, messages=emu.messages(), sessions=emu.sessions())
    found.subjects = [m["subject"] for m in found.messages]
    return found


def test_421_at_mail_reconnects_once_and_delivers_every_message_once(faults):
    r, subjects = faults.r, faults.subjects
    assert [m["status"] for m in r["f421"]["messages"]] == ["sent"] * 10
    assert sorted(s for s in subjects if s.startswith("f421")) == sorted(f"f421 {i}" for i in range(10))
    assert r["f421"]["session"]["connections"] == 2


def test_454_at_auth_is_retried(faults):
    r = faults.r
    assert r["f454"]["messages"][0]["status"] == "sent" and r["f454"]["session"]["auths"] == 2


def test_535_fails_at_once_with_one_auth_or_spools(faults):
    r = faults.r
    assert r["f535"]["failed"] and r["f535"]["session"]["auths"] == 1 and "535 5.7.8" in msg(r["f535"])
    assert "app password" in msg(r["f535"])
    assert r["f535spool"]["failed"] and r["f535spool"]["messages"][0]["status"] == "spooled"
    assert "spooled after a permanent failure" in msg(r["f535spool"])


def test_a_drop_after_the_dot_of_a_kept_message_is_settled_by_sent_mail(faults):
    r, subjects = faults.r, faults.subjects
    assert not r["fdrop"]["failed"] and r["fdrop"]["messages"][0]["status"] == "sent"
    assert r["fdrop"]["session"]["connections"] == 1 and subjects.count("fdrop") == 1


def test_a_lost_message_is_resent_once_with_its_message_id(faults):
    r = faults.r
    assert r["fdrop2"]["messages"][0]["status"] == "sent" and r["fdrop2"]["session"]["connections"] == 2
    copies = [m for m in faults.messages if m["subject"] == "fdrop2"]
    ids = {dict((k.lower(), v) for k, v in m["headers"])["message-id"] for m in copies}
    assert len(copies) == 1 and ids == {r["fdrop2"]["messages"][0]["message_id"]}


def test_retry_unknown_off_reports_unknown_and_does_not_resend(faults):
    r = faults.r
    fdrop3 = r["fdrop3"]["messages"][0]
    assert r["fdrop3"]["failed"] and fdrop3["status"] == "unknown" and "fdrop3" not in faults.subjects
    assert fdrop3["message_id"] in msg(r["fdrop3"]) and "retry_unknown is off" in msg(r["fdrop3"])


def test_imap_unreachable_leaves_unknown_with_the_message_id(faults):
    r = faults.r
    fdrop4 = r["fdrop4"]["messages"][0]
    assert r["fdrop4"]["failed"] and fdrop4["status"] == "unknown" and faults.subjects.count("fdrop4") == 1
    assert "Sent Mail could not be searched" in msg(r["fdrop4"]) and "Look for Message-ID" in msg(r["fdrop4"])
    imap = [s for s in faults.sessions if s["protocol"] == "imap"]
    assert len(imap) == 3 and all(s["auth_result"] == "ok" for s in imap)  # one IMAP session per run that needed it


def test_the_daily_limit_spools_the_rest_and_the_flush_delivers_it(faults):
    r = faults.r
    assert [m["status"] for m in r["fquota"]["messages"]] == ["sent", "spooled", "spooled", "spooled"]
    assert not r["fquota"]["failed"] and r["fquota"]["session"]["connections"] == 1
    assert [m["status"] for m in r["flush"]["messages"]] == ["sent"] * 3 and os.listdir(faults.spool) == []
    assert sorted(s for s in faults.subjects if s.startswith("fquota")) == [f"fquota {i}" for i in range(4)]


def test_a_silent_server_is_given_up_within_timeout_and_retries(faults):
    r = faults.r
    assert r["fsilent"]["failed"] and "timed out" in msg(r["fsilent"]) and "fsilent" not in faults.subjects
    # timeout x (retries + 1), plus backoff and the start of the module and two tasks around it (a loaded
    # machine took 6.0 s for those); a client that waited for the silent server would take far longer.
    assert float(r["clock"]["ansible_facts"]["silent_seconds"]) < 2 * 1.5 + 5


def test_a_wrong_certificate_stops_before_auth(faults):
    r = faults.r
    assert r["fcert"]["failed"] and "certificate verification failed" in msg(r["fcert"])
    assert r["fcert"]["session"]["auths"] == 0 and "fcert" not in faults.subjects
    assert all(not s.get("auth_mechanism") for s in faults.sessions if s.get("tls_version") is None)


def test_a_message_over_the_servers_size_is_refused_before_mail(faults):
    r = faults.r
    assert r["fsize"]["failed"] and "SIZE limit is 3000" in msg(r["fsize"]) and "fsize" not in faults.subjects


def test_no_fault_shows_the_secret(faults):
    assert_no_secret(faults.proc.stdout, faults.proc.stderr)


def test_dedupe_check_mode_quota_and_relay(gmail_emulator, tmp_path):
    emu = gmail_emulator
    q = str(tmp_path / "q")
    note = {"to": ["a@example.com"], "subject": "deploy 7", "dedupe_key": "deploy-7", "quota_dir": q}
    tasks = [
        send("Check mode", "check", conn(emu, **note), check_mode=True),
        send("First", "first", conn(emu, **note)),
        send("Again", "again", conn(emu, **note)),
        send("Over the daily limit", "over", conn(emu, messages=[{"subject": "x"}] * 3, to=["a@example.com"],
                                                  daily_limit=3, quota_dir=q)),
        send("Implicit TLS on 465-role port", "tls", conn(emu, port=emu.smtp_tls_port, security="tls",
                                                          to=["a@example.com"], subject="tls", quota_dir=q)),
        send("OAuth", "oauth", conn(emu, password=None, to=["a@example.com"], subject="oauth", quota_dir=q, oauth={
            "client_id": "emulator-client-id.apps.googleusercontent.com", "client_secret": "emulator-client-secret",
            "refresh_token": "1//refresh-ops-alerts", "token_uri": emu.token_uri})),
    ]
    started = time.time()
    proc, r = run_play(tmp_path, tasks, extra_args=("--diff",))
    assert r["check"]["changed"] and r["check"]["messages"][0]["status"] == "would_send"
    assert r["first"]["changed"] and r["first"]["messages"][0]["status"] == "sent"
    assert not r["again"]["changed"] and r["again"]["messages"][0]["status"] == "skipped"
    assert r["over"]["failed"] and "would exceed the limit of 3 per 24 h" in msg(r["over"])
    assert r["tls"]["messages"][0]["status"] == "sent" and r["tls"]["session"]["tls_version"].startswith("TLSv1.")
    assert r["oauth"]["messages"][0]["status"] == "sent"
    assert [m["subject"] for m in emu.messages()] == ["deploy 7", "tls", "oauth"]
    assert any(s.get("auth_mechanism") == "XOAUTH2" for s in emu.sessions())
    assert oct(os.stat(os.path.join(q, "quota-ops.alerts@gmail.com.json")).st_mode & 0o777) == "0o600"
    assert_no_secret(proc.stdout, proc.stderr)
    assert time.time() - started < 60


def test_local_relay_without_tls_or_credentials(tmp_path):
    """security: none, no credentials: a local relay (aiosmtpd here) gets the messages and the callback's report."""
    import socket

    from aiosmtpd.controller import Controller

    class Collect:
        def __init__(self):
            self.envelopes = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
            self.envelopes.append(envelope)
            return "250 2.0.0 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Collect()
    relay = Controller(handler, hostname="127.0.0.1", port=port)
    relay.start()
    try:
        args = {"host": "127.0.0.1", "port": port, "security": "none", "sender": "root@localhost",
                "quota_dir": str(tmp_path / "q"), "messages": [{"to": [f"admin{i}@localhost"]} for i in range(3)],
                "subject": "relay"}
        env = {"ANSIBLE_CALLBACKS_ENABLED": "record_results,mailops.gmail.deploy_report",
               "MAILOPS_GMAIL_REPORT_TO": "admins@localhost", "MAILOPS_GMAIL_REPORT_SENDER": "root@localhost",
               "MAILOPS_GMAIL_REPORT_HOST": "127.0.0.1", "MAILOPS_GMAIL_REPORT_PORT": str(port),
               "MAILOPS_GMAIL_REPORT_SECURITY": "none", "MAILOPS_GMAIL_REPORT_WHEN": "always",
               "MAILOPS_GMAIL_REPORT_QUOTA_DIR": str(tmp_path / "q")}
        proc, r = run_play(tmp_path, [send("Relay", "relay", args)], env=env)
    finally:
        relay.stop()
    assert [m["status"] for m in r["relay"]["messages"]] == ["sent"] * 3, proc.output
    assert (r["relay"]["session"]["auths"], r["relay"]["session"]["tls_version"]) == (0, None)
    assert [e.rcpt_tos for e in handler.envelopes] == [["admin0@localhost"], ["admin1@localhost"],
                                                       ["admin2@localhost"], ["admins@localhost"]]
    assert b"Subject: [CHANGED] playbook.yml" in handler.envelopes[3].original_content


def test_a_damaged_quota_file_is_set_aside_with_a_warning_and_mail_goes_out(gmail_emulator, tmp_path):
    emu = gmail_emulator
    q = tmp_path / "q"
    q.mkdir(mode=0o700)
    state = q / "quota-ops.alerts@gmail.com.json"
    args = conn(emu, to=["a@example.com"], subject="after damage", quota_dir=str(q))
    tasks = [send("Send with a damaged quota file", "sent", args)]
    for n, content in enumerate(["[]", '{"sent": 5}']):
        state.write_text(content)
        emu.reset()
        proc, r = run_play(tmp_path, tasks, name=f"play{n}")
        assert r["sent"]["messages"][0]["status"] == "sent", r["sent"]
        assert [m["subject"] for m in emu.messages()] == ["after damage"]
        assert "was damaged or not a state file of this collection" in proc.stdout + proc.stderr
        assert json.loads(state.read_text())["sent"][0][1].startswith("<")
    asides = sorted(p.name for p in q.iterdir() if ".corrupt-" in p.name)
    assert len(asides) == 2 and all(oct(os.stat(q / a).st_mode & 0o777) == "0o600" for a in asides)
    assert_no_secret(proc.stdout, proc.stderr)


def test_an_internationalised_address_is_sent_with_smtputf8(gmail_emulator, tmp_path):
    emu = gmail_emulator
    _proc, r = run_play(tmp_path, [send("To a UTF-8 address", "intl", conn(
        emu, to=["Jörg <jörg@münchen.example>"], subject="Grüße", quota_dir=str(tmp_path / "q")))])
    assert not r["intl"]["failed"] and r["intl"]["messages"][0]["accepted"] == ["jörg@münchen.example"]
    [message] = emu.messages()
    assert message["rcpt_tos"] == ["jörg@münchen.example"] and message["subject"] == "Grüße"
    [session] = [s for s in emu.sessions() if s["messages"]]
    assert any(c.startswith("MAIL FROM:<ops.alerts@gmail.com>") and c.endswith(" SMTPUTF8")
               for c in session["commands"])


def test_an_oauth_session_that_outlives_its_token_logs_in_again(gmail_emulator, tmp_path):
    """Gmail ends an OAuth session when its token expires; a long batch refreshes the token and goes on."""
    emu = gmail_emulator
    emu.set(token_lifetime=1, delay=0.15)  # each message takes 2 round trips: the batch outlives the token
    oauth = {"client_id": "emulator-client-id.apps.googleusercontent.com", "client_secret": "emulator-client-secret",
             "refresh_token": "1//refresh-ops-alerts", "token_uri": emu.token_uri}
    msgs = [{"to": ["a@example.com"], "subject": f"long {i}"} for i in range(8)]
    _proc, r = run_play(tmp_path, [send("A batch longer than its token", "long", conn(
        emu, password=None, oauth=oauth, messages=msgs, quota_dir=str(tmp_path / "q")))])
    assert not r["long"]["failed"], msg(r["long"])
    assert [m["status"] for m in r["long"]["messages"]] == ["sent"] * 8
    assert sorted(m["subject"] for m in emu.messages()) == sorted(f"long {i}" for i in range(8))
    assert r["long"]["session"]["auths"] >= 2 and len(emu.token_requests()) >= 2
    assert any(s["closed_by"] == "token_expired" for s in emu.sessions())
