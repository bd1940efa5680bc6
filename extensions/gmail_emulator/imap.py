# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""imap.gmail.com:993 role: login, LIST with special-use flags, SELECT/EXAMINE, SEARCH and LOGOUT."""
from __future__ import annotations

import re

from . import mailbox
from . import state as st
from .lines import ABORTED, LineSession, serve

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
        if command in ("LOGIN", "AUTHENTICATE"):
            masked = args.split(" ")[0] + " ****" if command == "LOGIN" else args.split(" ")[0]
            self.note(f"{tag} {command} {masked}")
        else:
            self.note(line)
        if self.expired(command):
            # Gmail ends IMAP sessions after about a day, and an OAuth session with its token.
            await self.reply("* BYE Session expired, please login again.")
            self.rec["closed_by"] = "expired"
            await self.flight.release(self.writer)
            await self.hang(False)
        elif not tag or not command:
            await self.reply(f"{tag or '*'} BAD Unknown command")
        elif command in ("LOGIN", "AUTHENTICATE") and self.rec["auth_result"] == st.OK:
            await self.reply(f"{tag} BAD Command received in Invalid state.")
        elif command in ("LOGIN", "AUTHENTICATE"):
            if not await self.fault("login", tag=tag):
                await self.login(tag, command, args)
        elif command == "CAPABILITY":
            await self.reply(f"* CAPABILITY {AUTHED_CAPS if self.rec['auth_result'] == st.OK else CAPS}")
            await self.reply(f"{tag} OK Thats all she wrote! {self.sid}")
        elif command == "NOOP":
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
        elif command in ("LIST", "SELECT", "EXAMINE", "UID", "SEARCH", "CLOSE", "UNSELECT") \
                and self.rec["auth_result"] != st.OK:
            await self.reply(f"{tag} BAD Command received in Invalid state.")
        elif command == "LIST":
            await self.list(tag, args)
        elif command in ("SELECT", "EXAMINE"):
            await self.select(tag, command, args)
        elif command in ("SEARCH", "UID") and self.selected is None:
            await self.reply(f"{tag} BAD Command received in Invalid state.")
        elif command == "SEARCH" or (command == "UID" and args.upper().startswith("SEARCH ")):
            await self.search(tag, args.split(" ", 1)[1] if command == "UID" else args, by_uid=command == "UID")
        elif command in ("CLOSE", "UNSELECT"):
            self.selected = None
            await self.reply(f"{tag} OK Returned to authenticated state. (Success)")
        else:
            await self.reply(f"{tag} BAD Unknown command {self.sid}")

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
            await self.reply(f"* CAPABILITY {AUTHED_CAPS}")
            await self.reply(f"{tag} OK {user} authenticated (Success)")
        else:
            await self.reply(f"{tag} {FAILED[result]}")

    # -- mailbox -------------------------------------------------------------------------
    selected = None  # folder name while a folder is selected

    def folder(self, name: str):
        records = self.state.recorder.read("messages")
        return mailbox.contents(records, self.rec["auth_user"], name, self.state.get("sent_mail_folder"),
                                self.state.get("sent_mail_delay"))

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
        except mailbox.SearchError:
            await self.reply(f"{tag} BAD Could not parse command")
            return
        messages = self.folder(self.selected) or []
        found = [str(m["seq"] if by_uid else n) for n, m in enumerate(messages, 1) if match(m)]
        await self.reply(" ".join(["* SEARCH"] + found))
        await self.reply(f"{tag} OK SEARCH completed (Success)")


async def start(state, host: str, port: int, tls_context):
    return await serve(state, ImapSession, host, port, tls_context)
