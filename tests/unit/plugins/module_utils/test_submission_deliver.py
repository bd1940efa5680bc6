# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""deliver(): dedupe, daily quota, spool and flush around the Submitter (fake server from test_submission)."""

from __future__ import annotations

import pytest
from test_submission import FakeServer, batch, submitter

from ansible_collections.mailops.gmail.plugins.module_utils import _spool
from ansible_collections.mailops.gmail.plugins.module_utils._message import build_message
from ansible_collections.mailops.gmail.plugins.module_utils._quota import QuotaError
from ansible_collections.mailops.gmail.plugins.module_utils._submission import deliver

ACCOUNT = "ops.alerts@gmail.com"


def run(tmp_path, server, msgs, **kw):
    kw.setdefault("quota_dir", str(tmp_path / "quota"))
    return deliver(msgs, lambda: submitter(server)[0], ACCOUNT, **kw)


def test_sends_and_counts_quota(tmp_path):
    server = FakeServer()
    results, stats = run(tmp_path, server, batch(3), daily_limit=5)
    assert [r["status"] for r in results] == ["sent"] * 3
    assert (stats["connections"], stats["auths"], stats["quota_used"], stats["quota_left"]) == (1, 1, 3, 2)
    with pytest.raises(QuotaError, match="daily_limit: sending 3 messages would exceed the limit of 5"):
        run(tmp_path, server, batch(3), daily_limit=5)
    assert server.connections == 1  # refused before connecting


def test_check_mode_connects_nothing_and_writes_nothing(tmp_path):
    server = FakeServer()
    results, stats = run(tmp_path, server, batch(2), check_mode=True)
    assert [r["status"] for r in results] == ["would_send"] * 2
    assert server.connections == 0 and stats["quota_left"] == 498
    assert not (tmp_path / "quota").exists()


def test_dedupe_key_skips_within_window(tmp_path):
    server = FakeServer()

    def msgs():
        return batch(1, dedupe_key="deploy-42")

    assert run(tmp_path, server, msgs())[0][0]["status"] == "sent"
    assert run(tmp_path, server, msgs())[0][0]["status"] == "skipped"
    assert run(tmp_path, server, msgs(), dedupe_window=0)[0][0]["status"] == "sent"
    assert len(server.delivered) == 2


def test_failed_message_releases_quota_and_dedupe(tmp_path):
    server = FakeServer(faults={("rcpt", 1): "550 5.1.1 No such user"})
    results, stats = run(tmp_path, server, batch(1, dedupe_key="k"))
    assert results[0]["status"] == "failed" and stats["quota_used"] == 0
    assert run(tmp_path, server, batch(1, dedupe_key="k"))[0][0]["status"] == "sent"


def test_spool_then_flush(tmp_path):
    spool = str(tmp_path / "spool")
    down = FakeServer(faults={("connect", n): "drop" for n in range(1, 10)})
    results, _stats = run(tmp_path, down, batch(2), spool_dir=spool)
    assert [r["status"] for r in results] == ["spooled"] * 2
    paths = _spool.entries(spool)
    assert len(paths) == 2 and {r["spool_path"] for r in results} == set(paths)

    loaded = []
    for path in paths:
        envelope, raw = _spool.load(path)
        [msg] = build_message({"to": envelope["recipients"], "body": "x"}, default_sender=envelope["sender"])
        msg.raw, msg.message_id, msg.spool_path = raw, envelope["message_id"], path
        loaded.append(msg)
    server = FakeServer()
    results, _stats = run(tmp_path, server, loaded, spool_dir=spool)
    assert [r["status"] for r in results] == ["sent"] * 2 and _spool.entries(spool) == []
    assert {mid.decode().split(": ")[1] for mid, _rcpts in server.delivered} == {m.message_id for m in loaded}


def test_server_quota_spools_the_rest(tmp_path):
    server = FakeServer(faults={("mail", 2): "550 5.4.5 Daily user sending limit exceeded"})
    results, stats = run(tmp_path, server, batch(4), spool_dir=str(tmp_path / "spool"))
    assert [r["status"] for r in results] == ["sent", "spooled", "spooled", "spooled"]
    assert stats["quota_used"] == 1


def test_over_quota_spool(tmp_path):
    server = FakeServer()
    results, _stats = run(tmp_path, server, batch(3), daily_limit=2, over_quota="spool", spool_dir=str(tmp_path / "s"))
    assert [r["status"] for r in results] == ["sent", "sent", "spooled"]


def test_split_message_is_one_result(tmp_path):
    many = [f"r{i}@example.com" for i in range(150)]
    msgs = build_message({"bcc": many, "body": "x"}, index=0, default_sender=ACCOUNT, split=True)
    server = FakeServer()
    results, stats = run(tmp_path, server, msgs)
    assert len(results) == 1 and results[0]["status"] == "sent" and len(results[0]["accepted"]) == 150
    assert len(server.delivered) == 2 and stats["connections"] == 1
