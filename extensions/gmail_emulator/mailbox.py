# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""What an account sees over IMAP: Gmail's folders, filled from the message records.

A message accepted over SMTP appears in the sender's `[Gmail]/Sent Mail` (the name is a switch,
the `\\Sent` flag is not) and in each recipient account's INBOX, `sent_mail_delay` seconds after
it was accepted; `[Gmail]/All Mail` holds both. UIDs are the records' sequence numbers.
Also the pieces of SEARCH and FETCH that do not need a session: keys, sequence sets, items, sections.
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
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m.lower(): n for n, m in enumerate(MONTHS, 1)}
_SET = re.compile(r"(?:\d+|\*)(?::(?:\d+|\*))?(?:,(?:\d+|\*)(?::(?:\d+|\*))?)*\Z")
_ITEM = r"\s*(?:(BODY(?:\.PEEK)?)\[([^\]]*)\]|([A-Z0-9.]+))"
_FIELD = re.compile(rb"^[^ \t\r\n][^\r\n]*(?:\r?\n[ \t][^\r\n]*)*", re.MULTILINE)
SIMPLE = ("UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE")  # the order of Gmail's FETCH replies, sections last
MACROS = {"FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE")}
WHOLE = "WHOLE"  # a section: the raw message


TRASH = "[Gmail]/Trash"


class ParseError(ValueError):
    """A SEARCH or FETCH argument that does not parse (Gmail: BAD Could not parse command)."""


def folders(sent_name: str) -> list:
    return [(flags, name or sent_name) for flags, name in FOLDERS]


def listing(sent_name: str, pattern: str) -> list:
    """LIST "" <pattern>: '*' matches across '/', '%' does not; INBOX in any case."""
    regex = "".join(".*" if c == "*" else "[^/]*" if c == "%" else re.escape(c) for c in pattern) + r"\Z"
    return [(flags, name) for flags, name in folders(sent_name)
            if re.match(regex, name, re.IGNORECASE if name == "INBOX" else 0)]


def contents(messages: list, user: str, folder: str, sent_name: str, delay: float, now: float | None = None,
             trashed=frozenset()):
    """The message records in `folder` of `user`, oldest first, or None for a folder that does not exist.

    `trashed`: the sequence numbers this user moved to Trash; they are in no other folder, as in Gmail."""
    now = time.time() if now is None else now
    user = (user or "").lower()
    visible = [m for m in messages if m.get("received", 0) + delay <= now]
    sent = [m for m in visible if (m.get("auth_user") or "").lower() == user]
    inbox = [m for m in visible if account_of(user) in [account_of(r) for r in m.get("rcpt_tos", [])]]
    mine = sorted({m["seq"]: m for m in sent + inbox}.values(), key=lambda m: m["seq"])
    if folder == TRASH:
        return [m for m in mine if m["seq"] in trashed]
    sent, inbox = ([m for m in box if m["seq"] not in trashed] for box in (sent, inbox))
    if folder.upper() == "INBOX":
        return inbox
    if folder == sent_name:
        return sent
    if folder == "[Gmail]/All Mail":
        return [m for m in mine if m["seq"] not in trashed]
    if any(folder == name for _flags, name in folders(sent_name)) and folder != "[Gmail]":
        return []
    return None


def account_of(address: str) -> str:
    """The account an address delivers to, as Gmail sees it: no +tag; at gmail.com dots do not count."""
    local, _at, domain = (address or "").strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


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
                raise ParseError(key)
    except (IndexError, KeyError, ValueError) as exc:
        raise ParseError(str(exc)) from None
    return lambda m: all(t(m) for t in tests)


def sequence_set(text: str, largest: int):
    """A predicate for an IMAP sequence set (n, a:b, a:*, *, comma lists); '*' is `largest`.

    As RFC 3501 says, a:b is b:a, so "n:*" holds the last message even when n is past it.
    """
    if not _SET.match(text) or any(p != "*" and int(p) == 0 for p in re.split("[:,]", text)):
        raise ParseError(text)
    ranges = []
    for part in text.split(","):
        first, _sep, last = part.partition(":")
        low, high = (largest if v == "*" else int(v) for v in (first, last or first))
        ranges.append((min(low, high), max(low, high)))
    return lambda n: any(low <= n <= high for low, high in ranges)


def fetch_items(text: str):
    """(simple items, [(reply name, section)]) of FETCH items, one or a parenthesised list.

    A section is WHOLE, "HEADER" or a tuple of field names; names are upper-cased in the reply name,
    as Gmail does (BODY.PEEK[HEADER.FIELDS (Subject)] -> BODY[HEADER.FIELDS (SUBJECT)]).
    """
    text = text.strip().upper()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    if not re.fullmatch(f"(?:{_ITEM})+\\s*", text):
        raise ParseError(text)
    simple, sections = set(), []
    for body, section, atom in re.findall(_ITEM, text):
        fields = re.fullmatch(r"HEADER\.FIELDS \(([^()]*)\)", " ".join(section.split()))
        if atom in SIMPLE or atom in MACROS:
            simple.update(MACROS.get(atom, (atom,)))
        elif atom in ("RFC822", "RFC822.HEADER"):
            sections.append((atom, WHOLE if atom == "RFC822" else "HEADER"))
        elif body and section in ("", "HEADER"):
            sections.append((f"BODY[{section}]", section or WHOLE))
        elif body and fields and fields.group(1).split():
            names = tuple(fields.group(1).split())
            sections.append((f"BODY[HEADER.FIELDS ({' '.join(names)})]", names))
        else:
            raise ParseError(atom or section)
    return simple, sections


def section(raw: bytes, which) -> bytes:
    """WHOLE: the raw message; else its header (or the named fields, continuation lines kept)
    with CRLF line ends and the empty line that ends a header."""
    if which == WHOLE:
        return raw
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0] if not raw.startswith((b"\r\n", b"\n")) else b""
    fields = _FIELD.findall(head)
    if which != "HEADER":
        fields = [f for f in fields if f.split(b":", 1)[0].strip().decode("ascii", "replace").upper() in which]
    return b"".join(re.sub(rb"\r?\n", b"\r\n", f) + b"\r\n" for f in fields) + b"\r\n"


def internaldate(epoch: float) -> str:
    """Gmail's INTERNALDATE: UTC, "02-Dec-2026 04:10:00 +0000" (English month names, whatever the locale)."""
    t = time.gmtime(epoch)
    return f"{t.tm_mday:02d}-{MONTHS[t.tm_mon - 1]}-{t.tm_year} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
