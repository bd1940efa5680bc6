# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""mailops.gmail.delivery_report: probes matched with what mailbox_info found."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.mailops.gmail.plugins.filter.delivery import delivery_report, queue_reason

RECEIVED = ("from web1 ([10.0.0.5]) by smtp.gmail.com with ESMTPSA id x; (version=TLS1_3 "
            "cipher=TLS_AES_256_GCM_SHA384 bits=256/256); Wed, 02 Dec 2026 04:10:00 -0800 (PST)")


def message(probe, seconds=1.5, received=RECEIVED):
    return {"message_id": f"<{probe}@x>", "seconds_to_arrival": seconds,
            "headers": {"X-Mailops-Probe": probe, "Received": received}}


def test_one_row_per_probe_with_the_reason_for_each_missing_one():
    probes = [
        {"host": "web1", "probe": "run/web1", "path": "postfix", "sent": True},
        {"host": "web2", "probe": "run/web2", "path": "msmtp", "sent": True, "queue": "queued by msmtpq"},
        {"host": "app1", "probe": "run/app1", "path": "app", "sent": False, "error": "535 5.7.8 not\n accepted"},
        {"host": "web10", "probe": "run/web10", "path": "postfix", "sent": True},
    ]
    # run/web1 is a prefix of run/web10: only an exact value counts.
    report = delivery_report(probes, [message("run/web1"), message("run/web10", 0, received=None),
                                      message("other/web2")])
    assert report["missing"] == ["web2", "app1"]
    rows = {row["host"]: row for row in report["rows"]}
    assert (rows["web1"]["arrived"], rows["web1"]["seconds"], rows["web1"]["TLS"]) == ("yes", "1.5", "TLSv1.3")
    assert (rows["web10"]["TLS"], rows["web10"]["seconds"]) == ("-", "0")
    assert rows["web2"]["detail"] == "queued by msmtpq" and rows["web2"]["arrived"] == "MISSING"
    assert rows["app1"]["detail"] == "not sent: 535 5.7.8 not accepted"
    lines = report["lines"]
    assert lines[0].split() == ["host", "path", "arrived", "seconds", "TLS", "detail"]
    assert len(lines) == 5
    assert lines[0].index("detail") == lines[3].index("not sent")  # columns aligned
    assert lines[0].index("path") == lines[1].index("postfix") == lines[4].index("postfix")


def test_probes_of_the_wrong_shape_are_an_error():
    with pytest.raises(AnsibleFilterError, match="probes must be a list"):
        delivery_report([{"host": "web1"}], [])


def test_queue_reason_joins_the_reply_lines_postqueue_joined_with_a_question_mark():
    reason = ("SASL authentication failed; server smtp.gmail.com[192.0.2.1] said: 535-5.7.8 Username and Password "
              "not accepted. For more information, go to?535 5.7.8  https://support.google.com/mail/?p=BadCredentials"
              " x - gsmtp")
    assert queue_reason(reason) == reason.replace("go to?535 5.7.8", "go to 535 5.7.8")  # the URL's "?" stays
    relay = "said: 450-4.7.1 Invalid credentials for relay [192.0.2.7]. The IP address you've?450-4.7.1 registered"
    assert queue_reason(relay).endswith("you've 450-4.7.1 registered")
    assert queue_reason(None) == ""
    assert queue_reason("connect to x: Connection refused") == "connect to x: Connection refused"
