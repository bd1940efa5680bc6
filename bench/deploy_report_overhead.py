# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Wall time of a 200-task playbook with and without the deploy_report callback (target: < 5 % more).

The tasks are ansible.builtin.debug, which run on the controller and cost little each, so the
callback's share is as large as it gets. With the callback the report is mailed (when=always)
to the local Gmail emulator at the end of each run. Runs alternate; medians are compared.

    .venv/bin/python bench/deploy_report_overhead.py [--tasks 200] [--reps 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "extensions"))
from gmail_emulator import Emulator  # noqa: E402


def run(playbook, env):
    """(wall seconds, CPU seconds of ansible-playbook and its children, process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           str(playbook)], env=env, capture_output=True, text=True, timeout=1800, check=False)
    if proc.returncode:
        sys.exit(f"playbook failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        emu = Emulator(str(work / "records")).start()
        try:
            tasks = [{"name": f"Step {i}", "ansible.builtin.debug": {"msg": f"step {i}"}} for i in range(args.tasks)]
            playbook = work / "deploy.yml"
            playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
            base = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build" / "collections"),
                        ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
            report = dict(base, ANSIBLE_CALLBACKS_ENABLED="mailops.gmail.deploy_report",
                          MAILOPS_GMAIL_REPORT_TO="dev@example.com", MAILOPS_GMAIL_REPORT_WHEN="always",
                          MAILOPS_GMAIL_REPORT_USERNAME="ops.alerts@gmail.com",
                          MAILOPS_GMAIL_REPORT_PASSWORD="abcdefghijklmnop", MAILOPS_GMAIL_REPORT_HOST=emu.host,
                          MAILOPS_GMAIL_REPORT_PORT=str(emu.smtp_starttls_port),
                          MAILOPS_GMAIL_REPORT_SECURITY="starttls",
                          MAILOPS_GMAIL_REPORT_CA_FILE=emu.ca_file, MAILOPS_GMAIL_REPORT_QUOTA_DIR=str(work / "q"),
                          MAILOPS_GMAIL_REPORT_SPOOL_DIR=str(work / "spool"))
            times = {"without": [], "with": []}
            cpu = {"without": [], "with": []}
            for _rep in range(args.reps):
                seconds, cpu_seconds, proc = run(playbook, base)
                times["without"].append(seconds)
                cpu["without"].append(cpu_seconds)
                seconds, cpu_seconds, proc = run(playbook, report)
                if "deploy_report: report mailed" not in proc.stdout:
                    sys.exit(f"the report was not mailed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
                times["with"].append(seconds)
                cpu["with"].append(cpu_seconds)
            mails = len(emu.messages())
            if mails != args.reps:
                sys.exit(f"expected {args.reps} report mails at the emulator, got {mails}")
            med = {k: statistics.median(v) for k, v in times.items()}
            for key in ("without", "with"):
                runs = " ".join(f"{t:.2f}" for t in times[key])
                print(f"{args.tasks}-task playbook {key:7} deploy_report: median {med[key]:.2f} s  (runs: {runs})")
            cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
            print(f"CPU time (user+sys of ansible-playbook and children): median {cpu_med['without']:.2f} s without, "
                  f"{cpu_med['with']:.2f} s with")
            print(f"overhead: wall {100 * (med['with'] / med['without'] - 1):+.1f} %, "
                  f"CPU {100 * (cpu_med['with'] / cpu_med['without'] - 1):+.1f} %  ({mails} report mails received; "
                  f"load average {os.getloadavg()[0]:.1f})")
        finally:
            emu.stop()


if __name__ == "__main__":
    main()
