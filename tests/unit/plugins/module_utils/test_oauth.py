# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
from __future__ import annotations

import base64
import io
import json
import urllib.error
import urllib.parse

import pytest

from ansible_collections.mailops.gmail.plugins.module_utils import _oauth, _tls
from ansible_collections.mailops.gmail.plugins.module_utils._errors import GmailError

SECRET = "emulator-client-secret"
REFRESH = "1//refresh-ops-alerts"


@pytest.mark.parametrize(
    "user, token, expected",
    [
        # Google's documented example.
        (
            "someuser@example.com",
            "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg",
            "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==",
        ),
        ("ops.alerts@gmail.com", "ya29.valid-ops-alerts", None),
    ],
)
def test_xoauth2_initial_response(user, token, expected):
    encoded = _tls.xoauth2_initial_response(user, token)
    if expected:
        assert encoded == expected
    assert base64.b64decode(encoded) == f"user={user}\x01auth=Bearer {token}\x01\x01".encode()


class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()


def fake_opener(monkeypatch, status, payload):
    """Make urllib answer with (status, payload); record the request."""
    seen = {}

    class Opener:
        def open(self, request, timeout):
            seen.update(url=request.full_url, body=urllib.parse.parse_qs(request.data.decode()), timeout=timeout)
            body = json.dumps(payload).encode()
            if status != 200:
                raise urllib.error.HTTPError(request.full_url, status, "Bad Request", {}, io.BytesIO(body))
            return FakeResponse(body)

    monkeypatch.setattr(_oauth.urllib.request, "build_opener", lambda *handlers: Opener())
    return seen


def refresh():
    return _oauth.refresh_access_token("https://oauth.test/token", "cid", SECRET, REFRESH, timeout=5)


def test_refresh_posts_the_grant_and_returns_expiry(monkeypatch):
    seen = fake_opener(monkeypatch, 200, {"access_token": "ya29.new", "expires_in": 3599, "token_type": "Bearer"})
    token = refresh()
    assert token["access_token"] == "ya29.new" and token["expires_in"] == 3599
    assert token["expires_at"] >= token["expires_in"]
    assert seen["body"] == {
        "grant_type": ["refresh_token"],
        "client_id": ["cid"],
        "client_secret": [SECRET],
        "refresh_token": [REFRESH],
    }
    assert seen["timeout"] == 5


@pytest.mark.parametrize(
    "status, payload, category, words",
    [
        (
            400,
            {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
            "oauth_invalid_grant",
            "7 days",
        ),
        (
            401,
            {"error": "invalid_client", "error_description": "The OAuth client was not found."},
            "oauth_invalid_client",
            "client_secret",
        ),
        (400, {"error": "unsupported_grant_type"}, "oauth", "token_uri"),
        (503, {}, "temporary", "retry"),
        (200, {"token_type": "Bearer"}, "oauth", "token_uri"),
    ],
)
def test_refresh_errors_are_classified_without_secrets(monkeypatch, status, payload, category, words):
    fake_opener(monkeypatch, status, payload)
    with pytest.raises(GmailError) as err:
        refresh()
    assert err.value.category == category
    assert words in err.value.classification["remediation"]
    assert str(err.value).startswith("OAuth token refresh at oauth.test failed")
    assert SECRET not in str(err.value) and REFRESH not in str(err.value)


def test_refresh_refuses_plain_http():
    with pytest.raises(GmailError, match="must be an https:// URL"):
        _oauth.refresh_access_token("http://oauth.test/token", "cid", SECRET, REFRESH)


def test_refresh_connection_refused_is_classified():
    with pytest.raises(GmailError) as err:
        _oauth.refresh_access_token("https://127.0.0.1:9/token", "cid", SECRET, REFRESH, timeout=5)
    assert err.value.category == "refused"
