# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""100 messages: mailops.gmail.send (one task, `messages`) vs community.general.mail (100-item loop).

Both run in the same process run against the local Gmail emulator, with the same playbook settings,
with a 100 ms round trip (a server far from Google), 10 ms and none, several repetitions each; medians
are printed with their ratio. Also prints the round trips of the sending (first MAIL to QUIT), connections
and AUTHs as the emulator counted them, with PIPELINING and without it.

    .venv/bin/python bench/send_vs_community_mail.py [--count 100] [--reps 3] [--delays 100,10,0]
        [--baseline GIT-REF]   # also time `send` as it was at GIT-REF (a git worktree), in the same run
"""

from __future__ import annotations

import argparse
import json
import os
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

USER, PASSWORD = "ops.alerts@gmail.com", "abcdefghijklmnop"


def play(emu, tool, count, workdir):
    if tool.startswith("send"):
        task = {"name": "Send", "mailops.gmail.send": {
            "host": emu.host, "port": emu.smtp_starttls_port, "security": "starttls", "ca_file": emu.ca_file,
            "username": USER, "password": PASSWORD, "daily_limit": 0, "quota_dir": str(workdir / "q"),
            "messages": [{"to": [f"dev{i}@example.com"], "subject": f"bench {i}", "body": f"message {i}"}
                         for i in range(count)]}, "no_log": True}
    else:
        task = {"name": "Send", "community.general.mail": {
            "host": emu.host, "port": emu.smtp_starttls_port, "secure": "starttls", "username": USER,
            "password": PASSWORD, "sender": USER, "to": "dev{{ item }}@example.com", "subject": "bench {{ item }}",
            "body": "message {{ item }}"}, "loop": "{{ range(" + str(count) + ") | list }}", "no_log": True}
    clock = "{{ lookup('pipe', 'date +%s.%N') }}"
    tasks = [{"name": "Start", "ansible.builtin.set_fact": {"t0": clock}}, task,
             {"name": "Stop", "ansible.builtin.set_fact": {"t1": clock}},
             {"name": "Dump", "ansible.builtin.copy": {"dest": str(workdir / "t.json"),
                                                       "content": "{{ {'t0': t0, 't1': t1} | to_json }}"}}]
    return [{"hosts": "localhost", "gather_facts": False, "tasks": tasks,
             "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"}}]


def measure(emu, tool, count, workdir, collections=ROOT / ".build" / "collections"):
    """Seconds the sending task took, and the emulator's sessions of that run."""
    emu.clear_records()
    path = workdir / f"{tool}.yml"
    path.write_text(yaml.safe_dump(play(emu, tool, count, workdir)))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_PIPELINING="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           str(path)], env=env, capture_output=True, text=True, timeout=1800, check=False)
    if proc.returncode:
        sys.exit(f"{tool} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    t = json.loads((workdir / "t.json").read_text())
    sessions = emu.sessions()
    delivered = len(emu.messages())
    if delivered != count:
        sys.exit(f"{tool}: the emulator received {delivered} messages, expected {count}")
    return float(t["t1"]) - float(t["t0"]), sessions


def wire_figures(sessions, count):
    """(round trips per message from the first MAIL to QUIT, connections, AUTHs) per `count` messages."""
    rounds = 0
    for s in sessions:
        cmds, rts = s["commands"], s["command_round_trips"]
        mails = [i for i, c in enumerate(cmds) if c.startswith("MAIL")]
        end = next((i for i, c in enumerate(cmds) if c.startswith("QUIT")), None)
        last = rts[end] if end is not None else s["round_trips"]
        if mails:
            rounds += last - rts[mails[0]]
    auths = sum(c.startswith("AUTH") for s in sessions for c in s["commands"])
    return rounds / count, len(sessions), auths


def baseline(ref, workdir):
    """A collections path holding the collection as it was at ``ref`` (a git worktree)."""
    tree = workdir / "baseline"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), ref], check=True,
                   capture_output=True)
    collections = workdir / "baseline_collections"
    (collections / "ansible_collections" / "mailops").mkdir(parents=True)
    (collections / "ansible_collections" / "mailops" / "gmail").symlink_to(tree)
    return collections


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--delays", default="100,10,0", help="round-trip delays in ms, comma-separated")
    parser.add_argument("--baseline", help="a git ref whose `send` is timed too (checked out in a worktree)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        emu = Emulator(str(workdir / "records")).start()
        tools = {"send": ("mailops.gmail.send (1 task)  ", ROOT / ".build" / "collections"),
                 "mail": ("community.general.mail loop ", ROOT / ".build" / "collections")}
        if args.baseline:
            tools["send_base"] = (f"send at {args.baseline:<17}", baseline(args.baseline, workdir))
        try:
            print(f"{args.count} messages, {args.reps} repetitions, medians of the sending task's wall time")
            print("community.general.mail: secure=starttls, smtplib without an SSL context: it verifies NOTHING "
                  "(no certificate, no host name); mailops.gmail.send verifies both against the emulator's CA.\n")
            # community.general.mail logs in once per message: past 10 logins a minute the emulator (like
            # Gmail) would answer 454 4.7.0 Too many login attempts. Off here, to time it at all.
            print("login throttling off: the community.general.mail loop logs in once per message and would "
                  "be throttled (454 4.7.0) after about 10 a minute.\n")
            emu.set(login_limit=0)
            for delay in (int(ms) / 1000 for ms in args.delays.split(",")):
                emu.set(delay=delay, pipelining=True)
                times = {tool: [] for tool in tools}
                wire = {}
                for _rep in range(args.reps):
                    for tool, (_label, collections) in tools.items():
                        seconds, sessions = measure(emu, tool, args.count, workdir, collections)
                        times[tool].append(seconds)
                        wire[tool] = wire_figures(sessions, args.count)
                med = {tool: statistics.median(v) for tool, v in times.items()}
                print(f"round-trip delay {delay * 1000:.0f} ms:")
                for tool, (label, _collections) in tools.items():
                    rt, conns, auths = wire[tool]
                    runs = " ".join(f"{t:.2f}" for t in times[tool])
                    print(f"  {label} median {med[tool]:7.2f} s  (runs: {runs})  round trips {rt * args.count:.0f} "
                          f"({rt:.2f}/message)  connections {conns}  AUTHs {auths}")
                print(f"  ratio community.general.mail / mailops.gmail.send: {med['mail'] / med['send']:.1f}x")
                if "send_base" in med:
                    print(f"  ratio send at {args.baseline} / send now: {med['send_base'] / med['send']:.2f}x")
                print()
            emu.set(delay=0.01, pipelining=False)
            _seconds, sessions = measure(emu, "send", args.count, workdir)
            rt, conns, auths = wire_figures(sessions, args.count)
            print(f"without PIPELINING (fallback, one command per round trip), 10 ms: mailops.gmail.send round "
                  f"trips {rt * args.count:.0f} ({rt:.2f}/message)  connections {conns}  AUTHs {auths}")
        finally:
            emu.stop()
            if args.baseline:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(workdir / "baseline")],
                               check=False)


if __name__ == "__main__":
    started = time.time()
    main()
    print(f"(bench took {time.time() - started:.0f} s)")
