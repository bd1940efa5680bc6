# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""The emulator's smtp-relay.gmail.com (Google Workspace SMTP relay), driven by smtplib.

The relay identifies the sending domain by the client's address (relay_allowlist) or its SMTP AUTH
user, and wants the EHLO name (without AUTH) and the envelope sender in a registered domain
(relay_domains). It is reached on its own port, or by name (SNI) on the 587 listener.
"""
from __future__ import annotations

import smtplib
import ssl

import pytest

WORKSPACE_USER, WORKSPACE_PW = "alerts@example.com", "wxyzwxyzwxyzwxyz"


def relay(emu, helo="web1.example.com", port=None, server_name=None):
    """An smtplib session after STARTTLS with the relay (by its port, or by name on another port)."""
    smtp = smtplib.SMTP(emu.host, port or emu.smtp_relay_port, local_hostname=helo, timeout=5)
    context = ssl.create_default_context(cafile=emu.ca_file)
    if server_name:  # smtplib sends SNI for its host: connect by address, ask for the name
        smtp._host = server_name
    smtp.starttls(context=context)
    return smtp


def send(smtp, sender="alerts@example.com", to="oncall@example.org"):
    try:
        smtp.sendmail(sender, [to], f"From: {sender}\r\nTo: {to}\r\nSubject: relayed\r\n\r\nbody\r\n".encode())
    except smtplib.SMTPResponseException as exc:
        return exc.smtp_code, exc.smtp_error.decode()
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()))
        return code, text.decode()
    return 250, ""


def test_an_allowlisted_host_relays_without_auth(gmail_emulator):
    emu = gmail_emulator
    emu.set(relay_allowlist=["127.0.0.0/8"])
    with relay(emu) as smtp:
        assert "smtp-relay.gmail.com at your service" in smtp.ehlo()[1].decode()
        assert send(smtp) == (250, "")
    [message] = emu.messages()
    assert (message["service"], message["auth_user"], message["mail_from"]) == ("relay", None, "alerts@example.com")
    assert message["from_rewritten"] is None  # the relay keeps the From
    received = dict(message["headers"])["Received"]
    assert "from web1.example.com ([127.0.0.1])" in received and "by smtp-relay.gmail.com with ESMTPS id" in received


@pytest.mark.parametrize("case", ["address not allowlisted", "EHLO outside the domains", "sender outside",
                                  "no allowlist and no AUTH", "AUTH user outside the domains"])
def test_the_relay_refuses_what_it_cannot_tie_to_a_registered_domain(gmail_emulator, case):
    emu = gmail_emulator
    emu.set(relay_allowlist=["10.0.0.0/8"] if case == "address not allowlisted"
            else [] if "AUTH" in case else ["127.0.0.1/32"])
    with relay(emu, helo="web1.internal" if case == "EHLO outside the domains" else "web1.example.com") as smtp:
        if case == "AUTH user outside the domains":
            smtp.login("ops.alerts@gmail.com", "abcdefghijklmnop")
        code, text = send(smtp, sender="ops@other.example" if case == "sender outside" else "alerts@example.com")
    assert code == 550 and "5.7.1 Invalid credentials for relay [127.0.0.1]" in text, (code, text)
    assert "present\n5.7.1 one of your domain names in the HELO or EHLO command" in text
    assert emu.messages() == []


def test_smtp_auth_identifies_the_domain_and_can_be_required(gmail_emulator):
    emu = gmail_emulator
    with relay(emu, helo="anything.internal") as smtp:
        smtp.login(WORKSPACE_USER, WORKSPACE_PW)
        assert send(smtp) == (250, "")
    emu.set(relay_allowlist=["127.0.0.0/8"], relay_require_auth=True)
    with relay(emu) as smtp:
        code, text = send(smtp)
    assert code == 530 and "Authentication Required" in text
    assert [m["auth_user"] for m in emu.messages()] == [WORKSPACE_USER]


def test_the_relay_limit_is_counted_per_envelope_sender(gmail_emulator):
    emu = gmail_emulator
    emu.set(relay_allowlist=["127.0.0.0/8"], relay_daily_limit=1)
    with relay(emu) as smtp:
        assert send(smtp) == (250, "")
        code, text = send(smtp)
        assert code == 550 and text.startswith("5.4.5 Daily SMTP relay limit exceeded for user."), text
        assert send(smtp, sender="other@example.com") == (250, "")


def test_the_relay_is_told_apart_by_the_name_asked_for_in_tls(gmail_emulator):
    """On one address, as Google's two names resolve to two: SNI smtp-relay.gmail.com on the 587 listener."""
    emu = gmail_emulator
    emu.set(relay_allowlist=["127.0.0.0/8"])
    with relay(emu, port=emu.smtp_starttls_port, server_name="smtp-relay.gmail.com") as smtp:
        assert send(smtp) == (250, "")
    with relay(emu, port=emu.smtp_starttls_port, server_name="smtp.gmail.com") as smtp:
        code, text = send(smtp)
    assert code == 530 and "Authentication Required" in text  # smtp.gmail.com always wants AUTH
    assert [m["service"] for m in emu.messages()] == ["relay"]
