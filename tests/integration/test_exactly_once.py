# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Exactly once, shown by breaking things on purpose (issue 14).

Each case runs the real send path (outbox_run.py: messages, journal, spool, SMTP and IMAP over TLS)
in its own process against the emulator, kills it (SIGKILL, SIGINT, an exception) at an exact
point or runs several at once, runs it again as a user would, then counts the copies each recipient
got from the emulator's records. The only acceptable outcomes: every recipient exactly once, or a
result ``unknown`` that names the Message-ID (never ``skipped`` for something not sent).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "outbox_run.py")
BATCH = [{"to": ["a1@example.com", "a2@example.com"], "subject": "first", "dedupe_key": "deploy-1"},
         {"to": ["b1@example.com"], "subject": "second", "dedupe_key": "deploy-2"}]
EVERYONE = {"a1@example.com": 1, "a2@example.com": 1, "b1@example.com": 1}


def launch(server, tmp_path, **cfg):
    cfg = dict({"emu": {"host": server.host, "smtp_port": server.smtp_starttls_port, "imap_port": server.imap_port,
                        "ca_file": server.ca_file},
                "quota_dir": str(tmp_path / "state"), "messages": BATCH}, **cfg)
    return subprocess.Popen([sys.executable, RUNNER, json.dumps(cfg)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc):
    out, err = proc.communicate(timeout=120)
    return proc.returncode, (json.loads(out) if proc.returncode == 0 and out else None), err


def run(server, tmp_path, **cfg):
    return finish(launch(server, tmp_path, **cfg))


def copies(emu):
    counts = {}
    for message in emu.messages():
        for rcpt in message["rcpt_tos"]:
            counts[rcpt] = counts.get(rcpt, 0) + 1
    return counts


def statuses(report):
    return [r["status"] for r in report["results"]]


def spooled(emu, tmp_path, prefix, count):
    """A spool of ``count`` messages to <prefix><i>@example.com, made while the server said 421."""
    spool = str(tmp_path / "spool")
    emu.set_faults([{"stage": "connect", "action": "reply", "times": 0,
                     "reply": "421 4.7.0 Try again later, closing connection."}])
    messages = [{"to": [f"{prefix}{i}@example.com"], "subject": f"spooled {i}"} for i in range(count)]
    rc, report, err = run(emu, tmp_path, messages=messages, spool_dir=spool, retries=0)
    assert rc == 0 and statuses(report) == ["spooled"] * count, err
    emu.clear_faults()
    return spool


STAGES = ["before_mail", "after_rcpt", "mid_data", "after_dot", "after_reply"]


@pytest.mark.parametrize("signal_name", ["KILL", "INT"])
@pytest.mark.parametrize("stage", STAGES)
def test_killed_at_every_stage_then_run_again(gmail_emulator, tmp_path, stage, signal_name):
    emu = gmail_emulator
    rc, report, err = run(emu, tmp_path, kill={"at": stage, "signal": signal_name})
    assert rc != 0 and report is None, err  # it really died there
    if signal_name == "INT":
        assert "KeyboardInterrupt" in err
    rc, report, err = run(emu, tmp_path)
    assert rc == 0, err
    assert copies(emu) == EVERYONE
    assert statuses(report) == ["sent", "sent"]  # never "skipped" for what the killed run did not finish
    # the journal is clean: nothing owned, every recipient sent
    state = json.loads(next((tmp_path / "state").glob("quota-*.json")).read_text())
    assert all(e["owner"] is None and set(e["rcpt"].values()) == {"sent"} for e in state["outbox"].values())
    assert len(state["sent"]) == 2  # the quota counts each transaction that delivered once


def test_an_exception_in_the_middle_releases_everything(gmail_emulator, tmp_path):
    """Item 1: after a failure the re-run sends; nothing is skipped for a whole dedupe_window."""
    emu = gmail_emulator
    # The 2nd MAIL rides with the 1st message's data (pipelining): the failure comes before either went out.
    rc, _report, err = run(emu, tmp_path, kill={"at": "before_mail", "signal": "ERROR", "nth": 2})
    assert rc != 0 and "injected failure" in err
    assert copies(emu) == {}
    rc, report, err = run(emu, tmp_path)
    assert rc == 0 and statuses(report) == ["sent", "sent"], err
    assert copies(emu) == EVERYONE


def test_a_run_killed_while_flushing_leaves_the_rest_to_the_next_flush(gmail_emulator, tmp_path):
    emu = gmail_emulator
    spool = spooled(emu, tmp_path, "s", 6)
    rc, _report, err = run(emu, tmp_path, messages=[], spool_dir=spool, flush=True,
                           kill={"at": "before_mail", "signal": "KILL", "nth": 4})
    assert rc != 0 and len(os.listdir(spool)) == 3
    rc, report, err = run(emu, tmp_path, messages=[], spool_dir=spool, flush=True)
    assert rc == 0 and statuses(report) == ["sent"] * 3 and os.listdir(spool) == [], err
    assert copies(emu) == {f"s{i}@example.com": 1 for i in range(6)}


def test_five_concurrent_flushes_of_one_spool(gmail_emulator, tmp_path):
    emu = gmail_emulator
    spool = spooled(emu, tmp_path, "c", 5)
    emu.set(delay=0.05)  # make the flushes overlap
    procs = [launch(emu, tmp_path, messages=[], spool_dir=spool, flush=True) for _flush in range(5)]
    reports = [finish(p) for p in procs]
    assert all(rc == 0 for rc, _report, _err in reports), [err for _rc, _r, err in reports]
    sent = sorted(r["subject"] for _rc, report, _err in reports for r in report["results"] if r["status"] == "sent")
    assert sent == sorted(f"spooled {i}" for i in range(5)) and os.listdir(spool) == []
    assert copies(emu) == {f"c{i}@example.com": 1 for i in range(5)}
    assert not any("No such file" in err for _rc, _r, err in reports)


def test_five_concurrent_runs_with_the_same_dedupe_key(gmail_emulator, tmp_path):
    emu = gmail_emulator
    emu.set(delay=0.05)
    procs = [launch(emu, tmp_path, messages=BATCH[:1]) for _run in range(5)]
    reports = [finish(p) for p in procs]
    assert all(rc == 0 for rc, _report, _err in reports), [err for _rc, _r, err in reports]
    assert sorted(statuses(report)[0] for _rc, report, _err in reports) == ["sent"] + ["skipped"] * 4
    assert copies(emu) == {"a1@example.com": 1, "a2@example.com": 1}


def test_a_recipient_refused_with_4xx_until_it_is_accepted(gmail_emulator, tmp_path):
    emu = gmail_emulator
    spool = str(tmp_path / "spool")
    emu.set_faults([{"stage": "rcpt", "action": "reply", "nth": 2, "times": 0,
                     "reply": "450 4.2.1 The user you are trying to contact is receiving mail too quickly."}])
    one = BATCH[:1]
    rc, report, err = run(emu, tmp_path, messages=one, spool_dir=spool, retries=1)
    [res] = report["results"]
    assert res["status"] == "spooled" and res["accepted"] == ["a1@example.com"], err
    rc, report, err = run(emu, tmp_path, messages=one, spool_dir=spool, retries=0)  # still refused
    assert copies(emu) == {"a1@example.com": 1}  # the accepted one is never sent a second copy
    emu.clear_faults()
    rc, report, err = run(emu, tmp_path, messages=[], spool_dir=spool, flush=True)
    assert rc == 0 and statuses(report)[0] == "sent", err
    rc, report, err = run(emu, tmp_path, messages=[], spool_dir=spool, flush=True)
    assert report["results"] == [] and os.listdir(spool) == []
    rc, report, err = run(emu, tmp_path, messages=one)
    assert statuses(report) == ["skipped"]  # now the journal says every recipient has it
    assert copies(emu) == {"a1@example.com": 1, "a2@example.com": 1}


@pytest.mark.parametrize("content", ["[]", '{"sent": 5}', '{"sent": [[1.0, "<a@x>"]', '{"outbox": {"<m@x>": 7}}'],
                         ids=["list", "number", "truncated", "bad-entry"])
def test_a_state_file_of_the_wrong_shape(gmail_emulator, tmp_path, content):
    emu = gmail_emulator
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "quota-ops.alerts@gmail.com.json").write_text(content)
    rc, report, err = run(emu, tmp_path)
    assert rc == 0 and statuses(report) == ["sent", "sent"], err
    assert any("moved to" in w for w in report["stats"]["warnings"])
    assert copies(emu) == EVERYONE


def test_the_server_kept_it_but_imap_is_down_then_up(gmail_emulator, tmp_path):
    """Undecidable now: unknown with the Message-ID; the next run settles it from Sent Mail."""
    emu = gmail_emulator
    emu.set_faults([{"stage": "eom", "action": "drop"}])
    rc, report, err = run(emu, tmp_path, messages=BATCH[:1], emu={
        "host": emu.host, "smtp_port": emu.smtp_starttls_port, "imap_port": emu.pop_port, "ca_file": emu.ca_file})
    [res] = report["results"]
    assert res["status"] == "unknown" and res["message_id"] in res["error"]["message"], err
    rc, report, err = run(emu, tmp_path, messages=BATCH[:1])
    [res2] = report["results"]
    assert res2["status"] == "sent" and res2["message_id"] == res["message_id"], err
    assert copies(emu) == {"a1@example.com": 1, "a2@example.com": 1}


@pytest.mark.parametrize("eom, imap_searches", [("drop", 1), ("silent", 1)])
def test_a_drop_after_the_dot_is_settled_in_the_same_run(gmail_emulator, tmp_path, eom, imap_searches):
    """drop: the server kept it (found in Sent Mail); silent: it did not (not found, resent once)."""
    emu = gmail_emulator
    emu.set_faults([{"stage": "eom", "action": eom}])
    rc, report, err = run(emu, tmp_path, messages=BATCH[:1], timeout=2)
    assert rc == 0 and statuses(report) == ["sent"], err
    assert report["stats"]["confirm_searches"] == imap_searches
    assert copies(emu) == {"a1@example.com": 1, "a2@example.com": 1}


def test_a_trickling_server_ends_in_time_and_loses_nothing(gmail_emulator, tmp_path):
    emu = gmail_emulator
    spool = str(tmp_path / "spool")
    emu.set(delay=3.0)  # every reply comes 3 s late: longer than the timeout
    start = time.monotonic()
    rc, report, err = run(emu, tmp_path, messages=BATCH[:1], spool_dir=spool, timeout=1, retries=0)
    assert time.monotonic() - start < 3 * 1 + 3  # 3x timeout, plus the interpreter's start
    assert rc == 0 and statuses(report) == ["spooled"], err
    emu.set(delay=0.0)
    rc, report, err = run(emu, tmp_path, messages=[], spool_dir=spool, flush=True)
    assert statuses(report) == ["sent"]
    assert copies(emu) == {"a1@example.com": 1, "a2@example.com": 1}


@pytest.mark.parametrize("rule, statuses_want", [
    # a temporary reply to the 3rd dot while the 4th message's envelope is already on the wire
    ({"stage": "eom", "nth": 3, "reply": "451 4.3.0 Mail server temporarily rejected message."}, ["sent"] * 6),
    # the 4th message's MAIL (sent with the 3rd's data) refused; the 5th's refused RCPT
    ({"stage": "mail", "nth": 4, "reply": "550 5.7.1 Sender refused."}, ["sent"] * 3 + ["failed"] + ["sent"] * 2),
    ({"stage": "rcpt", "nth": 5, "reply": "550 5.1.1 The email account that you tried to reach does not exist."},
     ["sent"] * 4 + ["failed", "sent"]),
    # the connection drops right after the 3rd dot: the 3rd is settled through Sent Mail, the 4th resent
    ({"stage": "eom", "nth": 3, "action": "drop"}, ["sent"] * 6),
])
def test_each_reply_in_a_shared_flight_counts_for_its_own_message(gmail_emulator, tmp_path, rule, statuses_want):
    """Pipelined, a message's data and the next message's envelope share a flight: faults on either side."""
    emu = gmail_emulator
    emu.set_faults([dict({"action": "reply"}, **rule)])
    six = [{"to": [f"p{i}@example.com"], "subject": f"shared {i}"} for i in range(6)]
    rc, report, err = run(emu, tmp_path, messages=six, confirm_timeout=2)
    assert rc == 0, err
    assert statuses(report) == statuses_want
    want = {f"p{i}@example.com": 1 for i, status in enumerate(statuses_want) if status == "sent"}
    assert copies(emu) == want
