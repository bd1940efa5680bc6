# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Rolling 24 h send counter and dedupe keys, per account, in a 0600 JSON state file.

Sending reserves quota under an exclusive fcntl lock (so parallel forks sending for the same
account cannot both pass the check), then releases the reservations of messages that were not
delivered. The state is rewritten by write-to-temp + rename while the lock is held.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
import time

DAY = 86400
DEFAULT_DIR = "~/.ansible/mailops_gmail"


class QuotaError(Exception):
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


def _entry(value):
    """[timestamp, message id] as written by reserve()."""
    return (isinstance(value, list) and len(value) == 2 and isinstance(value[0], (int, float))
            and not isinstance(value[0], bool) and isinstance(value[1], str))


def _valid_state(data):
    return (isinstance(data, dict)
            and isinstance(data.get("sent", []), list) and all(_entry(e) for e in data.get("sent", []))
            and isinstance(data.get("dedupe", {}), dict)
            and all(isinstance(k, str) and _entry(v) for k, v in data.get("dedupe", {}).items()))


class QuotaState:
    """Use as a context manager: the lock is held and the state loaded inside ``with``."""

    def __init__(self, path, limit, window=DAY, now=None, readonly=False):
        self.path = path
        self.limit = limit
        self.window = window
        self.now = now if now is not None else time.time()
        self.readonly = readonly
        self.sent = []  # [timestamp, message_id]
        self.dedupe = {}  # key -> [timestamp, message_id]
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
            raise QuotaError(f"quota_dir: cannot use the quota state file {self.path}: {exc.strerror or exc}; "
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

    def _set_aside(self):
        if self.readonly:
            self.warnings.append(f"quota_dir: {self.path} is not a quota state file of this collection; "
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
            raise QuotaError(f"quota_dir: {self.path} is damaged and cannot be moved aside ({exc.strerror or exc}); "
                             "remove it by hand") from None
        self.warnings.append(f"quota_dir: {self.path} was damaged or not a state file of this collection; it was "
                             f"moved to {aside} and a new one started (quota counted and dedupe keys of the last "
                             "24 h before it are forgotten)")

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
                json.dump({"sent": self.sent, "dedupe": self.dedupe}, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except OSError as exc:
            os.unlink(tmp)
            raise QuotaError(f"quota_dir: cannot write {self.path}: {exc.strerror or exc}") from None

    @property
    def used(self):
        return len(self.sent)

    @property
    def left(self):
        return max(0, self.limit - self.used) if self.limit else None

    def is_duplicate(self, key, window):
        entry = self.dedupe.get(key)
        return bool(entry) and entry[0] > self.now - window

    def reserve(self, message_id, dedupe_key=None):
        self.sent.append([self.now, message_id])
        if dedupe_key:
            self.dedupe[dedupe_key] = [self.now, message_id]
        self._dirty = True

    def release(self, message_id, dedupe_key=None):
        """Give back the reservation of a message that was not delivered."""
        self.sent = [e for e in self.sent if e[1] != message_id]
        if dedupe_key and self.dedupe.get(dedupe_key, [0, None])[1] == message_id:
            del self.dedupe[dedupe_key]
        self._dirty = True

    def prune_dedupe(self, max_window):
        cutoff = self.now - max_window
        self.dedupe = {k: v for k, v in self.dedupe.items() if v[0] > cutoff}
