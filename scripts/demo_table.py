# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Print what the Gmail emulator received, as a table: scripts/demo_table.py RECORDS_DIR [--hosts FILE].

One row per accepted message (host and path come from the X-Mailops-Host / X-Mailops-Path headers
that site.yml's test mails carry; the digest is the controller's; "via" is the host that handed it
to Gmail: a satellite's hub), plus one row per SMTP session that sent nothing (credential checks,
refused logins). --hosts maps peer addresses to host names (a JSON object).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "extensions"))
from gmail_emulator.records import load  # noqa: E402

COLUMNS = ("host", "path", "via", "user", "from", "to", "subject", "TLS", "AUTH", "delivered")


def header(message: dict, name: str) -> str | None:
    return next((v for k, v in message.get("headers", []) if k.lower() == name.lower()), None)


def peer_name(session: dict, hosts: dict) -> str:
    peer = (session.get("peer") or [""])[0] if isinstance(session.get("peer"), list) else session.get("peer") or ""
    return hosts.get(peer, "controller" if peer.startswith("127.") else peer or "?")


def message_row(message: dict, session: dict, hosts: dict) -> dict:
    digest = header(message, "X-Mailops-Host") is None
    return {
        "host": header(message, "X-Mailops-Host") or "controller",
        "path": header(message, "X-Mailops-Path") or ("digest" if digest else "?"),
        "via": peer_name(session, hosts),
        "user": message.get("auth_user") or "-",
        "from": message.get("from_rewritten") or message.get("from_original") or "-",
        "to": ", ".join(message.get("rcpt_tos", [])),
        "subject": message.get("subject") or "",
        "TLS": message.get("tls_version") or "none",
        "AUTH": message.get("auth_mechanism") or "-",
        "delivered": "dropped after data" if message.get("dropped_after_eom") else "yes",
    }


def session_row(session: dict, hosts: dict) -> dict:
    ok = session.get("auth_result") == "ok"
    return {
        "host": peer_name(session, hosts),
        "path": "verify" if ok else "refused",
        "via": peer_name(session, hosts),
        "user": session.get("auth_user") or "-",
        "from": "-", "to": "-",
        "subject": "(login check, no mail)" if ok else f"(no mail: {session.get('auth_result') or 'no AUTH'})",
        "TLS": session.get("tls_version") or "none",
        "AUTH": session.get("auth_mechanism") or "-",
        "delivered": "-" if ok else "no",
    }


def rows(records: dict, hosts: dict) -> list:
    """Rows in the order the sessions started."""
    sessions = {s["id"]: s for s in records["sessions"]}
    out = [((sessions.get(m.get("session_id")) or {}).get("started") or 0,
            message_row(m, sessions.get(m.get("session_id")) or {}, hosts)) for m in records["messages"]]
    out += [(s.get("started") or 0, session_row(s, hosts)) for s in records["sessions"]
            if s.get("protocol") == "smtp" and not s.get("messages")]
    return [item[1] for item in sorted(out, key=lambda item: item[0])]


def table(items: list) -> str:
    if not items:
        return "The emulator received nothing."
    widths = {c: max(len(c), *(len(str(r[c])) for r in items)) for c in COLUMNS}
    line = "  ".join("{:<%d}" % widths[c] for c in COLUMNS)
    lines = [line.format(*COLUMNS), line.format(*("-" * widths[c] for c in COLUMNS))]
    return "\n".join(x.rstrip() for x in lines + [line.format(*(r[c] for c in COLUMNS)) for r in items])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records")
    parser.add_argument("--hosts", help="JSON file: peer address -> host name")
    args = parser.parse_args(argv)
    hosts = {}
    if args.hosts and os.path.exists(args.hosts):
        with open(args.hosts, encoding="utf-8") as fh:
            hosts = json.load(fh)
    print(table(rows(load(args.records), hosts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
