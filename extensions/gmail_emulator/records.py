# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Session, message and token-request records: JSON files any process can read back.

Layout: <dir>/sessions/<id>.json, <dir>/messages/<id>.json + <id>.eml, <dir>/oauth/<id>.json.
Every file is written to a temporary name and renamed, so readers never see half a record.
"""
from __future__ import annotations

import json
import os
import shutil
import threading

KINDS = ("sessions", "messages", "oauth")


def write_json(path: str, data) -> None:
    """Atomic JSON write (write + rename)."""
    write_bytes(path, json.dumps(data, indent=1, sort_keys=True).encode())


def write_bytes(path: str, data: bytes) -> None:
    tmp = f"{os.path.dirname(path)}/.{os.path.basename(path)}.{threading.get_ident()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _read_kind(records_dir: str, kind: str) -> list:
    folder = os.path.join(records_dir, kind)
    items = []
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if name.endswith(".json") and not name.startswith("."):
            with open(os.path.join(folder, name), encoding="utf-8") as fh:
                items.append(json.load(fh))
    return sorted(items, key=lambda r: (r.get("seq", 0), r.get("id", "")))


def load(records_dir: str) -> dict:
    """Read every record in `records_dir`: {"sessions": [...], "messages": [...], "oauth": [...]}.

    Works without a running emulator (for example on files copied out of a container).
    Each list is in the order the records were made.
    """
    return {kind: _read_kind(records_dir, kind) for kind in KINDS}


class Recorder:
    """Writes records; sequence numbers keep their order stable across files."""

    def __init__(self, records_dir: str):
        self.dir = os.path.abspath(records_dir)
        self.lock = threading.Lock()  # clear() (test thread) must not race a write (loop thread)
        self.seq = 0
        self.make_dirs()

    def make_dirs(self) -> None:
        for kind in KINDS:
            os.makedirs(os.path.join(self.dir, kind), exist_ok=True)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def path(self, kind: str, name: str) -> str:
        return os.path.join(self.dir, kind, name)

    def save(self, kind: str, record: dict, raw: bytes | None = None) -> None:
        """Write a record (and, for messages, its raw .eml next to it)."""
        with self.lock:
            if raw is not None:
                write_bytes(self.path(kind, f"{record['id']}.eml"), raw)
            write_json(self.path(kind, f"{record['id']}.json"), record)

    def read(self, kind: str) -> list:
        with self.lock:
            return _read_kind(self.dir, kind)

    def clear(self) -> None:
        with self.lock:
            for kind in KINDS:
                shutil.rmtree(os.path.join(self.dir, kind), ignore_errors=True)
            self.make_dirs()
