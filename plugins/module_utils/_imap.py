# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Just enough IMAP4rev1 to check a login (greeting, CAPABILITY, LOGIN or AUTHENTICATE XOAUTH2, LOGOUT),
to find messages read-only (LIST, EXAMINE, UID SEARCH, UID FETCH of header fields) and to wait for
new ones (IDLE, RFC 2177, or NOOP)."""

from __future__ import annotations

import re
import time

from ansible_collections.mailops.gmail.plugins.module_utils._errors import GmailError
from ansible_collections.mailops.gmail.plugins.module_utils._tls import Reply, Session


def _quote(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_LITERAL = re.compile(r"\{(\d+)\}$")
_FETCH = re.compile(r"^\d+ FETCH \(", re.IGNORECASE)
_EXISTS = re.compile(r"^\d+ EXISTS$", re.IGNORECASE)


class Untagged(str):
    """An untagged response line; `literals` holds the bytes of its {n} literals, in order."""

    literals = ()


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
        self._note_capabilities(untagged)
        return self

    def authenticate(self, username, password=None, access_token=None):
        """LOGIN with an app password or AUTHENTICATE XOAUTH2 with a token; return the mechanism."""
        initial = self._start_login(username, password, access_token)
        if initial:
            mechanism = "XOAUTH2"
            if "SASL-IR" in self.capabilities:
                untagged, reply = self._run(f"AUTHENTICATE XOAUTH2 {initial}", "auth", continuation="")
            else:
                untagged, reply = self._run("AUTHENTICATE XOAUTH2", "auth", continuation=initial)
        else:
            mechanism = "LOGIN"
            untagged, reply = self._run(f"LOGIN {_quote(username)} {_quote(password)}", "auth")
        if not reply.ok:
            self._fail(reply, "auth", mechanism)
        self._note_capabilities(untagged)  # Gmail names MOVE, SPECIAL-USE... only after the login
        return mechanism

    def _note_capabilities(self, untagged):
        for line in untagged:
            if line.upper().startswith("CAPABILITY "):
                self.capabilities = line.upper().split()[1:]

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

    def examine(self, folder, read_only=True):
        """Open a folder read-only (EXAMINE: searching never changes a flag), or read-write (SELECT)."""
        _dummy, reply = self._run(f"{'EXAMINE' if read_only else 'SELECT'} {_quote(folder)}", "examine")
        if not reply.ok:
            self._fail(reply, "examine")

    def uid_move(self, uids, folder):
        """Move messages of the open (SELECTed) folder to `folder` (RFC 6851 MOVE; Gmail offers it)."""
        if "MOVE" not in self.capabilities:
            raise GmailError.new("imap", "the server offers no MOVE (RFC 6851)", self.endpoint, "move")
        _dummy, reply = self._run(f"UID MOVE {','.join(str(uid) for uid in uids)} {_quote(folder)}", "move")
        if not reply.ok:
            self._fail(reply, "move")

    def uid_search_header(self, name, value):
        """UIDs of the messages in the open folder whose header `name` contains `value`."""
        return self.uid_search([("HEADER", name, value)])

    def uid_search(self, criteria):
        """UIDs of the messages in the open folder matching every criterion, e.g. ("SUBJECT", "x")
        or ("HEADER", "Message-ID", "<id@host>"); the words after the key are sent quoted."""
        words = " ".join(key + "".join(" " + _quote(str(arg)) for arg in args) for key, *args in criteria)
        untagged, reply = self._run(f"UID SEARCH {words or 'ALL'}", "search")
        if not reply.ok:
            self._fail(reply, "search")
        return [int(uid) for line in untagged if line.upper().startswith("SEARCH")
                for uid in line.split()[1:] if uid.isdigit()]

    def uid_fetch_headers(self, uids, names):
        """{uid: {"internal_date": text, "size": int, "header": bytes}} for header fields `names`, read-only
        (BODY.PEEK sets no \\Seen flag)."""
        if not uids:
            return {}
        fields = " ".join(name.upper() for name in names)
        items = f"(UID INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS ({fields})])"
        untagged, reply = self._run(f"UID FETCH {','.join(str(uid) for uid in uids)} {items}", "fetch")
        if not reply.ok:
            self._fail(reply, "fetch")
        found = {}
        for line in untagged:
            if not _FETCH.match(line):
                continue
            uid = re.search(r"\bUID (\d+)", line, re.IGNORECASE)
            date = re.search(r'\bINTERNALDATE "([^"]*)"', line, re.IGNORECASE)
            size = re.search(r"\bRFC822\.SIZE (\d+)", line, re.IGNORECASE)
            if uid:
                header = line.literals[0] if line.literals else b""
                found[int(uid.group(1))] = {"internal_date": date.group(1) if date else None,
                                            "size": int(size.group(1)) if size else None, "header": header}
        return found

    @property
    def can_idle(self):
        return "IDLE" in self.capabilities

    def idle(self, seconds):
        """IDLE (RFC 2177) for up to `seconds`: True when the server announced new mail (EXISTS), False
        when the time ran out. A "* BYE" (Gmail: "Session expired") raises GmailError."""
        self._tag += 1
        tag = f"M{self._tag}"
        self.transport.send(f"{tag} IDLE\r\n".encode(), "idle")
        line = self.transport.readline("idle")
        if not line.startswith("+"):
            self._end_of(tag, line, "idle")
        news, end = False, time.monotonic() + seconds
        while not news:
            line = self.transport.wait_line(max(end - time.monotonic(), 0), "idle")
            if line is None:
                break
            self._bye(line, "idle")
            news = bool(_EXISTS.match(line[2:]))
        self.transport.send(b"DONE\r\n", "idle")
        while True:
            line = self.transport.readline("idle")
            if line.startswith(tag + " "):
                self._end_of(tag, line, "idle")
                return news
            self._bye(line, "idle")

    def noop(self):
        """NOOP: lets a server without IDLE report new mail; True when it did (EXISTS)."""
        untagged, reply = self._run("NOOP", "noop")
        if not reply.ok:
            self._fail(reply, "noop")
        return any(_EXISTS.match(line) for line in untagged)

    def _end_of(self, tag, line, stage):
        """Raise for a tagged NO/BAD answer `line`."""
        status, _dummy, text = line[len(tag) + 1:].partition(" ") if line.startswith(tag + " ") else ("BAD", "", line)
        reply = Reply(None, [text], status=status.upper())
        if not reply.ok:
            self._fail(reply, stage)

    def _bye(self, line, stage):
        if line.startswith("* BYE"):
            raise GmailError.of(Reply(None, [line[5:].strip()], status="BYE"), self.endpoint, stage)

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
            elif stage != "logout" and line.startswith("* BYE"):
                self._bye(line, stage)
            else:
                untagged.append(self._whole(line[2:] if line.startswith("* ") else line, stage))

    def _whole(self, line, stage):
        """The response with its literals read: "... {58}" is followed by 58 bytes, then the rest of the line."""
        text, literals = line, []
        while True:
            match = _LITERAL.search(text)
            if not match:
                break
            literals.append(self.transport.read_bytes(int(match.group(1)), stage))
            text = text[:match.start()] + "{}" + self.transport.readline(stage)
        whole = Untagged(text)
        whole.literals = tuple(literals)
        return whole

    def _goodbye(self):
        self._run("LOGOUT", "logout")
