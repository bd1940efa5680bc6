# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""One run of the send path (build messages, deliver, journal, spool, IMAP settlement) in its own
process, against the emulator, optionally killing itself at an exact point: test_exactly_once.py.

    python outbox_run.py '<json>'    prints {"results": [...], "stats": {...}} on a normal end

json: emu {host, smtp_port, imap_port, ca_file}, quota_dir, spool_dir?, flush?, messages [{to, subject,
dedupe_key?}], timeout?, confirm_timeout?, kill? {"at": stage, "signal": "KILL"|"INT"|"ERROR", "nth": 1}.
Stages: before_mail (after AUTH, before the flight carrying the nth MAIL: pipelined, the one
with the previous message's data), after_rcpt (RCPT and DATA answered, no data sent),
mid_data (half of the data sent), after_dot (all data and the dot sent, reply not read),
after_reply (250 read, journal not yet written).
"""

from __future__ import annotations

import json
import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", ".build", "collections"))

from ansible_collections.mailops.gmail.plugins.module_utils import _smtp  # noqa: E402
from ansible_collections.mailops.gmail.plugins.module_utils._message import build_message  # noqa: E402
from ansible_collections.mailops.gmail.plugins.module_utils._outbox import deliver, session_factories  # noqa: E402

ACCOUNT = "ops.alerts@gmail.com"


def die(how):
    if how == "ERROR":
        raise RuntimeError("injected failure")
    os.kill(os.getpid(), getattr(signal, f"SIG{how}"))
    if how == "INT":
        signal.raise_signal(signal.SIGINT)  # make sure it lands before the next line


def arm(kill):
    """Patch the real SMTP client so that the process dies at the ``nth`` occurrence of a stage."""
    seen = {"n": 0}
    client = _smtp.SmtpClient
    send_raw, read_reply = client.send_raw, client.read_reply

    def hit():
        seen["n"] += 1
        return seen["n"] == kill.get("nth", 1)

    def patched_send(self, data, stage=None):
        # A message's data ends with its dot, or (pipelined) the next message's envelope follows it.
        is_data = b"\r\n.\r\n" in data and not data.startswith((b"MAIL", b"RSET", b"QUIT"))
        at = kill["at"]
        carries_mail = data.startswith(b"MAIL") or b"\r\n.\r\nMAIL" in data  # pipelined: after a dot
        if at == "before_mail" and carries_mail and hit():
            die(kill["signal"])
        if is_data and at in ("after_rcpt", "mid_data", "after_dot") and hit():
            if at == "after_rcpt":
                die(kill["signal"])
            if at == "mid_data":
                send_raw(self, data[: len(data) // 2], stage)
                die(kill["signal"])
            send_raw(self, data, stage)
            self._awaiting_dot = True
            die(kill["signal"])
            return None
        if is_data and at == "after_reply":
            self._awaiting_dot = True
        return send_raw(self, data, stage)

    def patched_read(self, *args, **kwargs):
        reply = read_reply(self, *args, **kwargs)
        if getattr(self, "_awaiting_dot", False):
            self._awaiting_dot = False
            if kill["at"] == "after_reply" and reply.code == 250 and hit():
                die(kill["signal"])
        return reply

    client.send_raw, client.read_reply = patched_send, patched_read


def main():
    cfg = json.loads(sys.argv[1])
    emu = cfg["emu"]
    if cfg.get("kill"):
        arm(cfg["kill"])
    params = {"host": emu["host"], "port": emu["smtp_port"], "ca_file": emu["ca_file"],
              "timeout": cfg.get("timeout", 5), "ehlohost": None, "username": ACCOUNT,
              "password": "abcdefghijklmnop", "access_token": None, "oauth": None,
              "imap_host": emu["host"], "imap_port": emu["imap_port"]}
    messages = []
    for i, spec in enumerate(cfg.get("messages", [])):
        messages += build_message(dict(spec, body="exactly once"), index=i, default_sender=ACCOUNT)
    make_submitter, make_confirmer = session_factories(params, "starttls", retries=cfg.get("retries", 1),
                                                       retry_delay=0.05)
    results, stats = deliver(messages, make_submitter, ACCOUNT, quota_dir=cfg["quota_dir"],
                             spool_dir=cfg.get("spool_dir"), flush_spool=cfg.get("flush", False),
                             make_confirmer=make_confirmer, confirm_timeout=cfg.get("confirm_timeout", 1),
                             busy_wait=cfg.get("busy_wait", 60))
    print(json.dumps({"results": results, "stats": stats}))


if __name__ == "__main__":
    main()
