# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""State shared by all listeners: config, credentials, faults, quotas, records."""
from __future__ import annotations

import secrets
import threading
import time

from .config import build_config, check_switches, normalise_password
from .faults import Faults
from .records import Recorder

OK = "ok"
BAD = "bad_credentials"  # 535 5.7.8
APP_PASSWORD_REQUIRED = "app_password_required"  # 534 5.7.9
WEB_LOGIN_REQUIRED = "web_login_required"  # 534 5.7.14
DISABLED = "service_disabled"  # IMAP/POP access off


def parse_bearer(payload: bytes, oauthbearer: bool = False):
    """(user, token) from a XOAUTH2 or OAUTHBEARER initial response, or (None, None)."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return None, None
    user = token = None
    parts = text.split("\x01")
    if oauthbearer:
        gs2 = parts.pop(0).split(",")  # n,a=user,
        user = next((p[2:] for p in gs2 if p.startswith("a=")), None)
    for part in parts:
        if part.startswith("user="):
            user = part[5:]
        elif part.startswith("auth="):
            scheme, _sep, value = part[5:].partition(" ")
            token = value if scheme.lower() == "bearer" and value else None
    return user, token


class State:
    def __init__(self, records_dir: str, config: dict | None = None):
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._base = dict(config or {})
        self.config = build_config(self._base)
        self.faults = Faults()
        self.recorder = Recorder(records_dir)
        self.sent = {}  # user -> messages accepted (daily quota)
        self.relay_rcpts = {}  # envelope sender -> unique recipients through the relay (daily quota)
        self.relay_times = []  # when the relay accepted each message (peak limit)
        self.logins = {}  # user -> times of recent SMTP logins (throttling)
        self.issued = {}  # access token -> (user, expiry epoch)
        self.trashed = {}  # user -> sequence numbers of the messages moved to Trash over IMAP
        self.open = {}  # session id -> generation; reset() starts a new generation
        self.generation = 0

    # -- switches ---------------------------------------------------------------------
    def get(self, name: str):
        with self._lock:
            return self.config[name]

    def set(self, **switches) -> None:
        checked = check_switches(switches)
        with self._lock:
            self.config.update(checked)

    def reset(self) -> None:
        """Default config (plus constructor overrides), no faults, no records, no quota used."""
        self.faults.set([])
        with self._lock:
            self.config = build_config(self._base)
            self.sent.clear()
            self.relay_rcpts.clear()
            self.relay_times.clear()
            self.logins.clear()
            self.issued.clear()
            self.trashed.clear()
            self.generation += 1  # sessions still open from before write no records
        self.recorder.clear()

    # -- credentials ------------------------------------------------------------------
    def account(self, user: str):
        with self._lock:
            return self.config["accounts"].get((user or "").strip().lower())

    def check_password(self, user: str, password: str, service: str = "smtp") -> str:
        acct = self.account(user)
        if acct is None:
            return BAD
        if acct.get("blocked"):
            return WEB_LOGIN_REQUIRED
        if normalise_password(password) in acct.get("app_passwords", []):
            return self.service_check(acct, service)
        if acct.get("password") and password == acct["password"]:
            return APP_PASSWORD_REQUIRED
        return BAD

    def service_check(self, acct: dict, service: str) -> str:
        if service in ("imap", "pop") and not (self.get(f"{service}_enabled") and acct.get(service, True)):
            return DISABLED
        return OK

    def token_user(self, token: str):
        """The user a valid access token belongs to, or None (unknown or expired)."""
        with self._lock:
            static = self.config["access_tokens"].get(token)
            if static is not None:
                return None if static[1] else static[0]
            user, expiry = self.issued.get(token, (None, 0))
        return user if user and time.time() < expiry else None

    def check_token(self, user: str, token: str, service: str = "smtp") -> str:
        owner = self.token_user(token or "")
        if owner is None or owner != (user or "").strip().lower():
            return BAD
        acct = self.account(owner)
        if acct is None:
            return OK  # a token user without a password account may still send
        if acct.get("blocked"):
            return WEB_LOGIN_REQUIRED
        return self.service_check(acct, service)

    def token_expiry(self, token: str):
        """When an access token issued here stops working (epoch), or None for the static ones."""
        with self._lock:
            return self.issued.get(token, (None, None))[1]

    def issue_token(self, user: str):
        token = "ya29." + secrets.token_urlsafe(32)
        lifetime = self.get("token_lifetime")
        with self._lock:
            self.issued[token] = (user, time.time() + lifetime)
        return token, lifetime

    def issued_tokens(self) -> list:
        with self._lock:
            return list(self.issued)

    def aliases(self, user: str) -> list:
        acct = self.account(user) or {}
        return [a.lower() for a in acct.get("aliases", [])]

    def too_many_logins(self, user) -> bool:
        """Count an SMTP login of ``user``; True past login_limit within login_window seconds."""
        now = time.time()
        with self._lock:
            limit, window = self.config["login_limit"], self.config["login_window"]
            recent = [t for t in self.logins.get(user, []) if t > now - window] + [now]
            self.logins[user] = recent
        return bool(limit) and len(recent) > limit

    def trash(self, user: str, seqs) -> None:
        with self._lock:
            self.trashed.setdefault((user or "").lower(), set()).update(seqs)

    def trashed_of(self, user: str) -> frozenset:
        with self._lock:
            return frozenset(self.trashed.get((user or "").lower(), ()))

    # -- quota ------------------------------------------------------------------------
    def over_quota(self, user: str) -> bool:
        with self._lock:
            limit = self.config["daily_limit"]
            return limit is not None and self.sent.get(user, 0) >= limit

    def over_relay_quota(self, sender: str, rcpts=()) -> bool:
        """smtp-relay.gmail.com's limits per envelope sender a day: messages, and unique recipients
        (this message's included; recipients already counted do not count again)."""
        sender = (sender or "").lower()
        with self._lock:
            if self.sent.get(("relay", sender), 0) >= self.config["relay_daily_limit"]:
                return True
            seen = self.relay_rcpts.get(sender, set())
            return len(seen | {r.lower() for r in rcpts}) > self.config["relay_daily_recipients"]

    def relay_deferred(self) -> bool:
        """Past relay_peak_limit messages in the last 10 minutes (the whole relay: one organisation here)."""
        now = time.time()
        with self._lock:
            limit = self.config["relay_peak_limit"]
            self.relay_times = [t for t in self.relay_times if t > now - 600]
            return limit is not None and len(self.relay_times) >= limit

    def count_sent(self, user) -> None:
        with self._lock:
            self.sent[user] = self.sent.get(user, 0) + 1

    def count_relayed(self, sender: str, rcpts) -> None:
        sender = (sender or "").lower()
        with self._lock:
            self.sent[("relay", sender)] = self.sent.get(("relay", sender), 0) + 1
            self.relay_rcpts.setdefault(sender, set()).update(r.lower() for r in rcpts)
            self.relay_times.append(time.time())

    # -- sessions ---------------------------------------------------------------------
    def open_session(self, protocol: str, listener: str, peer, tls_version=None) -> dict:
        with self._lock:
            seq = self.recorder.next_seq()
        record = {
            "id": f"{seq:05d}-{secrets.token_hex(4)}", "seq": seq, "protocol": protocol, "listener": listener,
            "peer": list(peer[:2]) if peer else None, "started": time.time(), "ended": None,
            "tls_version": tls_version, "starttls": False, "auth_mechanism": None, "auth_user": None,
            "auth_result": None, "commands": [], "command_round_trips": [], "round_trips": 0,
            "messages": [], "faults": [], "closed_by": None,
        }
        with self._lock:
            self.open[record["id"]] = self.generation
        self.recorder.save("sessions", record)  # visible while open (ended: null)
        return record

    def close_session(self, record: dict) -> None:
        record["ended"] = time.time()
        if self.current(record):
            self.recorder.save("sessions", record)
        with self._idle:  # only now: wait_idle() callers must find the final record
            self.open.pop(record["id"], None)
            self._idle.notify_all()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no session is open (records complete); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self.generation not in self.open.values(), timeout)

    def current(self, record: dict) -> bool:
        """Is this session from the current generation (records not reset since it began)?"""
        with self._lock:
            return self.open.get(record["id"]) == self.generation

    def next_seq(self) -> int:
        with self._lock:
            return self.recorder.next_seq()
