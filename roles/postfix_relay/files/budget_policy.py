# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""A hub's daily Gmail budget, as a Postfix policy service (mailops.gmail.postfix_relay).

Postfix spawns one of these per smtpd process that asks (spawn(8), master.cf) and sends it a
request at the end of each message from a satellite. The budget is read from CONFIG at every
request, so a change applies to the very next message, also on connections already open. The
times of the messages let through are kept in STATE, so neither a reconfiguration nor a restart or
reboot resets the count: never more than `limit` messages in any `window` seconds.

Usage: budget_policy.py CONFIG STATE    (stdlib only: it runs on the hub)
"""
from __future__ import annotations

import fcntl
import json
import os
import sys
import syslog
import time

FORMAT = 1  # the version key of STATE
RETRY = "451 4.3.5"  # a temporary refusal: the satellite keeps the message and tries again


class BudgetError(Exception):
    """CONFIG or STATE cannot be used; the text says which file and what to do."""


def read_config(path: str) -> dict:
    """`key = value` lines: limit (messages), window (seconds), name (the hub, for the reply text)."""
    values = {}
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                line = line.strip()
                if line and not line.startswith("#"):
                    key, _sep, value = line.partition("=")
                    values[key.strip()] = value.strip()
        config = {"limit": int(values["limit"]), "window": int(values.get("window", 86400)),
                  "name": values.get("name", "this hub")}
    except (OSError, ValueError, KeyError) as exc:
        raise BudgetError(f"budget configuration {path} unusable ({exc}): run the postfix_relay role again") from exc
    if config["limit"] < 1 or config["window"] < 1:
        raise BudgetError(f"budget configuration {path}: limit and window must be positive")
    return config


def read_state(path: str) -> list:
    """The times messages were let through; a missing file is an empty count."""
    try:
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise BudgetError(f"budget count {path} unreadable ({exc})") from exc
    times = state.get("accepted") if isinstance(state, dict) and state.get("version") == FORMAT else None
    if not isinstance(times, list) or not all(isinstance(t, (int, float)) and not isinstance(t, bool)
                                              for t in times):
        raise BudgetError(f"budget count {path} has an unknown shape")
    return times


def write_state(path: str, times: list) -> None:
    """Atomically: a crash leaves the old count or the new one, never half of one."""
    temp = f"{path}.tmp"
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump({"version": FORMAT, "accepted": times}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def decide(config_path: str, state_path: str, now: float | None = None) -> str:
    """Count one message, or say why it must wait. Serialised across processes by a lock file."""
    with open(f"{state_path}.lock", "a", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            config = read_config(config_path)
            times = read_state(state_path)
        except BudgetError as exc:
            syslog.syslog(syslog.LOG_ERR, f"{exc}; messages wait until it is fixed (docs/fleet.md)")
            return f"{RETRY} Gmail budget unavailable on this hub, try again later"
        now = time.time() if now is None else now
        # A time ahead of the clock (the clock went back) still counts: never grant too much.
        recent = sorted(t for t in times if now - t < config["window"])
        if len(recent) >= config["limit"]:
            wait = recent[len(recent) - config["limit"]] + config["window"] - now
            hours, minutes = divmod(int(wait + 59) // 60, 60)
            return (f"450 4.7.1 Gmail daily budget of {config['limit']} messages reached on {config['name']}, "
                    f"next message in about {hours} h {minutes} min")
        write_state(state_path, recent + [now])
        return "DUNNO"


def serve(config_path: str, state_path: str, stdin=sys.stdin, stdout=sys.stdout) -> None:
    """Postfix's policy protocol: name=value lines, an empty line ends a request and its answer."""
    request = {}
    for line in stdin:
        line = line.rstrip("\n")
        if line:
            name, _sep, value = line.partition("=")
            request[name] = value
            continue
        # Only the end of a message counts; other stages (if configured) pass.
        action = decide(config_path, state_path) if request.get("protocol_state") == "END-OF-MESSAGE" else "DUNNO"
        stdout.write(f"action={action}\n\n")
        stdout.flush()
        request = {}


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.rsplit("Usage: ", 1)[1])
    syslog.openlog("postfix/mailops-budget", syslog.LOG_PID, syslog.LOG_MAIL)
    serve(sys.argv[1], sys.argv[2])
