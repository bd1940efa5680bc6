# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Accepted messages: Gmail's From rewriting and the message record."""
from __future__ import annotations

import email
import email.policy
import re
import time
from email.utils import formataddr, formatdate, getaddresses

_FROM = re.compile(rb"^From:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*", re.IGNORECASE | re.MULTILINE)


def _split(raw: bytes):
    """(header block, rest) of a raw message."""
    m = re.search(rb"\r?\n\r?\n", raw)
    return (raw, b"") if m is None else (raw[:m.start()], raw[m.start():])


def rewrite_from(raw: bytes, user: str, aliases: list):
    """Gmail's rule: From becomes the authenticated address unless it is the account or a verified alias.

    Returns (new raw message, original From value or None, rewritten From value).
    The display name is kept.
    """
    head, rest = _split(raw)
    match = _FROM.search(head)
    original = None
    name, addr = "", ""
    if match:
        original = re.sub(rb"\r?\n[ \t]", b" ", match.group(0)[5:]).strip().decode("utf-8", "replace")
        pairs = getaddresses([original])
        if pairs:
            name, addr = pairs[0]
    if addr.lower() == user.lower() or addr.lower() in aliases:
        return raw, original, original
    new_value = formataddr((name, user)) if name else user
    line = b"From: " + new_value.encode("utf-8")
    if match:
        head = head[:match.start()] + line + head[match.end():]
    else:
        head = line + b"\r\n" + head
    return head + rest, original, new_value


def received(helo: str, peer: str, cipher, rcpt_tos: list, sid: str, server: str = "smtp.gmail.com",
             authenticated: bool = True) -> bytes:
    """The Received field Gmail puts on top of a message submitted to smtp.gmail.com (public headers):
    "from <helo> ([<ip>]) by smtp.gmail.com with ESMTPSA id ... (version=TLS1_3 cipher=... bits=256/256)"."""
    name, version, bits = cipher or (None, None, None)
    tls = f"\r\n        (version={version.replace('TLSv', 'TLS').replace('.', '_')} cipher={name} bits={bits}/{bits})" \
        if version else ""
    rcpt = f"\r\n        for <{rcpt_tos[0]}>" if len(rcpt_tos) == 1 else ""
    protocol = "ESMTP" + ("S" if version else "") + ("A" if authenticated else "")
    return (f"Received: from {helo or 'unknown'} ([{peer}])\r\n        by {server} with "
            f"{protocol} id {sid}{rcpt}{tls};\r\n        {formatdate()}\r\n").encode()


def _parts(msg):
    """(body text of the first text part, [attachment descriptions])."""
    body, attachments = None, []
    for part in msg.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        if filename or (body is not None and part.get_content_maintype() != "text"):
            attachments.append({"filename": filename, "content_type": part.get_content_type(),
                                "size": len(part.get_payload(decode=True) or b"")})
        elif body is None and part.get_content_maintype() == "text":
            body = part.get_content()
    return body, attachments


def message_record(raw: bytes, mail_from: str, rcpt_tos: list) -> dict:
    """Record fields parsed from the (already rewritten) message."""
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        headers = [[k, str(v)] for k, v in msg.items()]
        body, attachments = _parts(msg)
    except Exception as exc:  # a malformed message is still recorded, as Gmail would accept it
        msg = email.message_from_bytes(raw)
        headers = [[k, str(v)] for k, v in msg.items()]
        body, attachments = raw.decode("utf-8", "replace"), [{"parse_error": str(exc)}]
    return {
        "mail_from": mail_from, "rcpt_tos": list(rcpt_tos), "headers": headers,
        "subject": next((v for k, v in headers if k.lower() == "subject"), None),
        "body": body, "attachments": attachments, "size": len(raw), "received": time.time(),
    }
