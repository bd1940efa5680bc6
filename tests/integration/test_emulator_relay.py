# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""The emulator's smtp-relay.gmail.com (Google Workspace SMTP relay), driven by smtplib.

The relay identifies the sending domain by the client's address (relay_allowlist) or its SMTP AUTH
user (with relay_ip_only: the address, AUTH or not), and wants the EHLO name (without AUTH) and the
envelope sender in a registered domain (relay_domains). It is reached on its own port, or by name (SNI)
on the 587 listener. Its limits: messages and unique recipients per envelope sender a day, 100
recipients per transaction, and a peak rate past which it defers.
"""
from __future__ import annotations

import re
import smtplib
import ssl

import pytest

from gmail_emulator.config import ConfigError

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
    to = [to] if isinstance(to, str) else to
    try:
        smtp.sendmail(sender, to, f"From: {sender}\r\nTo: {', '.join(to)}\r\nSubject: relayed\r\n\r\nbody\r\n".encode())
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
                                  "no allowlist and no AUTH", "AUTH user outside the domains",
                                  "AUTH from outside the allowlist, IP only"])
def test_the_relay_refuses_what_it_cannot_tie_to_a_registered_domain(gmail_emulator, case):
    emu = gmail_emulator
    emu.set(relay_allowlist=["10.0.0.0/8"] if "outside the allowlist" in case or case == "address not allowlisted"
            else [] if "AUTH" in case else ["127.0.0.1/32"], relay_ip_only="IP only" in case)
    with relay(emu, helo="web1.internal" if case == "EHLO outside the domains" else "web1.example.com") as smtp:
        if case == "AUTH user outside the domains":
            smtp.login("ops.alerts@gmail.com", "abcdefghijklmnop")
        if "outside the allowlist" in case:
            smtp.login(WORKSPACE_USER, WORKSPACE_PW)
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


@pytest.mark.parametrize("ip_only", [False, True])
def test_smtp_auth_from_outside_the_allowlist_unless_only_the_addresses_may_send(gmail_emulator, ip_only):
    """Google's "Only accept mail from the specified IP addresses" is a checkbox of its own beside the list."""
    emu = gmail_emulator
    emu.set(relay_allowlist=["10.0.0.0/8"], relay_ip_only=ip_only)
    with relay(emu, helo="anything.internal") as smtp:
        smtp.login(WORKSPACE_USER, WORKSPACE_PW)
        code, text = send(smtp)
    if ip_only:
        assert code == 550 and text.startswith("5.7.1 Invalid credentials for relay [127.0.0.1]."), text
        assert emu.messages() == []
    else:
        assert (code, text) == (250, "")
        assert [(m["auth_user"], m["service"]) for m in emu.messages()] == [(WORKSPACE_USER, "relay")]
    # Raw: the 550-5.7.1 lines as the relay writes them.
    with relay(emu, helo="anything.internal") as smtp:
        smtp.login(WORKSPACE_USER, WORKSPACE_PW)
        smtp.ehlo_or_helo_if_needed()
        smtp.putcmd("MAIL FROM:<alerts@example.com>")
        code, text = smtp.getreply()
        if ip_only:
            assert code == 550
            assert text.decode().startswith("5.7.1 Invalid credentials for relay [127.0.0.1]. The IP address you've")
        else:
            assert code == 250


@pytest.mark.parametrize("with_auth", [False, True])
def test_with_ip_only_an_allowlisted_address_relays_with_or_without_auth(gmail_emulator, with_auth):
    emu = gmail_emulator
    emu.set(relay_allowlist=["127.0.0.0/8"], relay_ip_only=True)
    with relay(emu) as smtp:
        if with_auth:
            smtp.login(WORKSPACE_USER, WORKSPACE_PW)
        assert send(smtp) == (250, "")
    assert [m["auth_user"] for m in emu.messages()] == [WORKSPACE_USER if with_auth else None]


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


def test_the_relay_counts_unique_recipients_per_envelope_sender(gmail_emulator):
    """10,000 unique recipients a day per sender at Google: the message that would pass it is refused whole."""
    emu = gmail_emulator
    emu.set(relay_allowlist=["127.0.0.0/8"], relay_daily_recipients=3)
    with relay(emu) as smtp:
        assert send(smtp, to=["a@example.org", "b@example.org"]) == (250, "")
        assert send(smtp, to=["B@example.org", "c@example.org"]) == (250, "")  # b counted once
        code, text = send(smtp, to=["a@example.org", "d@example.org"])
        assert code == 550 and text.startswith("5.4.5 Daily SMTP relay limit exceeded for user."), text
        assert send(smtp, to=["c@example.org", "a@example.org"]) == (250, "")  # nobody new
        assert send(smtp, sender="other@example.com", to=["d@example.org"]) == (250, "")
    assert [m["rcpt_tos"] for m in emu.messages()] == [
        ["a@example.org", "b@example.org"], ["B@example.org", "c@example.org"], ["c@example.org", "a@example.org"],
        ["d@example.org"]]
    sessions = emu.sessions()
    assert sessions[0]["commands"].count("DATA") == 5  # refused at the end of the data, not before


def test_the_relay_takes_100_recipients_per_transaction(gmail_emulator):
    emu = gmail_emulator
    emu.set(relay_allowlist=["127.0.0.0/8"])
    with relay(emu) as smtp:
        smtp.ehlo()
        assert smtp.mail("alerts@example.com")[0] == 250
        assert {smtp.rcpt(f"r{n}@example.org")[0] for n in range(100)} == {250}
        code, text = smtp.rcpt("r100@example.org")
        assert code == 452 and text.decode().startswith("4.5.3 Your message has too many recipients."), text
        assert smtp.data(b"Subject: many\r\n\r\nbody\r\n")[0] == 250
        smtp.rset()  # a new transaction may have 100 more (Google's advice)
        assert smtp.mail("alerts@example.com")[0] == 250 and smtp.rcpt("r100@example.org")[0] == 250
    [message] = emu.messages()
    assert len(message["rcpt_tos"]) == 100


def test_past_the_peak_limit_the_relay_defers_mail_from(gmail_emulator):
    """Google's per-organisation peak (about 319,444 recipients per 10 minutes): a temporary 450 4.2.1."""
    emu = gmail_emulator
    emu.set(relay_allowlist=["127.0.0.0/8"], relay_peak_limit=2)
    with relay(emu) as smtp:
        assert send(smtp) == (250, "")
        assert send(smtp, sender="other@example.com") == (250, "")
        smtp.putcmd("MAIL FROM:<third@example.com>")
        code, text = smtp.getreply()
        assert code == 450, text
        lines = text.decode().split("\n")
        assert lines[0] == "4.2.1 Peak SMTP relay limit exceeded for customer. This is a temporary error."
        assert lines[1].startswith("4.2.1 For more information on SMTP relay limits, please contact your "
                                   "administrator.")
        assert lines[1].endswith(" - gsmtp") and len(lines) == 2
        assert smtp.noop()[0] == 250  # a 450 keeps the session
    # smtp.gmail.com is another service: not deferred, and its mail does not count for the relay.
    with smtplib.SMTP(emu.host, emu.smtp_starttls_port, timeout=5) as smtp:
        smtp.starttls(context=ssl.create_default_context(cafile=emu.ca_file))
        smtp.login("ops.alerts@gmail.com", "abcdefghijklmnop")
        assert send(smtp, sender="ops.alerts@gmail.com") == (250, "")
    emu.set(relay_peak_limit=3)
    with relay(emu) as smtp:
        assert send(smtp) == (250, "")
        assert send(smtp)[0] == 450
    emu.set(relay_peak_limit=None)
    with relay(emu) as smtp:
        assert send(smtp) == (250, "")
    assert [m["service"] for m in emu.messages()] == ["relay", "relay", "gmail", "relay", "relay"]


@pytest.mark.parametrize("switches, words", [
    ({"relay_ip_only": "yes"}, "'relay_ip_only' must be true or false"),
    ({"relay_daily_recipients": None}, "'relay_daily_recipients' must be a number >= 0, got None"),
    ({"relay_peak_limit": "many"}, "'relay_peak_limit' must be a number >= 0 or null (off)"),
])
def test_the_relay_switches_are_checked(gmail_emulator, switches, words):
    with pytest.raises(ConfigError, match=re.escape(words)):
        gmail_emulator.set(**switches)
    gmail_emulator.set(relay_peak_limit=None, relay_ip_only=True, relay_daily_recipients=0)
