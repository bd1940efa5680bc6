# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
from __future__ import annotations

import json
import os
import stat
import threading

import pytest

from ansible_collections.mailops.gmail.plugins.module_utils._quota import DAY, QuotaError, QuotaState, state_path


def test_state_path_is_per_account_and_sanitised(tmp_path):
    assert state_path(str(tmp_path), "ops.alerts@gmail.com").endswith("quota-ops.alerts@gmail.com.json")
    assert "/" not in os.path.basename(state_path(str(tmp_path), "../../etc/x"))


def test_rolling_window_counts_only_last_24h(tmp_path):
    path = str(tmp_path / "q" / "quota-a.json")
    with QuotaState(path, limit=5, now=1000.0) as q:
        q.reserve("<old@x>")
    with QuotaState(path, limit=5, now=1000.0 + DAY - 1) as q:
        assert (q.used, q.left) == (1, 4)
        q.reserve("<new@x>")
    with QuotaState(path, limit=5, now=1000.0 + DAY + 1) as q:
        assert q.used == 1  # the first one left the window
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700


def test_release_gives_back_reservation_and_dedupe(tmp_path):
    path = str(tmp_path / "quota-a.json")
    with QuotaState(path, limit=10, now=50.0) as q:
        q.reserve("<1@x>", "deploy-1")
        q.reserve("<2@x>", "deploy-2")
        q.release("<2@x>", "deploy-2")
    with QuotaState(path, limit=10, now=60.0) as q:
        assert q.used == 1
        assert q.is_duplicate("deploy-1", window=3600)
        assert not q.is_duplicate("deploy-2", window=3600)
        assert not q.is_duplicate("deploy-1", window=5)  # outside a short window
    assert json.load(open(path))["dedupe"]["deploy-1"][1] == "<1@x>"


def test_readonly_does_not_write(tmp_path):
    path = str(tmp_path / "quota-a.json")
    with QuotaState(path, limit=10, readonly=True) as q:
        q.reserve("<1@x>")
    assert not os.path.exists(path)


def test_unwritable_directory_is_a_clear_error(tmp_path):
    if os.geteuid() == 0:
        target = tmp_path / "file"
        target.write_text("not a directory")
        path = str(target / "quota-a.json")
    else:
        tmp_path.chmod(0o500)
        path = str(tmp_path / "sub" / "quota-a.json")
    with pytest.raises(QuotaError, match="quota_dir: cannot use the quota state file .*set quota_dir"):
        with QuotaState(path, limit=10):
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
    "\xff\xfe",                                  # not UTF-8
])
def test_a_state_file_of_the_wrong_shape_is_set_aside_and_sending_goes_on(tmp_path, content):
    path = tmp_path / "quota-a.json"
    path.write_bytes(content.encode("latin-1") if content.startswith("\xff") else content.encode())
    path.chmod(0o644)
    with QuotaState(str(path), limit=3, now=86400.0 * 365) as q:
        assert q.used == 0
        q.reserve("<1@x>", "key")
    assert json.loads(path.read_text())["sent"] == [[86400.0 * 365, "<1@x>"]]
    [aside] = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert aside.name == "quota-a.json.corrupt-19710101T000000"
    assert stat.S_IMODE(aside.stat().st_mode) == 0o600
    assert len(q.warnings) == 1 and str(path) in q.warnings[0] and aside.name in q.warnings[0]


def test_check_mode_leaves_a_damaged_state_file_alone_and_warns(tmp_path):
    path = tmp_path / "quota-a.json"
    path.write_text("[]")
    with QuotaState(str(path), limit=3, readonly=True) as q:
        assert q.used == 0
    assert path.read_text() == "[]"
    assert not [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert "check mode ignores it" in q.warnings[0]


def test_lock_serialises_concurrent_reservations(tmp_path):
    path = str(tmp_path / "quota-a.json")

    def worker(n):
        for i in range(20):
            with QuotaState(path, limit=1000) as q:
                q.reserve(f"<{n}-{i}@x>")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with QuotaState(path, limit=1000) as q:
        assert q.used == 80
