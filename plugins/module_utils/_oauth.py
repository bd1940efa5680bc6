# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""OAuth 2.0 for Gmail: refresh an access token and cache it (the SASL XOAUTH2 response is in _tls)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request

from ansible_collections.mailops.gmail.plugins.module_utils._errors import GmailError, classification, redact
from ansible_collections.mailops.gmail.plugins.module_utils._tls import make_context

DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
SCOPE = "https://mail.google.com/"


def _endpoint(token_uri):
    parts = urllib.parse.urlsplit(token_uri)
    return parts.netloc or token_uri


def _error(category, endpoint, detail, secrets):
    message = f"OAuth token refresh at {endpoint} failed: {redact(detail, secrets)}"
    return GmailError(classification(category, None, None, message))


def refresh_access_token(token_uri, client_id, client_secret, refresh_token, ca_file=None, timeout=30):
    """POST grant_type=refresh_token to token_uri; return access_token, expires_in, expires_at (epoch)."""
    endpoint = _endpoint(token_uri)
    secrets = (client_secret, refresh_token)
    if urllib.parse.urlsplit(token_uri).scheme != "https":
        raise _error(
            "oauth", endpoint, "oauth.token_uri must be an https:// URL (the client secret travels in it)", secrets
        )
    body = urllib.parse.urlencode(
        {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        }
    ).encode("ascii")
    request = urllib.request.Request(
        token_uri,
        data=body,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=make_context(ca_file)))
    started = time.time()
    try:
        with opener.open(request, timeout=timeout) as response:
            payload = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raise _http_error(exc, endpoint, secrets) from None
    except urllib.error.URLError as exc:
        reason = exc.reason if isinstance(exc.reason, BaseException) else OSError(str(exc.reason))
        raise GmailError.of(reason, endpoint, "oauth", secrets=secrets) from None
    except (OSError, ValueError) as exc:
        raise GmailError.of(exc, endpoint, "oauth", secrets=secrets) from None
    token = payload.get("access_token") if isinstance(payload, dict) else None
    if not token:
        raise _error("oauth", endpoint, "the answer carries no access_token", secrets)
    expires_in = int(payload.get("expires_in") or 3600)
    return {"access_token": token, "expires_in": expires_in, "expires_at": int(started) + expires_in}


def refresh_oauth(oauth, ca_file=None, timeout=30):
    """refresh_access_token() for a dict with client_id, client_secret, refresh_token, token_uri."""
    return refresh_access_token(
        oauth["token_uri"], oauth["client_id"], oauth["client_secret"], oauth["refresh_token"], ca_file, timeout
    )


def fingerprint(oauth):
    """Ties a cached token to the credential it came from, without storing the credential."""
    # Every part of it: a token cached for the right client secret must not hide a wrong one.
    material = "\0".join(oauth[key] for key in ("token_uri", "client_id", "client_secret", "refresh_token"))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def cached_access_token(oauth, cache_path, margin=300, ca_file=None, timeout=30):
    """An access token for ``oauth`` ({"access_token", "expires_at"}): the one in the cache file while
    it stays valid ``margin`` more seconds, else a fresh one from the token endpoint, stored there.

    The file (0600, its directory made 0700) is locked while it is read and rewritten, so concurrent
    callers (msmtp runs, forks of a play) ask the endpoint once. OSError: the file cannot be opened.
    """
    directory = os.path.dirname(cache_path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    created = not os.path.exists(cache_path)
    fd = os.open(cache_path, os.O_RDWR | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "r+", encoding="utf-8") as cache:
        fcntl.flock(cache.fileno(), fcntl.LOCK_EX)
        try:
            entry = json.loads(cache.read() or "{}")
        except ValueError:
            entry = {}
        if not isinstance(entry, dict):
            entry = {}
        fresh = float(entry.get("expires_at") or 0) - margin > time.time()
        if fresh and entry.get("fingerprint") == fingerprint(oauth) and entry.get("access_token"):
            return {"access_token": entry["access_token"], "expires_at": float(entry["expires_at"])}
        try:
            token = refresh_oauth(oauth, ca_file, timeout)
        except BaseException:
            if created:  # no empty file left for a credential that got no token
                os.unlink(cache_path)
            raise
        entry = {"access_token": token["access_token"], "expires_at": token["expires_at"]}
        cache.seek(0)
        cache.truncate()
        json.dump(dict(entry, fingerprint=fingerprint(oauth)), cache)
        cache.flush()
        os.fsync(cache.fileno())
        return entry


def _http_error(exc, endpoint, secrets):
    try:
        payload = json.loads(exc.read().decode("utf-8"))
    except (OSError, ValueError):
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    error = str(payload.get("error") or f"HTTP {exc.code}")
    description = payload.get("error_description") or exc.reason or ""
    detail = f"{error} (HTTP {exc.code}): {description}"
    if error in ("invalid_grant", "invalid_client"):
        return _error("oauth_" + error, endpoint, detail, secrets)
    if exc.code >= 500 or exc.code == 429:
        return _error("temporary", endpoint, detail, secrets)
    return _error("oauth", endpoint, detail, secrets)
