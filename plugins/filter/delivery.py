# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""The fleet's delivery table: which host's probe mail Gmail holds, from mailops.gmail.mailbox_info's result;
and Postfix's reason for mail still queued, readable."""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

COLUMNS = ("host", "path", "arrived", "seconds", "TLS", "detail")
PROBE_HEADER = "X-Mailops-Probe"
# Gmail's Received line for a submission: "... with ESMTPSA id ... (version=TLS1_3 cipher=...)".
_TLS = re.compile(r"version=TLS1_(\d)")
# postqueue -j joins the lines of a server's multi-line reply with "?" (Postfix's printable()).
_REPLY_LINE = re.compile(r"\?(?=[245]\d\d[ -][245]\.\d{1,3}\.\d{1,3} )")


def _tls(message):
    received = (message.get("headers") or {}).get("Received") or ""
    match = _TLS.search(received)
    return f"TLSv1.{match.group(1)}" if match else "-"


def queue_reason(reason):
    """Postfix's delay_reason with the lines of the server's reply joined by a space instead of "?"."""
    return _REPLY_LINE.sub(" ", "" if reason is None else str(reason))


def delivery_report(probes, messages):
    """{rows, missing, lines}: one row per probe (host, path, arrived, seconds to arrival, TLS, detail).

    ``probes``: [{host, path, probe (its X-Mailops-Probe value), sent (bool), error, queue}];
    ``messages``: mailbox_info's messages, fetched with the X-Mailops-Probe (and Received) headers.
    A probe is there when a message carries its X-Mailops-Probe value exactly.
    """
    if not isinstance(probes, list) or not all(isinstance(p, dict) and "host" in p and "probe" in p for p in probes):
        raise AnsibleFilterError("delivery_report: probes must be a list of {host, probe, ...} dicts")
    arrived = {}
    for message in messages or []:
        value = (message.get("headers") or {}).get(PROBE_HEADER)
        if value and value.strip() not in arrived:
            arrived[value.strip()] = message
    rows, missing = [], []
    for probe in probes:
        message = arrived.get(probe["probe"])
        if message is None:
            missing.append(probe["host"])
        if message is not None:
            detail = message.get("message_id") or ""
        elif not probe.get("sent", True):
            detail = f"not sent: {probe.get('error') or 'the send failed'}"
        else:
            detail = probe.get("queue") or "sent, not in the mailbox"
        seconds = message.get("seconds_to_arrival") if message else None
        rows.append({"host": probe["host"], "path": probe.get("path") or "-",
                     "arrived": "yes" if message else "MISSING",
                     "seconds": "-" if seconds is None else f"{seconds:g}",
                     "TLS": _tls(message) if message else "-", "detail": " ".join(str(detail).split())})
    return {"rows": rows, "missing": missing, "lines": text_table(rows)}


def text_table(rows, columns=COLUMNS):
    """Aligned lines: a header, then one line per row (the last column unpadded)."""
    widths = [max([len(name)] + [len(str(row.get(name, ""))) for row in rows]) for name in columns]

    def line(values):
        cells = [str(value).ljust(width) for value, width in zip(values, widths)]
        return "  ".join(cells[:-1] + [str(values[-1])]).rstrip()

    return [line(columns)] + [line([row.get(name, "") for name in columns]) for row in rows]


class FilterModule:
    def filters(self):
        return {"delivery_report": delivery_report, "queue_reason": queue_reason}
