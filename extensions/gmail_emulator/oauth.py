# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""oauth2.googleapis.com:443 role (POST /token) plus the emulator's control API (/_emulator/...)."""
from __future__ import annotations

import asyncio
import base64
import json
import ssl
import time
from urllib.parse import parse_qs, unquote_plus

from .config import SCOPE, ConfigError
from .records import load
from .rtt import set_nodelay
from .serviceaccount import JWT_BEARER, jwt_grant

REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed"}


def _error(status: int, error: str, description: str):
    return status, {"error": error, "error_description": description}


def token_response(state, form: dict, basic_auth, audiences=()):
    """(HTTP status, JSON body, user) for a token request, as Google answers it; `audiences`: the token URIs
    a service account's JWT may name as its aud."""
    grant = form.get("grant_type")
    if grant == JWT_BEARER:
        if not form.get("assertion"):
            return _error(400, "invalid_request", "Missing required parameter: assertion") + (None,)
        return jwt_grant(state, form["assertion"], audiences)
    client_id, secret = form.get("client_id"), form.get("client_secret")
    if basic_auth:  # client_secret_basic is also accepted by Google
        client_id, secret = basic_auth
    if not grant:
        return _error(400, "invalid_request", "Missing required parameter: grant_type") + (None,)
    if grant != "refresh_token":
        return _error(400, "unsupported_grant_type", f"Invalid grant_type: {grant}") + (None,)
    if not client_id:
        return _error(400, "invalid_request", "Could not determine client ID from request.") + (None,)
    clients = state.get("clients")
    if client_id not in clients:
        return _error(401, "invalid_client", "The OAuth client was not found.") + (None,)
    if secret != clients[client_id]:
        return _error(401, "invalid_client", "Unauthorized") + (None,)
    refresh = form.get("refresh_token")
    if not refresh:
        return _error(400, "invalid_request", "Missing required parameter: refresh_token") + (None,)
    user = state.get("refresh_tokens").get(refresh)
    if user is None:
        return _error(400, "invalid_grant", "Token has been expired or revoked.") + (None,)
    token, lifetime = state.issue_token(user)
    return 200, {"access_token": token, "expires_in": lifetime, "scope": SCOPE, "token_type": "Bearer"}, user


def _basic(headers: dict):
    value = headers.get("authorization", "")
    if not value.lower().startswith("basic "):
        return None
    try:
        user, _sep, password = base64.b64decode(value[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return unquote_plus(user), unquote_plus(password)


class HttpServer:
    def __init__(self, state, info):
        self.state, self.info = state, info

    def token(self, headers: dict, body: bytes):
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        audiences = (self.info()["token_uri"], "https://oauth2.googleapis.com/token")
        status, data, user = token_response(self.state, form, _basic(headers), audiences)
        seq = self.state.next_seq()
        self.state.recorder.save("oauth", {
            "id": f"{seq:05d}-token", "seq": seq, "time": time.time(), "grant_type": form.get("grant_type"),
            "client_id": form.get("client_id"), "user": user, "status": status, "error": data.get("error"),
        })
        return status, data

    def control(self, path: str, body: bytes):
        """The control API a test outside the emulator process uses (docs/emulator.md)."""
        try:
            data = json.loads(body or b"null")
            if path == "/_emulator/set":
                if not isinstance(data, dict):
                    raise ConfigError("POST /_emulator/set wants a JSON object of switches")
                self.state.set(**data)
            elif path == "/_emulator/faults":
                self.state.faults.set(data if data is not None else [])
            elif path == "/_emulator/reset":
                self.state.reset()
            else:
                return 404, {"error": f"unknown control path {path}"}
        except (ValueError, TypeError) as exc:  # ConfigError and bad JSON
            return 400, {"error": str(exc)}
        return 200, {"ok": True}

    def route(self, method: str, path: str, headers: dict, body: bytes):
        path = path.split("?", 1)[0]
        if method == "POST" and path == "/token":
            return self.token(headers, body)
        if method == "POST" and path.startswith("/_emulator/"):
            return self.control(path, body)
        if method == "GET" and path == "/_emulator/info":
            return 200, self.info()
        if method == "GET" and path == "/_emulator/records":
            return 200, load(self.state.recorder.dir)
        if path == "/token" or path.startswith("/_emulator/"):
            return 405, {"error": f"method {method} not allowed on {path}"}
        return 404, {"error": "not found"}

    async def handle(self, reader, writer) -> None:
        set_nodelay(writer.transport)
        try:
            while True:
                request = await reader.readline()
                if not request.strip():
                    break
                method, path, _version = (request.decode("latin-1").split() + ["", "", ""])[:3]
                headers = {}
                while True:
                    line = (await reader.readline()).decode("latin-1").strip()
                    if not line:
                        break
                    name, _sep, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                status, data = self.route(method.upper(), path, headers, body)
                payload = json.dumps(data, indent=2).encode()
                close = headers.get("connection", "").lower() == "close" or _version == "HTTP/1.0"
                writer.write(
                    f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
                    "Content-Type: application/json; charset=utf-8\r\n"
                    f"Content-Length: {len(payload)}\r\nCache-Control: no-store\r\n"
                    f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n".encode() + payload)
                await writer.drain()
                if close:
                    break
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()


async def start(state, host: str, port: int, tls_context, info: dict):
    return await asyncio.start_server(HttpServer(state, info).handle, host, port, ssl=tls_context)
