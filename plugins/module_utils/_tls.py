# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Verified TLS and a line-oriented socket transport shared by the SMTP, IMAP and POP clients.

Every socket operation is bounded by the per-operation timeout and, when set, by a deadline
for the whole session, so a silent server costs at most `timeout` seconds. The answer to what was
last sent (the greeting after connecting) must also arrive whole within `timeout`: a server that
trickles a byte at a time cannot keep a client waiting past it.
"""

from __future__ import annotations

import base64
import socket
import ssl
import time

from ansible_collections.mailops.gmail.plugins.module_utils._errors import GmailError

MAX_LINE = 64 * 1024


def make_context(ca_file=None):
    """A client context that verifies the certificate and the host name (TLS 1.2 or later).

    With ca_file, only that bundle is trusted (create_default_context skips the system store then).
    """
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class Reply:
    """One server reply: SMTP (code, enhanced code), IMAP (status OK/NO/BAD) or POP (+OK/-ERR)."""

    def __init__(self, code=None, lines=(), enhanced_code=None, status=None):
        self.code = code
        self.lines = list(lines)
        self.enhanced_code = enhanced_code
        self.status = status

    @property
    def text(self):
        return "\n".join(self.lines)

    @property
    def ok(self):
        if self.code is not None:
            return 200 <= self.code < 400
        return self.status in ("OK", "+OK")

    def __repr__(self):
        return f"Reply({self.code!r}, {self.enhanced_code!r}, {self.status!r}, {self.lines!r})"


class Transport:
    """TCP connection with optional TLS, CRLF lines and a round-trip counter."""

    def __init__(self, host, port, timeout=30, ca_file=None, server_hostname=None):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.ca_file = ca_file
        self.server_hostname = server_hostname or host
        self.endpoint = f"{host}:{port}"
        self.sock = None
        self.round_trips = 0
        self._buffer = b""
        self._awaiting = False
        self._deadline = None
        self._answer_by = None  # the replies to the last flight must be complete by then

    def set_deadline(self, seconds):
        """Bound the rest of the session to `seconds` in total (None: only per operation)."""
        self._deadline = None if seconds is None else time.monotonic() + seconds

    def _op_timeout(self, answer=False):
        limits = [self.timeout]
        for deadline, what in ((self._deadline, "session deadline reached"),
                               (self._answer_by if answer else None, "no complete reply within the timeout")):
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise socket.timeout(what)
                limits.append(remaining)
        return min(limits)

    @property
    def encrypted(self):
        return isinstance(self.sock, ssl.SSLSocket)

    @property
    def tls_version(self):
        return self.sock.version() if self.encrypted else None

    def open(self, implicit_tls):
        try:
            self.sock = socket.create_connection((self.host, self.port), timeout=self._op_timeout())
        except (OSError, ValueError) as exc:
            raise GmailError.of(exc, self.endpoint, "connect") from None
        self._answer_by = time.monotonic() + self.timeout  # the greeting
        if implicit_tls:
            self.start_tls()

    def start_tls(self):
        # Bytes the server sent before the handshake would be read as if they came over TLS
        # (STARTTLS response injection): refuse instead.
        if self._buffer:
            self.close()
            raise GmailError.new("tls", "the server sent data before the TLS handshake", self.endpoint, "starttls")
        try:
            self.sock.settimeout(self._op_timeout())
            self.sock = make_context(self.ca_file).wrap_socket(self.sock, server_hostname=self.server_hostname)
        except (OSError, ValueError) as exc:
            self.close()
            raise GmailError.of(exc, self.endpoint, "tls") from None

    def send(self, data, stage="connect"):
        try:
            self.sock.settimeout(self._op_timeout())
            self.sock.sendall(data)
        except OSError as exc:
            raise GmailError.of(exc, self.endpoint, stage) from None
        self._awaiting = True
        self._answer_by = time.monotonic() + self.timeout

    def readline(self, stage="connect"):
        """One line without CRLF, as text (UTF-8, undecodable bytes replaced)."""
        if self._awaiting:
            self.round_trips += 1
            self._awaiting = False
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE:
                raise GmailError.new("protocol", f"reply line longer than {MAX_LINE} bytes", self.endpoint, stage)
            self._buffer += self._recv(stage)
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def read_bytes(self, count, stage="connect"):
        """Exactly `count` bytes (an IMAP literal), bounded like a reply line."""
        while len(self._buffer) < count:
            self._buffer += self._recv(stage)
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def wait_line(self, seconds, stage="connect"):
        """A line the server sends on its own within `seconds` (IMAP IDLE pushes), or None.

        The session deadline, when set, still bounds the wait: running into it is an error."""
        end = time.monotonic() + seconds
        while b"\n" not in self._buffer:
            now = time.monotonic()
            if self._deadline is not None and now >= self._deadline:
                raise GmailError.of(socket.timeout("session deadline reached"), self.endpoint, stage)
            if now >= end:
                return None
            try:
                self._buffer += self._recv(stage, min(t for t in (end, self._deadline) if t is not None) - now)
            except GmailError as exc:
                if exc.category != "timeout":
                    raise
        self._awaiting = False
        return self.readline(stage)

    def _recv(self, stage, seconds=None):
        try:
            self.sock.settimeout(self._op_timeout(answer=True) if seconds is None else max(seconds, 0.001))
            chunk = self.sock.recv(16384)
        except (OSError, ValueError) as exc:
            raise GmailError.of(exc, self.endpoint, stage) from None
        if not chunk:
            raise GmailError.of(EOFError(), self.endpoint, stage)
        return chunk

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None


def xoauth2_initial_response(user, token):
    """base64 of "user=<address>^Aauth=Bearer <token>^A^A" (Gmail's XOAUTH2 format)."""
    raw = f"user={user}\x01auth=Bearer {token}\x01\x01"
    return base64.b64encode(raw.encode("utf-8")).decode("ascii")


class Session:
    """What the SMTP, IMAP and POP clients share: transport, TLS facts, secret-free failures, QUIT."""

    def __init__(self, host, port, timeout=30, ca_file=None, server_hostname=None):
        self.transport = Transport(host, port, timeout, ca_file, server_hostname)
        self.endpoint = self.transport.endpoint
        self._secrets = ()

    @property
    def tls_version(self):
        return self.transport.tls_version

    @property
    def round_trips(self):
        return self.transport.round_trips

    def set_deadline(self, seconds):
        self.transport.set_deadline(seconds)

    def _start_login(self, username, password, access_token):
        """_start_auth for an app password or a token; the XOAUTH2 initial response for a token, else None."""
        initial = xoauth2_initial_response(username, access_token) if access_token else None
        self._start_auth(password, access_token, encoded=[initial] if initial else ())
        return initial

    def _start_auth(self, *secrets, encoded=()):
        """Refuse to send a credential in plaintext; remember the secrets to redact from errors.

        `encoded` are the forms the secrets take on the wire (base64 AUTH blobs), which a server may echo.
        """
        if not self.transport.encrypted:
            raise GmailError.new(
                "tls", "refusing to send credentials over an unencrypted connection", self.endpoint, "auth"
            )
        self._secrets = tuple(s for s in secrets + tuple(encoded) if s)

    def _fail(self, reply, stage, mechanism=None):
        raise GmailError.of(reply, self.endpoint, stage, mechanism=mechanism, secrets=self._secrets)

    def _goodbye(self):
        raise NotImplementedError

    def quit(self):
        """End the session politely; a failure here changes nothing for the caller."""
        try:
            if self.transport.sock is not None:
                self._goodbye()
        except GmailError:
            pass
        finally:
            self.close()

    def close(self):
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.quit()
