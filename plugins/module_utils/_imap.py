# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Just enough IMAP4rev1 to check a login (greeting, CAPABILITY, LOGIN or AUTHENTICATE XOAUTH2, LOGOUT)
and to find a sent message by its Message-ID (LIST, EXAMINE, UID SEARCH)."""

from __future__ import annotations

import re
import time

from ansible_collections.mailops.gmail.plugins.module_utils._errors import GmailError
from ansible_collections.mailops.gmail.plugins.module_utils._tls import Reply, Session


def _quote(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_LIST = re.compile(r'^LIST \(([^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (?:"((?:[^"\\]|\\.)*)"|(\S+))$', re.IGNORECASE)


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
        initial = self._start_login(username, password, access_token)
        if initial:
            mechanism = "XOAUTH2"
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

    def folder_with_flag(self, flag):
        """The name of the folder that carries a special-use flag (RFC 6154), e.g. \\Sent; None if none does."""
        untagged, reply = self._run('LIST "" "*"', "list")
        if not reply.ok:
            self._fail(reply, "list")
        for line in untagged:
            match = _LIST.match(line)
            if match and flag.lower() in match.group(1).lower().split():
                quoted, atom = match.group(2), match.group(3)
                return re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else atom
        return None

    def examine(self, folder):
        """Open a folder read-only (EXAMINE): searching never changes a flag."""
        _dummy, reply = self._run(f"EXAMINE {_quote(folder)}", "examine")
        if not reply.ok:
            self._fail(reply, "examine")

    def uid_search_header(self, name, value):
        """UIDs of the messages in the open folder whose header `name` contains `value`."""
        untagged, reply = self._run(f"UID SEARCH HEADER {name} {_quote(value)}", "search")
        if not reply.ok:
            self._fail(reply, "search")
        return [int(uid) for line in untagged if line.upper().startswith("SEARCH")
                for uid in line.split()[1:] if uid.isdigit()]

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


# Failures a new login cannot cure: the look-up stops at once.
_FINAL = ("auth", "app_password_required", "web_login_required", "service_disabled", "certificate", "tls", "dns",
          "imap")


class SentMail:
    """Answers "is this Message-ID in the account's Sent Mail?" over one IMAP session for the whole run.

    Gmail files every message submitted through smtp.gmail.com in the folder flagged \\Sent (its
    name depends on the account's language). ``client_factory()`` returns an unconnected ImapClient,
    ``credentials`` the keyword arguments of its authenticate() or a callable returning them at each
    login. Errors are GmailError.
    """

    def __init__(self, client_factory, credentials, poll=2.0, sleep=time.sleep, clock=time.monotonic):
        self.client_factory = client_factory
        self.credentials = credentials
        self.poll = poll
        self.sleep = sleep
        self.clock = clock
        self.client = None
        self.folder = None
        self.searches = 0

    def _open(self):
        client = self.client_factory()
        self.client = client
        client.connect()
        client.authenticate(**(self.credentials() if callable(self.credentials) else self.credentials))
        self.folder = client.folder_with_flag("\\Sent")
        if self.folder is None:
            raise GmailError.new("imap", "no folder carries the \\Sent flag, so a sent message cannot be "
                                 "looked up; is this a Gmail account?", client.endpoint, "list")
        client.examine(self.folder)

    def contains(self, message_id, wait):
        """True once the message shows in Sent Mail, False after ``wait`` seconds without it.

        A session the server ends in between (Gmail: "* BYE Session expired", or an OAuth session
        whose token ran out) is opened again, with a new login, up to twice per look-up."""
        deadline = self.clock() + wait
        reconnects = 0
        while True:
            try:
                if self.client is None:
                    self._open()
                self.searches += 1
                if self.client.uid_search_header("Message-ID", message_id):
                    return True
            except GmailError as exc:
                self.close()
                if reconnects >= 2 or self.clock() >= deadline or exc.classification["category"] in _FINAL:
                    raise
                reconnects += 1
                continue
            if self.clock() + self.poll > deadline:
                return False
            self.sleep(self.poll)
            try:
                self.client.examine(self.folder)  # a fresh look: new messages show on a new EXAMINE
            except GmailError:
                self.close()  # opened again on the next turn

    def close(self):
        if self.client is not None:
            self.client.quit()
            self.client = None
