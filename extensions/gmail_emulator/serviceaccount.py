# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Workspace service accounts: key files as Google hands them out, and the JWT-bearer grant of POST /token.

Two accounts are made (and kept) in the CA directory: one with domain-wide delegation for the Gmail scope,
one without. Their key files (service-account-<name>.json, 0600) are what a test gives a client; the token
endpoint knows only their public keys (the switchless table `service_accounts`).
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .config import SCOPE

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DOMAIN = "mailops-emulator.iam.gserviceaccount.com"
# name -> the scopes an admin delegated to it (Admin console > Security > API controls > Domain-wide delegation)
DEFAULT = {"relay-sender": [SCOPE], "undelegated": []}
# Google's answers (public client logs and the OAuth 2.0 service-account guide).
UNAUTHORIZED = ("unauthorized_client", "Client is unauthorized to retrieve access tokens using this method, or "
                "client not authorized for any of the scopes requested.")
BAD_SIGNATURE = ("invalid_grant", "Invalid JWT Signature.")
BAD_TIME = ("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
            "timeframe. Check your iat and exp values in the JWT claim.")
BAD_USER = ("invalid_grant", "Invalid email or User ID")
SKEW = 300  # seconds of clock difference Google tolerates (approximately)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ServiceAccounts:
    """The default accounts' key files in `directory`, made once and reused."""

    def __init__(self, directory: str):
        self.dir = directory
        self.keys = {}  # client_email -> key file dict
        os.makedirs(directory, exist_ok=True)
        for name in DEFAULT:
            path = self.path(name)
            if os.path.exists(path):
                with open(path, encoding="utf-8") as fh:
                    key = json.load(fh)
            else:
                private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                key = {
                    "type": "service_account", "project_id": "mailops-emulator",
                    "private_key_id": secrets.token_hex(20),
                    "private_key": private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()).decode("ascii"),
                    "client_email": f"{name}@{DOMAIN}", "client_id": str(100000000000000000000 + len(self.keys)),
                    "token_uri": "https://oauth2.googleapis.com/token",
                }
            self.keys[key["client_email"]] = key

    def path(self, name: str) -> str:
        return os.path.join(self.dir, f"service-account-{name}.json")

    def table(self) -> dict:
        """The token endpoint's view: client_email -> public key (PEM) and delegated scopes."""
        table = {}
        for email, key in self.keys.items():
            private = serialization.load_pem_private_key(key["private_key"].encode("ascii"), None)
            public = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
            table[email] = {"public_key": public.decode("ascii"), "scopes": DEFAULT[email.split("@")[0]]}
        return table

    def write(self, token_uri: str) -> dict:
        """Write every key file (0600) naming this emulator's token URI; return name -> path."""
        paths = {}
        for email, key in self.keys.items():
            name = email.split("@")[0]
            data = json.dumps(dict(key, token_uri=token_uri), indent=2).encode()
            fd = os.open(self.path(name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.chmod(self.path(name), 0o600)
            paths[name] = self.path(name)
        return paths


def jwt_grant(state, assertion: str, audiences: tuple):
    """(HTTP status, JSON body, user) for grant_type=jwt-bearer, checked as Google checks it."""
    try:
        head, body, signature = assertion.split(".")
        header, claims = json.loads(_unb64(head)), json.loads(_unb64(body))
    except (ValueError, AttributeError):
        return 400, {"error": "invalid_grant", "error_description": "Invalid JWT format."}, None
    account = state.get("service_accounts").get(claims.get("iss")) if isinstance(claims, dict) else None
    if account is None or header.get("alg") != "RS256":
        return 400, {"error": BAD_SIGNATURE[0], "error_description": BAD_SIGNATURE[1]}, None
    public = serialization.load_pem_public_key(account["public_key"].encode("ascii"))
    try:
        public.verify(_unb64(signature), f"{head}.{body}".encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return 400, {"error": BAD_SIGNATURE[0], "error_description": BAD_SIGNATURE[1]}, None
    now = time.time()
    iat, exp = claims.get("iat"), claims.get("exp")
    if not all(isinstance(v, (int, float)) for v in (iat, exp)) or exp - iat > 3600 or iat > now + SKEW \
            or exp < now - SKEW or claims.get("aud") not in audiences:
        return 400, {"error": BAD_TIME[0], "error_description": BAD_TIME[1]}, None
    scopes = str(claims.get("scope") or "").split()
    if not scopes or not set(scopes) <= set(account.get("scopes", [])):
        return 401, {"error": UNAUTHORIZED[0], "error_description": UNAUTHORIZED[1]}, None
    user = str(claims.get("sub") or "").strip().lower()
    if state.account(user) is None:
        return 400, {"error": BAD_USER[0], "error_description": BAD_USER[1]}, None
    token, lifetime = state.issue_token(user)
    return 200, {"access_token": token, "expires_in": lifetime, "token_type": "Bearer"}, user


def sign(key: dict, claims: dict) -> str:
    """An RS256 JWT over `claims` with a key file's private key (for tests that forge or vary claims)."""
    private = serialization.load_pem_private_key(key["private_key"].encode("ascii"), None)
    head = _b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": key["private_key_id"]}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = private.sign(f"{head}.{body}".encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{_b64(signature)}"
