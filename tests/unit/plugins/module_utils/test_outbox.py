# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""deliver(): journal, dedupe, daily quota, spool, flush and Sent Mail settlement around the Submitter
(fake SMTP server from test_submission; Sent Mail is what that server delivered)."""

from __future__ import annotations

import json
import os

import pytest
from test_submission import FakeServer, batch, submitter

from ansible_collections.mailops.gmail.plugins.module_utils import _spool
from ansible_collections.mailops.gmail.plugins.module_utils._errors import GmailError
from ansible_collections.mailops.gmail.plugins.module_utils._journal import Journal, StateError, me, state_path
from ansible_collections.mailops.gmail.plugins.module_utils._message import build_message
from ansible_collections.mailops.gmail.plugins.module_utils._outbox import deliver

ACCOUNT = "ops.alerts@gmail.com"


class SentMail:
    """Sent Mail of the fake server: what it delivered. ``down`` makes IMAP unreachable."""

    def __init__(self, server, down=False):
        self.server, self.down, self.searches, self.waits = server, down, 0, []

    def contains(self, message_id, wait):
        self.searches += 1
        self.waits.append(wait)
        if self.down:
            raise GmailError.of(ConnectionRefusedError(), "fake:993", "connect")
        return any(line.decode().endswith(message_id) for line, _rcpts in self.server.delivered)

    def close(self):
        pass


def run(tmp_path, server, msgs, imap="up", retries=3, **kw):
    kw.setdefault("quota_dir", str(tmp_path / "quota"))
    confirmer = SentMail(server, down=imap == "down")
    kw.setdefault("make_confirmer", None if imap is None else (lambda: confirmer))
    return deliver(msgs, lambda on_data=None: submitter(server, on_data=on_data, retries=retries)[0], ACCOUNT, **kw)


def copies(server):
    """recipient -> number of copies delivered."""
    out = {}
    for _mid, rcpts in server.delivered:
        for r in rcpts:
            out[r] = out.get(r, 0) + 1
    return out


def journal(tmp_path):
    with open(state_path(str(tmp_path / "quota"), ACCOUNT), encoding="utf-8") as handle:
        return json.load(handle)


def test_sends_and_counts_quota(tmp_path):
    server = FakeServer()
    results, stats = run(tmp_path, server, batch(3), daily_limit=5)
    assert [r["status"] for r in results] == ["sent"] * 3
    assert (stats["connections"], stats["auths"], stats["quota_used"], stats["quota_left"]) == (1, 1, 3, 2)
    with pytest.raises(StateError, match="daily_limit: sending 3 messages would exceed the limit of 5"):
        run(tmp_path, server, batch(3), daily_limit=5)
    assert server.connections == 1  # refused before connecting
    # finished messages without a dedupe key or a spool file are forgotten: the journal stays small
    assert journal(tmp_path)["outbox"] == {} and len(journal(tmp_path)["sent"]) == 3


def test_check_mode_connects_nothing_and_writes_nothing(tmp_path):
    server = FakeServer()
    results, stats = run(tmp_path, server, batch(2), check_mode=True)
    assert [r["status"] for r in results] == ["would_send"] * 2
    assert server.connections == 0 and stats["quota_left"] == 498
    assert not (tmp_path / "quota").exists()


def test_dedupe_key_skips_only_what_was_sent(tmp_path):
    server = FakeServer()

    def msgs():
        return batch(1, dedupe_key="deploy-42")

    first = run(tmp_path, server, msgs())[0][0]
    assert first["status"] == "sent"
    again = run(tmp_path, server, msgs())[0][0]
    assert again["status"] == "skipped" and again["message_id"] == first["message_id"]
    assert run(tmp_path, server, msgs(), dedupe_window=0)[0][0]["status"] == "sent"
    assert len(server.delivered) == 2


def test_same_key_twice_in_one_batch_is_sent_once(tmp_path):
    server = FakeServer()
    msgs = batch(1, dedupe_key="k") + build_message({"to": "r0@example.com", "body": "x", "dedupe_key": "k"},
                                                    index=1, default_sender=ACCOUNT)
    results, _stats = run(tmp_path, server, msgs)
    assert [r["status"] for r in results] == ["sent", "skipped"] and copies(server) == {"r0@example.com": 1}


def test_a_failed_message_is_sent_again_by_a_rerun_with_its_key(tmp_path):
    server = FakeServer(faults={("rcpt", 1): "550 5.1.1 No such user"})
    results, stats = run(tmp_path, server, batch(1, dedupe_key="k"))
    assert results[0]["status"] == "failed" and stats["quota_used"] == 0
    assert run(tmp_path, server, batch(1, dedupe_key="k"))[0][0]["status"] == "skipped"  # refused for good
    server = FakeServer(faults={("mail", 1): "451 4.3.0 try later"})
    results, _stats = run(tmp_path, server, batch(1, dedupe_key="t"), retries=0)
    assert results[0]["status"] == "failed"
    assert run(tmp_path, server, batch(1, dedupe_key="t"))[0][0]["status"] == "sent"
    assert copies(server) == {"r0@example.com": 1}


def test_partial_delivery_keeps_its_key_and_completes_only_the_rest(tmp_path):
    """One of two recipients refused with 4xx every time: a re-run and a flush send only to that one."""
    spool = str(tmp_path / "spool")

    def msg():
        return build_message({"to": ["a@example.com", "b@example.com"], "body": "x", "dedupe_key": "p"},
                             index=0, default_sender=ACCOUNT)

    server = FakeServer(faults={("rcpt", n): "450 4.2.1 mailbox busy" for n in (2, 3, 4, 5)})
    [res], _stats = run(tmp_path, server, msg(), spool_dir=spool)
    assert res["status"] == "spooled" and res["accepted"] == ["a@example.com"]
    assert _spool.load(res["spool_path"])[0]["recipients"] == ["b@example.com"]
    [rerun], _stats = run(tmp_path, server, msg())  # the fault is used up: b is accepted now
    assert rerun["status"] == "sent" and rerun["accepted"] == ["b@example.com"]
    [flushed], _stats = run(tmp_path, server, [], spool_dir=spool, flush_spool=True)
    assert flushed["status"] == "skipped" and _spool.entries(spool) == []
    assert copies(server) == {"a@example.com": 1, "b@example.com": 1}


def test_spool_then_flush_oldest_first(tmp_path):
    spool = str(tmp_path / "spool")
    down = FakeServer(faults={("connect", n): "drop" for n in range(1, 10)})
    results, _stats = run(tmp_path, down, batch(2), spool_dir=spool)
    assert [r["status"] for r in results] == ["spooled"] * 2
    paths = _spool.entries(spool)
    assert len(paths) == 2 and [r["spool_path"] for r in results] == paths
    server = FakeServer()
    results, stats = run(tmp_path, server, [], spool_dir=spool, flush_spool=True)
    assert [r["status"] for r in results] == ["sent"] * 2 and _spool.entries(spool) == []
    assert [line.decode().split(": ")[1] for line, _rcpts in server.delivered] == [r["message_id"] for r in results]
    assert stats["quota_used"] == 2


def test_a_spool_file_claimed_by_another_flush_is_left_to_it(tmp_path):
    spool = str(tmp_path / "spool")
    run(tmp_path, FakeServer(faults={("connect", n): "drop" for n in range(1, 10)}), batch(2), spool_dir=spool)
    first = _spool.claim(_spool.entries(spool)[0])
    server = FakeServer()
    results, _stats = run(tmp_path, server, [], spool_dir=spool, flush_spool=True)
    assert len(results) == 1 and len(server.delivered) == 1 and len(_spool.entries(spool)) == 1
    first.release()


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
    assert len(server.delivered) == 2 and stats["connections"] == 1 and stats["quota_used"] == 2


@pytest.mark.parametrize("eom, imap, status, delivered, searches", [
    ("kept", "up", "sent", 1, 1),          # the server kept it: Sent Mail shows it, not resent
    ("silent", "up", "sent", 1, 1),        # the server lost it: not in Sent Mail, resent once
    ("kept", "down", "unknown", 1, 1),     # IMAP unreachable: unknown, not resent
    ("kept", None, "unknown", 1, 0),       # no IMAP at all (confirm_timeout 0): unknown
])
def test_a_drop_after_the_final_dot_is_settled_through_sent_mail(tmp_path, eom, imap, status, delivered, searches):
    server = FakeServer(faults={("eom", 1): eom})
    results, stats = run(tmp_path, server, batch(1), imap=imap)
    assert results[0]["status"] == status and len(server.delivered) == delivered
    assert stats["confirm_searches"] == searches
    if status == "unknown":
        assert results[0]["message_id"] in results[0]["error"]["message"]
        assert results[0]["unknown"] == ["r0@example.com"]
    delivered_ids = {line.decode().split(": ")[1] for line, _rcpts in server.delivered}
    assert delivered_ids == {results[0]["message_id"]}  # a resend keeps the Message-ID


def test_resent_once_only(tmp_path):
    server = FakeServer(faults={("eom", 1): "silent", ("eom", 2): "silent"})
    results, _stats = run(tmp_path, server, batch(1))
    assert results[0]["status"] == "unknown" and server.counts["eom"] == 2


def test_retry_unknown_off_does_not_resend(tmp_path):
    server = FakeServer(faults={("eom", 1): "silent"})
    results, _stats = run(tmp_path, server, batch(1), retry_unknown=False)
    assert results[0]["status"] == "unknown" and server.counts["eom"] == 1
    assert "retry_unknown is off" in results[0]["error"]["message"]


def test_unknown_is_settled_by_the_next_run_with_its_key(tmp_path):
    server = FakeServer(faults={("eom", 1): "kept"})
    [res], _stats = run(tmp_path, server, batch(1, dedupe_key="u"), imap="down")
    assert res["status"] == "unknown"
    [again], _stats = run(tmp_path, server, batch(1, dedupe_key="u"), imap="down")
    assert again["status"] == "unknown" and server.counts["eom"] == 1  # still undecidable: never skipped, not resent
    [settled], _stats = run(tmp_path, server, batch(1, dedupe_key="u"))
    assert settled["status"] == "sent" and settled["accepted"] == ["r0@example.com"] and server.counts["eom"] == 1


def _dead_owner():
    child = os.fork()
    if child == 0:
        os._exit(0)
    os.waitpid(child, 0)
    return dict(me(), pid=child)


@pytest.mark.parametrize("state, in_sent_mail, copies_after", [
    ("queued", False, 1),    # killed before the data went out: sent now
    ("sending", True, 1),    # killed after the dot, the server kept it: found, not resent
    ("sending", False, 1),   # killed in the middle of the data: not found, sent once
])
def test_a_message_left_by_a_killed_run_is_recovered(tmp_path, state, in_sent_mail, copies_after):
    server = FakeServer()
    [msg] = batch(1, dedupe_key="crash")
    if in_sent_mail:
        server.delivered.append((f"Message-ID: {msg.message_id}".encode(), list(msg.recipients)))
    with Journal(state_path(str(tmp_path / "quota"), ACCOUNT), 500) as j:
        j.claim(msg.message_id, _dead_owner(), msg.recipients)
        j.bind_key("crash", msg.message_id)
        j.reserve(msg.message_id, msg.recipients)
        j.mark(msg.message_id, msg.recipients, state)
    [res], stats = run(tmp_path, server, batch(1, dedupe_key="crash"))
    assert res["status"] == "sent" and res["message_id"] == msg.message_id
    assert copies(server) == {"r0@example.com": copies_after} and stats["quota_used"] == 1


def test_an_exception_gives_the_reservation_back(tmp_path):
    """Item 1 of issue 14: the run that failed must not make the next one skip."""
    class Boom(Exception):
        pass

    def broken(on_data=None):
        raise Boom("no session today")

    with pytest.raises(Boom):
        deliver(batch(1, dedupe_key="x"), broken, ACCOUNT, quota_dir=str(tmp_path / "quota"))
    server = FakeServer()
    [res], stats = run(tmp_path, server, batch(1, dedupe_key="x"))
    assert res["status"] == "sent" and stats["quota_used"] == 1


def test_a_keyboard_interrupt_during_the_data_leaves_unknown_for_the_next_run(tmp_path):
    server = FakeServer()

    def interrupted(on_data=None):
        def hook(msg, rcpts):
            on_data(msg, rcpts)
            raise KeyboardInterrupt

        return submitter(server, on_data=hook)[0]

    with pytest.raises(KeyboardInterrupt):
        deliver(batch(1, dedupe_key="i"), interrupted, ACCOUNT, quota_dir=str(tmp_path / "quota"))
    [entry] = journal(tmp_path)["outbox"].values()
    assert entry["rcpt"] == {"r0@example.com": "unknown"} and entry["owner"] is None
    [res], _stats = run(tmp_path, server, batch(1, dedupe_key="i"))
    assert res["status"] == "sent" and copies(server) == {"r0@example.com": 1}
