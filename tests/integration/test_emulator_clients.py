# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Real mail clients (swaks, msmtp) against the emulator; records never hold a secret."""
from __future__ import annotations

import base64
import imaplib
import os
import poplib
import shutil
import smtplib
import ssl
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest
from gmail_emulator.wire import Wire, b64, plain, xoauth2

USER, APP_PW = "ops.alerts@gmail.com", "abcdefghijklmnop"


def swaks(emu, *args):
    cmd = ["swaks", "--server", f"{emu.host}:{emu.smtp_starttls_port}", "--tls", "--tls-verify",
           "--tls-ca-path", emu.ca_file, "--from", USER, "--to", "a@example.com", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)


def msmtp(emu, tmp_path, *lines, body="Subject: msmtp\n\nhello\n"):
    conf = tmp_path / "msmtprc"
    conf.write_text("\n".join(["account default", f"host {emu.host}", f"tls_trust_file {emu.ca_file}",
                               "tls on", f"user {USER}", f"from {USER}", *lines]) + "\n")
    conf.chmod(0o600)
    return subprocess.run(["msmtp", "-C", str(conf), "a@example.com"], input=body, capture_output=True, text=True,
                          timeout=30, check=False)


pytestmark = pytest.mark.skipif(not (shutil.which("swaks") and shutil.which("msmtp")),
                                reason="swaks and msmtp are Debian packages installed by `make setup`")


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_swaks_starttls(gmail_emulator, mechanism):
    result = swaks(gmail_emulator, "--auth", mechanism, "--auth-user", USER, "--auth-password", APP_PW,
                   "--h-Subject", "swaks")
    assert result.returncode == 0, result.stdout + result.stderr
    [msg] = gmail_emulator.messages()
    assert msg["subject"] == "swaks" and msg["auth_mechanism"] == mechanism


def test_swaks_implicit_tls_and_bad_password(gmail_emulator):
    result = subprocess.run(["swaks", "--server", f"{gmail_emulator.host}:{gmail_emulator.smtp_tls_port}",
                             "--tls-on-connect", "--tls-verify", "--tls-ca-path", gmail_emulator.ca_file,
                             "--from", USER, "--to", "a@example.com", "--auth", "LOGIN", "--auth-user", USER,
                             "--auth-password", "nope"], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode != 0 and "535-5.7.8 Username and Password not accepted." in result.stdout


def test_msmtp_pipelines_one_flight(gmail_emulator, tmp_path):
    gmail_emulator.set(delay=0.05)
    result = msmtp(gmail_emulator, tmp_path, f"port {gmail_emulator.smtp_starttls_port}", "tls_starttls on",
                   "auth plain", f"password {APP_PW}")
    assert result.returncode == 0, result.stderr
    [session] = gmail_emulator.sessions()
    commands, trips = session["commands"], session["command_round_trips"]
    mail, quit_ = commands.index("MAIL FROM:<ops.alerts@gmail.com>"), commands.index("QUIT")
    assert trips[quit_] - trips[mail] == 2  # MAIL+RCPT+DATA in one flight, then the message


def test_msmtp_implicit_tls_xoauth2(gmail_emulator, tmp_path):
    result = msmtp(gmail_emulator, tmp_path, f"port {gmail_emulator.smtp_tls_port}", "tls_starttls off",
                   "auth xoauth2", "password ya29.valid-ops-alerts")
    assert result.returncode == 0, result.stderr
    [msg] = gmail_emulator.messages()
    assert (msg["auth_mechanism"], msg["listener"]) == ("XOAUTH2", "smtp-tls")


def test_msmtp_refuses_wrong_name_certificate(gmail_emulator, tmp_path):
    gmail_emulator.set(wrong_cert=True)
    result = msmtp(gmail_emulator, tmp_path, f"port {gmail_emulator.smtp_starttls_port}", "tls_starttls on",
                   "auth plain", f"password {APP_PW}")
    assert result.returncode != 0 and "certificate" in result.stderr.lower()
    [session] = gmail_emulator.sessions()
    assert session["auth_mechanism"] is None and gmail_emulator.messages() == []


SECRETS = [APP_PW, "abcd efgh ijkl mnop", "correct-horse-battery", "ponmlkjihgfedcba", "emulator-client-secret",
           "1//refresh-ops-alerts", "1//refresh-revoked", "ya29.valid-ops-alerts", "ya29.expired-ops-alerts"]


def test_records_hold_no_secret(gmail_emulator):
    emu, ctx = gmail_emulator, ssl.create_default_context(cafile=gmail_emulator.ca_file)
    w = Wire(emu.host, emu.smtp_starttls_port)
    w.reply()
    w.cmd("EHLO x")
    w.starttls(ctx)
    w.cmd("EHLO x")
    w.cmd(f"AUTH PLAIN {plain(USER, 'correct-horse-battery')}")
    w.cmd("AUTH LOGIN")
    w.cmd(b64(USER))
    w.cmd(b64("abcd efgh ijkl mnop"))
    w.close()
    for token, codes in (("ya29.expired-ops-alerts", [334, 535]), ("ya29.valid-ops-alerts", [235])):
        with smtplib.SMTP_SSL(emu.host, emu.smtp_tls_port, context=ctx) as s:
            s.ehlo()
            assert [s.docmd("AUTH", f"XOAUTH2 {xoauth2(USER, token)}")[0]] + [s.docmd("")[0]][:len(codes) - 1] \
                == codes
    imap = imaplib.IMAP4_SSL(emu.host, emu.imap_port, ssl_context=ctx)
    imap.login("team.reports@gmail.com", "ponmlkjihgfedcba")
    imap.logout()
    pop = poplib.POP3_SSL(emu.host, emu.pop_port, context=ctx)
    pop.user(USER)
    pop.pass_(APP_PW)
    pop.quit()
    for refresh in ("1//refresh-ops-alerts", "1//refresh-revoked"):
        body = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": refresh,
                                       "client_id": "emulator-client-id.apps.googleusercontent.com",
                                       "client_secret": "emulator-client-secret"}).encode()
        try:
            urllib.request.urlopen(emu.token_uri, data=body, context=ctx, timeout=5).close()
        except urllib.error.HTTPError as err:
            err.close()
    records = emu.records()
    assert len(records["sessions"]) == 5 and len(records["oauth"]) == 2
    forms = set()
    for secret in SECRETS:
        forms |= {secret, base64.b64encode(secret.encode()).decode(), plain(USER, secret)}
    for token in ("ya29.expired-ops-alerts", "ya29.valid-ops-alerts"):
        forms.add(xoauth2(USER, token))
    for root, _dirs, files in os.walk(emu.records_dir):
        for name in files:
            with open(os.path.join(root, name), "rb") as fh:
                data = fh.read().decode("utf-8", "replace")
            leaked = [f for f in forms if f in data]
            assert not leaked, f"{name} holds {leaked}"
