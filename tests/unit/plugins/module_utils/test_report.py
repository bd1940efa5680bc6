# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
from __future__ import annotations

import pytest

from ansible_collections.mailops.gmail.plugins.module_utils._report import (
    ReportError,
    build_report,
    should_send,
    subject_for,
)

RUN = {
    "playbook": "site.yml", "start": 1764115200.0, "end": 1764115200.0 + 75, "controller": "ctl01",
    "hosts": {"web1": {"ok": 3, "changed": 1}, "web2": {"ok": 1, "failed": 1}, "db1": {"unreachable": 1}},
    "failures": [{"host": "web2", "task": "Restart <app>", "msg": "boom & bust", "unreachable": False},
                 {"host": "db1", "task": "Gathering Facts", "msg": "ssh: timeout", "unreachable": True}],
}
OK_RUN = {"playbook": "p.yml", "start": 0, "end": 1, "hosts": {"a": {"ok": 2}}, "failures": []}
CHANGED_RUN = dict(OK_RUN, hosts={"a": {"ok": 2, "changed": 1}})


def test_text_part_lists_hosts_counters_and_failures():
    subject, text, _page = build_report(RUN)
    assert subject == "[FAILED] site.yml on ctl01: 2 failed, 1 changed"
    assert "Duration:   1m15s" in text and "Started:    2025-11-26 00:00:00 UTC" in text
    assert "\nweb1   3        1       0            0        0\n" in text
    assert "- web2: Restart <app> (FAILED)\n    boom & bust" in text
    assert "- db1: Gathering Facts (UNREACHABLE)" in text


def test_html_part_is_escaped():
    page = build_report(RUN)[2]
    assert "Restart &lt;app&gt;" in page and "boom &amp; bust" in page and "<app>" not in page
    assert page.count("<tr><td>") == 3  # one row per host


@pytest.mark.parametrize("when, run, expected", [
    ("always", OK_RUN, True), ("failure", OK_RUN, False), ("failure", RUN, True),
    ("changed", OK_RUN, False), ("changed", CHANGED_RUN, True), ("changed", RUN, True),
])
def test_should_send(when, run, expected):
    assert should_send(when, run) is expected


def test_bad_when_and_bad_template():
    with pytest.raises(ReportError, match="when must be one of"):
        should_send("sometimes", OK_RUN)
    with pytest.raises(ReportError, match="fields: status"):
        subject_for(OK_RUN, "{nope}")


def test_subject_template_cannot_inject_headers():
    run = dict(OK_RUN, playbook="x.yml\r\nBcc: evil@example.com")
    assert "\n" not in subject_for(run, "{status} {playbook}")


def test_long_messages_are_clipped():
    run = dict(RUN, failures=[{"host": "h", "task": "t", "msg": "x" * 5000}])
    text = build_report(run)[1]
    assert "x" * 2000 + " [...]" in text and "x" * 2001 not in text
