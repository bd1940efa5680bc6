# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""The hub's budget policy service (roles/postfix_relay/files/budget_policy.py), run as Postfix
spawns it: a process speaking the policy protocol on stdin/stdout, several at once.
"""
from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[4] / "roles" / "postfix_relay" / "files" / "budget_policy.py"
SPEC = importlib.util.spec_from_file_location("budget_policy", SCRIPT)
policy = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(policy)
END = "request=smtpd_access_policy\nprotocol_state=END-OF-MESSAGE\nclient_address=10.0.0.5\n\n"


@pytest.fixture
def files(tmp_path):
    config, state = tmp_path / "budget.conf", tmp_path / "accepted.json"

    def set_limit(limit, window=86400):
        config.write_text(f"# managed\nlimit = {limit}\nwindow = {window}\nname = hub1.example.net\n")
    set_limit(3)
    return config, state, set_limit


def ask(config, state, requests):
    """One spawned policy process answering `requests` in turn; returns the actions."""
    out = subprocess.run([sys.executable, str(SCRIPT), str(config), str(state)], input="".join(requests),
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return [answer.removeprefix("action=") for answer in out.split("\n\n") if answer]


def test_counts_only_the_end_of_each_message(files):
    config, state, _set = files
    rcpt = "request=smtpd_access_policy\nprotocol_state=RCPT\n\n"
    actions = ask(config, state, [rcpt, END, END, rcpt, END, END])
    assert actions[:5] == ["DUNNO"] * 5
    assert actions[5].startswith("450 4.7.1 Gmail daily budget of 3 messages reached on hub1.example.net, "
                                 "next message in about 24 h 0 min")
    assert len(json.loads(state.read_text())["accepted"]) == 3


def test_a_new_limit_applies_to_the_next_message_without_resetting_the_count(files):
    config, state, set_limit = files
    assert policy.decide(str(config), str(state), now=1000.0) == "DUNNO"
    assert policy.decide(str(config), str(state), now=1001.0) == "DUNNO"
    set_limit(2)  # lowered with two already through: none more
    assert policy.decide(str(config), str(state), now=1002.0).startswith("450 4.7.1 Gmail daily budget of 2 ")
    set_limit(3)  # raised: exactly one more
    assert policy.decide(str(config), str(state), now=1003.0) == "DUNNO"
    assert policy.decide(str(config), str(state), now=1004.0).startswith("450 4.7.1 ")


def test_the_window_slides(files):
    config, state, set_limit = files
    set_limit(2, window=100)
    for now in (0.0, 50.0):
        assert policy.decide(str(config), str(state), now=now) == "DUNNO"
    refusal = policy.decide(str(config), str(state), now=60.0)
    assert refusal.endswith("next message in about 0 h 1 min")  # the first expires at 100
    assert policy.decide(str(config), str(state), now=100.0) == "DUNNO"
    assert policy.decide(str(config), str(state), now=120.0).startswith("450 ")
    assert json.loads(state.read_text())["accepted"] == [50.0, 100.0]


def test_a_clock_gone_back_never_grants_more(files):
    config, state, set_limit = files
    set_limit(1)
    assert policy.decide(str(config), str(state), now=5000.0) == "DUNNO"
    assert policy.decide(str(config), str(state), now=10.0).startswith("450 ")


def test_concurrent_processes_let_through_exactly_the_limit(files):
    config, state, set_limit = files
    set_limit(10)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        runs = list(pool.map(lambda _n: ask(config, state, [END] * 5), range(8)))
    actions = [action for run in runs for action in run]
    assert len(actions) == 40 and actions.count("DUNNO") == 10
    assert len(json.loads(state.read_text())["accepted"]) == 10


@pytest.mark.parametrize("content", ['{"version": 1, "accepted": {"a": 1}}', '{"version": 9, "accepted": []}',
                                     "[1, 2]", "not json", '{"version": 1, "accepted": [true]}'])
def test_a_count_of_the_wrong_shape_defers_and_is_kept(files, content):
    config, state, _set = files
    state.write_text(content)
    assert ask(config, state, [END]) == ["451 4.3.5 Gmail budget unavailable on this hub, try again later"]
    assert state.read_text() == content  # left for the operator to look at


@pytest.mark.parametrize("content", ["", "limit = many\n", "limit = 0\n", "window = 10\n"])
def test_a_bad_configuration_defers(files, content):
    config, state, _set = files
    config.write_text(content)
    with pytest.raises(policy.BudgetError, match=str(config)):
        policy.read_config(str(config))
    assert ask(config, state, [END]) == ["451 4.3.5 Gmail budget unavailable on this hub, try again later"]
    assert not state.exists()


def test_usage_is_named(tmp_path):
    run = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=30, check=False)
    assert run.returncode == 1 and "budget_policy.py CONFIG STATE" in run.stderr
