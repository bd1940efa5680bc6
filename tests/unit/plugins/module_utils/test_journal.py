# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
from __future__ import annotations

import json
import os
import stat
import threading

import pytest

from ansible_collections.mailops.gmail.plugins.module_utils._journal import (
    DAY,
    Journal,
    StateError,
    alive,
    me,
    state_path,
)


def test_state_path_is_per_account_and_sanitised(tmp_path):
    assert state_path(str(tmp_path), "ops.alerts@gmail.com").endswith("quota-ops.alerts@gmail.com.json")
    assert "/" not in os.path.basename(state_path(str(tmp_path), "../../etc/x"))


def test_rolling_window_counts_only_last_24h(tmp_path):
    path = str(tmp_path / "q" / "quota-a.json")
    with Journal(path, limit=5, now=1000.0) as q:
        q.claim("<old@x>", me(), ["a@x.com"])
        q.reserve("<old@x>", ["a@x.com"])
    with Journal(path, limit=5, now=1000.0 + DAY - 1) as q:
        assert (q.used, q.left) == (1, 4)
        q.claim("<new@x>", me(), ["a@x.com"])
        q.reserve("<new@x>", ["a@x.com"])
    with Journal(path, limit=5, now=1000.0 + DAY + 1) as q:
        assert q.used == 1  # the first one left the window
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700


def test_release_gives_back_the_quota_of_transactions_that_delivered_nothing(tmp_path):
    path = str(tmp_path / "quota-a.json")
    with Journal(path, limit=10, now=50.0) as q:
        for mid in ("<1@x>", "<2@x>"):
            q.claim(mid, me(), ["a@x.com", "b@x.com"])
            q.reserve(mid, ["a@x.com", "b@x.com"])
        q.bind_key("deploy-1", "<1@x>")
        q.mark("<1@x>", ["a@x.com"], "sent")
        q.mark("<1@x>", ["b@x.com"], "failed")
        q.mark("<2@x>", ["a@x.com", "b@x.com"], "failed")
        q.release("<1@x>")
        q.release("<2@x>")
    with Journal(path, limit=10, now=60.0) as q:
        assert q.used == 1  # <1@x> reached a@x.com, <2@x> reached nobody
        assert q.key_owner("deploy-1", window=3600) == "<1@x>"
        assert q.key_owner("deploy-1", window=5) is None  # outside a short window
        assert q.entry("<1@x>")["rcpt"] == {"a@x.com": "sent", "b@x.com": "failed"}
        assert q.entry("<1@x>")["owner"] is None


def test_a_dead_owner_is_recognised_and_its_message_recovered(tmp_path):
    path = str(tmp_path / "quota-a.json")
    child = os.fork()
    if child == 0:
        os._exit(0)
    os.waitpid(child, 0)
    dead = dict(me(), pid=child, start=1)
    assert alive(me()) and not alive(dead)
    assert not alive(dict(me(), boot="another-boot"))
    assert alive(dict(dead, host="elsewhere"))  # cannot tell: treated as alive
    with Journal(path, limit=10) as q:
        q.claim("<1@x>", dead, ["a@x.com", "b@x.com"])
        q.reserve("<1@x>", ["a@x.com"])
        q.reserve("<1@x>", ["b@x.com"])
        q.mark("<1@x>", ["a@x.com"], "queued")
        q.mark("<1@x>", ["b@x.com"], "sending")
    with Journal(path, limit=10) as q:
        assert not q.busy("<1@x>", me())
        assert q.entry("<1@x>")["rcpt"] == {"a@x.com": "failed", "b@x.com": "unknown"}
        assert q.used == 1  # the queued transaction was never sent: its quota is given back
        q.claim("<2@x>", me(), ["c@x.com"])
        assert not q.busy("<2@x>", me()) and q.busy("<2@x>", dict(me(), pid=1))


def test_readonly_does_not_write(tmp_path):
    path = str(tmp_path / "quota-a.json")
    with Journal(path, limit=10, readonly=True) as q:
        q.claim("<1@x>", me(), ["a@x.com"])
        q.reserve("<1@x>", ["a@x.com"])
    assert not os.path.exists(path)


def test_unwritable_directory_is_a_clear_error(tmp_path):
    if os.geteuid() == 0:
        target = tmp_path / "file"
        target.write_text("not a directory")
        path = str(target / "quota-a.json")
    else:
        tmp_path.chmod(0o500)
        path = str(tmp_path / "sub" / "quota-a.json")
    with pytest.raises(StateError, match="quota_dir: cannot use the state file .*set quota_dir"):
        with Journal(path, limit=10):
            pass


@pytest.mark.parametrize("content", [
    "{not json",                                   # not JSON
    "",                                            # truncated to nothing
    '{"sent": [[5.0, "<a@x>"]',                    # truncated
    "[]",                                          # a list
    '{"sent": 5}',                                 # a number where the list goes
    '{"sent": [[5.0]]}',                           # an entry of the wrong length
    '{"sent": [["5", "<a@x>"]]}',                  # a timestamp that is a string
    '{"dedupe": []}',                              # a list where the mapping goes
    '{"dedupe": {"k": 5}}',                        # a key without [time, id]
    '{"outbox": []}',                              # a list where the messages go
    '{"outbox": {"<m@x>": {"rcpt": {}}}}',         # an entry without its times
    '{"outbox": {"<m@x>": {"updated": 1, "keep": 1, "rcpt": {"a@x.com": "lost"}}}}',  # no such state
    '{"outbox": {"<m@x>": {"updated": 1, "keep": 1, "rcpt": {}, "owner": {"pid": "1"}}}}',  # owner of bad shape
    "\xff\xfe",                                  # not UTF-8
])
def test_a_state_file_of_the_wrong_shape_is_set_aside_and_sending_goes_on(tmp_path, content):
    path = tmp_path / "quota-a.json"
    path.write_bytes(content.encode("latin-1") if content.startswith("\xff") else content.encode())
    path.chmod(0o644)
    with Journal(str(path), limit=3, now=86400.0 * 365) as q:
        assert q.used == 0
        q.claim("<1@x>", me(), ["a@x.com"])
        q.reserve("<1@x>", ["a@x.com"])
    assert [e[0] for e in json.loads(path.read_text())["sent"]] == [86400.0 * 365]
    [aside] = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert aside.name == "quota-a.json.corrupt-19710101T000000"
    assert stat.S_IMODE(aside.stat().st_mode) == 0o600
    assert len(q.warnings) == 1 and str(path) in q.warnings[0] and aside.name in q.warnings[0]


def test_check_mode_leaves_a_damaged_state_file_alone_and_warns(tmp_path):
    path = tmp_path / "quota-a.json"
    path.write_text("[]")
    with Journal(str(path), limit=3, readonly=True) as q:
        assert q.used == 0
    assert path.read_text() == "[]"
    assert not [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert "check mode ignores it" in q.warnings[0]


def test_lock_serialises_concurrent_reservations(tmp_path):
    path = str(tmp_path / "quota-a.json")

    def worker(n):
        for i in range(20):
            with Journal(path, limit=1000) as q:
                q.claim(f"<{n}-{i}@x>", me(), ["a@x.com"])
                q.reserve(f"<{n}-{i}@x>", ["a@x.com"])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Journal(path, limit=1000) as q:
        assert q.used == 80
