# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Atomic .eml spool for messages that could not be delivered.

Each file is the message as it would go on the wire, preceded by ``X-Mailops-Envelope-*``
header lines that carry the SMTP envelope (they are stripped again before sending). The file
is written to a temporary name, fsynced, renamed into place and the directory fsynced, so a
crash leaves either the whole message or nothing.

A flush claims one file at a time with an exclusive, non-blocking flock on it (released by the
kernel when the process dies) and checks after locking that the path still names that file, so
two flushes never send the same file, and a file removed or rewritten meanwhile is left alone.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time

from ansible_collections.mailops.gmail.plugins.module_utils._journal import private_dirs
from ansible_collections.mailops.gmail.plugins.module_utils._message import needs_smtputf8

_FROM = b"X-Mailops-Envelope-From: "
_TO = b"X-Mailops-Envelope-To: "
_KEY = b"X-Mailops-Dedupe-Key: "


class SpoolError(Exception):
    pass


def _prepare_dir(spool_dir):
    path = os.path.expanduser(spool_dir)
    try:
        private_dirs(path)
    except OSError as exc:
        raise SpoolError(f"spool_dir: cannot create {path}: {exc.strerror or exc}") from None
    return path


def _envelope(sender, recipients, dedupe_key):
    envelope = _FROM + sender.encode("utf-8") + b"\r\n"
    envelope += b"".join(_TO + r.encode("utf-8") + b"\r\n" for r in recipients)
    if dedupe_key:
        envelope += _KEY + dedupe_key.encode("utf-8") + b"\r\n"
    return envelope


def _put(path, final, data):
    """Write ``data`` to ``final`` in directory ``path``: temp file, fsync, rename, fsync of the directory."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path, prefix=".tmp-", suffix=".eml")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
        dir_fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise SpoolError(f"spool_dir: cannot write to {path}: {exc.strerror or exc}") from None
    return final


def write(spool_dir, raw, sender, recipients, message_id, dedupe_key=None):
    """Spool one message; returns the final path."""
    path = _prepare_dir(spool_dir)
    stem = message_id.strip("<>").replace("/", "_")
    # UTC time to the nanosecond, fixed width: names sort oldest first, also within one second.
    now = time.time_ns()
    name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(now // 10**9))}.{now % 10**9:09d}-{stem}.eml"
    return _put(path, os.path.join(path, name), _envelope(sender, recipients, dedupe_key) + raw)


def rewrite(claimed, raw, sender, recipients, dedupe_key=None):
    """Replace a claimed spool file by one for fewer recipients, under the same name (same place in the order)."""
    return _put(os.path.dirname(claimed.path), claimed.path, _envelope(sender, recipients, dedupe_key) + raw)


def entries(spool_dir):
    """Spooled files, oldest first (temporary files of an interrupted write are ignored)."""
    path = os.path.expanduser(spool_dir)
    if not os.path.isdir(path):
        return []
    return sorted(os.path.join(path, n) for n in os.listdir(path) if n.endswith(".eml") and not n.startswith("."))


def load(path):
    """Return (envelope dict, raw message bytes without the envelope lines)."""
    with open(path, "rb") as handle:
        data = handle.read()
    envelope = {"sender": None, "recipients": [], "dedupe_key": None, "path": path}
    while True:
        line, sep, rest = data.partition(b"\r\n")
        if line.startswith(_FROM):
            envelope["sender"] = line[len(_FROM):].decode("utf-8")
        elif line.startswith(_TO):
            envelope["recipients"].append(line[len(_TO):].decode("utf-8"))
        elif line.startswith(_KEY):
            envelope["dedupe_key"] = line[len(_KEY):].decode("utf-8")
        else:
            break
        data = rest
    if not envelope["sender"] or not envelope["recipients"]:
        raise SpoolError(f"{path} has no X-Mailops-Envelope-From/-To lines; it was not written by this module")
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        name, _colon, value = line.partition(b":")
        if name.lower() in (b"message-id", b"subject"):
            envelope[name.lower().decode("ascii").replace("-", "_")] = value.strip().decode("utf-8", "replace")
    if not envelope.get("message_id"):
        raise SpoolError(f"{path} has no Message-ID header; it was not written by this collection")
    return envelope, data


def remove(path):
    os.unlink(path)


class Claim:
    """An exclusive hold on one spool file; ``None`` from claim() when another flush holds it or it is gone."""

    def __init__(self, path, fd):
        self.path = path
        self.fd = fd

    def release(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def claim(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.stat(path).st_ino != os.fstat(fd).st_ino:  # removed or rewritten while we waited
            raise FileNotFoundError(path)
    except OSError:  # busy (another flush), or gone
        os.close(fd)
        return None
    return Claim(path, fd)


class Spooled:
    """A spooled message in the shape of _message.Prepared."""

    index = None

    def __init__(self, path):
        envelope, self.raw = load(path)
        self.spool_path = path
        self.sender = envelope["sender"]
        self.recipients = envelope["recipients"]
        self.message_id = envelope["message_id"]
        self.dedupe_key = envelope["dedupe_key"]
        self.subject = envelope.get("subject", "")
        self.smtputf8 = needs_smtputf8(self.sender, *self.recipients)

    @property
    def size(self):
        return len(self.raw)
