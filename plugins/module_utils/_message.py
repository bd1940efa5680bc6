# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Build and validate MIME messages for the send module and the deploy_report callback.

Everything here is pure (no network). Errors are MessageError naming the offending
parameter, e.g. ``messages[2].to``, so the module can fail with a precise message.
"""

from __future__ import annotations

import mimetypes
import os
import re
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import formatdate, make_msgid

MAX_RECIPIENTS = 100  # Gmail: 100 recipients per message through smtp.gmail.com
GMAIL_MAX_SIZE = 35882577  # SIZE advertised by smtp.gmail.com

# RFC 5322 dot-atom local part (no quoted strings: Gmail never needs them); UTF-8 as RFC 6532 allows,
# which needs SMTPUTF8 (RFC 6531) on the wire.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]+"
_LOCAL_RE = re.compile(rf"^{_ATEXT}(?:\.{_ATEXT})*$")
_LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_HEADER_NAME_RE = re.compile(r"^[!-9;-~]+$")  # printable ASCII without ':' or space
# Headers the module builds itself; a user value would contradict the options.
_RESERVED_HEADERS = frozenset(
    ("from", "to", "cc", "bcc", "reply-to", "subject", "date", "message-id", "mime-version",
     "content-type", "content-transfer-encoding", "sender")
)
MESSAGE_OPTIONS = ("sender", "to", "cc", "bcc", "reply_to", "subject", "body", "html_body",
                   "attach", "headers", "charset", "dedupe_key")


class MessageError(Exception):
    """Invalid message input; the text names the parameter and the fix."""


def _idna(label):
    """An internationalised domain label as its ASCII (xn--) form, for the LDH check; '' if it has none."""
    if label.isascii():
        return label
    try:
        return label.encode("idna").decode("ascii")
    except UnicodeError:
        return ""


def needs_smtputf8(*addresses):
    """An address that is not ASCII can only be sent with SMTPUTF8 (RFC 6531)."""
    return any(not a.isascii() for a in addresses)


class Prepared:
    """A built message: wire bytes plus the SMTP envelope."""

    smtputf8 = False  # an envelope address is not ASCII

    def __init__(self, index, raw, sender, recipients, message_id, subject, dedupe_key=None):
        self.index = index
        self.raw = raw
        self.sender = sender
        self.recipients = recipients
        self.message_id = message_id
        self.subject = subject
        self.dedupe_key = dedupe_key

    @property
    def size(self):
        return len(self.raw)


# Every character a header line cannot carry: C0 controls but TAB, DEL, and what Python's email
# package takes as a line break (VT, FF, FS/GS/RS, NEL, U+2028, U+2029), which would split a header.
_CONTROL_RE = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")


def check_no_crlf(value, param):
    found = _CONTROL_RE.search(value)
    if found:
        raise MessageError(f"{param} must not contain CR, LF, NUL or other control characters (found "
                           f"U+{ord(found.group()):04X}; header injection refused): remove it")
    return value


def check_addr_spec(addr, param):
    """Validate a bare address strictly: dot-atom local part, LDH domain with a dot."""
    check_no_crlf(addr, param)
    if addr.count("@") != 1:
        raise MessageError(f"{param}: {addr!r} is not an e-mail address (expected local@domain)")
    local, domain = addr.split("@")
    if not local or len(local) > 64 or not _LOCAL_RE.match(local):
        raise MessageError(f"{param}: {addr!r} has an invalid local part")
    labels = domain.split(".")
    valid_labels = all(_LABEL_RE.match(_idna(label)) for label in labels)
    if len(addr) > 254 or (len(labels) < 2 and domain != "localhost") or not valid_labels:
        raise MessageError(f"{param}: {addr!r} has an invalid domain (expected e.g. example.com)")
    return addr


def parse_address(value, param):
    """Return (display_name, addr) from 'addr' or 'Display Name <addr>'."""
    if not isinstance(value, str):
        raise MessageError(f"{param} must be an address string, got {type(value).__name__}")
    check_no_crlf(value, param)
    value = value.strip()
    match = re.match(r'^(.*?)\s*<([^<>]*)>$', value)
    if not match:
        if re.search(r'[<>"\s]', value):
            raise MessageError(f"{param}: {value!r} is not an e-mail address")
        return "", check_addr_spec(value, param)
    name = match.group(1).strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = name[1:-1]
    if '"' in name or "<" in name or ">" in name:
        raise MessageError(f"{param}: {value!r} has an invalid display name")
    return name, check_addr_spec(match.group(2).strip(), param)


def _split_list(value):
    """Split 'a@x, "B, b" <b@x>' on commas outside quotes and angle brackets."""
    parts, cur, quoted, angle = [], "", False, False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif ch == "<" and not quoted:
            angle = True
        elif ch == ">" and not quoted:
            angle = False
        if ch == "," and not quoted and not angle:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def address_list(value, param):
    if value is None:
        return []
    if isinstance(value, str):
        value = _split_list(value)
    if not isinstance(value, (list, tuple)):
        raise MessageError(f"{param} must be a list of addresses or a comma-separated string")
    return [parse_address(v, f"{param}[{i}]") for i, v in enumerate(value)]


def _text(value, param, allow_none=True):
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise MessageError(f"{param} must be text (a string), got {type(value).__name__}")
    return value


def _read_attachment(path, param):
    if not isinstance(path, str) or not path:
        raise MessageError(f"{param} must be a file path")
    check_no_crlf(path, param)
    try:
        with open(os.path.expanduser(path), "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise MessageError(f"{param}: cannot read attachment {path}: {exc.strerror or exc}") from None
    ctype, encoding = mimetypes.guess_type(path)
    if ctype is None or encoding is not None:
        ctype = "application/octet-stream"
    maintype, subtype = ctype.split("/", 1)
    return data, maintype, subtype, os.path.basename(path)


def _mime_address(name, addr):
    local, domain = addr.split("@")
    return Address(display_name=name, username=local, domain=domain)


def build_message(spec, index=None, default_sender=None, max_size=GMAIL_MAX_SIZE,
                  recipient_limit=MAX_RECIPIENTS, split=False):
    """Validate one message spec (a dict of MESSAGE_OPTIONS) and return a list of Prepared.

    More than ``recipient_limit`` recipients is refused, or with ``split`` the envelope is cut
    into chunks of at most ``recipient_limit`` (same headers and Message-ID in each chunk).
    """
    prefix = "" if index is None else f"messages[{index}]."
    unknown = sorted(set(spec) - set(MESSAGE_OPTIONS))
    if unknown:
        raise MessageError(f"{prefix}{unknown[0]}: unknown message option; valid: {', '.join(MESSAGE_OPTIONS)}")
    sender_value = spec.get("sender") or default_sender
    if not sender_value:
        raise MessageError(f"{prefix}sender is required when no username is given")
    sender = parse_address(sender_value, prefix + "sender")
    to = address_list(spec.get("to"), prefix + "to")
    cc = address_list(spec.get("cc"), prefix + "cc")
    bcc = address_list(spec.get("bcc"), prefix + "bcc")
    reply_to = address_list(spec.get("reply_to"), prefix + "reply_to")
    recipients = []
    for _name, addr in to + cc + bcc:
        if addr.lower() not in [r.lower() for r in recipients]:
            recipients.append(addr)
    if not recipients:
        raise MessageError(f"{prefix}to is empty: give at least one recipient address in to, cc or bcc")
    if len(recipients) > recipient_limit and not split:
        raise MessageError(f"{prefix}to/cc/bcc: {len(recipients)} recipients, Gmail accepts at most {recipient_limit} "
                           "per message; split them or set split_recipients: true")
    subject = check_no_crlf(_text(spec.get("subject"), prefix + "subject") or "", prefix + "subject")
    body = _text(spec.get("body"), prefix + "body") or ""
    html = _text(spec.get("html_body"), prefix + "html_body")
    charset = _text(spec.get("charset"), prefix + "charset") or "utf-8"
    dedupe_key = _text(spec.get("dedupe_key"), prefix + "dedupe_key")
    if dedupe_key:
        check_no_crlf(dedupe_key, prefix + "dedupe_key")

    header_addresses = [a for _n, a in [sender] + to + cc + reply_to]
    intl = needs_smtputf8(*header_addresses, *recipients)
    # UTF-8 addresses are written as they are (RFC 6532); ASCII ones as ever, with encoded words.
    msg = EmailMessage(policy=SMTPUTF8 if intl else SMTP)
    msg["From"] = _mime_address(*sender)
    if to:
        msg["To"] = [_mime_address(n, a) for n, a in to]
    if cc:
        msg["Cc"] = [_mime_address(n, a) for n, a in cc]
    if reply_to:
        msg["Reply-To"] = [_mime_address(n, a) for n, a in reply_to]
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    message_id = make_msgid(domain=sender[1].split("@")[1])
    msg["Message-ID"] = message_id
    _add_headers(msg, spec.get("headers"), prefix + "headers")
    try:
        msg.set_content(body, subtype="plain", charset=charset)
        if html is not None:
            msg.add_alternative(html, subtype="html", charset=charset)
    except (LookupError, UnicodeError) as exc:
        raise MessageError(f"{prefix}charset {charset!r} cannot encode the body: {exc}") from None
    attach = spec.get("attach") or []
    if not isinstance(attach, (list, tuple)):
        attach = [attach]
    for i, path in enumerate(attach):
        data, maintype, subtype, name = _read_attachment(path, f"{prefix}attach[{i}]")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    raw = msg.as_bytes()
    if max_size and len(raw) > max_size:
        raise MessageError(f"{prefix}message is {len(raw)} bytes, over the size limit of {max_size} bytes; "
                           "shrink the attachments")
    chunks = [recipients[i:i + recipient_limit] for i in range(0, len(recipients), recipient_limit)]
    prepared = [Prepared(index, raw, sender[1], chunk, message_id, subject, dedupe_key) for chunk in chunks]
    for part in prepared:
        part.smtputf8 = intl
    return prepared


def _add_headers(msg, headers, param):
    if not headers:
        return
    if not isinstance(headers, dict):
        raise MessageError(f"{param} must be a dictionary of header names to values")
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME_RE.match(name):
            raise MessageError(f"{param}: {name!r} is not a valid header name")
        if name.lower() in _RESERVED_HEADERS or name.lower().startswith("content-"):
            # Content-* headers describe the MIME body the module builds; a user value would be dropped.
            raise MessageError(f"{param}: {name} is set by the module; use the matching option instead "
                               "(body, html_body, attach, charset)")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise MessageError(f"{param}.{name} must be a string")
        msg[name] = check_no_crlf(str(value), f"{param}.{name}")


def build_messages(specs, **kwargs):
    """Build every message of a ``messages`` list; errors name the entry by index."""
    if not isinstance(specs, (list, tuple)):
        raise MessageError("messages must be a list of message dictionaries")
    prepared = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, dict):
            raise MessageError(f"messages[{i}] must be a dictionary, got {type(spec).__name__}")
        prepared.extend(build_message(spec, index=i, **kwargs))
    return prepared


def messages_from_params(params, default_sender=None, max_size=GMAIL_MAX_SIZE):
    """The module's messages: the ``messages`` list (top-level message options are defaults for
    every entry) or the single message given by the top-level options."""
    top = {k: params.get(k) for k in MESSAGE_OPTIONS if params.get(k) is not None}
    kwargs = {"default_sender": default_sender, "max_size": max_size, "split": bool(params.get("split_recipients"))}
    if params.get("messages") is not None:
        specs = params["messages"]
        if not specs and not params.get("flush_spool"):
            raise MessageError("messages is empty: give at least one message, or leave messages out")
        if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
            return build_messages(specs, **kwargs)  # raises naming the bad entry
        return build_messages([dict(top, **{k: v for k, v in s.items() if v is not None}) for s in specs], **kwargs)
    if not top.get("to") and not top.get("cc") and not top.get("bcc"):
        if params.get("flush_spool"):
            return []
        raise MessageError("to is empty: give at least one recipient address in to, cc or bcc (or messages)")
    return build_message(top, **kwargs)
