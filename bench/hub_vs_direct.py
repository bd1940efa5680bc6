# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""postfix_relay on one fleet: every host `direct` (its own copy of the app password) vs 1 hub + N-1 satellites.

Same containers, same run (image mailops-debian12-mail: Postfix pre-installed): first `direct` on the
fresh hosts, then the same hosts switched to `hub` mode (host 1 the hub, the others its satellites).
The containers, the test network and the emulator (with a round-trip delay, so a connection costs
something) come from the shared molecule playbooks (extensions/molecule/shared/), as in
bench/postfix_relay_fleet.py. Per mode: wall time of the converge and of the re-run (changed must be
0), then --mails messages from every host through sendmail at once; once every queue is empty the
emulator's records give Gmail connections, AUTHs, messages and the time from the first submit to the
last arrival. Hosts holding the app password are counted with grep, as the postfix_hub scenario does.

    .venv/bin/python bench/hub_vs_direct.py [--hosts 4] [--mails 10] [--rtt 0.05] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "extensions"))
import demo_fleet  # noqa: E402
from gmail_emulator.records import load  # noqa: E402

SHARED = ROOT / "extensions" / "molecule" / "shared"
IMAGE = "localhost/mailops-debian12-mail:latest"
ACCOUNT, PASSWORD = "ops.alerts@gmail.com", "abcdefghijklmnop"  # the emulator's app password, not a secret
TO = "oncall@example.org"
PLAY = """- name: Relay through Gmail ({mode})
  hosts: all
  gather_facts: false
  roles:
    - role: mailops.gmail.postfix_relay
"""
DIRECT_VARS = """      vars:
        postfix_relay_mode: direct
        postfix_relay_username: {account}
        postfix_relay_password: {password}
"""
SEND = """i=0
while [ "$i" -lt "$1" ]; do
  i=$((i + 1))
  printf 'From: root\\nTo: %s\\nSubject: %s %s\\n\\nbench\\n' "$2" "$3" "$i" | /usr/sbin/sendmail -i "$2" || exit 1
done
"""
# As extensions/molecule/postfix_hub/verify.yml: the pattern is joined at run time.
GREP = ('exec grep -rlF --exclude-dir=.ansible --exclude="*.so*" -e "$1$2" '
        "/etc /root /home /opt /usr/local /var /run/log")


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check, timeout=300)


def group_vars(work: Path, hub: str) -> None:
    """Switch the inventory to hub mode: the hub keeps the password, the satellites only the address."""
    folder = work / "inventory" / "group_vars"
    folder.mkdir(exist_ok=True)
    demo_fleet.write_yaml(str(folder / "hubs.yml"), {
        "postfix_relay_mode": "hub", "postfix_relay_username": ACCOUNT, "postfix_relay_password": PASSWORD})
    demo_fleet.write_yaml(str(folder / "satellites.yml"), {
        "postfix_relay_mode": "satellite", "postfix_relay_username": ACCOUNT, "postfix_relay_hubs": [hub]})


def holders(hosts: list) -> list:
    """Hosts with the app password anywhere on disk (files listed per host)."""
    found = []
    for host in hosts:
        proc = podman("exec", host, "sh", "-c", GREP, "grep", PASSWORD[:8], PASSWORD[8:], check=False)
        if proc.returncode > 1:
            sys.exit(f"grep on {host} failed: {proc.stderr.strip()}")
        if proc.stdout.strip():
            found.append({"host": host, "files": proc.stdout.split()})
    return found


def send_and_wait(work: Path, hosts: list, mode: str, mails: int, timeout: float) -> dict:
    """Submit `mails` messages on every host at once; wait for all of them at the emulator and empty queues."""
    records_dir = str(work / "emulator" / "records")
    want = mails * len(hosts)
    started = time.time()
    procs = [subprocess.Popen(["podman", "exec", host, "sh", "-c", SEND, "sh", str(mails), TO, f"bench {mode} {host}"])
             for host in hosts]
    if any(proc.wait(timeout=300) for proc in procs):
        sys.exit(f"{mode}: sendmail failed on a host")
    submitted = time.time()
    # Done when every message arrived, every queue is empty and every session closed (a session's
    # record is complete, its AUTH included, only once Postfix drops the cached connection).
    while True:
        records = load(records_dir)
        messages = [m for m in records["messages"] if m["received"] >= started]
        sessions = [s for s in records["sessions"] if s["protocol"] == "smtp" and s["started"] >= started]
        late = time.time() - started > timeout
        queued = [h for h in hosts if (late or len(messages) >= want) and podman("exec", h, "postqueue", "-j").stdout]
        if len(messages) >= want and not queued and all(s["ended"] for s in sessions):
            break
        if late:
            sys.exit(f"{mode}: {len(messages)} of {want} messages arrived in {timeout:.0f} s; mail queued on {queued}")
        time.sleep(1)
    return {
        "submit_s": round(submitted - started, 1),
        "first_submit_to_last_arrival_s": round(max(m["received"] for m in messages) - started, 1),
        "messages": len(messages),
        "messages_expected": want,
        "messages_by_account": sorted({m["auth_user"] for m in messages}),
        "gmail_connections": len(sessions),
        "gmail_auths": sum(1 for s in sessions if s["auth_mechanism"]),
        "gmail_auths_failed": sum(1 for s in sessions if s["auth_mechanism"] and s["auth_result"] != "ok"),
        "hosts_talking_to_gmail": len({s["peer"][0] for s in sessions}),
    }


def mode_run(work: Path, mode: str, hosts: list, args) -> dict:
    play = work / f"{mode}.yml"
    play.write_text(PLAY.format(mode=mode) + (DIRECT_VARS.format(account=ACCOUNT, password=PASSWORD)
                                              if mode == "direct" else ""))
    if mode == "hub":
        group_vars(work, hosts[0])
    first, _recap = demo_fleet.playbook(str(work), play, forks=args.forks)
    again, recap = demo_fleet.playbook(str(work), play, forks=args.forks)
    result = {"converge_s": round(first, 1), "rerun_s": round(again, 1),
              "changed_on_rerun": sum(v[1] for v in recap.values())}
    result.update(send_and_wait(work, hosts, mode, args.mails, args.timeout))
    found = holders(hosts)
    result.update(hosts_with_password=len(found), password_files=found)
    print(json.dumps({mode: result}), flush=True)
    return result


def run(args) -> dict:
    hosts = [f"bench-hub-{i:02d}" for i in range(1, args.hosts + 1)]
    fleet = [(host, IMAGE, "hubs" if i == 0 else "satellites") for i, host in enumerate(hosts)]
    with tempfile.TemporaryDirectory(prefix="hub-vs-direct-") as tmp:
        work = Path(tmp)
        (work / "inventory").mkdir()
        demo_fleet.setup(str(work), fleet, scenario="bench-hub")
        infra = yaml.safe_load((work / "infra.yml").read_text())
        infra["mailops_emulator_config"] = {"delay": args.rtt}
        demo_fleet.write_yaml(str(work / "infra.yml"), infra)
        extra = ["-e", f"@{work / 'infra.yml'}"]
        try:
            demo_fleet.playbook(str(work), SHARED / "create.yml", *extra)
            demo_fleet.playbook(str(work), SHARED / "prepare.yml", *extra, forks=args.forks)
            demo_fleet.controller(str(work), fleet)  # pins the hosts' names: satellites reach the hub by its name
            return {mode: mode_run(work, mode, hosts, args) for mode in ("direct", "hub")}
        finally:
            demo_fleet.playbook(str(work), SHARED / "destroy.yml", *extra)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=4, help="Postfix hosts (hub mode: 1 hub, the rest satellites)")
    parser.add_argument("--mails", type=int, default=10, help="messages sent from every host")
    parser.add_argument("--rtt", type=float, default=0.05, help="emulator delay per round trip, seconds")
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for every message to arrive")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "hub_vs_direct.json"))
    args = parser.parse_args()
    if args.hosts < 2 or args.mails < 1:
        parser.error("--hosts must be at least 2 (a hub and a satellite) and --mails at least 1")
    if (args.hosts - 1) * args.mails >= 450:
        parser.error("--mails x (--hosts - 1) must stay under 450, the hub's default daily budget")
    subprocess.run([str(ROOT / "scripts" / "images.sh"), "mailops-debian12-mail", "mailops-emulator"], check=True)
    uptime = [subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()]
    modes = run(args)
    uptime.append(subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip())
    direct, hub = modes["direct"], modes["hub"]
    ratios = {key: round(direct[key] / hub[key], 2) if hub[key] else None
              for key in ("gmail_auths", "gmail_connections")}
    summary = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "hosts": args.hosts, "mails": args.mails,
               "rtt_s": args.rtt, "uptime_before_after": uptime, "modes": modes, "ratios_direct_over_hub": ratios}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=1))
    rows = [("converge s (first)", "converge_s"), ("re-run s", "rerun_s"), ("changed on re-run", "changed_on_rerun"),
            ("hosts holding the app password", "hosts_with_password"),
            ("hosts talking to Gmail", "hosts_talking_to_gmail"), ("Gmail connections", "gmail_connections"),
            ("AUTHs (logins)", "gmail_auths"), ("messages", "messages"),
            ("first submit -> last arrival s", "first_submit_to_last_arrival_s")]
    print(f"{args.hosts} hosts x {args.mails} mails, emulator round trip {args.rtt * 1000:.0f} ms")
    print(f"{'':32} {'direct':>8} {'hub':>8}")
    for label, key in rows:
        print(f"{label:32} {direct[key]:>8} {hub[key]:>8}")
    print(f"direct / hub: logins {ratios['gmail_auths']}x, connections {ratios['gmail_connections']}x")
    bad = [m for m, r in modes.items() if r["changed_on_rerun"] or r["messages"] != r["messages_expected"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
