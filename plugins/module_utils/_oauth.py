# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""OAuth 2.0 for Gmail: an access token from a refresh token or from a Workspace service account's key
(the JWT-bearer grant, RS256), and its cache (the SASL XOAUTH2 response is in _tls)."""

from __future__ import annotations

import base64
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
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# The remediations of a service account's refusals (the refresh-token ones are in _errors).
_SERVICE_ACCOUNT_FIX = {
    "oauth_unauthorized_client": "The service account has no domain-wide delegation for https://mail.google.com/: "
    "in the Google Admin console (Security > Access and data control > API controls > Manage domain-wide "
    "delegation) add its client ID (client_id in the key file) with that scope; changes can take hours.",
    "oauth_invalid_grant": "The user to act as (oauth.subject, else username) is not a user of the service "
    "account's Workspace domain, or this host's clock is off (the signed request is valid for one hour): check "
    "the address and the clock (NTP).",
    "oauth_invalid_client": "The key was deleted or disabled: create a new key for the service account.",
}


def _endpoint(token_uri):
    parts = urllib.parse.urlsplit(token_uri)
    return parts.netloc or token_uri


def _error(category, endpoint, detail, secrets):
    message = f"OAuth token refresh at {endpoint} failed: {redact(detail, secrets)}"
    return GmailError(classification(category, None, None, message))


def refresh_access_token(token_uri, client_id, client_secret, refresh_token, ca_file=None, timeout=30):
    """POST grant_type=refresh_token to token_uri; return access_token, expires_in, expires_at (epoch)."""
    form = {"grant_type": "refresh_token", "client_id": client_id, "client_secret": client_secret,
            "refresh_token": refresh_token}
    return _token_request(token_uri, form, (client_secret, refresh_token), ca_file, timeout)


def service_account_token(key, subject, token_uri, ca_file=None, timeout=30):
    """The JWT-bearer grant: an access token for `subject`, signed with a service account's key (a dict as
    Google's key file holds it); needs the Python cryptography package (Debian: python3-cryptography)."""
    assertion = _assertion(key, subject, token_uri)
    form = {"grant_type": JWT_BEARER, "assertion": assertion}
    return _token_request(token_uri, form, (key.get("private_key"), assertion), ca_file, timeout,
                          fixes=_SERVICE_ACCOUNT_FIX)


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _assertion(key, subject, token_uri, now=None):
    """An RS256 JWT: iss the account, sub the user, the Gmail scope, aud the token URI, valid one hour."""
    endpoint = _endpoint(token_uri)
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding
    except ImportError:
        raise _error("dependency", endpoint, "signing a service account's request needs the Python cryptography "
                     "package on the host that runs this (Debian: apt-get install python3-cryptography)", ()) from None
    now = int(time.time() if now is None else now)
    header = {"alg": "RS256", "typ": "JWT", "kid": key.get("private_key_id", "")}
    claims = {"iss": key["client_email"], "sub": subject, "scope": SCOPE, "aud": token_uri, "iat": now,
              "exp": now + 3600}
    signing_input = ".".join(_b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
    try:
        private = serialization.load_pem_private_key(key["private_key"].encode("ascii"), None)
        signature = private.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    except (ValueError, TypeError, UnicodeError):
        raise _error("oauth_key", endpoint, "the service account key's private_key is no RSA key in PEM", ()) from None
    return f"{signing_input}.{_b64(signature)}"


def _token_request(token_uri, form, secrets, ca_file, timeout, fixes=None):
    """POST the form to the token endpoint; {access_token, expires_in, expires_at} or GmailError."""
    endpoint = _endpoint(token_uri)
    if urllib.parse.urlsplit(token_uri).scheme != "https":
        raise _error(
            "oauth", endpoint, "oauth.token_uri must be an https:// URL (the client secret travels in it)", secrets
        )
    body = urllib.parse.urlencode(form).encode("ascii")
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
        raise _http_error(exc, endpoint, secrets, fixes or {}) from None
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


def service_account_key(oauth):
    """The key file's content (a dict) of oauth.service_account_key (JSON text) or .service_account_file;
    None for a refresh-token credential. ValueError names the option (never the key)."""
    if oauth.get("service_account_key"):
        name, text = "oauth.service_account_key", oauth["service_account_key"]
    elif oauth.get("service_account_file"):
        name = "oauth.service_account_file"
        try:
            with open(oauth["service_account_file"], encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeError) as exc:
            raise ValueError(f"{name}={oauth['service_account_file']} cannot be read "
                             f"({getattr(exc, 'strerror', None) or exc})") from None
    else:
        return None
    try:
        key = json.loads(text)
    except ValueError:
        key = None
    if not isinstance(key, dict) or key.get("type") != "service_account" or not all(
            isinstance(key.get(field), str) and key[field] for field in ("client_email", "private_key")):
        raise ValueError(f"{name} is not a service account key: use the JSON key file Google Cloud console gives "
                         "(IAM > Service accounts > Keys), with type service_account, client_email and private_key")
    return key


def refresh_oauth(oauth, ca_file=None, timeout=30):
    """An access token for an oauth dict: client_id, client_secret and refresh_token, or a service account's
    key (service_account_key or service_account_file) and the user to act as (subject); and token_uri."""
    try:
        key = service_account_key(oauth)
    except ValueError as exc:
        raise _error("oauth_key", _endpoint(oauth["token_uri"]), str(exc), ()) from None
    if key is not None:
        return service_account_token(key, oauth["subject"], oauth["token_uri"], ca_file, timeout)
    return refresh_access_token(
        oauth["token_uri"], oauth["client_id"], oauth["client_secret"], oauth["refresh_token"], ca_file, timeout
    )


def fingerprint(oauth):
    """Ties a cached token to the credential it came from, without storing the credential."""
    # Every part of it: a token cached for the right client secret must not hide a wrong one.
    try:
        key = service_account_key(oauth)
    except ValueError:  # no token can come of it (refresh_oauth says why): any fingerprint will do
        key = {"client_email": "", "private_key": str(oauth.get("service_account_file"))}
    if key is not None:
        material = "\0".join((oauth["token_uri"], key["client_email"], key["private_key"], oauth["subject"]))
    else:
        material = "\0".join(oauth[name] for name in ("token_uri", "client_id", "client_secret", "refresh_token"))
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


def _http_error(exc, endpoint, secrets, fixes):
    try:
        payload = json.loads(exc.read().decode("utf-8"))
    except (OSError, ValueError):
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    error = str(payload.get("error") or f"HTTP {exc.code}")
    description = payload.get("error_description") or exc.reason or ""
    detail = f"{error} (HTTP {exc.code}): {description}"
    if error in ("invalid_grant", "invalid_client", "unauthorized_client"):
        category = "oauth_" + error
        return GmailError(classification(category, None, None, f"OAuth token refresh at {endpoint} failed: "
                                         f"{redact(detail, secrets)}", fixes.get(category)))
    if exc.code >= 500 or exc.code == 429:
        return _error("temporary", endpoint, detail, secrets)
    return _error("oauth", endpoint, detail, secrets)
