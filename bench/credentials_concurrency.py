# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""credentials_info: smtp+imap+pop checked together vs the slowest single check.

Runs the module's own check code (check_credentials, what main() calls) against the local Gmail
emulator with its round-trip delay at 50 ms, app password and OAuth (refresh on every run), several
repetitions each; prints medians, the ratio all/slowest (target < 1.5) and the serial sum.

    .venv/bin/python bench/credentials_concurrency.py [--reps 7] [--delay 0.05]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "extensions"))
sys.path.insert(0, str(ROOT / ".build" / "collections"))
from gmail_emulator import Emulator  # noqa: E402

from ansible_collections.mailops.gmail.plugins.module_utils._credentials import check_credentials  # noqa: E402

ALL = ["smtp", "imap", "pop"]


def params(emu, oauth):
    base = {
        "username": "ops.alerts@gmail.com",
        "password": None,
        "access_token": None,
        "oauth": None,
        "host": emu.host,
        "port": emu.smtp_starttls_port,
        "security": "starttls",
        "ca_file": emu.ca_file,
        "timeout": 10,
        "ehlohost": "bench.test",
        "imap_host": emu.host,
        "imap_port": emu.imap_port,
        "pop_host": emu.host,
        "pop_port": emu.pop_port,
    }
    if oauth:
        base["oauth"] = {
            "client_id": "emulator-client-id.apps.googleusercontent.com",
            "client_secret": "emulator-client-secret",
            "refresh_token": "1//refresh-ops-alerts",
            "token_uri": emu.token_uri,
        }
    else:
        base["password"] = "abcdefghijklmnop"
    return base


def timed(emu, oauth, protocols, reps):
    runs = []
    for _dummy in range(reps):
        started = time.perf_counter()
        results = check_credentials(params(emu, oauth), protocols, "starttls")
        runs.append(time.perf_counter() - started)
        if not all(r["valid"] for r in results.values()):
            raise SystemExit(f"check failed: {results}")
    return statistics.median(runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--delay", type=float, default=0.05, help="emulator round-trip delay in seconds")
    args = parser.parse_args()
    with Emulator(tempfile.mkdtemp(prefix="bench-credentials-")) as emu:
        emu.set(delay=args.delay)
        print(f"emulator delay {args.delay * 1000:.0f} ms per round trip, median of {args.reps} runs")
        worst = 1.0
        for label, oauth in (("app password", False), ("oauth refresh", True)):
            single = {proto: timed(emu, oauth, [proto], args.reps) for proto in ALL}
            together = timed(emu, oauth, ALL, args.reps)
            slowest = max(single.values())
            ratio = together / slowest
            worst = max(worst, ratio)
            singles = "  ".join(f"{proto} {seconds * 1000:.0f} ms" for proto, seconds in single.items())
            print(
                f"{label:14s} {singles}  | smtp+imap+pop {together * 1000:.0f} ms  "
                f"| slowest single {slowest * 1000:.0f} ms  | ratio {ratio:.2f}  "
                f"| serial sum would be {sum(single.values()) * 1000:.0f} ms"
            )
        print(f"worst ratio {worst:.2f} (target < 1.5): {'OK' if worst < 1.5 else 'OVER'}")
        return 0 if worst < 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
