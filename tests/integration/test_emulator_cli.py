# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""`python -m gmail_emulator`: ready line, emulator.json, a mail through it, records on disk, SIGTERM."""
from __future__ import annotations

import json
import os
import signal
import smtplib
import ssl
import subprocess
import sys
import urllib.request

import pytest
from gmail_emulator.records import load

EXTENSIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "extensions")


def start(*args):
    env = dict(os.environ, PYTHONPATH=EXTENSIONS)
    return subprocess.Popen([sys.executable, "-m", "gmail_emulator", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture
def process(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"daily_limit": 1, "accounts": {"ci@example.org": {"app_passwords": ["x" * 16]}}}))
    proc = start("--records", str(tmp_path / "records"), "--listen", "127.0.0.1", "--config", str(config),
                 "--ca-dir", str(tmp_path / "ca"), "--extra-san", "emulator.test", "10.88.0.1")
    yield proc, tmp_path
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    proc.stdout.close()
    proc.stderr.close()


def test_command_line_mode(process):
    proc, tmp_path = process
    info = json.loads(proc.stdout.readline())
    with open(tmp_path / "records" / "emulator.json") as fh:
        assert json.load(fh) == info
    assert info["ca_file"] == str(tmp_path / "ca" / "ca.pem")
    assert oct(os.stat(tmp_path / "ca" / "ca.key").st_mode & 0o777) == "0o600"
    ctx = ssl.create_default_context(cafile=info["ca_file"])
    with smtplib.SMTP(info["host"], info["smtp_starttls_port"], timeout=5) as s:
        s.starttls(context=ctx)
        names = s.sock.getpeercert()["subjectAltName"]
        s.login("ci@example.org", "x" * 16)  # the --config account table replaces the default one
        s.sendmail("ci@example.org", ["a@example.com"], b"Subject: cli\r\n\r\nhello\r\n")
        with pytest.raises(smtplib.SMTPDataError):  # daily_limit 1 from --config, said at the end of data
            s.sendmail("ci@example.org", ["a@example.com"], b"Subject: cli\r\n\r\nagain\r\n")
    assert ("DNS", "emulator.test") in names  # --extra-san
    request = urllib.request.Request(info["token_uri"].replace("/token", "/_emulator/set"), data=b'{"delay": 0.01}')
    with urllib.request.urlopen(request, context=ctx, timeout=5) as response:
        assert json.load(response) == {"ok": True}
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    records = load(str(tmp_path / "records"))
    assert [m["subject"] for m in records["messages"]] == ["cli"]
    assert records["sessions"][0]["auth_user"] == "ci@example.org"


def test_san_and_reused_ca(process):
    proc, tmp_path = process
    info = json.loads(proc.stdout.readline())
    ctx = ssl.create_default_context(cafile=info["ca_file"])
    with smtplib.SMTP_SSL(info["host"], info["smtp_tls_port"], context=ctx, timeout=5) as s:
        names = s.sock.getpeercert()["subjectAltName"]
    for entry in (("DNS", "smtp.gmail.com"), ("DNS", "oauth2.googleapis.com"), ("DNS", "emulator.test"),
                  ("IP Address", "127.0.0.1"), ("IP Address", "10.88.0.1"), ("DNS", "smtp-relay.gmail.com")):
        assert entry in names
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0
    with open(info["ca_file"], "rb") as fh:
        ca = fh.read()
    again = start("--records", str(tmp_path / "records2"), "--ca-dir", str(tmp_path / "ca"))
    try:
        json.loads(again.stdout.readline())
        with open(info["ca_file"], "rb") as fh:
            assert fh.read() == ca  # the CA in --ca-dir is reused, so hosts that trust it keep trusting
    finally:
        again.terminate()
        again.wait(timeout=10)
        again.stdout.close()
        again.stderr.close()


def test_bad_config_is_explained(tmp_path):
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"delay": "slow"}))
    proc = start("--records", str(tmp_path / "r"), "--config", str(config))
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2 and "switch 'delay' must be a number" in err and "Traceback" not in err
