# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""The emulator's OAuth token endpoint and control API over HTTPS (urllib + the test CA)."""
from __future__ import annotations

import base64
import json
import os
import smtplib
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLIENT = {"client_id": "emulator-client-id.apps.googleusercontent.com", "client_secret": "emulator-client-secret"}


def post(emu, path, data, form=True):
    body = urllib.parse.urlencode(data).encode() if form else json.dumps(data).encode()
    url = emu.token_uri.replace("/token", path)
    ctype = "application/x-www-form-urlencoded" if form else "application/json"
    request = urllib.request.Request(url, data=body, headers={"Content-Type": ctype})
    context = ssl.create_default_context(cafile=emu.ca_file)
    try:
        with urllib.request.urlopen(request, context=context, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def refresh(emu, token="1//refresh-ops-alerts", **extra):
    return post(emu, "/token", dict(CLIENT, grant_type="refresh_token", refresh_token=token, **extra))


def xoauth2_login(emu, user, token):
    with smtplib.SMTP(emu.host, emu.smtp_starttls_port, timeout=5) as s:
        s.starttls(context=ssl.create_default_context(cafile=emu.ca_file))
        s.ehlo()
        blob = f"user={user}\x01auth=Bearer {token}\x01\x01"
        try:
            return s.auth("XOAUTH2", lambda challenge=None: "" if challenge else blob)[0]
        except smtplib.SMTPAuthenticationError as err:
            return err.smtp_code


def test_refresh_and_send(gmail_emulator):
    status, data = refresh(gmail_emulator)
    assert status == 200
    assert set(data) == {"access_token", "expires_in", "scope", "token_type"}
    assert data["access_token"].startswith("ya29.") and data["expires_in"] == 3599
    assert gmail_emulator.issued_tokens() == [data["access_token"]]
    assert (data["scope"], data["token_type"]) == ("https://mail.google.com/", "Bearer")
    assert xoauth2_login(gmail_emulator, "ops.alerts@gmail.com", data["access_token"]) == 235
    assert xoauth2_login(gmail_emulator, "team.reports@gmail.com", data["access_token"]) == 535  # another user
    [request] = gmail_emulator.token_requests()
    assert (request["status"], request["user"], request["client_id"]) == (200, "ops.alerts@gmail.com",
                                                                          CLIENT["client_id"])


def test_expiring_tokens(gmail_emulator):
    gmail_emulator.set(token_lifetime=0)
    status, data = refresh(gmail_emulator, "1//refresh-team-reports")
    assert status == 200 and data["expires_in"] == 0
    assert xoauth2_login(gmail_emulator, "team.reports@gmail.com", data["access_token"]) == 535


@pytest.mark.parametrize("token", ["1//refresh-revoked", "1//never-issued"])
def test_invalid_grant(gmail_emulator, token):
    assert refresh(gmail_emulator, token) == (400, {"error": "invalid_grant",
                                                    "error_description": "Token has been expired or revoked."})


GOOD = dict(CLIENT, grant_type="refresh_token", refresh_token="1//refresh-ops-alerts")


@pytest.mark.parametrize("change, status, error, description", [
    ({"client_id": "other.apps.googleusercontent.com"}, 401, "invalid_client", "The OAuth client was not found."),
    ({"client_secret": "wrong"}, 401, "invalid_client", "Unauthorized"),
    ({"grant_type": "password"}, 400, "unsupported_grant_type", "Invalid grant_type: password"),
    ({"grant_type": None}, 400, "invalid_request", "Missing required parameter: grant_type"),
    ({"refresh_token": None}, 400, "invalid_request", "Missing required parameter: refresh_token"),
])
def test_token_errors(gmail_emulator, change, status, error, description):
    data = {k: v for k, v in dict(GOOD, **change).items() if v is not None}
    assert post(gmail_emulator, "/token", data) == (status, {"error": error, "error_description": description})
    assert gmail_emulator.token_requests()[0]["error"] == error


def test_client_credentials_in_basic_auth(gmail_emulator):
    body = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": "1//refresh-ops-alerts"}).encode()
    basic = base64.b64encode(f"{CLIENT['client_id']}:{CLIENT['client_secret']}".encode()).decode()
    request = urllib.request.Request(gmail_emulator.token_uri, data=body, headers={"Authorization": f"Basic {basic}"})
    context = ssl.create_default_context(cafile=gmail_emulator.ca_file)
    with urllib.request.urlopen(request, context=context, timeout=5) as response:
        assert response.status == 200 and json.load(response)["access_token"].startswith("ya29.")


def test_control_api(gmail_emulator):
    assert post(gmail_emulator, "/_emulator/set", {"pipelining": False, "daily_limit": 5}, form=False) == \
        (200, {"ok": True})
    assert gmail_emulator.state.get("pipelining") is False and gmail_emulator.state.get("daily_limit") == 5
    assert post(gmail_emulator, "/_emulator/faults", [{"stage": "connect", "action": "reply"}], form=False)[0] == 200
    assert gmail_emulator.state.faults.rules()[0]["stage"] == "connect"
    status, data = post(gmail_emulator, "/_emulator/faults", [{"stage": "nowhere", "action": "reply"}], form=False)
    assert status == 400 and "'stage' must be one of" in data["error"]
    status, data = post(gmail_emulator, "/_emulator/set", {"delay": "slow"}, form=False)
    assert status == 400 and "'delay' must be a number" in data["error"]
    assert post(gmail_emulator, "/_emulator/reset", {}, form=False) == (200, {"ok": True})
    assert gmail_emulator.state.get("pipelining") is True and gmail_emulator.state.faults.rules() == []


def service_account(emu, name="relay-sender"):
    with open(emu.service_account_files[name], encoding="utf-8") as fh:
        return json.load(fh)


def jwt(emu, key=None, **claims):
    """A signed assertion for the delegated account, acting as ops.alerts@gmail.com, unless claims say otherwise."""
    from gmail_emulator.serviceaccount import sign

    key = key or service_account(emu)
    now = int(time.time())
    base = {"iss": key["client_email"], "sub": "ops.alerts@gmail.com", "scope": "https://mail.google.com/",
            "aud": emu.token_uri, "iat": now, "exp": now + 3600}
    return sign(key, {**base, **claims})


def test_service_account_key_files_as_google_hands_them_out(gmail_emulator):
    key = service_account(gmail_emulator)
    assert key["type"] == "service_account" and key["token_uri"] == gmail_emulator.token_uri
    assert key["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    assert os.stat(gmail_emulator.service_account_files["relay-sender"]).st_mode & 0o777 == 0o600


def test_jwt_bearer_grant_gives_a_token_for_the_user_it_acts_as(gmail_emulator):
    status, data = post(gmail_emulator, "/token", {"grant_type": JWT_BEARER, "assertion": jwt(gmail_emulator)})
    assert status == 200, data
    assert xoauth2_login(gmail_emulator, "ops.alerts@gmail.com", data["access_token"]) == 235
    assert xoauth2_login(gmail_emulator, "team.reports@gmail.com", data["access_token"]) == 535


@pytest.mark.parametrize("case, status, error, words", [
    ("undelegated", 401, "unauthorized_client", "not authorized for any of the scopes"),
    ("unknown user", 400, "invalid_grant", "Invalid email or User ID"),
    ("clock ahead", 400, "invalid_grant", "Check your iat and exp values"),
    ("two hours", 400, "invalid_grant", "short-lived token"),
    ("other audience", 400, "invalid_grant", "Check your iat and exp values"),
    ("forged", 400, "invalid_grant", "Invalid JWT Signature."),
])
def test_jwt_bearer_refusals_as_google_words_them(gmail_emulator, case, status, error, words):
    emu, now = gmail_emulator, int(time.time())
    assertion = {
        "undelegated": lambda: jwt(emu, service_account(emu, "undelegated")),
        "unknown user": lambda: jwt(emu, sub="nobody@example.com"),
        "clock ahead": lambda: jwt(emu, iat=now + 900, exp=now + 4000),
        "two hours": lambda: jwt(emu, exp=now + 7200),
        "other audience": lambda: jwt(emu, aud="https://example.com/token"),
        # signed with the undelegated account's key, claiming to be the delegated one
        "forged": lambda: jwt(emu, service_account(emu, "undelegated"), iss=service_account(emu)["client_email"]),
    }[case]()
    got_status, data = post(emu, "/token", {"grant_type": JWT_BEARER, "assertion": assertion})
    assert (got_status, data["error"]) == (status, error) and words in data["error_description"], data
    assert emu.issued_tokens() == []
