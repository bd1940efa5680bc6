# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""imap.gmail.com:993 role: enough IMAP4rev1 for a login check and a clean logout."""
from __future__ import annotations

import re

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
        if not tag or not command:
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
        elif command in ("SELECT", "EXAMINE") and self.rec["auth_result"] == st.OK:
            await self.select(tag, command)
        elif command in ("SELECT", "EXAMINE"):
            await self.reply(f"{tag} BAD Command received in Invalid state.")
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
            if mechanism not in ("PLAIN", "XOAUTH2"):
                await self.reply(f"{tag} NO Unsupported AUTHENTICATE mechanism. {self.sid}")
                return
            user, result = await self.sasl(mechanism, words[1] if len(words) > 1 else None, "imap")
        if result == st.OK:
            await self.reply(f"* CAPABILITY {AUTHED_CAPS}")
            await self.reply(f"{tag} OK {user} authenticated (Success)")
        else:
            await self.reply(f"{tag} {FAILED[result]}")

    async def select(self, tag: str, command: str) -> None:
        for line in ("* FLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen $NotPhishing $Phishing)",
                     "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen $NotPhishing $Phishing "
                     "\\*)] Flags permitted.",
                     "* OK [UIDVALIDITY 1] UIDs valid.", "* 0 EXISTS", "* 0 RECENT",
                     "* OK [UIDNEXT 1] Predicted next UID.", "* OK [HIGHESTMODSEQ 1]"):
            await self.reply(line)
        mode = "READ-ONLY" if command == "EXAMINE" else "READ-WRITE"
        await self.reply(f"{tag} OK [{mode}] INBOX selected. (Success)")


async def start(state, host: str, port: int, tls_context):
    return await serve(state, ImapSession, host, port, tls_context)
