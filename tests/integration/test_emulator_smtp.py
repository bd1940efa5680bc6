# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""The emulator's SMTP listeners, driven by smtplib and a raw line client (exact wire text)."""
from __future__ import annotations

import base64
import json
import re
import smtplib
import ssl
import subprocess
import time

import pytest
from gmail_emulator import Emulator
from gmail_emulator.wire import Wire, b64, plain, xoauth2

USER, APP_PW = "ops.alerts@gmail.com", "abcdefghijklmnop"
MSG = b"From: Ops <ops.alerts@gmail.com>\r\nTo: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n"
BEARER_JSON = {"status": "400", "schemes": "Bearer", "scope": "https://mail.google.com/"}


def ctx(emu):
    return ssl.create_default_context(cafile=emu.ca_file)


def client(emu, login=True, implicit=False, timeout=5):
    if implicit:
        s = smtplib.SMTP_SSL(emu.host, emu.smtp_tls_port, context=ctx(emu), timeout=timeout)
    else:
        s = smtplib.SMTP(emu.host, emu.smtp_starttls_port, timeout=timeout)
        s.starttls(context=ctx(emu))
    s.ehlo()
    if login:
        s.login(USER, APP_PW)
    return s


@pytest.fixture
def wire(gmail_emulator):
    """Opens raw clients after EHLO (+ STARTTLS, EHLO, AUTH PLAIN); closes them after the test."""
    opened = []

    def open_wire(tls=True, auth=True):
        w = Wire(gmail_emulator.host, gmail_emulator.smtp_starttls_port)
        opened.append(w)
        assert w.reply()[0].startswith("220 smtp.gmail.com ESMTP ")
        w.cmd("EHLO test")
        if tls:
            assert w.starttls(ctx(gmail_emulator)) == ["220 2.0.0 Ready to start TLS"]
            w.cmd("EHLO test")
        if auth:
            assert w.cmd(f"AUTH PLAIN {plain(USER, APP_PW)}") == ["235 2.7.0 Accepted"]
        return w
    yield open_wire
    for w in opened:
        w.close()


def test_ehlo_before_and_after_starttls(gmail_emulator):
    w = Wire(gmail_emulator.host, gmail_emulator.smtp_starttls_port)
    w.reply()
    before = [line[4:] for line in w.cmd("EHLO client.example")]
    assert before[1:] == ["SIZE 35882577", "8BITMIME", "STARTTLS", "ENHANCEDSTATUSCODES", "PIPELINING", "CHUNKING",
                          "SMTPUTF8"]
    w.starttls(ctx(gmail_emulator))
    after = [line[4:] for line in w.cmd("EHLO client.example")]
    assert after[0].startswith("smtp.gmail.com at your service")
    assert after[1:] == ["SIZE 35882577", "8BITMIME", "AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH",
                         "ENHANCEDSTATUSCODES", "PIPELINING", "CHUNKING", "SMTPUTF8"]


@pytest.mark.parametrize("command", [f"AUTH PLAIN {plain(USER, APP_PW)}", "MAIL FROM:<ops.alerts@gmail.com>",
                                     "RCPT TO:<a@example.com>", "DATA"])
def test_commands_before_starttls_get_530_5_7_0(gmail_emulator, wire, command):
    w = wire(tls=False, auth=False)
    [answer] = w.cmd(command)
    assert answer.startswith("530 5.7.0 Must issue a STARTTLS command first. ") and answer.endswith(" - gsmtp")
    w.close()
    assert gmail_emulator.sessions()[0]["auth_result"] is None


def test_mail_without_auth_after_tls(gmail_emulator, wire):
    w = wire(auth=False)
    answer = w.cmd("MAIL FROM:<ops.alerts@gmail.com>")
    assert answer[0] == "530-5.7.0 Authentication Required. Learn more at"
    assert answer[1].startswith("530 5.7.0  https://support.google.com/mail/?p=WantAuthError ")


def test_implicit_tls_send(gmail_emulator):
    with client(gmail_emulator, implicit=True) as s:
        assert "auth" in s.esmtp_features and "starttls" not in s.esmtp_features
        s.sendmail(USER, ["a@example.com"], MSG)
    [session] = gmail_emulator.sessions()
    assert session["listener"] == "smtp-tls" and session["tls_version"] == "TLSv1.3"
    assert session["starttls"] is False and session["auth_user"] == USER
    [msg] = gmail_emulator.messages()
    assert msg["rcpt_tos"] == ["a@example.com"] and msg["tls_version"] == "TLSv1.3"


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
@pytest.mark.parametrize("password", ["abcdefghijklmnop", "abcd efgh ijkl mnop"])
def test_password_mechanisms(gmail_emulator, mechanism, password):
    s = client(gmail_emulator, login=False)
    s.user, s.password = USER, password
    code, _text = s.auth(mechanism, getattr(s, f"auth_{mechanism.lower()}"), initial_response_ok=mechanism == "PLAIN")
    assert code == 235
    s.sendmail(USER, ["a@example.com"], MSG)
    s.quit()
    [session] = gmail_emulator.sessions()
    assert (session["auth_mechanism"], session["auth_user"], session["auth_result"]) == (mechanism, USER, "ok")
    assert gmail_emulator.messages()[0]["auth_mechanism"] == mechanism


def test_auth_login_prompts(gmail_emulator, wire):
    w = wire(auth=False)
    assert w.cmd("AUTH LOGIN") == ["334 VXNlcm5hbWU6"]  # "Username:"
    assert w.cmd(b64(USER)) == ["334 UGFzc3dvcmQ6"]  # "Password:"
    assert w.cmd(b64(APP_PW)) == ["235 2.7.0 Accepted"]


@pytest.mark.parametrize("user, password, first, last", [
    (USER, "correct-horse-battery", "534-5.7.9 Application-specific password required.",
     "534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor "),
    ("blocked.user@gmail.com", "qrstuvwxyzabcdef", "534-5.7.14 Please log in via your web browser and then try again.",
     "534 5.7.14  Learn more at "),
    (USER, "wrong-password-xx", "535-5.7.8 Username and Password not accepted. For more information, go to",
     "535 5.7.8  https://support.google.com/mail/?p=BadCredentials "),
    ("nobody@gmail.com", APP_PW, "535-5.7.8 Username and Password not accepted.",
     "535 5.7.8  https://support.google.com/mail/?p=BadCredentials "),
])
def test_refused_logins(gmail_emulator, wire, user, password, first, last):
    w = wire(auth=False)
    answer = w.cmd(f"AUTH PLAIN {plain(user, password)}")
    assert answer[0].startswith(first) and answer[-1].startswith(last) and answer[-1].endswith(" - gsmtp")
    with client(gmail_emulator, login=False) as s, pytest.raises(smtplib.SMTPAuthenticationError) as err:
        s.login(user, password)
    assert err.value.smtp_code == int(first[:3])


def test_xoauth2_accepted(gmail_emulator, wire):
    w = wire(auth=False)
    assert w.cmd(f"AUTH XOAUTH2 {xoauth2(USER, 'ya29.valid-ops-alerts')}") == ["235 2.7.0 Accepted"]
    assert w.cmd("MAIL FROM:<ops.alerts@gmail.com>")[0].startswith("250 2.1.0 OK")
    assert w.cmd("RSET")[0].startswith("250 2.1.5 Flushed ")
    assert w.cmd("BDAT 0 LAST")[0].startswith("503 5.5.1 RCPT first.")


def test_xoauth2_without_initial_response(gmail_emulator, wire):
    w = wire(auth=False)
    assert w.cmd("AUTH XOAUTH2") == ["334 "]
    assert w.cmd(xoauth2(USER, "ya29.valid-ops-alerts")) == ["235 2.7.0 Accepted"]


@pytest.mark.parametrize("user, token", [(USER, "ya29.expired-ops-alerts"), (USER, "ya29.unknown"),
                                         ("team.reports@gmail.com", "ya29.valid-ops-alerts")])
def test_xoauth2_failure_continuation(gmail_emulator, wire, user, token):
    w = wire(auth=False)
    [challenge] = w.cmd(f"AUTH XOAUTH2 {xoauth2(user, token)}")
    assert challenge.startswith("334 ")
    assert json.loads(base64.b64decode(challenge[4:])) == BEARER_JSON
    answer = w.cmd("")  # the client's empty line
    assert answer[0].startswith("535-5.7.8 Username and Password not accepted.")
    w.close()
    [session] = gmail_emulator.sessions()
    assert (session["auth_mechanism"], session["auth_result"]) == ("XOAUTH2", "bad_credentials")


def test_xoauth2_with_smtplib(gmail_emulator):
    s = client(gmail_emulator, login=False)
    good = f"user={USER}\x01auth=Bearer ya29.valid-ops-alerts\x01\x01"
    assert s.auth("XOAUTH2", lambda challenge=None: good)[0] == 235
    s.quit()
    bad = f"user={USER}\x01auth=Bearer ya29.expired-ops-alerts\x01\x01"
    with client(gmail_emulator, login=False) as s, pytest.raises(smtplib.SMTPAuthenticationError) as err:
        s.auth("XOAUTH2", lambda challenge=None: "" if challenge else bad)
    assert err.value.smtp_code == 535


def test_from_rewriting(gmail_emulator):
    with client(gmail_emulator) as s:
        for sender in ("Ops Robot <robot@example.org>", "Alias <noreply@example.com>", f"Me <{USER}>"):
            s.sendmail(USER, ["a@example.com"], f"From: {sender}\r\nSubject: x\r\n\r\nx\r\n".encode())
        s.sendmail(USER, ["a@example.com"], b"Subject: no from\r\n\r\nx\r\n")
    rewritten = [(m["from_original"], m["from_rewritten"]) for m in gmail_emulator.messages()]
    assert rewritten == [("Ops Robot <robot@example.org>", f"Ops Robot <{USER}>"),
                         ("Alias <noreply@example.com>", "Alias <noreply@example.com>"),
                         (f"Me <{USER}>", f"Me <{USER}>"), (None, USER)]
    first = gmail_emulator.messages()[0]
    with open(f"{gmail_emulator.records_dir}/messages/{first['eml']}", "rb") as fh:
        received, _sep, rest = fh.read().partition(b";\r\n")
    # Gmail's Received field first (from the client's EHLO name and address, over TLS), then the rewritten From.
    assert received.startswith(b"Received: from ") and b"by smtp.gmail.com with ESMTPSA id " in received
    assert re.search(rb"\(version=TLS1_[23] cipher=\S+ bits=\d+/\d+\)$", received), received
    assert rest.split(b"\r\n", 1)[1].startswith(f"From: Ops Robot <{USER}>\r\n".encode())


def test_daily_limit(gmail_emulator):
    """Gmail says 550 5.4.5 as the reply to the end of the data (PHPMailer "DATA command failed")."""
    gmail_emulator.set(daily_limit=1)
    with client(gmail_emulator) as s:
        s.sendmail(USER, ["a@example.com"], MSG)
        with pytest.raises(smtplib.SMTPDataError) as err:
            s.sendmail(USER, ["a@example.com"], MSG)
    assert err.value.smtp_code == 550 and b"5.4.5 Daily user sending limit exceeded" in err.value.smtp_error
    assert len(gmail_emulator.messages()) == 1


def test_recipient_limit(gmail_emulator):
    rcpts = [f"r{i}@example.com" for i in range(101)]
    with client(gmail_emulator) as s:
        refused = s.sendmail(USER, rcpts, MSG)
    assert list(refused) == ["r100@example.com"]
    assert refused["r100@example.com"][0] == 452 and b"4.5.3 Your message has too many recipients" in \
        refused["r100@example.com"][1]
    assert len(gmail_emulator.messages()[0]["rcpt_tos"]) == 100


def test_size_limit(gmail_emulator):
    gmail_emulator.set(max_message_size=2000)
    big = MSG + (b"x" * 70 + b"\r\n") * 40
    with client(gmail_emulator) as s:
        assert s.esmtp_features["size"] == "2000"
        with pytest.raises(smtplib.SMTPSenderRefused) as err:  # MAIL ... SIZE=
            s.sendmail(USER, ["a@example.com"], big)
        assert err.value.smtp_code == 552 and b"5.3.4 Your message exceeded Google's message size" in \
            err.value.smtp_error
        s.mail(USER)  # no SIZE parameter: refused after DATA
        s.rcpt("a@example.com")
        code, text = s.data(big)
    assert code == 552 and b"5.3.4" in text
    assert gmail_emulator.messages() == []


def test_pipelining_switch(gmail_emulator):
    gmail_emulator.set(pipelining=False)
    with client(gmail_emulator) as s:
        assert "pipelining" not in s.esmtp_features and "auth" in s.esmtp_features


def test_ipv6_listener(tmp_path):
    with Emulator(str(tmp_path), host="::1") as emu:
        assert emu.token_uri == f"https://[::1]:{emu.oauth_port}/token"
        with smtplib.SMTP_SSL("::1", emu.smtp_tls_port, context=ctx(emu), timeout=5) as s:
            s.login(USER, APP_PW)  # the certificate names IP ::1
        assert emu.sessions()[0]["peer"][0] == "::1"


# -- where Gmail is strict (issue 15): envelope syntax, throttling, replies -------------------------------
@pytest.mark.parametrize("line, want", [
    ("RCPT TO:<bob>", "553-5.1.3 The recipient address <bob> is not a valid RFC-5321"),
    ("RCPT TO:<not an address>", "553-5.1.3 The recipient address <not an address> is not a valid RFC-5321"),
    ("RCPT TO:<>", "553-5.1.3 The recipient address <> is not a valid RFC-5321"),
    ("RCPT TO:a@example.com", "555 5.5.2 Syntax error."),
    ("RCPT TO:<a@example.com", "555 5.5.2 Syntax error."),
])
def test_bad_recipient_paths_are_refused(wire, line, want):
    w = wire()
    assert w.cmd(f"MAIL FROM:<{USER}>")[0].startswith("250 2.1.0 OK")
    answer = w.cmd(line)
    assert answer[0].startswith(want) and answer[-1].endswith(" - gsmtp")
    assert w.cmd("RCPT TO:<a@example.com>")[0].startswith("250 2.1.5 OK")  # the transaction goes on


@pytest.mark.parametrize("line, want", [
    (f'MAIL FROM:<"Ops" <{USER}>>', "555 5.5.2 Syntax error."),
    (f"MAIL FROM:{USER}", "555 5.5.2 Syntax error."),
    (f"MAIL FROM:<{USER}", "555 5.5.2 Syntax error."),
    ("MAIL FROM:<ops@-bad-.example>", "553-5.1.7 The sender address <ops@-bad-.example> is not a valid"),
])
def test_bad_sender_paths_are_refused(wire, line, want):
    assert wire().cmd(line)[0].startswith(want)


def test_good_paths_pass(wire):
    w = wire()
    assert w.cmd("MAIL FROM:<>")[0].startswith("250 ")  # the null sender of a bounce
    w.cmd("RSET")
    assert w.cmd(f"MAIL FROM: <{USER}> SIZE=100")[0].startswith("250 ")
    for rcpt in ('"john doe"@example.com', "a.b+tag@sub.example.co.uk", "x@[192.0.2.1]"):
        assert w.cmd(f"RCPT TO:<{rcpt}>")[0].startswith("250 "), rcpt


def test_swaks_sees_the_bad_recipient_refused(gmail_emulator):
    result = subprocess.run(["swaks", "--server", f"{gmail_emulator.host}:{gmail_emulator.smtp_starttls_port}",
                             "--tls", "--tls-verify", "--tls-ca-path", gmail_emulator.ca_file, "--auth", "PLAIN",
                             "--auth-user", USER, "--auth-password", APP_PW, "--from", USER, "--to", "bob"],
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode != 0 and "553-5.1.3 The recipient address <bob> is not a valid" in result.stdout
    assert gmail_emulator.messages() == []


def test_many_logins_in_a_minute_are_throttled(gmail_emulator):
    gmail_emulator.set(login_limit=3, login_window=60)
    for _n in range(3):
        client(gmail_emulator).quit()
    with pytest.raises(smtplib.SMTPAuthenticationError) as err:
        client(gmail_emulator)
    assert err.value.smtp_code == 454 and b"4.7.0 Too many login attempts, please try again later." in \
        err.value.smtp_error
    assert client(gmail_emulator, login=False).login("team.reports@gmail.com", "ponmlkjihgfedcba")  # per account
    gmail_emulator.set(login_window=0.5)
    time.sleep(0.6)
    client(gmail_emulator).quit()  # the window has passed


def test_every_reply_is_gmails_with_enhanced_code_and_gsmtp(wire):
    w = wire()
    for line, want in (("VRFY bob", "252 2.1.5 Send some mail, I'll try my best "),
                       ("HELP", "214 2.0.0 https://www.google.com/search?btnI&q=RFC+5321 "),
                       ("MAIL", "555 5.5.2 Syntax error. "),
                       ("EXPN list", "502 5.5.1 "),
                       ("NOOP", "250 2.0.0 OK ")):
        answer = w.cmd(line)
        assert answer[-1].startswith(want) and answer[-1].endswith(" - gsmtp"), (line, answer)
    fresh = wire(auth=False)
    assert fresh.cmd("AUTH PLAIN")[0].startswith("334")
    aborted = fresh.cmd("*")[-1]
    assert aborted.startswith("501 5.7.0 Auth aborted.") and aborted.endswith(" - gsmtp")


def test_chunking_is_advertised_and_bdat_works(gmail_emulator, wire):
    """RFC 3030 as Gmail offers it: CHUNKING before and after STARTTLS; pipelined chunks, LAST, SIZE over all."""
    plain_wire = Wire(gmail_emulator.host, gmail_emulator.smtp_starttls_port)
    plain_wire.reply()
    assert "250-CHUNKING" in plain_wire.cmd("EHLO test")
    plain_wire.close()
    w = wire()
    body = b"Message-ID: <bdat@example.com>\r\nSubject: bdat\r\n\r\n.a line with a leading dot\r\n"
    first, second = body[:20], body[20:]
    w.sock.sendall(f"MAIL FROM:<{USER}>\r\nRCPT TO:<a@example.com>\r\nBDAT {len(first)}\r\n".encode() + first
                   + f"BDAT {len(second)} LAST\r\n".encode() + second)
    answers = [w.reply() for _n in range(4)]
    assert answers[2][0].startswith(f"250 2.0.0 OK {len(first)} bytes received")
    assert answers[3][0].startswith("250 2.0.0 OK ") and answers[3][0].endswith(" - gsmtp")
    [message] = gmail_emulator.messages(wait=False)
    assert message["carried_by"] == "BDAT" and message["subject"] == "bdat"
    with open(f"{gmail_emulator.records_dir}/messages/{message['eml']}", "rb") as fh:
        assert b"\r\n.a line with a leading dot\r\n" in fh.read()  # no dot-unstuffing with BDAT
    assert w.cmd("BDAT x")[0].startswith("555 5.5.2 Syntax error.")
    gmail_emulator.set(max_message_size=10)
    w = wire()  # SIZE is read at EHLO
    w.sock.sendall(f"MAIL FROM:<{USER}>\r\nRCPT TO:<a@example.com>\r\nBDAT 6\r\n123456BDAT 6 LAST\r\n123456".encode())
    answers = [w.reply() for _n in range(4)]
    assert answers[3][0].startswith("552-5.3.4 Your message exceeded Google's message size limits.")
    assert len(gmail_emulator.messages(wait=False)) == 1


def _swaks(emu, *args):
    """swaks through STARTTLS with the emulator's CA; returns its transcript."""
    result = subprocess.run(["swaks", "--server", f"{emu.host}:{emu.smtp_starttls_port}", "--tls", "--tls-verify",
                             "--tls-ca-path", emu.ca_file, "--from", USER, "--to", "oncall@example.org", *args],
                            capture_output=True, text=True, timeout=30, check=False)
    return result.returncode, result.stdout


def test_swaks_sees_the_throttling_the_daily_limit_and_auth_required(gmail_emulator):
    """Stock swaks, no client of ours: the rows of login throttling, daily limit and MAIL without AUTH."""
    login = ("--auth", "PLAIN", "--auth-user", USER, "--auth-password", APP_PW)
    rc, out = _swaks(gmail_emulator)
    assert rc != 0 and "<~* 530-5.7.0 Authentication Required." in out
    assert "<~  250-CHUNKING" in out  # advertised after STARTTLS, as Gmail does

    gmail_emulator.set(daily_limit=1)
    assert _swaks(gmail_emulator, *login)[0] == 0
    rc, out = _swaks(gmail_emulator, *login)
    assert rc != 0 and "<~* 550-5.4.5 Daily user sending limit exceeded." in out
    assert out.index("~> .") < out.index("550-5.4.5")  # the reply to the end of the data, not to MAIL
    assert len(gmail_emulator.messages()) == 1

    gmail_emulator.set(login_limit=2, daily_limit=None)  # two logins above already counted
    rc, out = _swaks(gmail_emulator, *login)
    assert rc != 0 and "<~* 454 4.7.0 Too many login attempts, please try again later." in out
    assert len(gmail_emulator.messages()) == 1


def test_curl_sees_the_bearer_error_challenge(gmail_emulator, tmp_path):
    """curl picks OAUTHBEARER when offered (7.88 even with AUTH=XOAUTH2): Gmail's invalid_request JSON."""
    (tmp_path / "mail.txt").write_bytes(MSG)
    result = subprocess.run(["curl", "-v", "--ssl-reqd", "--cacert", gmail_emulator.ca_file,
                             f"smtp://{gmail_emulator.host}:{gmail_emulator.smtp_starttls_port}",
                             "--user", f"{USER}:", "--oauth2-bearer", "ya29.expired-ops-alerts",
                             "--mail-from", USER, "--mail-rcpt", "oncall@example.org",
                             "--upload-file", str(tmp_path / "mail.txt")],
                            capture_output=True, text=True, timeout=30, check=False)
    lines = result.stderr.splitlines()
    [mechanism] = [line.split()[2] for line in lines if line.startswith("> AUTH ")]
    challenges = [json.loads(base64.b64decode(line[6:])) for line in lines if line.startswith("< 334 e")]
    want = dict(BEARER_JSON, status="invalid_request") if mechanism == "OAUTHBEARER" else BEARER_JSON
    assert result.returncode != 0 and challenges == [want], result.stderr
    assert "< 535-5.7.8 Username and Password not accepted. For more information, go to" in lines
    assert gmail_emulator.messages() == []
