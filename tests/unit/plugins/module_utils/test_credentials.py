# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
from __future__ import annotations

import threading
import time

import pytest

from ansible_collections.mailops.gmail.plugins.module_utils import _credentials
from ansible_collections.mailops.gmail.plugins.module_utils._errors import GmailError, classification
from ansible_collections.mailops.gmail.plugins.module_utils._validate import ParameterError


def params(**extra):
    base = {
        "username": "ops.alerts@gmail.com",
        "password": "abcdefghijklmnop",
        "access_token": None,
        "oauth": None,
        "host": "smtp.gmail.com",
        "port": 587,
        "security": None,
        "ca_file": None,
        "timeout": 1.0,
        "ehlohost": None,
        "imap_host": "imap.gmail.com",
        "imap_port": 993,
        "pop_host": "pop.gmail.com",
        "pop_port": 995,
    }
    base.update(extra)
    return base


class SlowClient:
    """Stands in for SmtpClient/ImapClient/PopClient: each step sleeps, records what ran."""

    delay = 0.3
    log = []
    together = None

    def __init__(self, *args, **kwargs):
        self.extensions = {"SIZE": "35882577"}
        self.tls_version = "TLSv1.3"

    def set_deadline(self, seconds):
        self.deadline = seconds

    def connect(self):
        if self.together is not None:
            self.together.wait()  # every protocol's check must be running at once to pass here
        time.sleep(self.delay)

    def authenticate(self, username, password=None, access_token=None):
        if password == "bad":
            raise GmailError(classification("auth", 535, "5.7.8", "Authentication to x failed (535 5.7.8): no"))
        return "XOAUTH2" if access_token else "PLAIN"

    def quit(self):
        self.log.append("quit")


@pytest.fixture
def slow(monkeypatch):
    for name in ("SmtpClient", "ImapClient", "PopClient"):
        monkeypatch.setattr(_credentials, name, SlowClient)
    SlowClient.log = []
    SlowClient.delay = 0.3
    SlowClient.together = None
    return SlowClient


def test_protocols_are_checked_concurrently(slow):
    # Checked one after the other, the first would wait at the barrier until it breaks: no clock needed.
    slow.delay = 0
    slow.together = threading.Barrier(3, timeout=10)
    results = _credentials.check_credentials(params(timeout=20), ["smtp", "imap", "pop"], "starttls")
    assert all(r["valid"] and r["mechanism"] for r in results.values())
    assert results["smtp"]["server_extensions"] == {"SIZE": "35882577"}
    assert slow.log == ["quit"] * 3  # every session ended


def test_failure_is_reported_per_protocol_and_session_still_ended(slow):
    results = _credentials.check_credentials(params(password="bad"), ["smtp", "pop"], "starttls")
    assert {name: r["error"]["category"] for name, r in results.items()} == {"smtp": "auth", "pop": "auth"}
    assert not any(r["valid"] for r in results.values())
    assert slow.log == ["quit", "quit"]


def test_a_check_outliving_its_deadline_is_reported_not_awaited(slow):
    # The check blocks until the test lets it go: a result before that was not awaited.
    slow.delay = 0
    slow.together = threading.Barrier(2, timeout=30)
    results = _credentials.check_credentials(params(timeout=0.2), ["imap"], "starttls")
    assert results["imap"]["error"]["category"] == "timeout"
    slow.together.wait()


def test_oauth_failure_is_reported_for_every_protocol(slow, monkeypatch):
    def refused(*args, **kwargs):
        raise GmailError(classification("oauth_invalid_grant", None, None, "OAuth token refresh at x failed"))

    monkeypatch.setattr(_credentials, "refresh_oauth", refused)
    oauth = {"client_id": "c", "client_secret": "s", "refresh_token": "r", "token_uri": "https://x/token"}
    results = _credentials.check_credentials(params(password=None, oauth=oauth), ["smtp", "imap"], "starttls")
    assert {r["error"]["category"] for r in results.values()} == {"oauth_invalid_grant"}
    assert slow.log == []  # no connection without a token


@pytest.mark.parametrize(
    "extra, words",
    [
        ({"port": 465, "security": "starttls"}, "port 465 uses security=tls"),
        ({"username": "not-an-address"}, "username must be a full e-mail address"),
        ({"pop_port": 0}, "pop_port must be a TCP port"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"ehlohost": "x\r\nQUIT"}, "ehlohost must not contain CR, LF"),
        (
            {"oauth": {"client_id": "c", "client_secret": "s", "refresh_token": "r", "token_uri": "http://x"}},
            "oauth.token_uri must be an https:// URL",
        ),
    ],
)
def test_check_connection_params_refusals(extra, words):
    with pytest.raises(ParameterError, match=words):
        _credentials.check_connection_params(params(**extra), extra_ports=("imap_port", "pop_port"))


def test_check_connection_params_resolves_security():
    assert _credentials.check_connection_params(params(port=465)) == "tls"
    assert _credentials.check_connection_params(params()) == "starttls"


def test_argument_spec_marks_every_secret_no_log():
    spec = _credentials.connection_argument_spec()
    assert spec["password"]["no_log"] and spec["access_token"]["no_log"]
    assert spec["oauth"]["options"]["client_secret"]["no_log"] and spec["oauth"]["options"]["refresh_token"]["no_log"]
    assert _credentials.connection_argument_spec(require_credentials=False)["username"]["required"] is False
