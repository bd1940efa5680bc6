# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""_mailbox.SentMail (the IMAP look-up that settles an unknown delivery) against the emulator."""

from __future__ import annotations

import smtplib
import ssl
import time

import pytest

from ansible_collections.mailops.gmail.plugins.module_utils._errors import GmailError
from ansible_collections.mailops.gmail.plugins.module_utils._imap import ImapClient
from ansible_collections.mailops.gmail.plugins.module_utils._mailbox import SentMail

USER, APP_PW = "ops.alerts@gmail.com", "abcdefghijklmnop"


def submit(emu, message_id):
    with smtplib.SMTP(emu.host, emu.smtp_starttls_port, timeout=5) as smtp:
        smtp.starttls(context=ssl.create_default_context(cafile=emu.ca_file))
        smtp.login(USER, APP_PW)
        smtp.sendmail(USER, ["a@example.com"], f"Message-ID: {message_id}\r\nSubject: s\r\n\r\nb\r\n".encode())


def sent_mail(emu, **creds):
    creds = creds or {"username": USER, "password": APP_PW}
    return SentMail(lambda: ImapClient(emu.host, emu.imap_port, emu.ca_file, 5), creds, poll=0.5)


def test_waits_for_a_late_message_in_a_localised_sent_folder(gmail_emulator):
    emu = gmail_emulator
    emu.set(sent_mail_delay=1.5, sent_mail_folder="[Gmail]/Gesendet")
    submit(emu, "<late@example.com>")
    finder = sent_mail(emu)
    start = time.monotonic()
    assert finder.contains("<late@example.com>", wait=10)
    assert 1.0 < time.monotonic() - start < 5 and finder.folder == "[Gmail]/Gesendet"
    start = time.monotonic()
    assert not finder.contains("<never@example.com>", wait=1.2)
    assert 0.9 < time.monotonic() - start < 3
    finder.close()
    [session] = [s for s in emu.sessions() if s["protocol"] == "imap"]  # one session for both look-ups
    assert any('EXAMINE "[Gmail]/Gesendet"' in c for c in session["commands"])
    assert session["closed_by"] == "logout"


def test_xoauth2_and_refused_login(gmail_emulator):
    emu = gmail_emulator
    submit(emu, "<x@example.com>")
    assert sent_mail(emu, username=USER, access_token="ya29.valid-ops-alerts").contains("<x@example.com>", 0)
    with pytest.raises(GmailError, match="AUTHENTICATIONFAILED") as failure:
        sent_mail(emu, username=USER, password="wrong-password").contains("<x@example.com>", 0)
    assert "wrong-password" not in str(failure.value)


def test_a_session_that_expires_in_the_middle_is_opened_again(gmail_emulator):
    """Gmail ends IMAP sessions ("* BYE Session expired"); the look-up logs in again and goes on."""
    emu = gmail_emulator
    emu.set(imap_session_lifetime=1.0, sent_mail_delay=2.0)
    submit(emu, "<expiring@example.com>")
    finder = sent_mail(emu)
    assert finder.contains("<expiring@example.com>", wait=8)
    finder.close()
    imap = [s for s in emu.sessions() if s["protocol"] == "imap"]
    assert len(imap) >= 2 and imap[0]["closed_by"] == "expired" and imap[-1]["closed_by"] == "logout"
    assert all(s["auth_result"] == "ok" for s in imap)


def test_a_refused_login_is_not_retried(gmail_emulator):
    with pytest.raises(GmailError):
        sent_mail(gmail_emulator, username=USER, password="wrong-password").contains("<x@example.com>", wait=5)
    assert len([s for s in gmail_emulator.sessions() if s["protocol"] == "imap"]) == 1
