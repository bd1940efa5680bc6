# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Just enough IMAP4rev1 to check a login: greeting, CAPABILITY, LOGIN or AUTHENTICATE XOAUTH2, LOGOUT."""

from __future__ import annotations

from ansible_collections.mailops.gmail.plugins.module_utils._errors import GmailError
from ansible_collections.mailops.gmail.plugins.module_utils._oauth import xoauth2_initial_response
from ansible_collections.mailops.gmail.plugins.module_utils._tls import Reply, Session


def _quote(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ImapClient(Session):
    """IMAP over implicit TLS (port 993). Replies are Reply(status=OK|NO|BAD, lines=[text])."""

    def __init__(self, host, port=993, ca_file=None, timeout=30, server_hostname=None):
        super().__init__(host, port, timeout, ca_file, server_hostname)
        self.capabilities = []
        self._tag = 0

    def connect(self):
        self.transport.open(implicit_tls=True)
        greeting = self.transport.readline("greeting")
        if not greeting.upper().startswith("* OK"):
            status, _dummy, text = greeting[2:].partition(" ")
            raise GmailError.of(Reply(None, [text], status=status.upper()), self.endpoint, "greeting")
        untagged, _dummy = self._run("CAPABILITY", "connect")
        for line in untagged:
            if line.upper().startswith("CAPABILITY "):
                self.capabilities = line.upper().split()[1:]
        return self

    def authenticate(self, username, password=None, access_token=None):
        """LOGIN with an app password or AUTHENTICATE XOAUTH2 with a token; return the mechanism."""
        self._start_auth(password, access_token,
                         encoded=[xoauth2_initial_response(username, access_token)] if access_token else ())
        if access_token:
            mechanism = "XOAUTH2"
            initial = xoauth2_initial_response(username, access_token)
            if "SASL-IR" in self.capabilities:
                _dummy, reply = self._run(f"AUTHENTICATE XOAUTH2 {initial}", "auth", continuation="")
            else:
                _dummy, reply = self._run("AUTHENTICATE XOAUTH2", "auth", continuation=initial)
        else:
            mechanism = "LOGIN"
            _dummy, reply = self._run(f"LOGIN {_quote(username)} {_quote(password)}", "auth")
        if not reply.ok:
            self._fail(reply, "auth", mechanism)
        return mechanism

    def _run(self, command, stage, continuation=None):
        """Send a tagged command; return (untagged lines, tagged Reply).

        `continuation` answers the first "+" request; a second one (Gmail's XOAUTH2 error
        challenge) is answered with an empty line so the server sends its final NO.
        """
        self._tag += 1
        tag = f"M{self._tag}"
        self.transport.send(f"{tag} {command}\r\n".encode(), stage)
        untagged = []
        answered = False
        while True:
            line = self.transport.readline(stage)
            if line.startswith("+"):
                answer = continuation if (continuation is not None and not answered) else ""
                answered = True
                self.transport.send(answer.encode("ascii") + b"\r\n", stage)
            elif line.startswith(tag + " "):
                status, _dummy, text = line[len(tag) + 1 :].partition(" ")
                return untagged, Reply(None, [text], status=status.upper())
            elif line.startswith("* BYE") and stage != "logout":
                raise GmailError.of(Reply(None, [line[5:].strip()], status="BYE"), self.endpoint, stage)
            else:
                untagged.append(line[2:] if line.startswith("* ") else line)

    def _goodbye(self):
        self._run("LOGOUT", "logout")
