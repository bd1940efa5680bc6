# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""imap.gmail.com:993 role: login, LIST with special-use flags, SELECT/EXAMINE, SEARCH, FETCH, IDLE, LOGOUT."""
from __future__ import annotations

import asyncio
import re
import time

from . import mailbox
from . import state as st
from .lines import ABORTED, LineSession, serve
from .session import SessionEnd

CAPS = ("IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 XYZZY SASL-IR "
        "AUTH=XOAUTH2 AUTH=PLAIN AUTH=PLAIN-CLIENTTOKEN AUTH=OAUTHBEARER AUTH=XOAUTH")
AUTHED_CAPS = ("IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 UIDPLUS "
               "COMPRESS=DEFLATE ENABLE MOVE CONDSTORE ESEARCH UTF8=ACCEPT LIST-EXTENDED LIST-STATUS "
               "LITERAL- SPECIAL-USE APPENDLIMIT=35651584")
FAILED = {
    st.BAD: "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)",
    st.APP_PASSWORD_REQUIRED: "NO [ALERT] Application-specific password required: "
                              "https://support.google.com/accounts/answer/185833 (Failure)",
    st.WEB_LOGIN_REQUIRED: "NO [ALERT] Please log in via your web browser: "
                           "https://support.google.com/mail/accounts/answer/78754 (Failure)",
    st.DISABLED: "NO [ALERT] Your account is not enabled for IMAP use. Please visit your Gmail settings "
                 "page and enable your account for IMAP access. (Failure)",
    ABORTED: "BAD Invalid SASL argument.",
}
IDLE_POLL = 0.2  # seconds between looks at the folder while a client idles
_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')


def arguments(text: str) -> list:
    """IMAP atoms and quoted strings (no literals: clients use them only for non-ASCII)."""
    return [re.sub(r"\\(.)", r"\1", q) if q or a == "" else a for q, a in _TOKEN.findall(text)]


class ImapSession(LineSession):
    protocol = "imap"
    listener = "imap"
    lifetime = "imap_session_lifetime"

    async def greet(self) -> None:
        peer = (self.rec["peer"] or ["?"])[0]
        await self.reply(f"* OK Gimap ready for requests from {peer} {self.sid}")

    async def handle(self, line: str) -> None:
        tag, _sep, rest = line.partition(" ")
        command, _sep, args = rest.partition(" ")
        command = command.upper()
        idle = command == "IDLE" and self.state.get("imap_idle")  # switched off, IDLE is an unknown command
        if command in ("LOGIN", "AUTHENTICATE"):
            masked = args.split(" ")[0] + " ****" if command == "LOGIN" else args.split(" ")[0]
            self.note(f"{tag} {command} {masked}")
        else:
            self.note(line)
        if self.expired(command):
            await self.bye_expired()
        elif not tag or not command:
            await self.reply(f"{tag or '*'} BAD Unknown command")
        elif command in ("LOGIN", "AUTHENTICATE") and self.rec["auth_result"] == st.OK:
            await self.reply(f"{tag} BAD Command received in Invalid state.")
        elif command in ("LOGIN", "AUTHENTICATE"):
            if not await self.fault("login", tag=tag):
                await self.login(tag, command, args)
        elif command == "CAPABILITY":
            await self.reply(f"* CAPABILITY {self.capabilities()}")
            await self.reply(f"{tag} OK Thats all she wrote! {self.sid}")
        elif command == "NOOP":
            if self.selected is not None:
                await self.report_exists()  # polling clients learn of new mail this way
            await self.reply(f"{tag} OK Success")
        elif command == "ID":
            await self.reply('* ID ("name" "GImap" "vendor" "Google, Inc." "support-url" '
                             '"https://support.google.com/mail")')
            await self.reply(f"{tag} OK Success")
        elif command == "LOGOUT":
            await self.reply("* BYE LOGOUT Requested")
            await self.reply(f"{tag} OK 73 good day (Success)")
            self.rec["closed_by"] = "logout"
            await self.flight.release(self.writer)
            await self.hang(False)
        elif (command in ("LIST", "SELECT", "EXAMINE", "UID", "SEARCH", "FETCH", "MOVE", "CLOSE", "UNSELECT") or idle) \
                and self.rec["auth_result"] != st.OK:
            await self.reply(f"{tag} BAD Command received in Invalid state.")
        elif command == "LIST":
            await self.list(tag, args)
        elif command in ("SELECT", "EXAMINE"):
            await self.select(tag, command, args)
        elif (command in ("SEARCH", "UID", "FETCH", "MOVE") or idle) and self.selected is None:
            await self.reply(f"{tag} BAD Command received in Invalid state.")
        elif command == "SEARCH" or (command == "UID" and args.upper().startswith("SEARCH ")):
            await self.search(tag, args.split(" ", 1)[1] if command == "UID" else args, by_uid=command == "UID")
        elif command == "FETCH" or (command == "UID" and args.upper().startswith("FETCH ")):
            await self.fetch(tag, args.split(" ", 1)[1] if command == "UID" else args, by_uid=command == "UID")
        elif command == "MOVE" or (command == "UID" and args.upper().startswith("MOVE ")):
            await self.move(tag, args.split(" ", 1)[1] if command == "UID" else args, by_uid=command == "UID")
        elif idle:
            await self.idle(tag)
        elif command in ("CLOSE", "UNSELECT"):
            self.selected = None
            await self.reply(f"{tag} OK Returned to authenticated state. (Success)")
        else:
            await self.reply(f"{tag} BAD Unknown command {self.sid}")

    def capabilities(self) -> str:
        caps = AUTHED_CAPS if self.rec["auth_result"] == st.OK else CAPS
        return caps if self.state.get("imap_idle") else caps.replace(" IDLE ", " ")

    async def bye_expired(self) -> None:
        """Gmail ends IMAP sessions after about a day, and an OAuth session with its token."""
        await self.reply("* BYE Session expired, please login again.")
        self.rec["closed_by"] = "expired"
        await self.flight.release(self.writer)
        await self.hang(False)

    async def login(self, tag: str, command: str, args: str) -> None:
        words = arguments(args)
        if command == "LOGIN":
            if len(words) != 2:
                await self.reply(f"{tag} BAD Invalid arguments for LOGIN")
                return
            user, result = words[0].lower(), self.state.check_password(words[0], words[1], "imap")
            self.note_auth("LOGIN", user, result)
        else:
            mechanism = (words[0] if words else "").upper()
            if mechanism not in ("PLAIN", "XOAUTH2", "OAUTHBEARER"):
                await self.reply(f"{tag} NO Unsupported AUTHENTICATE mechanism. {self.sid}")
                return
            user, result = await self.sasl(mechanism, words[1] if len(words) > 1 else None, "imap")
        if result == st.OK:
            self.logged_in(oauth=command != "LOGIN")
            await self.reply(f"* CAPABILITY {self.capabilities()}")
            await self.reply(f"{tag} OK {user} authenticated (Success)")
        else:
            await self.reply(f"{tag} {FAILED[result]}")

    read_only = True  # the selected folder was opened with EXAMINE

    # -- mailbox -------------------------------------------------------------------------
    selected = None  # folder name while a folder is selected
    reported = 0  # the message count the client was last told (SELECT, NOOP, IDLE)

    def folder(self, name: str):
        records = self.state.recorder.read("messages")
        return mailbox.contents(records, self.rec["auth_user"], name, self.state.get("sent_mail_folder"),
                                self.state.get("sent_mail_delay"), trashed=self.state.trashed_of(self.rec["auth_user"]))

    async def list(self, tag: str, args: str) -> None:
        words = arguments(args)
        if len(words) != 2:
            await self.reply(f"{tag} BAD Could not parse command")
            return
        for flags, name in mailbox.listing(self.state.get("sent_mail_folder"), words[0] + words[1]):
            await self.reply(f'* LIST ({flags}) "/" "{name}"')
        await self.reply(f"{tag} OK Success")

    async def select(self, tag: str, command: str, args: str) -> None:
        words = arguments(args)
        messages = self.folder(words[0]) if len(words) == 1 else None
        if messages is None:
            self.selected = None
            name = words[0] if words else args
            await self.reply(f"{tag} NO [NONEXISTENT] Unknown Mailbox: {name} (now in authenticated state) (Failure)")
            return
        self.selected = "INBOX" if words[0].upper() == "INBOX" else words[0]
        self.read_only = command == "EXAMINE"
        self.reported = len(messages)
        uidnext = max([m["seq"] for m in messages], default=0) + 1
        flags = "\\Answered \\Flagged \\Draft \\Deleted \\Seen $NotPhishing $Phishing"
        for line in (f"* FLAGS ({flags})", f"* OK [PERMANENTFLAGS ({flags} \\*)] Flags permitted.",
                     f"* OK [UIDVALIDITY {self.state.generation + 1}] UIDs valid.", f"* {len(messages)} EXISTS",
                     "* 0 RECENT", f"* OK [UIDNEXT {uidnext}] Predicted next UID.", "* OK [HIGHESTMODSEQ 1]"):
            await self.reply(line)
        mode = "READ-ONLY" if command == "EXAMINE" else "READ-WRITE"
        await self.reply(f"{tag} OK [{mode}] {self.selected} selected. (Success)")

    async def search(self, tag: str, args: str, by_uid: bool) -> None:
        """SEARCH / UID SEARCH over the selected folder as it is now (new mail shows without NOOP)."""
        try:
            match = mailbox.matcher(arguments(args))
        except mailbox.ParseError:
            await self.reply(f"{tag} BAD Could not parse command")
            return
        messages = self.folder(self.selected) or []
        found = [str(m["seq"] if by_uid else n) for n, m in enumerate(messages, 1) if match(m)]
        await self.reply(" ".join(["* SEARCH"] + found))
        await self.reply(f"{tag} OK SEARCH completed (Success)")

    async def fetch(self, tag: str, args: str, by_uid: bool) -> None:
        """FETCH / UID FETCH: UID, FLAGS (always empty), INTERNALDATE, RFC822.SIZE in that order, then the
        sections (literals) in the order asked; numbers not in the folder are skipped, as at Gmail."""
        messages = self.folder(self.selected) or []
        numbers, _sep, items = args.strip().partition(" ")
        try:
            wanted = mailbox.sequence_set(numbers, max([m["seq"] for m in messages], default=0) if by_uid
                                          else len(messages))
            simple, sections = mailbox.fetch_items(items)
        except mailbox.ParseError:
            await self.reply(f"{tag} BAD Could not parse command")
            return
        if by_uid:
            simple.add("UID")  # RFC 3501: UID FETCH always answers with the UID
        for n, message in enumerate(messages, 1):
            if not wanted(message["seq"] if by_uid else n):
                continue
            raw = self.raw(message)
            values = {"UID": message["seq"], "FLAGS": "()", "RFC822.SIZE": len(raw),
                      "INTERNALDATE": f'"{mailbox.internaldate(message.get("received", 0))}"'}
            parts = [f"{name} {values[name]}".encode() for name in mailbox.SIMPLE if name in simple]
            for name, which in sections:
                data = mailbox.section(raw, which)
                parts.append(f"{name} {{{len(data)}}}\r\n".encode() + data)
            self.flight.hold(f"* {n} FETCH (".encode() + b" ".join(parts) + b")\r\n")
        await self.reply(f"{tag} OK Success")

    async def move(self, tag: str, args: str, by_uid: bool) -> None:
        """MOVE / UID MOVE (RFC 6851) to Trash, the one target emulated: the messages leave every other
        folder of the account, as a delete in Gmail's web interface does."""
        words = arguments(args)
        messages = self.folder(self.selected) or []
        try:
            if len(words) != 2:
                raise mailbox.ParseError(args)
            wanted = mailbox.sequence_set(words[0], max([m["seq"] for m in messages], default=0) if by_uid
                                          else len(messages))
        except mailbox.ParseError:
            await self.reply(f"{tag} BAD Could not parse command")
            return
        if self.read_only:
            await self.reply(f"{tag} NO [READ-ONLY] The folder is open read-only (EXAMINE). (Failure)")
            return
        if words[1] != mailbox.TRASH:
            await self.reply(f"{tag} NO [CANNOT] The emulator moves to {mailbox.TRASH} only. (Failure)")
            return
        moving = [(n, m) for n, m in enumerate(messages, 1) if wanted(m["seq"] if by_uid else n)]
        if moving:
            uids = ",".join(str(m["seq"]) for _n, m in moving)
            await self.reply(f"* OK [COPYUID {self.state.generation + 1} {uids} {uids}]")
            self.state.trash(self.rec["auth_user"], [m["seq"] for _n, m in moving])
            for n, _m in reversed(moving):  # highest first: the numbers of the others stay valid
                await self.reply(f"* {n} EXPUNGE")
            self.reported -= len(moving)
        await self.reply(f"{tag} OK Success")

    def raw(self, message: dict) -> bytes:
        try:
            with open(self.state.recorder.path("messages", message.get("eml") or f"{message['id']}.eml"), "rb") as fh:
                return fh.read()
        except OSError:  # the records were reset under this session
            return b""

    async def report_exists(self) -> bool:
        """Say `* N EXISTS` when the selected folder grew since the client was last told."""
        count = len(self.folder(self.selected) or [])
        grew, self.reported = count > self.reported, count
        if grew:
            await self.reply(f"* {count} EXISTS")
        return grew

    async def idle(self, tag: str) -> None:
        """RFC 2177: push EXISTS while the client waits, until DONE; the session lifetime still applies."""
        await self.reply("+ idling")
        await self.flight.release(self.writer)
        line = asyncio.ensure_future(self.reader.readline())
        try:
            while not line.done():
                await asyncio.wait({line}, timeout=max(0.0, min(IDLE_POLL, self.session_end - time.time())))
                if line.done():
                    break
                if await self.report_exists():  # mail that came before the end is announced before the BYE
                    await self.flight.release(self.writer, delay=False)  # a push, not an answer
                if self.expired("IDLE"):
                    await self.bye_expired()
        finally:
            line.cancel()
        text = line.result()
        if not text:
            raise SessionEnd()
        text = text.decode("utf-8", "replace").strip()
        self.note(text)
        ok = text.upper() == "DONE"
        await self.reply(f"{tag} OK IDLE terminated (Success)" if ok else f"{tag} BAD Could not parse command")


async def start(state, host: str, port: int, tls_context):
    return await serve(state, ImapSession, host, port, tls_context)
