# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Fault rules: {stage, action, reply?, nth?, times?, protocol?, close?}.

A rule counts the occurrences of its stage (on its protocol) since the rules were set; it
fires at occurrence `nth` (1-based, default 1) and the `times - 1` occurrences after it
(`times` default 1, 0 = every occurrence from `nth` on).
"""
from __future__ import annotations

import threading

from .config import ConfigError

SMTP_STAGES = ("connect", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "eom")
STAGES = SMTP_STAGES + ("login",)
ACTIONS = ("reply", "drop", "silent")
PROTOCOLS = ("smtp", "imap", "pop", "any")
DEFAULT_REPLY = {
    "smtp": "421 4.7.0 Try again later, closing connection. {id} - gsmtp",
    "imap": "{tag} NO [UNAVAILABLE] Temporary System Error (Failure)",
    "pop": "-ERR [SYS/TEMP] Temporary system problem. Please try again later.",
}
_FIELDS = {"stage", "action", "reply", "nth", "times", "protocol", "close"}


def check_rule(rule) -> dict:
    """Validate one rule; the error names the field and the accepted values."""
    if not isinstance(rule, dict):
        raise ConfigError(f"fault rule must be a mapping like {{'stage': 'mail', 'action': 'reply'}}, got {rule!r}")
    unknown = set(rule) - _FIELDS
    if unknown:
        raise ConfigError(f"fault rule has unknown field(s) {sorted(unknown)}; allowed: {sorted(_FIELDS)}")
    stage, action = rule.get("stage"), rule.get("action")
    if stage not in STAGES:
        raise ConfigError(f"fault rule 'stage' must be one of {', '.join(STAGES)}; got {stage!r}")
    if action not in ACTIONS:
        raise ConfigError(f"fault rule 'action' must be one of {', '.join(ACTIONS)}; got {action!r}")
    protocol = rule.get("protocol", "any" if stage == "login" else "smtp")
    if protocol not in PROTOCOLS:
        raise ConfigError(f"fault rule 'protocol' must be one of {', '.join(PROTOCOLS)}; got {protocol!r}")
    if stage in SMTP_STAGES[1:] and protocol != "smtp":
        raise ConfigError(f"fault stage {stage!r} exists only for protocol 'smtp'; use stage 'login' for IMAP/POP")
    if stage == "login" and protocol == "smtp":
        raise ConfigError("fault stage 'login' is for IMAP/POP; use stage 'auth' for SMTP")
    out = {"stage": stage, "action": action, "protocol": protocol}
    for field, default, low in (("nth", 1, 1), ("times", 1, 0)):
        value = rule.get(field, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"fault rule {field!r} must be an integer >= {low}; got {value!r}")
        out[field] = value
    reply = rule.get("reply")
    if reply is not None and (not isinstance(reply, str) or not reply.strip()):
        raise ConfigError(f"fault rule 'reply' must be a non-empty string; got {reply!r}")
    out["reply"] = reply
    close = rule.get("close")
    if close is not None and not isinstance(close, bool):
        raise ConfigError(f"fault rule 'close' must be true or false; got {close!r}")
    out["close"] = close
    return out


class Faults:
    """The active rules, thread-safe (set from the test thread, checked on the loop)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rules = []

    def set(self, rules) -> None:
        if isinstance(rules, dict) or not isinstance(rules, (list, tuple)):
            raise ConfigError("faults must be a list of rules, e.g. [{'stage': 'mail', 'action': 'reply'}]")
        checked = [dict(check_rule(r), seen=0, fired=0) for r in rules]
        with self._lock:
            self._rules = checked

    def rules(self) -> list:
        with self._lock:
            return [dict(r) for r in self._rules]

    def hit(self, stage: str, protocol: str):
        """Count an occurrence of `stage`; return the rule that fires now, or None."""
        fired = None
        with self._lock:
            for rule in self._rules:
                if rule["stage"] != stage or rule["protocol"] not in (protocol, "any"):
                    continue
                rule["seen"] += 1
                in_window = rule["seen"] >= rule["nth"] and (rule["times"] == 0 or rule["fired"] < rule["times"])
                if fired is None and in_window:
                    rule["fired"] += 1
                    fired = rule
        return None if fired is None else dict(fired)

    @staticmethod
    def reply_text(rule: dict, protocol: str, **fields) -> str:
        text = rule["reply"] or DEFAULT_REPLY[protocol]
        for key, value in fields.items():
            text = text.replace("{" + key + "}", str(value))
        return text

    @staticmethod
    def closes(rule: dict, text: str) -> bool:
        """Close after the reply? Explicit `close`, else SMTP 421 and IMAP BYE close (as Gmail does)."""
        if rule["close"] is not None:
            return rule["close"]
        return text.startswith("421") or text.startswith("* BYE")
