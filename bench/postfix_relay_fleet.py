# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""postfix_relay against the two roles users pick today, over fleets of 1, 5 and 10 containers.

For each fleet size and repetition, each role gets fresh hosts (image mailops-debian12-mail: Postfix and
the SASL modules pre-installed, so the figures are the roles' own work, not apt's), converges them, then
runs again on the same hosts (the idle re-run a fleet pays on every playbook run; changed must be 0 for
ours). The roles take turns within a repetition, so load from other jobs falls on all of them. The
anchors are the unmodified copies in ../shared/anchors/roles, with the variables their README gives to
relay through Gmail. Prints medians per role and size, and our ratios to the faster anchor.

    .venv/bin/python bench/postfix_relay_fleet.py [--sizes 1 5 10] [--reps 3] [--roles ours oef lsr msmtp]
        [--forks 10] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import demo_fleet  # noqa: E402

SHARED = ROOT / "extensions" / "molecule" / "shared"
ANCHORS = ROOT.parent / "shared" / "anchors" / "roles"
USER, PASSWORD = "ops.alerts@gmail.com", "abcdefghijklmnop"  # the emulator's account, not a secret
ROLES = {
    "ours": ("mailops.gmail.postfix_relay", {"postfix_relay_username": USER, "postfix_relay_password": PASSWORD}),
    "oef": ("oef_postfix", {
        "postfix_relayhost": "smtp.gmail.com", "postfix_relayhost_port": 587, "postfix_relaytls": True,
        "postfix_smtp_tls_security_level": "secure", "postfix_smtp_tls_cafile": "/etc/ssl/certs/ca-certificates.crt",
        "postfix_sasl_auth_enable": True, "postfix_sasl_user": USER, "postfix_sasl_password": PASSWORD,
        "postfix_inet_interfaces": "loopback-only", "postfix_raw_options": ["smtp_host_lookup = dns, native"],
        # Its default list adds mailutils and sasl2-bin, which the test images' local apt repository lacks
        # (no Internet there); the apt task runs all the same, over the packages the image has.
        "postfix_install": ["postfix", "libsasl2-2", "libsasl2-modules"]}),
    "lsr": ("lsr_postfix", {
        "postfix_conf": {
            "relayhost": "[smtp.gmail.com]:587", "smtp_sasl_auth_enable": "yes",
            "smtp_sasl_password_maps": "hash:/etc/postfix/sasl_passwd", "smtp_sasl_security_options": "noanonymous",
            "smtp_sasl_tls_security_options": "noanonymous", "smtp_tls_security_level": "secure",
            "smtp_tls_CAfile": "/etc/ssl/certs/ca-certificates.crt", "smtp_host_lookup": "dns, native",
            "smtp_generic_maps": "regexp:/etc/postfix/generic", "inet_interfaces": "loopback-only",
            "mydestination": "", "default_transport": "smtp", "relay_transport": "relay"},
        "postfix_files": [{"name": "sasl_passwd", "content": f"[smtp.gmail.com]:587 {USER}:{PASSWORD}",
                           "postmap": True}, {"name": "generic", "content": f"/.*/ {USER}"}]}),
}
# Not an anchor: our msmtp role on hosts without Postfix, whose idle re-run should cost no more than
# postfix_relay's.
ROLES["msmtp"] = ("mailops.gmail.msmtp", {"msmtp_username": USER, "msmtp_password": PASSWORD})
# Not in the default run either: app_smtp with two application configs (Django, checked with Python's
# parser, and dotenv), to time its idle re-run against an earlier version (--roles app, at two commits).
ROLES["app"] = ("mailops.gmail.app_smtp", {
    "app_smtp_username": USER, "app_smtp_password": PASSWORD,
    "app_smtp_configs": [{"preset": "django", "dest": "/etc/mail_settings.py"},
                         {"preset": "dotenv", "dest": "/etc/mail.env"}]})
IMAGES = {"msmtp": "localhost/mailops-debian12:latest", "app": "localhost/mailops-debian12:latest"}
LABELS = {"ours": "mailops.gmail.postfix_relay", "oef": "Oefenweb postfix", "lsr": "linux-system-roles postfix",
          "msmtp": "mailops.gmail.msmtp", "app": "mailops.gmail.app_smtp"}


def one(role: str, size: int, forks: int) -> dict:
    """Fresh hosts: converge, then the idle re-run. Seconds, tasks per host, changed on the re-run."""
    name, role_vars = ROLES[role]
    play = [{"name": "Relay through Gmail", "hosts": "all", "gather_facts": True,
             "roles": [{"role": name, "vars": role_vars}]}]
    image = IMAGES.get(role, "localhost/mailops-debian12-mail:latest")
    fleet = [(f"bench-relay-{i:02d}", image, "postfix_relay")
             for i in range(1, size + 1)]
    with tempfile.TemporaryDirectory(prefix="postfix-relay-fleet-") as tmp:
        work = Path(tmp)
        (work / "inventory").mkdir()
        (work / "play.yml").write_text(json.dumps(play))
        demo_fleet.setup(str(work), fleet, scenario="bench-postfix-relay")
        infra = ["-e", f"@{work / 'infra.yml'}"]
        try:
            demo_fleet.playbook(str(work), str(SHARED / "create.yml"), *infra)
            demo_fleet.playbook(str(work), str(SHARED / "prepare.yml"), *infra)
            first, recap1 = demo_fleet.playbook(str(work), str(work / "play.yml"), forks=forks)
            again, recap2 = demo_fleet.playbook(str(work), str(work / "play.yml"), forks=forks)
        finally:
            demo_fleet.playbook(str(work), str(SHARED / "destroy.yml"), *infra)
    tasks = sorted(ok + failed + skipped for ok, _changed, _unreachable, failed, skipped in recap1.values())
    return {"role": role, "hosts": size, "converge_s": round(first, 1), "rerun_s": round(again, 1),
            "tasks_per_host": tasks[-1], "changed_on_rerun": sum(v[1] for v in recap2.values())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--roles", nargs="+", choices=list(ROLES), default=["ours", "oef", "lsr", "msmtp"])
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--collection-root", help="time the roles of another checkout of this collection (for "
                        "example a git worktree of an earlier commit); default: this one")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "postfix_relay_fleet.json"))
    args = parser.parse_args()
    os.environ["ANSIBLE_ROLES_PATH"] = str(ANCHORS)
    if args.collection_root:
        other = Path(tempfile.mkdtemp(prefix="bench-collection-"))
        (other / "ansible_collections" / "mailops").mkdir(parents=True)
        (other / "ansible_collections" / "mailops" / "gmail").symlink_to(Path(args.collection_root).resolve())
        os.environ["MAILOPS_COLLECTIONS_PATH"] = str(other)
    images = ["mailops-debian12-mail", "mailops-debian12", "mailops-emulator"]
    subprocess.run([str(ROOT / "scripts" / "images.sh"), *images], check=True)
    runs = []
    for size in args.sizes:
        for rep in range(args.reps):
            order = args.roles[rep % len(args.roles):] + args.roles[:rep % len(args.roles)]  # take turns
            for role in order:
                runs.append(one(role, size, args.forks))
                print(json.dumps(runs[-1]), flush=True)
    table = {}
    for size in args.sizes:
        for role in args.roles:
            mine = [r for r in runs if r["hosts"] == size and r["role"] == role]
            table[(size, role)] = {key: statistics.median(r[key] for r in mine) for key in ("converge_s", "rerun_s")}
            table[(size, role)].update(tasks=mine[0]["tasks_per_host"],
                                       changed=max(r["changed_on_rerun"] for r in mine),
                                       runs={key: [r[key] for r in mine] for key in ("converge_s", "rerun_s")})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"runs": runs, "reps": args.reps, "forks": args.forks}, indent=1))
    print(f"\nmedians of {args.reps} runs, seconds (forks {args.forks})")
    print(f"{'role':<30} {'hosts':>5} {'tasks/host':>10} {'converge':>9} {'re-run':>7} {'changed on re-run':>18}")
    for size in args.sizes:
        for role in args.roles:
            row = table[(size, role)]
            print(f"{LABELS[role]:<30} {size:>5} {row['tasks']:>10} {row['converge_s']:>9.1f} {row['rerun_s']:>7.1f} "
                  f"{row['changed']:>18}   runs {row['runs']}")
        anchors = [role for role in args.roles if role in ("oef", "lsr")]
        if "ours" in args.roles and anchors:
            for key, label in (("converge_s", "converge"), ("rerun_s", "re-run")):
                best = min(anchors, key=lambda role, key=key: table[(size, role)][key])
                ratio = table[(size, "ours")][key] / table[(size, best)][key]
                print(f"  {size} host(s), {label}: ours / {LABELS[best]} = {ratio:.2f}x")
        if "ours" in args.roles and "msmtp" in args.roles:
            ratio = table[(size, "msmtp")]["rerun_s"] / table[(size, "ours")]["rerun_s"]
            print(f"  {size} host(s), re-run: msmtp / postfix_relay = {ratio:.2f}x")
    return 1 if any(r["changed_on_rerun"] for r in runs if r["role"] in ("ours", "msmtp")) else 0


if __name__ == "__main__":
    sys.exit(main())
