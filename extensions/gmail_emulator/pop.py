# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""pop.gmail.com:995 role: enough POP3 for a login check and a clean QUIT (an empty maildrop)."""
from __future__ import annotations

from . import state as st
from .lines import ABORTED, LineSession, serve

CAPA = ["USER", "RESP-CODES", "EXPIRE 0", "LOGIN-DELAY 300", "TOP", "UIDL", "X-GOOGLE-RICO",
        "SASL PLAIN XOAUTH2 OAUTHBEARER"]
FAILED = {
    st.BAD: "-ERR [AUTH] Username and password not accepted.",
    st.APP_PASSWORD_REQUIRED: "-ERR [AUTH] Application-specific password required: "
                              "https://support.google.com/accounts/answer/185833",
    st.WEB_LOGIN_REQUIRED: "-ERR [AUTH] Web login required: https://support.google.com/mail/answer/78754",
    st.DISABLED: "-ERR [SYS/PERM] Your account is not enabled for POP access. Please visit your Gmail "
                 "settings page and enable your account for POP access.",
    ABORTED: "-ERR [AUTH] Invalid SASL argument.",
}
BEARER_FAILED = "-ERR [AUTH] Invalid credentials."


class PopSession(LineSession):
    protocol = "pop"
    listener = "pop"
    lifetime = "pop_session_lifetime"
    user = None

    async def greet(self) -> None:
        peer = (self.rec["peer"] or ["?"])[0]
        await self.reply(f"+OK Gpop ready for requests from {peer} {self.sid}")

    async def handle(self, line: str) -> None:
        command, _sep, arg = line.partition(" ")
        command = command.upper()
        self.note(f"{command} ****" if command in ("PASS", "AUTH") and arg else line)
        authed = self.rec["auth_result"] == st.OK
        if self.expired(command):
            # Gmail ends a POP session after about 7 days by closing it; no reply text is on record.
            self.rec["closed_by"] = "expired"
            await self.flight.release(self.writer)
            await self.hang(False)
        elif command == "CAPA":
            for text in ["+OK Capability list follows"] + CAPA + ["."]:
                await self.reply(text)
        elif command == "QUIT":
            await self.reply("+OK Farewell.")
            self.rec["closed_by"] = "quit"
            await self.flight.release(self.writer)
            await self.hang(False)
        elif command == "NOOP":
            await self.reply("+OK")
        elif command == "USER" and not authed:
            self.user = arg.strip().lower()
            await self.reply("+OK send PASS")
        elif command == "PASS" and not authed:
            await self.password(arg)
        elif command == "AUTH" and not authed:
            await self.auth(arg)
        elif command == "STAT" and authed:
            await self.reply("+OK 0 0")
        elif command in ("LIST", "UIDL") and authed:
            await self.reply("+OK 0 messages (0 octets)")
            await self.reply(".")
        else:
            await self.reply("-ERR bad command")

    async def password(self, arg: str) -> None:
        if self.user is None:
            await self.reply("-ERR USER first")
            return
        if await self.fault("login"):
            return
        result = self.state.check_password(self.user, arg, "pop")
        self.note_auth("USER", self.user, result)
        if result == st.OK:
            self.logged_in(oauth=False)
        await self.reply("+OK Welcome." if result == st.OK else FAILED[result])

    async def auth(self, arg: str) -> None:
        words = arg.split()
        mechanism = words[0].upper() if words else ""
        if mechanism not in ("PLAIN", "XOAUTH2", "OAUTHBEARER"):
            await self.reply("-ERR [AUTH] Unsupported mechanism.")
            return
        if await self.fault("login"):
            return
        _user, result = await self.sasl(mechanism, words[1] if len(words) > 1 else None, "pop")
        if result == st.OK:
            self.logged_in(oauth=mechanism != "PLAIN")
            await self.reply("+OK Welcome.")
        else:
            await self.reply(BEARER_FAILED if mechanism != "PLAIN" and result == st.BAD else FAILED[result])


async def start(state, host: str, port: int, tls_context):
    return await serve(state, PopSession, host, port, tls_context)
