# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""What every protocol session shares: its record, its flight of replies, fault actions."""
from __future__ import annotations

import base64
import json

from .config import SCOPE
from .faults import Faults
from .rtt import Flight, set_nodelay

# What Gmail sends (base64) before the final failure of a XOAUTH2/OAUTHBEARER exchange.
# The JSON of Gmail's error challenge, as public client logs show it (gmail-facts.md).
BEARER_ERROR = base64.b64encode(
    json.dumps({"status": "400", "schemes": "Bearer", "scope": SCOPE}, separators=(",", ":")).encode()
)
OAUTHBEARER_ERROR = base64.b64encode(
    json.dumps({"status": "invalid_request", "schemes": "Bearer", "scope": SCOPE}, separators=(",", ":")).encode()
)


class SessionEnd(Exception):
    """The server closed (or stopped answering) the session on purpose."""


class Conversation:
    """Mixin: `state`, `rec` (the session record), `flight`; subclasses give the I/O."""

    protocol = "smtp"

    def begin(self, state, listener: str, transport) -> None:
        self.state = state
        self.flight = Flight(lambda: state.get("delay"))
        set_nodelay(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        self.rec = state.open_session(self.protocol, listener, transport.get_extra_info("peername"),
                                      ssl_object.version() if ssl_object else None)
        self.sid = self.rec["id"]
        self._finished = False

    def note_tls(self, transport) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.rec["tls_version"] = ssl_object.version()

    def note(self, line: str) -> None:
        """Record a command line (callers mask secrets) with the round trip it arrived in."""
        self.rec["commands"].append(line)
        self.rec["command_round_trips"].append(self.flight.round_trips)

    def note_auth(self, mechanism: str, user, result: str) -> None:
        self.rec.update(auth_mechanism=mechanism, auth_user=user, auth_result=result)

    def finish(self, closed_by: str = "client") -> None:
        if getattr(self, "_finished", True):
            return
        self._finished = True
        self.rec["round_trips"] = self.flight.round_trips
        self.rec["closed_by"] = self.rec["closed_by"] or closed_by
        self.state.close_session(self.rec)

    # -- subclass I/O ------------------------------------------------------------------
    @property
    def out(self):
        """Something with write() and drain() for the current transport."""
        raise NotImplementedError

    async def reply(self, text: str) -> None:
        self.flight.hold(text.encode("utf-8") + b"\r\n")

    def close_transport(self) -> None:
        raise NotImplementedError

    async def hang(self, silent: bool) -> None:
        raise NotImplementedError

    # -- faults -----------------------------------------------------------------------
    async def fault(self, stage: str, **fields) -> bool:
        """Apply the fault rule firing at `stage`, if any; True when the command is handled."""
        rule = self.state.faults.hit(stage, self.protocol)
        if rule is None:
            return False
        await self.apply(rule, **fields)
        return True

    async def apply(self, rule: dict, hold: bool = True, **fields):
        """Carry out a rule. A reply that does not close is held (or, hold=False, returned)."""
        action = rule["action"]
        self.rec["faults"].append({"stage": rule["stage"], "action": action})
        if action == "reply":
            text = Faults.reply_text(rule, self.protocol, id=self.sid, **fields)
            if not Faults.closes(rule, text):
                if hold:
                    await self.reply(text)
                return text
            await self.reply(text)
            await self.flight.release(self.out)
        else:
            # Answers to earlier commands of the flight were already on their way.
            await self.flight.release(self.out, delay=False)
        self.rec["closed_by"] = f"fault:{rule['stage']}:{action}"
        if action != "silent":
            self.close_transport()
            self.finish()  # a TLS close may wait for the peer; the record is complete now
        await self.hang(action == "silent")
        return None
