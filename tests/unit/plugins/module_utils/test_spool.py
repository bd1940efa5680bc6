# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.mailops.gmail.plugins.module_utils import _spool

RAW = b"From: a@example.com\r\nMessage-ID: <abc@example.com>\r\nSubject: s\r\n\r\nbody\r\n"


def test_write_load_roundtrip(tmp_path):
    spool = str(tmp_path / "spool")
    path = _spool.write(spool, RAW, "a@example.com", ["b@example.com", "c@example.com"], "<abc@example.com>", "k1")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(spool).st_mode) == 0o700
    assert _spool.entries(spool) == [path]
    envelope, raw = _spool.load(path)
    assert raw == RAW
    assert envelope["sender"] == "a@example.com"
    assert envelope["recipients"] == ["b@example.com", "c@example.com"]
    assert envelope["dedupe_key"] == "k1" and envelope["message_id"] == "<abc@example.com>"
    _spool.remove(path)
    assert _spool.entries(spool) == []


def test_interrupted_write_leftovers_are_ignored(tmp_path):
    (tmp_path / ".tmp-x.eml").write_bytes(b"partial")
    assert _spool.entries(str(tmp_path)) == []
    assert _spool.entries(str(tmp_path / "missing")) == []


def test_foreign_file_is_refused(tmp_path):
    path = tmp_path / "x.eml"
    path.write_bytes(RAW)
    with pytest.raises(_spool.SpoolError, match="not written by this module"):
        _spool.load(str(path))


def test_unwritable_spool_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(_spool.SpoolError, match="spool_dir: cannot create"):
        _spool.write(str(blocker / "sub"), RAW, "a@example.com", ["b@example.com"], "<abc@example.com>")


def test_entries_are_oldest_first_within_one_second(tmp_path, monkeypatch):
    spool = str(tmp_path / "spool")
    clock = iter([1_700_000_000_900_000_000, 1_700_000_000_000_000_001, 1_700_000_000_000_000_000])
    monkeypatch.setattr(_spool.time, "time_ns", lambda: next(clock))
    # Message-IDs chosen so that sorting by them alone would give the wrong order.
    paths = [_spool.write(spool, RAW, "a@example.com", ["b@example.com"], f"<{mid}@example.com>")
             for mid in ("a", "b", "c")]
    assert _spool.entries(spool) == [paths[2], paths[1], paths[0]]
    assert os.path.basename(paths[2]).startswith("20231114T221320.000000000-")


def test_every_directory_the_spool_creates_is_private(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    old = os.umask(0o022)  # the usual umask: a plain os.makedirs would make the parents 0755
    try:
        _spool.write("~/.ansible/mailops_gmail/reports", RAW, "a@example.com", ["b@example.com"], "<m@example.com>")
    finally:
        os.umask(old)
    for part in (".ansible", ".ansible/mailops_gmail", ".ansible/mailops_gmail/reports"):
        assert stat.S_IMODE(os.stat(tmp_path / part).st_mode) == 0o700, part
