# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Fault rules, the wrong-name certificate and round-trip delays of the emulator's SMTP side."""
from __future__ import annotations

import imaplib
import poplib
import smtplib
import ssl
import time

import pytest
from gmail_emulator import ConfigError
from gmail_emulator.wire import Wire, plain

USER, APP_PW = "ops.alerts@gmail.com", "abcdefghijklmnop"
MSG = b"From: ops.alerts@gmail.com\r\nSubject: hi\r\n\r\nbody\r\n"


def client(emu, timeout=5):
    s = smtplib.SMTP(emu.host, emu.smtp_starttls_port, timeout=timeout)
    try:
        s.starttls(context=ssl.create_default_context(cafile=emu.ca_file))
        s.login(USER, APP_PW)
    except Exception:
        s.close()
        raise
    return s


@pytest.fixture
def raw(gmail_emulator):
    """A raw client already past STARTTLS and AUTH."""
    w = Wire(gmail_emulator.host, gmail_emulator.smtp_starttls_port)
    w.reply()
    w.cmd("EHLO test")
    w.starttls(ssl.create_default_context(cafile=gmail_emulator.ca_file))
    w.cmd("EHLO test")
    assert w.cmd(f"AUTH PLAIN {plain(USER, APP_PW)}") == ["235 2.7.0 Accepted"]
    yield w
    w.close()


def test_421_at_greeting(gmail_emulator):
    gmail_emulator.set_faults([{"stage": "connect", "action": "reply"}])
    with pytest.raises(smtplib.SMTPConnectError) as err:
        smtplib.SMTP(gmail_emulator.host, gmail_emulator.smtp_starttls_port, timeout=5)
    assert err.value.smtp_code == 421 and b"4.7.0 Try again later, closing connection." in err.value.smtp_error
    with client(gmail_emulator) as s:  # times defaults to 1: the next connection is served
        s.noop()
    first = gmail_emulator.sessions()[0]
    assert first["faults"] == [{"stage": "connect", "action": "reply"}]
    assert first["closed_by"] == "fault:connect:reply" and first["commands"] == []


def test_421_at_mail_of_third_message(gmail_emulator):
    gmail_emulator.set_faults([{"stage": "mail", "action": "reply", "nth": 3}])
    s = client(gmail_emulator)
    s.sendmail(USER, ["a@example.com"], MSG)
    s.sendmail(USER, ["a@example.com"], MSG)
    with pytest.raises(smtplib.SMTPSenderRefused) as err:
        s.sendmail(USER, ["a@example.com"], MSG)
    assert err.value.smtp_code == 421
    with pytest.raises(smtplib.SMTPServerDisconnected):
        s.noop()  # smtplib closed on 421, as the server did
    with client(gmail_emulator) as s:
        s.sendmail(USER, ["a@example.com"], MSG)
    assert len(gmail_emulator.messages()) == 3


def test_421_mid_session_closes(gmail_emulator, raw):
    gmail_emulator.set_faults([{"stage": "rcpt", "action": "reply"}])
    assert raw.cmd("MAIL FROM:<ops.alerts@gmail.com>")[0].startswith("250 ")
    assert raw.cmd("RCPT TO:<a@example.com>")[0].startswith("421 4.7.0 Try again later, closing connection.")
    with pytest.raises(EOFError):
        raw.line()


def test_nth_and_times_count_occurrences(gmail_emulator, raw):
    gmail_emulator.set_faults([{"stage": "rcpt", "action": "reply", "reply": "450 4.2.1 Slow down. {id} - gsmtp",
                                "nth": 2, "times": 2}])
    raw.cmd("MAIL FROM:<ops.alerts@gmail.com>")
    codes = [raw.cmd(f"RCPT TO:<r{i}@example.com>")[0][:3] for i in range(4)]
    assert codes == ["250", "450", "450", "250"]  # a non-421 reply keeps the session open


def test_unlimited_times(gmail_emulator, raw):
    gmail_emulator.set_faults([{"stage": "rcpt", "action": "reply", "reply": "550 5.1.1 No such user", "times": 0}])
    raw.cmd("MAIL FROM:<ops.alerts@gmail.com>")
    assert [raw.cmd(f"RCPT TO:<r{i}@example.com>")[0] for i in range(3)] == ["550 5.1.1 No such user"] * 3


def test_454_at_auth(gmail_emulator):
    gmail_emulator.set_faults([{"stage": "auth", "action": "reply", "times": 0,
                                "reply": "454 4.7.0 Too many login attempts, please try again later. {id} - gsmtp"}])
    with pytest.raises(smtplib.SMTPAuthenticationError) as err:
        client(gmail_emulator)
    assert err.value.smtp_code == 454 and b"Too many login attempts" in err.value.smtp_error
    [session] = gmail_emulator.sessions()
    assert session["auth_result"] is None and "AUTH PLAIN ****" in session["commands"]
    assert {f["stage"] for f in session["faults"]} == {"auth"}  # smtplib also tried LOGIN: refused too


def test_drop_after_final_dot(gmail_emulator):
    gmail_emulator.set_faults([{"stage": "eom", "action": "drop"}])
    with client(gmail_emulator) as s, pytest.raises(smtplib.SMTPServerDisconnected):
        s.sendmail(USER, ["a@example.com"], MSG)
    [msg] = gmail_emulator.messages()
    assert msg["dropped_after_eom"] is True and msg["rcpt_tos"] == ["a@example.com"]
    assert gmail_emulator.sessions()[0]["closed_by"] == "fault:eom:drop"
    with client(gmail_emulator) as s:  # a retrying client would deliver a duplicate: tests can see it
        s.sendmail(USER, ["a@example.com"], MSG)
    assert [m["dropped_after_eom"] for m in gmail_emulator.messages()] == [True, False]


def test_reply_after_final_dot_refuses_the_message(gmail_emulator):
    gmail_emulator.set_faults([{"stage": "eom", "action": "reply", "reply": "451 4.3.0 Mail server temporarily "
                                "rejected message. {id} - gsmtp"}])
    with client(gmail_emulator) as s:
        with pytest.raises(smtplib.SMTPDataError) as err:
            s.sendmail(USER, ["a@example.com"], MSG)
        assert err.value.smtp_code == 451
        s.sendmail(USER, ["a@example.com"], MSG)  # the session goes on
    assert len(gmail_emulator.messages()) == 1


def test_fault_at_starttls(gmail_emulator):
    gmail_emulator.set_faults([{"stage": "starttls", "action": "reply", "reply": "454 4.7.0 TLS not available"}])
    w = Wire(gmail_emulator.host, gmail_emulator.smtp_starttls_port)
    w.reply()
    w.cmd("EHLO test")
    assert w.cmd("STARTTLS") == ["454 4.7.0 TLS not available"]
    assert w.cmd(f"AUTH PLAIN {plain(USER, APP_PW)}")[0].startswith("530 5.7.0 Must issue a STARTTLS command first.")
    w.close()


def test_drop_at_ehlo(gmail_emulator):
    gmail_emulator.set_faults([{"stage": "ehlo", "action": "drop"}])
    with smtplib.SMTP(gmail_emulator.host, gmail_emulator.smtp_starttls_port, timeout=5) as s, \
            pytest.raises(smtplib.SMTPServerDisconnected):
        s.ehlo()


@pytest.mark.parametrize("stage", ["connect", "data"])
def test_silent_server(gmail_emulator, stage):
    gmail_emulator.set_faults([{"stage": stage, "action": "silent"}])
    started = time.monotonic()
    with pytest.raises((TimeoutError, OSError)):
        with client(gmail_emulator, timeout=0.5) as s:
            s.sendmail(USER, ["a@example.com"], MSG)
    assert time.monotonic() - started < 5
    assert gmail_emulator.messages() == []


def test_wrong_name_certificate(gmail_emulator):
    gmail_emulator.set(wrong_cert=True)
    verify = ssl.create_default_context(cafile=gmail_emulator.ca_file)
    s = smtplib.SMTP(gmail_emulator.host, gmail_emulator.smtp_starttls_port, timeout=5)
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch|doesn't match"):
        s.starttls(context=verify)
    s.close()
    with pytest.raises(ssl.SSLCertVerificationError):
        smtplib.SMTP_SSL(gmail_emulator.host, gmail_emulator.smtp_tls_port, context=verify, timeout=5)
    [session] = gmail_emulator.sessions()
    assert session["starttls"] is True and session["auth_mechanism"] is None and "tls_error" in session
    assert not any(c.startswith("AUTH") for c in session["commands"])
    # Same CA, other name: without name checking the chain still verifies.
    loose = ssl.create_default_context(cafile=gmail_emulator.ca_file)
    loose.check_hostname = False
    with smtplib.SMTP_SSL(gmail_emulator.host, gmail_emulator.smtp_tls_port, context=loose, timeout=5) as s:
        names = s.sock.getpeercert()["subjectAltName"]
    assert names == (("DNS", "wrong.example.net"),)
    gmail_emulator.set(wrong_cert=False)
    with client(gmail_emulator) as s:
        s.noop()


def flights(session, first: str, last: str) -> int:
    """Round trips from the command starting with `first` to the one starting with `last`."""
    index = {c.split(" ")[0]: i for i, c in reversed(list(enumerate(session["commands"])))}
    trips = session["command_round_trips"]
    return trips[index[last]] - trips[index[first]]


def test_round_trips_lockstep_client(gmail_emulator):
    gmail_emulator.set(delay=0.05)
    s = client(gmail_emulator)
    started = time.monotonic()
    s.sendmail(USER, ["a@example.com"], MSG)
    elapsed = time.monotonic() - started
    s.quit()
    [session] = gmail_emulator.sessions()
    assert flights(session, "MAIL", "QUIT") == 4  # MAIL, RCPT, DATA, final dot: one round trip each
    assert elapsed >= 0.2
    assert session["round_trips"] == session["command_round_trips"][-1] + 1


def test_round_trips_pipelined_flight(gmail_emulator, raw):
    gmail_emulator.set(delay=0.05)
    started = time.monotonic()
    raw.send("MAIL FROM:<ops.alerts@gmail.com>", "RCPT TO:<a@example.com>", "DATA")
    assert [raw.reply()[0][:3] for _reply in range(3)] == ["250", "250", "354"]
    raw.send("Subject: pipelined", "", "body", ".")
    assert raw.reply()[0].startswith("250 2.0.0 OK")
    elapsed = time.monotonic() - started
    raw.send("QUIT")
    raw.reply()
    [session] = gmail_emulator.sessions()
    assert flights(session, "MAIL", "QUIT") == 2
    assert elapsed >= 0.1


@pytest.mark.parametrize("rule, field", [
    ({"stage": "helo", "action": "reply"}, "'stage'"), ({"stage": "mail", "action": "explode"}, "'action'"),
    ({"stage": "mail", "action": "reply", "nth": 0}, "'nth'"),
    ({"stage": "mail", "action": "drop", "times": -1}, "'times'"),
    ({"stage": "mail", "action": "reply", "colour": 1}, "unknown field"), ("mail", "mapping"),
    ({"stage": "login", "action": "drop", "protocol": "smtp"}, "'login' is for IMAP/POP"),
])
def test_bad_rules_are_refused(gmail_emulator, rule, field):
    with pytest.raises(ConfigError, match=field):
        gmail_emulator.set_faults([rule])


def test_bad_switch_is_refused(gmail_emulator):
    with pytest.raises(ConfigError, match="unknown emulator switch 'delays'"):
        gmail_emulator.set(delays=1)
    with pytest.raises(ConfigError, match="'delay' must be a number"):
        gmail_emulator.set(delay="slow")


@pytest.mark.parametrize("protocol", ["imap", "pop"])
def test_round_trips_imap_pop(gmail_emulator, protocol):
    gmail_emulator.set(delay=0.05)
    ctx = ssl.create_default_context(cafile=gmail_emulator.ca_file)
    started = time.monotonic()
    if protocol == "imap":
        conn = imaplib.IMAP4_SSL(gmail_emulator.host, gmail_emulator.imap_port, ssl_context=ctx, timeout=5)
        conn.login(USER, APP_PW)  # imaplib asks CAPABILITY first: greeting, CAPABILITY, LOGIN, LOGOUT
        conn.logout()
    else:
        conn = poplib.POP3_SSL(gmail_emulator.host, gmail_emulator.pop_port, context=ctx, timeout=5)
        conn.user(USER)  # greeting, USER, PASS, QUIT
        conn.pass_(APP_PW)
        conn.quit()
    elapsed = time.monotonic() - started
    [session] = gmail_emulator.sessions()
    assert session["round_trips"] == 4 and elapsed >= 0.2
