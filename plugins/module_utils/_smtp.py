# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""A small SMTP client on raw sockets (not smtplib: the send module pipelines commands itself).

Never continues in plaintext when STARTTLS was asked for, and never sends a credential on an
unencrypted connection. Failures are raised as classified GmailError.
"""

from __future__ import annotations

import base64
import re
import socket

from ansible_collections.mailops.gmail.plugins.module_utils._errors import GmailError, enhanced_code_of
from ansible_collections.mailops.gmail.plugins.module_utils._tls import Reply, Session, xoauth2_initial_response

__all__ = ["Reply", "SmtpClient"]

SECURITIES = ("starttls", "tls", "none")
_REPLY_LINE = re.compile(r"^(\d{3})([ -])?(.*)$")


def _b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def ehlo_name(sock):
    """What EHLO should say (RFC 5321 4.1.4): the fully qualified host name, or else the address
    literal of this end of the connection, as Python's smtplib does. The name comes from the host
    name, or /etc/hosts through getfqdn() only when the host name is not qualified."""
    name = socket.gethostname()
    if "." not in name:
        name = socket.getfqdn(name)
    if "." in name and not name.endswith(".localdomain") and name != "localhost.localdomain":
        return name
    try:
        address = sock.getsockname()[0]
    except (OSError, AttributeError, IndexError):
        return "[127.0.0.1]"
    return f"[IPv6:{address}]" if ":" in address else f"[{address}]"


class SmtpClient(Session):
    def __init__(self, host, port, security, ca_file=None, timeout=30, local_hostname=None, server_hostname=None):
        if security not in SECURITIES:
            raise ValueError(f"security must be one of {', '.join(SECURITIES)}, got {security!r}")
        super().__init__(host, port, timeout, ca_file, server_hostname)
        self.security = security
        self.local_hostname = local_hostname  # None: the FQDN, known once connected (ehlo_name)
        self.extensions = {}

    # --- connection ------------------------------------------------------------------
    def connect(self):
        self.transport.open(implicit_tls=self.security == "tls")
        self._expect(self.read_reply(), 220, "greeting")
        self.ehlo()
        if self.security == "starttls":
            if "STARTTLS" not in self.extensions:
                self.close()
                raise GmailError.new(
                    "tls",
                    "the server does not offer STARTTLS; refusing to continue in plaintext",
                    self.endpoint,
                    "starttls",
                )
            self._expect(self.command("STARTTLS", stage="starttls"), 220, "starttls")
            self.transport.start_tls()
            self.ehlo()
        return self

    def ehlo(self):
        if self.local_hostname is None:
            self.local_hostname = ehlo_name(self.transport.sock)
        reply = self._expect(self.command(f"EHLO {self.local_hostname}", stage="ehlo"), 250, "ehlo")
        self.extensions = {}
        for line in reply.lines[1:]:
            keyword, _dummy, params = line.strip().partition(" ")
            if keyword:
                self.extensions[keyword.upper()] = params.strip()
        return reply

    # --- authentication ----------------------------------------------------------------
    def auth_mechanisms(self):
        return self.extensions.get("AUTH", "").upper().split()

    def choose_mechanism(self, password=None, access_token=None):
        offered = self.auth_mechanisms()
        wanted = ("XOAUTH2",) if access_token else ("PLAIN", "LOGIN")
        for mechanism in wanted:
            if mechanism in offered:
                return mechanism
        raise GmailError.new(
            "protocol",
            f"the server offers AUTH {' '.join(offered) or '(none)'}, none of {', '.join(wanted)}",
            self.endpoint,
            "auth",
        )

    def authenticate(self, username, password=None, access_token=None, mechanism=None):
        """AUTH with an app password (PLAIN, else LOGIN) or an access token (XOAUTH2); return the mechanism."""
        if bool(password) == bool(access_token):
            raise ValueError("give exactly one of password and access_token")
        self._start_auth(password, access_token, encoded=(
            [xoauth2_initial_response(username, access_token)] if access_token
            else [_b64(chr(0) + username + chr(0) + password), _b64(password)]))
        mechanism = (mechanism or self.choose_mechanism(password, access_token)).upper()
        if mechanism == "XOAUTH2":
            reply = self.command(f"AUTH XOAUTH2 {xoauth2_initial_response(username, access_token)}", stage="auth")
            if reply.code == 334:
                # Gmail's error challenge (base64 JSON): answer with an empty line to get the final reply.
                reply = self.command("", stage="auth")
        elif mechanism == "PLAIN":
            reply = self.command(f"AUTH PLAIN {_b64(chr(0) + username + chr(0) + password)}", stage="auth")
        elif mechanism == "LOGIN":
            reply = self.command("AUTH LOGIN", stage="auth")
            for answer in (username, password):
                if reply.code != 334:
                    break
                reply = self.command(_b64(answer), stage="auth")
        else:
            raise ValueError(f"unsupported AUTH mechanism {mechanism}")
        if reply.code == 334:
            reply = self.command("*", stage="auth")  # cancel an unexpected challenge
        self._expect(reply, 235, "auth", mechanism)
        return mechanism

    def accepts_sender(self, address):
        """MAIL FROM:<address>, then RSET: does the server take mail from this sender here? Sends nothing."""
        self._expect(self.command(f"MAIL FROM:<{address}>", stage="mail"), 250, "mail")
        self.command("RSET", stage="mail")

    # --- commands ----------------------------------------------------------------------
    def command(self, line, stage=None):
        if "\r" in line or "\n" in line:
            raise ValueError("SMTP command lines must not contain CR or LF")
        self.send_raw(line.encode("utf-8") + b"\r\n", stage)
        return self.read_reply(stage)

    def send_raw(self, data, stage=None):
        self.transport.send(data, stage or "connect")

    def read_reply(self, stage=None):
        lines = []
        code = None
        while True:
            raw = self.transport.readline(stage or "connect")
            match = _REPLY_LINE.match(raw)
            if not match:
                raise GmailError.new(
                    "protocol", "malformed reply line from the server", self.endpoint, stage or "connect"
                )
            code = int(match.group(1))
            lines.append(match.group(3))
            if match.group(2) != "-":
                break
        return Reply(code, lines, enhanced_code_of(lines[0]) if lines else None)

    def _expect(self, reply, code, stage, mechanism=None):
        if reply.code != code:
            self._fail(reply, stage, mechanism)
        return reply

    def _goodbye(self):
        self.command("QUIT", stage="logout")
