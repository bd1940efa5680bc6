# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""A local stand-in for Gmail's SMTP, IMAP, POP and OAuth endpoints, for tests (docs/emulator.md).

`Emulator` is imported on first use, so `gmail_emulator.records.load` works without aiosmtpd.
"""
from __future__ import annotations

from .config import DEFAULT_ACCOUNTS, ConfigError

__all__ = ["DEFAULT_ACCOUNTS", "ConfigError"]  # and Emulator, loaded lazily


def __getattr__(name):
    if name == "Emulator":
        from .server import Emulator
        return Emulator
    raise AttributeError(f"module 'gmail_emulator' has no attribute {name!r}")
