# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""A local stand-in for Gmail's SMTP, IMAP, POP and OAuth endpoints, for tests (docs/emulator.md)."""
from __future__ import annotations

from .config import DEFAULT_ACCOUNTS, ConfigError
from .server import Emulator

__all__ = ["DEFAULT_ACCOUNTS", "ConfigError", "Emulator"]
