# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""What an account sees over IMAP: Gmail's folders, filled from the message records.

A message accepted over SMTP appears in the sender's `[Gmail]/Sent Mail` (the name is a switch,
the `\\Sent` flag is not) and in each recipient account's INBOX, `sent_mail_delay` seconds after
it was accepted; `[Gmail]/All Mail` holds both. UIDs are the records' sequence numbers.
"""
from __future__ import annotations

import calendar
import re
import time

# (flags, name) in Gmail's order; None = the Sent Mail folder, whose name is the switch.
FOLDERS = (
    ("\\HasNoChildren", "INBOX"),
    ("\\HasChildren \\Noselect", "[Gmail]"),
    ("\\All \\HasNoChildren", "[Gmail]/All Mail"),
    ("\\Drafts \\HasNoChildren", "[Gmail]/Drafts"),
    ("\\HasNoChildren \\Important", "[Gmail]/Important"),
    ("\\HasNoChildren \\Sent", None),
    ("\\HasNoChildren \\Junk", "[Gmail]/Spam"),
    ("\\Flagged \\HasNoChildren", "[Gmail]/Starred"),
    ("\\HasNoChildren \\Trash", "[Gmail]/Trash"),
)
_MONTHS = {m: n for n, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                       "nov", "dec"), 1)}


class SearchError(ValueError):
    pass


def folders(sent_name: str) -> list:
    return [(flags, name or sent_name) for flags, name in FOLDERS]


def listing(sent_name: str, pattern: str) -> list:
    """LIST "" <pattern>: '*' matches across '/', '%' does not; INBOX in any case."""
    regex = "".join(".*" if c == "*" else "[^/]*" if c == "%" else re.escape(c) for c in pattern) + r"\Z"
    return [(flags, name) for flags, name in folders(sent_name)
            if re.match(regex, name, re.IGNORECASE if name == "INBOX" else 0)]


def contents(messages: list, user: str, folder: str, sent_name: str, delay: float, now: float | None = None):
    """The message records in `folder` of `user`, oldest first, or None for a folder that does not exist."""
    now = time.time() if now is None else now
    user = (user or "").lower()
    visible = [m for m in messages if m.get("received", 0) + delay <= now]
    sent = [m for m in visible if (m.get("auth_user") or "").lower() == user]
    inbox = [m for m in visible if user in [r.lower() for r in m.get("rcpt_tos", [])]]
    if folder.upper() == "INBOX":
        return inbox
    if folder == sent_name:
        return sent
    if folder == "[Gmail]/All Mail":
        return sorted({m["seq"]: m for m in sent + inbox}.values(), key=lambda m: m["seq"])
    if any(folder == name for _flags, name in folders(sent_name)) and folder != "[Gmail]":
        return []
    return None


def _header(message: dict, name: str) -> list:
    return [v for k, v in message.get("headers", []) if k.lower() == name.lower()]


def _since(text: str) -> float:
    day, month, year = text.split("-")
    return calendar.timegm((int(year), _MONTHS[month.lower()], int(day), 0, 0, 0))


def matcher(words: list):
    """A predicate for SEARCH keys: ALL, HEADER name value, SUBJECT/FROM/TO value, SINCE d-Mon-yyyy
    (AND of all); substring matches ignore case, as RFC 3501 says."""
    tests, words = [], list(words)
    try:
        while words:
            key = words.pop(0).upper()
            if key == "ALL":
                continue
            if key == "HEADER":
                name, value = words.pop(0), words.pop(0).lower()
                tests.append(lambda m, n=name, v=value: any(v in h.lower() for h in _header(m, n)))
            elif key in ("SUBJECT", "FROM", "TO"):
                value = words.pop(0).lower()
                tests.append(lambda m, n=key, v=value: any(v in h.lower() for h in _header(m, n)))
            elif key == "SINCE":
                since = _since(words.pop(0))
                tests.append(lambda m, s=since: m.get("received", 0) >= s)
            else:
                raise SearchError(key)
    except (IndexError, KeyError, ValueError) as exc:
        raise SearchError(str(exc)) from None
    return lambda m: all(t(m) for t in tests)
