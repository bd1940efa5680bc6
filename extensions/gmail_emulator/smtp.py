# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""smtp.gmail.com on aiosmtpd (1.4.3 to 1.4.6): STARTTLS (587 role) and implicit TLS (465 role).

Overrides, all covered by tests/integration/test_emulator_smtp.py: `push` (Gmail's reply
texts, held replies for round trips), `connection_made`/`connection_lost` (records), the
`smtp_*` command methods (faults, STARTTLS and AUTH requirements), `auth_*` methods.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import logging
import re
import time

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, TLSSetupException

from . import state as st
from .message import message_record, received, rewrite_from
from .rtt import HoldingReader
from .session import BEARER_ERROR, OAUTHBEARER_ERROR, Conversation

# aiosmtpd logs every command at INFO and warns about its own deprecated login_data on each AUTH.
logging.getLogger("mail.log").setLevel(logging.ERROR)
log = logging.getLogger("gmail_emulator")
AUTH_LINE = "AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH"
RELAY_NAME = "smtp-relay.gmail.com"
G = " {id} - gsmtp"
REPLIES = {
    "greeting": "220 smtp.gmail.com ESMTP" + G,
    "starttls_first": "530 5.7.0 Must issue a STARTTLS command first." + G,
    "auth_required": "530-5.7.0 Authentication Required. Learn more at\r\n"
                     "530 5.7.0  https://support.google.com/mail/?p=WantAuthError" + G,
    "throttled": "454 4.7.0 Too many login attempts, please try again later." + G,
    "syntax": "555 5.5.2 Syntax error." + G,
    "bad_sender": "553-5.1.7 The sender address <{addr}> is not a valid RFC-5321\r\n"
                  "553 5.1.7 address. Learn more at https://support.google.com/mail/answer/6596" + G,
    "bad_rcpt": "553-5.1.3 The recipient address <{addr}> is not a valid RFC-5321\r\n"
                "553 5.1.3 address. Learn more at https://support.google.com/mail/answer/6596" + G,
    "help": "214 2.0.0 https://www.google.com/search?btnI&q=RFC+5321" + G,
    "vrfy": "252 2.1.5 Send some mail, I'll try my best" + G,
    "accepted": "235 2.7.0 Accepted",
    st.BAD: "535-5.7.8 Username and Password not accepted. For more information, go to\r\n"
            "535 5.7.8  https://support.google.com/mail/?p=BadCredentials" + G,
    st.APP_PASSWORD_REQUIRED: "534-5.7.9 Application-specific password required. For more information, go to\r\n"
                              "534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor" + G,
    st.WEB_LOGIN_REQUIRED: "534-5.7.14 Please log in via your web browser and then try again.\r\n"
                           "534 5.7.14  Learn more at https://support.google.com/mail/answer/78754" + G,
    "quota": "550-5.4.5 Daily user sending limit exceeded. For more information on Gmail\r\n"
             "550-5.4.5 sending limits go to\r\n550 5.4.5  https://support.google.com/a/answer/166852" + G,
    "too_many_rcpts": "452-4.5.3 Your message has too many recipients. For more information regarding\r\n"
                      "452-4.5.3 Google's sending limits, visit\r\n"
                      "452 4.5.3  https://support.google.com/mail/answer/6592" + G,
    "too_big": "552-5.3.4 Your message exceeded Google's message size limits. Please visit\r\n"
               "552 5.3.4  https://support.google.com/mail/?p=MaxSizeError" + G,
    "mail_ok": "250 2.1.0 OK" + G,
    "rcpt_ok": "250 2.1.5 OK" + G,
    "eom_ok": "250 2.0.0 OK  {ts}" + G,
    "quit": "221 2.0.0 closing connection" + G,
    # smtp-relay.gmail.com (public logs and Workspace admin help, answer 6140680)
    "relay_denied": "550-5.7.1 Invalid credentials for relay [{peer}]. The IP address you've\r\n"
                    "550-5.7.1 registered in your Workspace SMTP Relay service doesn't match domain of\r\n"
                    "550-5.7.1 the account this email is being sent from. If you are trying to relay\r\n"
                    "550-5.7.1 mail from a domain that isn't registered under your Workspace account\r\n"
                    "550-5.7.1 or has empty envelope-from, you must configure your mail server\r\n"
                    "550-5.7.1 either to use SMTP AUTH to identify the sending domain or to present\r\n"
                    "550 5.7.1 one of your domain names in the HELO or EHLO command." + G,
    "relay_quota": "550 5.4.5 Daily SMTP relay limit exceeded for user." + G,
    # Google's text (Workspace admin help, answers 3726730 and 2956491); the line break is ours.
    "relay_peak": "450-4.2.1 Peak SMTP relay limit exceeded for customer. This is a temporary error.\r\n"
                  "450 4.2.1 For more information on SMTP relay limits, please contact your administrator." + G,
    "tls_active": "502 5.5.1 Unrecognized command." + G,
}
# aiosmtpd's stock replies, said the way Gmail says them.
STOCK = {
    "220 Ready to start TLS": "220 2.0.0 Ready to start TLS",
    "354 End data with <CR><LF>.<CR><LF>": "354 Go ahead" + G,
    "552 Error: message size exceeds fixed maximum message size": REPLIES["too_big"],
    "552 Error: Too much mail data": REPLIES["too_big"],
    "503 Error: send HELO first": "503 5.5.1 EHLO/HELO first." + G,
    "503 Error: send EHLO first": "503 5.5.1 EHLO/HELO first." + G,
    "503 Error: need MAIL command": "503 5.5.1 MAIL first." + G,
    "503 Error: need RCPT command": "503 5.5.1 RCPT first." + G,
    "503 Error: nested MAIL command": "503 5.5.1 Nested MAIL command." + G,
    "503 Already authenticated": "503 5.5.1 Already authenticated." + G,
    "504 5.5.4 Unrecognized authentication type": "504 5.7.4 Unrecognized authentication type." + G,
    "501 5.5.2 Can't decode base64": "501 5.5.2 Cannot Decode response" + G,
    "250 OK": "250 2.1.5 Flushed" + G,
    "500 Error: bad syntax": REPLIES["syntax"],
    "501 5.7.0 Auth aborted": "501 5.7.0 Auth aborted." + G,
}
# The enhanced code Gmail puts on a reply class that aiosmtpd sends without one.
_ENHANCED = {"2": "2.0.0", "4": "4.3.0", "500": "5.5.2", "501": "5.5.2", "502": "5.5.1", "503": "5.5.1",
             "504": "5.5.4", "530": "5.7.0", "5": "5.5.0"}
_REPLY = re.compile(r"^(\d{3})([ -])(\d\.\d{1,3}\.\d{1,3} )?(.*)$", re.S)
# RFC 5321 paths: "FROM:<mailbox>" / "TO:<mailbox>" and parameters; a mailbox is a dot-atom or quoted local
# part and a domain of LDH labels (UTF-8 allowed, as with SMTPUTF8) or an address literal.
_PATH = re.compile(r"^(?:FROM|TO):\s?<([^<>]*)>(?:\s+(.*))?$", re.IGNORECASE)
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]+"
_LABEL = r"[A-Za-z0-9\u0080-\U0010ffff](?:[A-Za-z0-9\u0080-\U0010ffff-]*[A-Za-z0-9\u0080-\U0010ffff])?"
_MAILBOX = re.compile(rf'^(?:{_ATOM}(?:\.{_ATOM})*|"(?:[^"\\\r\n]|\\.)*")@(?:{_LABEL}(?:\.{_LABEL})+|\[[^\]\s]+\])$')


def gmail_reply(status: str, sid: str) -> str:
    """Any reply the way Gmail ends it: an enhanced code, then "<id> - gsmtp" (not 235/334/TLS ready)."""
    if status.rstrip().endswith("- gsmtp") or status[:3] in ("235", "334") or status.startswith("220 2.0.0 Ready"):
        return status
    match = _REPLY.match(status)
    if not match:
        return status
    code, sep, enhanced, text = match.groups()
    enhanced = enhanced or (_ENHANCED.get(code) or _ENHANCED.get(code[0], "5.5.0")) + " "
    text = text.rstrip(".") + "."
    return f"{code}{sep}{enhanced}{text}" + G.format(id=sid)


class _Hooks:
    """aiosmtpd handler: forwards the public hooks to the session object."""

    def __init__(self):
        self.server = None

    async def handle_exception(self, error):
        # A failed STARTTLS handshake (wrong_cert) is expected; anything else is an emulator bug.
        if not isinstance(error, TLSSetupException):
            log.error("gmail emulator SMTP session failed", exc_info=error)
            self.server.rec.setdefault("errors", []).append(repr(error))
        return "451 4.3.0 Internal emulator error, see the emulator log."

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        return server.ehlo_lines(hostname)

    async def handle_MAIL(self, server, session, envelope, address, options):
        return server.on_mail(envelope, address, options)

    async def handle_RCPT(self, server, session, envelope, address, options):
        return server.on_rcpt(envelope, address, options)

    async def handle_DATA(self, server, session, envelope):
        return await server.on_eom(envelope)


class GmailSMTP(Conversation, SMTP):
    AuthLoginUsernameChallenge = "Username:"
    AuthLoginPasswordChallenge = "Password:"

    def __init__(self, state, listener: str, tls_context, implicit_tls: bool):
        self.state, self.listener, self.implicit_tls = state, listener, implicit_tls
        self._greeted = False
        hooks = _Hooks()
        super().__init__(
            hooks, hostname="smtp.gmail.com", ident="ESMTP", loop=asyncio.get_running_loop(),
            tls_context=None if implicit_tls else tls_context, require_starttls=False,
            auth_required=False, auth_require_tls=False, enable_SMTPUTF8=True,
            data_size_limit=state.get("max_message_size"), authenticator=self._password_auth,
        )
        hooks.server = self

    # -- connection and I/O -----------------------------------------------------------
    _chunks = None  # the message so far, between BDAT chunks
    _carrier = "DATA"  # the command that carried the message being saved
    _token_end = None  # when the access token of an OAuth-authenticated session expires

    def connection_made(self, transport) -> None:
        first = self.transport is None
        super().connection_made(transport)
        if first:
            self.begin(self.state, self.listener, transport)
            self._reader = HoldingReader(self._reader, self.flight, lambda: self._writer)

    def connection_lost(self, error) -> None:
        super().connection_lost(error)
        self.finish()

    @property
    def out(self):
        return self._writer

    def close_transport(self) -> None:
        if self.transport is not None:
            self.transport.close()

    async def hang(self, silent: bool) -> None:
        # aiosmtpd cancels this task when the client closes (or we did); the greeting is sent
        # outside aiosmtpd's own clean-up, so close here too.
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            self.close_transport()

    def text(self, key: str, **fields) -> str:
        return REPLIES[key].format(id=self.sid, **fields)

    async def push(self, status) -> None:
        if isinstance(status, bytes):
            status = status.decode("utf-8", "surrogateescape")
        if not self._greeted:
            self._greeted = True
            if await self.fault("connect"):
                return
            status = self.text("greeting")
            if self.relay:
                status = status.replace("smtp.gmail.com", RELAY_NAME)
        status = STOCK.get(status, status).replace("{id}", self.sid)
        if status.startswith("500 Error: command "):
            status = "502 5.5.1 Unrecognized command." + G.format(id=self.sid)
        await self.reply(status if getattr(self, "_verbatim", False) else gmail_reply(status, self.sid))
        if status.startswith("220 2.0.0"):
            await self.flight.release(self._writer)  # the TLS handshake follows on this transport

    def is_tls(self) -> bool:
        return self.transport is not None and self.transport.get_extra_info("ssl_object") is not None

    async def gate(self, stage, line: str, needs_tls=False, needs_auth=False) -> bool:
        """Record the command; apply faults and Gmail's TLS/AUTH requirements. True = answered."""
        self.note(line)
        if stage and await self.fault(stage):
            return True
        if needs_tls and not self.is_tls():
            await self.push(self.text("starttls_first"))
            return True
        if needs_auth and not self.session.authenticated:
            await self.push(self.text("auth_required"))
            return True
        if needs_auth and self._token_end is not None and time.time() >= self._token_end:
            # Gmail ends a session authenticated by OAuth when its token expires.
            await self.push("421 4.7.0 Try again later, closing connection." + G)
            self.rec["closed_by"] = "token_expired"
            await self.flight.release(self._writer)
            self.close_transport()
            return True
        return False

    # -- commands ---------------------------------------------------------------------
    async def smtp_EHLO(self, arg):
        if not await self.gate("ehlo", f"EHLO {arg or ''}".strip()):
            await self.greeting_reply(super().smtp_EHLO(arg))

    async def smtp_HELO(self, arg):
        if not await self.gate("ehlo", f"HELO {arg or ''}".strip()):
            await self.greeting_reply(super().smtp_HELO(arg))

    async def greeting_reply(self, answer) -> None:
        """EHLO/HELO lines go out as Gmail writes them: no enhanced code, no "- gsmtp"."""
        self._verbatim = True
        try:
            await answer
        finally:
            self._verbatim = False

    def ehlo_lines(self, hostname: str) -> list:
        self.session.host_name = hostname
        self.data_size_limit = self.state.get("max_message_size")
        peer = (self.session.peer or ("?",))[0]
        name = RELAY_NAME if self.relay else "smtp.gmail.com"
        lines = [f"{name} at your service, [{peer}]", f"SIZE {self.data_size_limit}", "8BITMIME",
                 AUTH_LINE if self.is_tls() else "STARTTLS", "ENHANCEDSTATUSCODES"]
        if self.state.get("pipelining"):
            lines.append("PIPELINING")
        lines += ["CHUNKING", "SMTPUTF8"]
        return [f"250-{line}" for line in lines[:-1]] + [f"250 {lines[-1]}"]

    async def smtp_STARTTLS(self, arg):
        if await self.gate("starttls", "STARTTLS"):
            return
        if self.is_tls():
            await self.push(self.text("tls_active"))
            return
        self.rec["starttls"] = True
        try:
            await super().smtp_STARTTLS(arg)
        except TLSSetupException as exc:
            self.rec["tls_error"] = repr(exc.__cause__)
            raise
        self.note_tls(self.transport)

    async def smtp_AUTH(self, arg):
        words = (arg or "").split()
        masked = " ".join(words[:1] + ["****"] * (len(words) > 1))
        if not await self.gate("auth", f"AUTH {masked}".strip(), needs_tls=True):
            await super().smtp_AUTH(arg)

    async def smtp_MAIL(self, arg):
        if await self.gate("mail", f"MAIL {arg or ''}".strip(), needs_tls=True, needs_auth=not self.relay) \
                or not await self.check_path(arg, "FROM", "bad_sender"):
            return
        refusal = self.relay_refusal(_PATH.match(arg).group(1)) if self.relay else None
        if self.relay and not refusal and self.state.relay_deferred():
            refusal = self.text("relay_peak")  # the organisation's mail, once it is known whose
        if refusal:
            await self.push(refusal)
            return
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg):
        if not await self.gate("rcpt", f"RCPT {arg or ''}".strip(), needs_tls=True, needs_auth=not self.relay) \
                and await self.check_path(arg, "TO", "bad_rcpt"):
            await super().smtp_RCPT(arg)

    # -- smtp-relay.gmail.com ---------------------------------------------------------
    @property
    def relay(self) -> bool:
        """The Workspace relay: its own listener, or the name smtp-relay.gmail.com asked for in TLS (SNI)."""
        ssl_object = self.transport.get_extra_info("ssl_object") if self.transport is not None else None
        return self.listener == "smtp-relay" or getattr(ssl_object, "mailops_server_name", None) == RELAY_NAME

    def relay_refusal(self, sender: str):
        """The relay's answer to MAIL when it does not take the mail, else None.

        It identifies the sending domain by the client's address (relay_allowlist) or its SMTP AUTH
        user (only the address with relay_ip_only, AUTH or not), then wants the EHLO name (without AUTH)
        and the envelope sender in a registered domain."""
        peer = (self.session.peer or ("?",))[0]
        domains = self.state.get("relay_domains")
        allowlist = self.state.get("relay_allowlist")
        try:
            allowed = any(ipaddress.ip_address(peer) in ipaddress.ip_network(net) for net in allowlist)
        except ValueError:
            allowed = False
        authed = self.session.authenticated

        def registered(name: str) -> bool:
            name = (name or "").lower().rstrip(".")
            return any(name == d or name.endswith("." + d) for d in domains)

        if self.state.get("relay_require_auth") and not authed:
            return self.text("auth_required")
        if authed:  # an allowed address need not log in, but one that does is judged by its user
            identified = registered((self.rec["auth_user"] or "").rpartition("@")[2]) and (
                allowed or not self.state.get("relay_ip_only"))
        else:
            identified = allowed and registered(self.session.host_name)
        if not identified or not registered(sender.rpartition("@")[2]):
            return self.text("relay_denied", peer=peer)
        return None

    async def check_path(self, arg, keyword: str, bad: str) -> bool:
        """Gmail's envelope syntax: 555 for a malformed path, 553 for a path that is no RFC 5321 mailbox."""
        match = _PATH.match(arg or "")
        if not match or not (arg or "").upper().startswith(keyword):
            await self.push(self.text("syntax"))
            return False
        address = match.group(1)
        if address == "" and keyword == "FROM":
            return True  # the null sender of a bounce
        if not _MAILBOX.match(address):
            await self.push(self.text(bad, addr=address))
            return False
        return True

    async def smtp_HELP(self, arg):
        self.note(f"HELP {arg or ''}".strip())
        await self.push(self.text("help"))

    async def smtp_VRFY(self, arg):
        self.note(f"VRFY {arg or ''}".strip())
        await self.push(self.text("vrfy"))

    async def smtp_DATA(self, arg):
        if self._chunks is not None:
            await self.push("503 5.5.1 DATA after BDAT in the same transaction." + G)
            return
        if not await self.gate("data", "DATA", needs_tls=True, needs_auth=not self.relay):
            await super().smtp_DATA(arg)

    async def smtp_RSET(self, arg):
        self._chunks = None
        if not await self.gate(None, "RSET"):
            await super().smtp_RSET(arg)

    async def smtp_BDAT(self, arg):
        """RFC 3030 CHUNKING: "BDAT <size> [LAST]", the chunk follows the command line at once.

        The chunk is read whatever the reply (the client does not wait for one); chunks add up to
        the message, which LAST submits like the end of DATA; SIZE is checked over all chunks.
        """
        words = (arg or "").split()
        if not words or not words[0].isdigit() or len(words) > 2 or (len(words) == 2 and words[1].upper() != "LAST"):
            self.note(f"BDAT {arg or ''}".strip())
            await self.push(self.text("syntax"))
            return
        size, last = int(words[0]), len(words) == 2
        chunk = await self._reader.readexactly(size) if size else b""
        if await self.gate("data" if self._chunks is None else None, f"BDAT {size}" + (" LAST" if last else ""),
                           needs_tls=True, needs_auth=not self.relay):
            self._chunks = None
            return
        if not self.envelope.rcpt_tos:
            self._chunks = None
            await self.push("503 5.5.1 RCPT first." + G)
            return
        self._chunks = (self._chunks or bytearray()) + chunk
        if len(self._chunks) > self.data_size_limit and last:
            self._chunks = None
            self._set_post_data_state()
            await self.push(self.text("too_big"))
            return
        if not last:
            await self.push(f"250 2.0.0 OK {size} bytes received" + G)
            return
        content, self._chunks = bytes(self._chunks), None
        self.envelope.original_content = content
        self.envelope.content = content.decode("utf-8", errors="surrogateescape")
        self._carrier = "BDAT"
        try:
            status = await self._call_handler_hook("DATA")
        finally:
            self._carrier = "DATA"
        self._set_post_data_state()
        await self.push(status)

    async def smtp_NOOP(self, arg):
        self.note("NOOP")
        await self.push("250 2.0.0 OK" + G)

    async def smtp_QUIT(self, arg):
        self.note("QUIT")
        await self.push(self.text("quit"))
        await self.flight.release(self._writer)
        self.rec["closed_by"] = "quit"
        self.close_transport()
        self.finish()
        await self.hang(False)

    # -- envelope hooks ---------------------------------------------------------------
    def on_mail(self, envelope, address, options):
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return self.text("mail_ok")

    def on_rcpt(self, envelope, address, options):
        if len(envelope.rcpt_tos) >= self.state.get("max_recipients"):
            return self.text("too_many_rcpts")
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return self.text("rcpt_ok")

    async def on_eom(self, envelope):
        rule = self.state.faults.hit("eom", "smtp")
        if rule is None and self.relay and self.state.over_relay_quota(envelope.mail_from, envelope.rcpt_tos):
            return self.text("relay_quota")  # messages and unique recipients, counted per envelope sender
        if rule is None and not self.relay and self.state.over_quota(self.rec["auth_user"]):
            return self.text("quota")  # Gmail says it at the end of the data, not at MAIL
        if rule is None:
            self.save_message(envelope)
            return self.text("eom_ok", ts=int(time.time()))
        if rule["action"] == "drop":
            self.save_message(envelope, dropped=True)  # the real server may have delivered it
        return await self.apply(rule, hold=False)

    def save_message(self, envelope, dropped: bool = False) -> None:
        user = self.rec["auth_user"]
        if self.relay:  # the relay keeps the From of a registered domain's sender
            raw, original, rewritten = envelope.original_content, None, None
        else:
            raw, original, rewritten = rewrite_from(envelope.original_content, user, self.state.aliases(user))
        peer = (self.session.peer or ("?",))[0]
        raw = received(self.session.host_name, peer, self.transport.get_extra_info("cipher"), envelope.rcpt_tos,
                       self.sid, RELAY_NAME if self.relay else "smtp.gmail.com", bool(user)) + raw
        seq = self.state.next_seq()
        mid = f"{seq:05d}-{self.sid.split('-')[1]}"
        record = message_record(raw, envelope.mail_from, envelope.rcpt_tos)
        record.update(id=mid, seq=seq, session_id=self.sid, auth_user=user, listener=self.listener,
                      auth_mechanism=self.rec["auth_mechanism"], tls_version=self.rec["tls_version"],
                      from_original=original, from_rewritten=rewritten, dropped_after_eom=dropped,
                      carried_by=self._carrier, service="relay" if self.relay else "gmail",
                      eml=f"{mid}.eml")
        self.state.recorder.save("messages", record, raw)
        self.rec["messages"].append(mid)
        if self.relay:
            self.state.count_relayed(envelope.mail_from, envelope.rcpt_tos)
        else:
            self.state.count_sent(user)

    # -- authentication ---------------------------------------------------------------
    def _result(self, mechanism: str, user, result: str) -> AuthResult:
        if self.state.too_many_logins(user):
            self.note_auth(mechanism, user, "throttled")
            return AuthResult(success=False, handled=False, message=self.text("throttled"))
        self.note_auth(mechanism, user, result)
        if result == st.OK:
            return AuthResult(success=True, message=REPLIES["accepted"], auth_data=user)
        return AuthResult(success=False, handled=False, message=self.text(result))

    def _password_auth(self, server, session, envelope, mechanism, login_password) -> AuthResult:
        user = login_password.login.decode("utf-8", "replace").strip().lower()
        password = login_password.password.decode("utf-8", "replace")
        return self._result(mechanism, user, self.state.check_password(user, password))

    async def _bearer(self, mechanism: str, args: list) -> AuthResult:
        if len(args) == 1:
            blob = await self.challenge_auth(b"", encode_to_b64=False)
            if blob is MISSING:
                return AuthResult(success=False, handled=True)
        else:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                await self.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        user, token = st.parse_bearer(blob, oauthbearer=mechanism == "OAUTHBEARER")
        user = (user or "").strip().lower() or None
        result = self.state.check_token(user, token) if token else st.BAD
        self._token_end = self.state.token_expiry(token or "") if result == st.OK else None
        if result == st.BAD:
            # Gmail's error challenge; the client answers with an empty line.
            error = OAUTHBEARER_ERROR if mechanism == "OAUTHBEARER" else BEARER_ERROR
            if await self.challenge_auth(error, encode_to_b64=False) is MISSING:
                self.note_auth(mechanism, user, result)
                return AuthResult(success=False, handled=True)
        return self._result(mechanism, user, result)

    async def auth_XOAUTH2(self, _server, args):
        return await self._bearer("XOAUTH2", args)

    async def auth_OAUTHBEARER(self, _server, args):
        return await self._bearer("OAUTHBEARER", args)


async def start(state, host: str, port: int, tls_context, implicit_tls: bool, relay: bool = False):
    listener = "smtp-relay" if relay else "smtp-tls" if implicit_tls else "smtp-starttls"
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: GmailSMTP(state, listener, tls_context, implicit_tls), host, port,
                                    ssl=tls_context if implicit_tls else None)
