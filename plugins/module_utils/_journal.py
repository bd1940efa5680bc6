# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""The per-account journal: rolling 24 h send counter, dedupe keys and every message in flight.

One 0600 JSON file per account. It is read and rewritten (temp file, fsync, rename) under an
exclusive fcntl lock held only for that read-modify-write, never across the network.

Each message (by Message-ID) records the state of each recipient:

    queued -> sending -> sent | unknown | failed | refused

``queued``: reserved, the message data not yet sent; ``sending``: written just before the data
goes out, so the server may have it; ``failed``: not delivered, may be tried again; ``refused``:
refused for good (5xx). While a process works on a message the entry names it as ``owner``
(host, boot id, pid, process start time); an owner that is gone is recognised, never trusted:
its ``queued`` recipients become ``failed`` (nothing was sent) and its ``sending`` ones
``unknown`` (to be settled through IMAP).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import tempfile
import time

DAY = 86400
DEFAULT_DIR = "~/.ansible/mailops_gmail"
STATES = ("queued", "sending", "sent", "unknown", "failed", "refused")
DONE = ("sent", "refused")  # nothing left to do for these recipients
MAYBE_DELIVERED = ("sending", "sent", "unknown")  # these count against the quota


class StateError(Exception):
    """State file problems and quota refusals; the text names the parameter and the fix."""


def private_dirs(path):
    """os.makedirs with mode 0700 for every directory it creates, not only the last one, so that
    ~/.ansible/mailops_gmail is private also when one of its subdirectories is made first."""
    path = os.path.abspath(path)
    missing = []
    while not os.path.isdir(path) and os.path.dirname(path) != path:
        missing.append(path)
        path = os.path.dirname(path)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass


def state_path(directory, account):
    safe = re.sub(r"[^A-Za-z0-9@._-]", "_", account)
    return os.path.join(os.path.expanduser(directory or DEFAULT_DIR), f"quota-{safe}.json")


# -- owners -------------------------------------------------------------------------------------------
def _read(path):
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def _process(pid):
    """(start time in clock ticks, state letter) of a process from /proc, or None."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return (int(fields[19]), fields[0]) if len(fields) > 19 and fields[19].isdigit() else None


def _boot_id():
    return (_read("/proc/sys/kernel/random/boot_id") or "").strip() or None


def me():
    """This process as an owner."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "boot": _boot_id(), "pid": pid, "start": (_process(pid) or [None])[0]}


def alive(owner):
    """Is the process that wrote ``owner`` still running? Unknowable ones (another host) count as alive."""
    if owner["host"] != socket.gethostname():
        return True
    if owner.get("boot") and owner["boot"] != _boot_id():
        return False  # the machine rebooted since
    if os.path.isdir("/proc/self"):
        found = _process(owner["pid"])
        return found is not None and found[1] not in ("Z", "X") and (owner.get("start") in (None, found[0]))
    try:
        os.kill(owner["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- the file ---------------------------------------------------------------------------------------
def _stamped(value):
    """[timestamp, string] as the counter and the dedupe keys store them."""
    return (isinstance(value, list) and len(value) == 2 and isinstance(value[0], (int, float))
            and not isinstance(value[0], bool) and isinstance(value[1], str))


def _valid_entry(entry):
    owner = entry.get("owner") if isinstance(entry, dict) else None
    return (isinstance(entry, dict) and isinstance(entry.get("updated"), (int, float))
            and isinstance(entry.get("keep"), (int, float))
            and isinstance(entry.get("rcpt"), dict) and all(v in STATES for v in entry["rcpt"].values())
            and isinstance(entry.get("tokens", {}), dict)
            and all(isinstance(v, list) for v in entry.get("tokens", {}).values())
            and (owner is None or (isinstance(owner, dict) and isinstance(owner.get("pid"), int)
                                   and isinstance(owner.get("host"), str))))


def _valid_state(data):
    return (isinstance(data, dict)
            and isinstance(data.get("sent", []), list) and all(_stamped(e) for e in data.get("sent", []))
            and isinstance(data.get("dedupe", {}), dict)
            and all(isinstance(k, str) and _stamped(v) for k, v in data.get("dedupe", {}).items())
            and isinstance(data.get("outbox", {}), dict)
            and all(_valid_entry(e) for e in data.get("outbox", {}).values()))


class Journal:
    """Use as a context manager: the lock is held and the state loaded inside ``with``."""

    def __init__(self, path, limit, window=DAY, now=None, readonly=False):
        self.path = path
        self.limit = limit
        self.window = window
        self.now = now if now is not None else time.time()
        self.readonly = readonly
        self.sent = []  # [timestamp, token]: the quota counter
        self.dedupe = {}  # key -> [timestamp, message id]
        self.outbox = {}  # message id -> entry
        self._lock = None
        self._dirty = False
        self.warnings = []  # for the module's warnings: a state file that was set aside

    def __enter__(self):
        directory = os.path.dirname(self.path)
        try:
            if not self.readonly:
                private_dirs(directory)
                self._lock = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._lock, fcntl.LOCK_EX)
                if not os.access(directory, os.W_OK):
                    raise PermissionError(13, "Permission denied", directory)
            self._load()
        except OSError as exc:
            self._unlock()
            raise StateError(f"quota_dir: cannot use the state file {self.path}: {exc.strerror or exc}; "
                             "set quota_dir to a directory the module's user can write") from None
        return self

    def _load(self):
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return
        except (ValueError, UnicodeDecodeError):
            data = None
        if not _valid_state(data):
            # A damaged file must not block mail: it is kept aside for a look and sending goes on.
            self._set_aside()
            return
        cutoff = self.now - self.window
        self.sent = [e for e in data.get("sent", []) if e[0] > cutoff]
        self.dedupe = dict(data.get("dedupe", {}))
        self.outbox = dict(data.get("outbox", {}))

    def _set_aside(self):
        if self.readonly:
            self.warnings.append(f"quota_dir: {self.path} is not a state file of this collection; "
                                 "check mode ignores it (a real run moves it aside and starts a new one)")
            return
        aside = base = f"{self.path}.corrupt-{time.strftime('%Y%m%dT%H%M%S', time.gmtime(self.now))}"
        n = 0
        while os.path.lexists(aside):  # never over an earlier one (we hold the lock)
            n += 1
            aside = f"{base}.{n}"
        try:
            os.chmod(self.path, 0o600)
            os.replace(self.path, aside)
        except OSError as exc:
            raise StateError(f"quota_dir: {self.path} is damaged and cannot be moved aside ({exc.strerror or exc}); "
                             "remove it by hand") from None
        self._dirty = True
        self.warnings.append(f"quota_dir: {self.path} was damaged or not a state file of this collection; it was "
                             f"moved to {aside} and a new one started (the quota count, dedupe keys and "
                             "messages in flight it recorded are forgotten)")

    def __exit__(self, exc_type, exc, tb):
        try:
            if self._dirty and not self.readonly:
                self._save()
        finally:
            self._unlock()

    def _unlock(self):
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def _save(self):
        directory = os.path.dirname(self.path)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".quota-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                # dumps, not dump: only dumps uses the C encoder (this file is rewritten before every message)
                handle.write(json.dumps({"sent": self.sent, "dedupe": self.dedupe, "outbox": self.outbox},
                                        separators=(",", ":")))
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except OSError as exc:
            os.unlink(tmp)
            raise StateError(f"quota_dir: cannot write {self.path}: {exc.strerror or exc}") from None
        self._dirty = False

    def save(self):
        """Write now (the lock stays held): a step the server may see must be on disk first."""
        if self._dirty and not self.readonly:
            self._save()

    # -- quota ------------------------------------------------------------------------------------
    @property
    def used(self):
        return len(self.sent)

    @property
    def left(self):
        return max(0, self.limit - self.used) if self.limit else None

    # -- dedupe keys --------------------------------------------------------------------------------
    def key_owner(self, key, window):
        """The Message-ID a dedupe key stands for, if it was used within ``window`` seconds."""
        entry = self.dedupe.get(key)
        return entry[1] if entry and entry[0] > self.now - window else None

    def bind_key(self, key, message_id):
        self.dedupe[key] = [self.now, message_id]
        self._dirty = True

    # -- messages -----------------------------------------------------------------------------------
    def entry(self, message_id):
        return self.outbox.get(message_id)

    def claim(self, message_id, owner, recipients, keep=DAY):
        """Own the message for this process; new recipients start ``failed`` (to do)."""
        entry = self.outbox.setdefault(message_id, {"rcpt": {}, "tokens": {}, "owner": None})
        for rcpt in recipients:
            entry["rcpt"].setdefault(rcpt, "failed")
        entry.update(owner=owner, updated=self.now, keep=max(keep, entry.get("keep", 0)))
        self._dirty = True
        return entry

    def mark(self, message_id, recipients, state):
        entry = self.outbox[message_id]
        for rcpt in recipients:
            entry["rcpt"][rcpt] = state
        entry["updated"] = self.now
        self._dirty = True

    def reserve(self, message_id, recipients):
        """Count one transaction for these recipients against the quota."""
        entry = self.outbox[message_id]
        token = f"{message_id}#{len(entry['tokens'])}#{self.now}"
        entry["tokens"][token] = list(recipients)
        self.sent.append([self.now, token])
        self._dirty = True

    def give_back(self, message_id):
        """Give back the quota of every transaction of this message that delivered nothing."""
        entry = self.outbox[message_id]
        for token, rcpts in list(entry["tokens"].items()):
            if not any(entry["rcpt"].get(r) in MAYBE_DELIVERED + ("queued",) for r in rcpts):
                del entry["tokens"][token]
                self.sent = [e for e in self.sent if e[1] != token]
                self._dirty = True

    def release(self, message_id, owner=None):
        """Give up ownership (only if ``owner`` still holds it) and the quota of what delivered nothing."""
        entry = self.outbox[message_id]
        if owner is not None and entry.get("owner") != owner:
            return
        self.give_back(message_id)
        entry.update(owner=None, updated=self.now)
        self._dirty = True

    def forget(self, message_id):
        """Drop a finished message nothing can refer to again (its quota stays counted)."""
        del self.outbox[message_id]
        self._dirty = True

    def recover(self, message_id):
        """Take back a message whose owner is gone: queued was never sent, sending may have been."""
        entry = self.outbox[message_id]
        for rcpt, state in entry["rcpt"].items():
            if state in ("queued", "sending"):
                entry["rcpt"][rcpt] = "failed" if state == "queued" else "unknown"
        self.release(message_id)

    def busy(self, message_id, owner):
        """Another live process works on this message right now (a dead one is recovered here)."""
        entry = self.outbox.get(message_id)
        if not entry or not entry.get("owner") or entry["owner"] == owner:
            return False
        if alive(entry["owner"]):
            return True
        self.recover(message_id)
        return False

    def prune(self):
        """Forget finished messages past their keep time, and dedupe keys of forgotten messages."""
        for mid, entry in list(self.outbox.items()):
            if not entry.get("owner") and entry["updated"] + entry["keep"] < self.now:
                del self.outbox[mid]
                self._dirty = True
        for key, (stamp, mid) in list(self.dedupe.items()):
            if mid not in self.outbox and stamp < self.now - 30 * DAY:
                del self.dedupe[key]
                self._dirty = True
