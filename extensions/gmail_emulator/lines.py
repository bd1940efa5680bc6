# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Base of the hand-written implicit-TLS line servers (IMAP, POP3) and their SASL exchange."""
from __future__ import annotations

import asyncio
import base64
import binascii
import ssl
import time

from . import state as st
from .session import BEARER_ERROR, OAUTHBEARER_ERROR, Conversation, SessionEnd

ABORTED = "aborted"  # the client sent "*" or bad base64


class LineSession(Conversation):
    listener = "line"
    lifetime = ""  # the switch that says how long a logged-in session lasts
    session_end = 0.0  # epoch after which the logged-in session is over
    token = None  # the bearer token of an OAuth login

    def __init__(self, state, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self.begin(state, self.listener, writer.transport)

    @property
    def out(self):
        return self.writer

    def close_transport(self) -> None:
        self.writer.close()

    async def hang(self, silent: bool) -> None:
        if silent:  # swallow input until the client gives up
            while await self.reader.read(4096):
                pass
        raise SessionEnd()

    async def readline(self) -> bytes:
        await self.flight.before_read(self.reader, self.writer)
        return await self.reader.readline()

    async def greet(self) -> None:
        raise NotImplementedError

    async def handle(self, line: str) -> None:
        raise NotImplementedError

    async def run(self) -> None:
        try:
            if not await self.fault("connect", tag="*"):
                await self.greet()
            while True:
                line = await self.readline()
                if not line:
                    break
                await self.handle(line.decode("utf-8", "replace").rstrip("\r\n"))
        except (SessionEnd, ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            try:
                await self.flight.release(self.writer, delay=False)
            except (ConnectionError, ssl.SSLError, RuntimeError):
                pass
            self.writer.close()
            self.finish()

    def logged_in(self, oauth: bool) -> None:
        """Start the session's lifetime; an OAuth session also ends with its token (as Gmail's do)."""
        self.session_end = time.time() + self.state.get(self.lifetime)
        expiry = self.state.token_expiry(self.token or "") if oauth else None
        if expiry:
            self.session_end = min(self.session_end, expiry)

    def expired(self, command: str) -> bool:
        return self.rec["auth_result"] == st.OK and time.time() >= self.session_end and command not in (
            "LOGOUT", "QUIT")

    async def sasl(self, mechanism: str, initial, service: str):
        """Run PLAIN, XOAUTH2 or OAUTHBEARER; return (user, result) with result ABORTED or a state.* code.

        Bearer failures send Gmail's error challenge and read the client's empty answer.
        """
        if initial is None:
            await self.reply("+ ")
            initial = (await self.readline()).strip().decode("ascii", "replace")
        if initial == "*":
            return None, ABORTED
        try:
            blob = base64.b64decode(initial, validate=True) if initial != "=" else b""
        except binascii.Error:
            return None, ABORTED
        if mechanism == "PLAIN":
            parts = blob.split(b"\0")
            if len(parts) != 3:
                return None, ABORTED
            user = parts[1].decode("utf-8", "replace").strip().lower()
            result = self.state.check_password(user, parts[2].decode("utf-8", "replace"), service)
        else:
            user, token = st.parse_bearer(blob, oauthbearer=mechanism == "OAUTHBEARER")
            self.token = token
            user = (user or "").strip().lower() or None
            result = self.state.check_token(user, token, service) if token else st.BAD
            if result == st.BAD:
                error = OAUTHBEARER_ERROR if mechanism == "OAUTHBEARER" else BEARER_ERROR
                await self.reply("+ " + error.decode())
                await self.readline()
        self.note_auth(mechanism, user, result)
        return user, result


async def serve(state, cls, host: str, port: int, tls_context):
    async def accept(reader, writer):
        await cls(state, reader, writer).run()
    return await asyncio.start_server(accept, host, port, ssl=tls_context)
