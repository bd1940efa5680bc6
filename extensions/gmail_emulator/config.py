# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Default accounts, OAuth clients and switches of the emulator (see docs/emulator.md)."""
from __future__ import annotations

import copy
import ipaddress

GMAIL_SIZE = 35882577
SCOPE = "https://mail.google.com/"
CLIENT_ID = "emulator-client-id.apps.googleusercontent.com"

# Other helpers' tests rely on this table exactly.
DEFAULT_ACCOUNTS = {
    "ops.alerts@gmail.com": {
        "app_passwords": ["abcdefghijklmnop"],
        "password": "correct-horse-battery",
        "aliases": ["noreply@example.com"],
    },
    "team.reports@gmail.com": {"app_passwords": ["ponmlkjihgfedcba"]},
    "blocked.user@gmail.com": {"app_passwords": ["qrstuvwxyzabcdef"], "blocked": True},
    # A Google Workspace user of example.com, the relay's registered domain (relay_domains).
    "alerts@example.com": {"app_passwords": ["wxyzwxyzwxyzwxyz"]},
}
DEFAULT_CLIENTS = {CLIENT_ID: "emulator-client-secret"}
DEFAULT_REFRESH_TOKENS = {
    "1//refresh-ops-alerts": "ops.alerts@gmail.com",
    "1//refresh-team-reports": "team.reports@gmail.com",
    "1//refresh-revoked": None,  # revoked: invalid_grant
}
# access token -> [user, expired]
DEFAULT_ACCESS_TOKENS = {
    "ya29.valid-ops-alerts": ["ops.alerts@gmail.com", False],
    "ya29.expired-ops-alerts": ["ops.alerts@gmail.com", True],
}

# Runtime switches: name -> default. `emu.set()` and POST /_emulator/set accept exactly these.
SWITCHES = {
    "delay": 0.0,  # seconds held before each flight of replies (one round trip)
    "pipelining": True,  # advertise PIPELINING after EHLO
    "wrong_cert": False,  # TLS listeners present a certificate for wrong.example.net only
    "daily_limit": None,  # messages per account before 550 5.4.5 at the end of the data; None = off
    "login_limit": 10,  # SMTP logins per account within login_window before 454 4.7.0; 0 = off
    "login_window": 60.0,
    "max_message_size": GMAIL_SIZE,  # SIZE advertised and enforced (552 5.3.4)
    "max_recipients": 100,  # the 101st RCPT gets 452 4.5.3
    "token_lifetime": 3599,  # expires_in of tokens issued by POST /token
    "imap_enabled": True,  # global IMAP access switch (accounts may also set "imap": false)
    "pop_enabled": True,  # global POP access switch (accounts may also set "pop": false)
    "imap_idle": True,  # IMAP IDLE advertised and answered; false: IDLE is unknown, so clients must poll (NOOP)
    "imap_session_lifetime": 86400.0,  # seconds before an IMAP session gets "* BYE Session expired"
    "pop_session_lifetime": 604800.0,  # seconds before a POP session is closed (about 7 days at Gmail)
    "sent_mail_delay": 0.0,  # seconds before an accepted message shows in Sent Mail / INBOX over IMAP
    "sent_mail_folder": "[Gmail]/Sent Mail",  # the \Sent folder's name (localised accounts differ)
    # smtp-relay.gmail.com (Workspace): the domains registered with it, the client addresses (CIDR) it accepts
    # mail from without SMTP AUTH, whether it takes mail from those addresses only (the admin console's
    # "Only accept mail from the specified IP addresses"), whether it requires AUTH anyway, its per-sender
    # daily limits (messages, unique recipients) and the messages per 10 minutes past which it defers.
    "relay_domains": ["example.com"],
    "relay_allowlist": [],
    "relay_ip_only": False,
    "relay_require_auth": False,
    "relay_daily_limit": 10000,
    "relay_daily_recipients": 10000,
    "relay_peak_limit": None,
}
_NUMBERS = {"delay", "daily_limit", "relay_daily_limit", "relay_daily_recipients", "relay_peak_limit",
            "max_message_size", "max_recipients", "token_lifetime", "sent_mail_delay",
            "login_limit", "login_window", "imap_session_lifetime",
            "pop_session_lifetime"}
_NULLABLE = {"daily_limit", "relay_peak_limit"}  # null = off
_STRINGS = {"sent_mail_folder"}
_LISTS = {"relay_domains", "relay_allowlist"}
_FLOATS = {"delay", "sent_mail_delay", "login_window", "imap_session_lifetime", "pop_session_lifetime"}
_FLAGS = {"pipelining", "wrong_cert", "imap_enabled", "pop_enabled", "relay_ip_only", "relay_require_auth",
          "imap_idle"}
_TABLES = {"accounts", "clients", "refresh_tokens", "access_tokens", "service_accounts"}


class ConfigError(ValueError):
    """A bad switch or account table; the message names the parameter and the fix."""


def check_switches(values: dict) -> dict:
    """Validate switch values; return a copy with numbers normalised."""
    out = {}
    for name, value in values.items():
        if name not in SWITCHES:
            raise ConfigError(f"unknown emulator switch {name!r}; use one of: {', '.join(sorted(SWITCHES))}")
        if name in _STRINGS and (not isinstance(value, str) or not value.strip() or '"' in value):
            raise ConfigError(f"switch {name!r} must be a folder name without double quotes, got {value!r}")
        if name in _LISTS:
            if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(
                    isinstance(item, str) and item for item in value):
                raise ConfigError(f"switch {name!r} must be a list of strings, got {value!r}")
            if name == "relay_allowlist":
                try:
                    value = [str(ipaddress.ip_network(item, strict=False)) for item in value]
                except ValueError as exc:
                    raise ConfigError(f"switch 'relay_allowlist': {exc}; give addresses or networks (CIDR)") from None
            out[name] = [item.lower() for item in value] if name == "relay_domains" else list(value)
            continue
        if name in _FLAGS and not isinstance(value, bool):
            raise ConfigError(f"switch {name!r} must be true or false, got {value!r}")
        if name in _NUMBERS:
            if value is None and name in _NULLABLE:
                out[name] = None
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                off = " or null (off)" if name in _NULLABLE else ""
                raise ConfigError(f"switch {name!r} must be a number >= 0{off}, got {value!r}")
            value = float(value) if name in _FLOATS else int(value)
        out[name] = value
    return out


def default_config() -> dict:
    """A fresh, mutable copy of the whole default configuration."""
    cfg = {
        "accounts": copy.deepcopy(DEFAULT_ACCOUNTS),
        "clients": dict(DEFAULT_CLIENTS),
        "refresh_tokens": dict(DEFAULT_REFRESH_TOKENS),
        "access_tokens": copy.deepcopy(DEFAULT_ACCESS_TOKENS),
        "service_accounts": {},  # client_email -> {public_key, scopes}: the Emulator fills in its own two
        "extra_san": [],
    }
    cfg.update(copy.deepcopy(SWITCHES))
    return cfg


def build_config(overrides: dict | None = None) -> dict:
    """Default config updated by `overrides` (a --config file or Emulator(**kwargs))."""
    cfg = default_config()
    overrides = dict(overrides or {})
    for name in _TABLES:
        if name in overrides:
            table = overrides.pop(name)
            if not isinstance(table, dict):
                raise ConfigError(f"{name!r} must be a mapping, got {type(table).__name__}")
            cfg[name] = copy.deepcopy(table)
    if "extra_san" in overrides:
        san = overrides.pop("extra_san")
        if isinstance(san, str) or not isinstance(san, (list, tuple)):
            raise ConfigError("'extra_san' must be a list of host names or IP addresses")
        cfg["extra_san"] = [str(s) for s in san]
    cfg.update(check_switches(overrides))
    return cfg


def normalise_password(password: str) -> str:
    """Google shows app passwords as `abcd efgh ijkl mnop`; spaces do not count."""
    return password.replace(" ", "")
