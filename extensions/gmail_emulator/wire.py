# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Client-side helpers for tests: SASL strings and a raw line client that shows exact replies."""
from __future__ import annotations

import base64
import socket
import ssl


def xoauth2(user: str, token: str) -> str:
    """The base64 XOAUTH2 initial client response."""
    return base64.b64encode(f"user={user}\x01auth=Bearer {token}\x01\x01".encode()).decode()


def plain(user: str, password: str) -> str:
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Wire:
    """A raw TCP/TLS line client. `reply()` reads one SMTP reply (all its lines)."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext | None = None, timeout: float = 5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if context is not None:
            self.sock = context.wrap_socket(self.sock, server_hostname=host)
        self.file = self.sock.makefile("rb")

    def send(self, *lines: str) -> None:
        """Send lines in one write (one flight)."""
        self.sock.sendall("".join(f"{line}\r\n" for line in lines).encode())

    def line(self) -> str:
        data = self.file.readline()
        if not data:
            raise EOFError("server closed the connection")
        return data.decode("utf-8").rstrip("\r\n")

    def reply(self) -> list:
        lines = [self.line()]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self.line())
        return lines

    def cmd(self, line: str) -> list:
        self.send(line)
        return self.reply()

    def starttls(self, context: ssl.SSLContext, host: str = "127.0.0.1") -> list:
        answer = self.cmd("STARTTLS")
        self.sock = context.wrap_socket(self.sock, server_hostname=host)
        self.file = self.sock.makefile("rb")
        return answer

    def close(self) -> None:
        self.file.close()
        self.sock.close()
