# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""_mailbox.MailboxWatch (what mailops.gmail.mailbox_info waits with) against the emulator's IMAP.

Mail arrives from another thread while the watch waits, so each test proves the watch saw mail that
was not there when it began: by IDLE, by polling, and across a session Gmail ended in the middle.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
import time

import pytest

from ansible_collections.mailops.gmail.plugins.module_utils._errors import GmailError
from ansible_collections.mailops.gmail.plugins.module_utils._imap import ImapClient
from ansible_collections.mailops.gmail.plugins.module_utils._mailbox import MailboxWatch

USER, APP_PW = "ops.alerts@gmail.com", "abcdefghijklmnop"
PROBE_TO = "ops.alerts+mailops-probe@gmail.com"
NAMES = ["Message-ID", "Date", "Subject", "X-Probe"]


def submit(emu, tag, count=1, to=PROBE_TO):
    with smtplib.SMTP(emu.host, emu.smtp_starttls_port, timeout=5) as smtp:
        smtp.starttls(context=ssl.create_default_context(cafile=emu.ca_file))
        smtp.login(USER, APP_PW)
        for number in range(count):
            smtp.sendmail(USER, [to], (f"To: {to}\r\nSubject: probe {number}\r\nX-Probe: {tag}\r\n"
                                       f"Date: Wed, 02 Dec 2026 04:00:00 +0000\r\n"
                                       f"Message-ID: <{tag}.{number}@test>\r\n\r\nbody\r\n").encode())


def wait_for_late_mail(emu, box, tag, count=1, after=3.0):
    """box.collect() waiting for `count` messages tagged `tag` that another thread submits `after` seconds
    into the wait; the session is closed afterwards."""
    timer = threading.Timer(after, lambda: submit(emu, tag, count=count))
    timer.start()
    try:
        return box.collect([("HEADER", "X-Probe", tag)], NAMES, wait_for=count, wait_timeout=30)
    finally:
        timer.join()
        box.close()


def watch(emu, **kwargs):
    creds = kwargs.pop("creds", {"username": USER, "password": APP_PW})
    return MailboxWatch(lambda: ImapClient(emu.host, emu.imap_port, emu.ca_file, 5), lambda: dict(creds), **kwargs)


def imap_commands(emu):
    """The IMAP commands clients sent, without their tags (DONE has none)."""
    return [c.split(" ", 1)[-1] for s in emu.sessions() if s["protocol"] == "imap" for c in s["commands"]]


def test_search_and_fetch_read_only_in_all_mail(gmail_emulator):
    emu = gmail_emulator
    submit(emu, "run-1", count=2)
    submit(emu, "other-run", to="someone@example.org")
    box = watch(emu, special_use="all")
    try:
        messages, count, complete = box.collect([("HEADER", "X-Probe", "run-1")], NAMES + ["Received"])
    finally:
        box.close()
    assert (count, complete, box.folder) == (2, True, "[Gmail]/All Mail")
    assert [m["message_id"] for m in messages] == ["<run-1.0@test>", "<run-1.1@test>"]
    assert messages[0]["date"] == "2026-12-02T04:00:00Z" and messages[0]["internal_date"].endswith("Z")
    # Gmail's Received field tells how the message came in: authenticated, over TLS 1.3.
    received = messages[0]["headers"].pop("Received")
    assert "by smtp.gmail.com with ESMTPSA" in received and "version=TLS1_3" in received
    assert messages[0]["headers"] == {"Message-ID": "<run-1.0@test>", "Date": "Wed, 02 Dec 2026 04:00:00 +0000",
                                      "Subject": "probe 0", "X-Probe": "run-1"}
    assert messages[0]["seconds_to_arrival"] > 0 and messages[0]["size"] > 0
    commands = imap_commands(emu)
    assert any(c.startswith('EXAMINE "[Gmail]/All Mail"') for c in commands), commands
    assert not any(c.startswith("SELECT") or c.startswith("STORE") for c in commands)
    assert any("BODY.PEEK[HEADER.FIELDS" in c for c in commands)


def test_plus_address_lands_in_the_inbox_and_is_found_by_to(gmail_emulator):
    emu = gmail_emulator
    submit(emu, "run-2")
    box = watch(emu)
    try:
        _messages, count, _complete = box.collect([("TO", PROBE_TO)], NAMES)
    finally:
        box.close()
    assert (box.folder, count) == ("INBOX", 1)


@pytest.mark.parametrize("idle", [True, False], ids=["idle", "polling"])
def test_waits_for_mail_that_arrives_during_the_wait(gmail_emulator, idle):
    emu = gmail_emulator
    emu.set(imap_idle=idle)
    box = watch(emu, special_use="all", poll=0.5)
    messages, count, complete = wait_for_late_mail(emu, box, "run-3", count=2, after=1.5)
    assert (count, complete, len(messages)) == (2, True, 2)
    assert box.facts["idle"] is idle and box.facts["logins"] == 1
    commands = imap_commands(emu)
    assert ("IDLE" in commands) is idle and ("NOOP" in commands) is not idle
    # No search before the mail arrived found it: the wait, not the first search, saw it.
    assert box.facts["searches"] >= 2


def test_a_session_gmail_ends_in_the_middle_of_the_wait_is_resumed(gmail_emulator):
    emu = gmail_emulator
    emu.set(imap_session_lifetime=1.0)
    box = watch(emu, special_use="all")
    _messages, count, complete = wait_for_late_mail(emu, box, "run-4")
    assert (count, complete) == (1, True)
    assert box.facts["reconnects"] >= 1 and box.facts["logins"] >= 2
    expired = [s for s in emu.sessions() if s["protocol"] == "imap" and s["closed_by"] == "expired"]
    assert expired, [s["closed_by"] for s in emu.sessions()]


def test_an_oauth_session_ends_with_its_token_and_a_new_token_resumes_it(gmail_emulator):
    emu = gmail_emulator
    tokens = []

    def fresh_token():
        token, _lifetime = emu.state.issue_token(USER)
        tokens.append(token)
        return {"username": USER, "access_token": token}

    emu.set(token_lifetime=1)
    box = MailboxWatch(lambda: ImapClient(emu.host, emu.imap_port, emu.ca_file, 5), fresh_token, special_use="all")
    _messages, count, complete = wait_for_late_mail(emu, box, "run-5")
    assert (count, complete) == (1, True)
    assert len(tokens) == box.facts["logins"] >= 2 and box.facts["mechanism"] == "XOAUTH2"


def test_too_few_matches_by_the_deadline_is_incomplete_not_an_error(gmail_emulator):
    emu = gmail_emulator
    submit(emu, "run-6")
    box = watch(emu, special_use="all")
    started = time.monotonic()
    try:
        messages, count, complete = box.collect([("HEADER", "X-Probe", "run-6")], NAMES, wait_for=3, wait_timeout=2)
    finally:
        box.close()
    assert (count, complete, len(messages)) == (1, False, 1)
    assert time.monotonic() - started < 15  # bounded by the deadline plus one operation, not by the server


def test_a_refused_login_is_not_retried(gmail_emulator):
    emu = gmail_emulator
    box = watch(emu, creds={"username": USER, "password": "wrongwrongwrongw"})
    with pytest.raises(GmailError) as caught:
        box.collect([("ALL",)], NAMES, wait_for=1, wait_timeout=30)
    box.close()
    assert caught.value.category == "auth"
    assert len([s for s in emu.sessions() if s["protocol"] == "imap"]) == 1
