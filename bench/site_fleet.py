# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""playbooks/site.yml over 5, 10 and 20 containers (packages pre-installed), at forks 5 and 20.

Half the hosts are Postfix relays (image mailops-debian12-mail: Postfix installed), half application
hosts (nothing to install). The containers, the test network and the emulator come from the shared
molecule playbooks (extensions/molecule/shared/), as in `make demo`. Per size and forks value:
a first run on fresh containers and a re-run; reported: wall time of each, tasks per host,
changed tasks on the re-run (must be 0 apart from the digest), mails the emulator received.

    .venv/bin/python bench/site_fleet.py [--sizes 5 10 20] [--forks 5 20] [--out bench/results/site_fleet.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "extensions"))
import demo_fleet  # noqa: E402
from gmail_emulator.records import load  # noqa: E402

SHARED = ROOT / "extensions" / "molecule" / "shared"
SITE_VARS = {
    "gmail_username": "ops.alerts@gmail.com",
    "gmail_app_password": "abcdefghijklmnop",
    "gmail_test_to": ["oncall@example.org"],
    "gmail_notify_to": ["team.reports@gmail.com"],
}


def playbook(work: Path, path: Path, *args: str, forks: int = 5) -> tuple:
    return demo_fleet.playbook(str(work), str(path), *args, forks=forks)


def one(size: int, forks: int) -> dict:
    relay, app = "localhost/mailops-debian12-mail:latest", "localhost/mailops-debian12:latest"
    fleet = [(f"bench-{i:02d}", relay if i % 2 else app, "postfix_relay" if i % 2 else "app_smtp")
             for i in range(1, size + 1)]
    with tempfile.TemporaryDirectory(prefix="site-fleet-") as tmp:
        work = Path(tmp)
        (work / "inventory" / "group_vars").mkdir(parents=True)
        demo_fleet.setup(str(work), fleet, scenario="bench")
        infra = ["-e", f"@{work / 'infra.yml'}"]
        try:
            playbook(work, SHARED / "create.yml", *infra)
            playbook(work, SHARED / "prepare.yml", *infra, forks=20)
            demo_fleet.controller(str(work), fleet)
            site = ["-e", f"@{work / 'controller.yml'}", "-e", json.dumps(SITE_VARS),
                    "-e", '{"app_smtp_configs": [{"preset": "dotenv", "dest": "/etc/default/app-smtp.env"}]}']
            first, recap1 = playbook(work, ROOT / "playbooks" / "site.yml", *site, forks=forks)
            again, recap2 = playbook(work, ROOT / "playbooks" / "site.yml", *site, forks=forks)
            records = load(str(work / "emulator" / "records"))
        finally:
            playbook(work, SHARED / "destroy.yml", *infra)
    tasks = sorted(ok + failed + skipped for ok, _changed, _unreachable, failed, skipped in recap1.values())
    return {"hosts": size, "forks": forks, "first_run_s": round(first, 1), "rerun_s": round(again, 1),
            "tasks_per_host_min": tasks[0], "tasks_per_host_max": tasks[-1],
            "changed_on_rerun": sum(v[1] for v in recap2.values()),
            "mails": len(records["messages"]), "expected_mails": 2 * (size + 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--forks", type=int, nargs="+", default=[5, 20])
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "site_fleet.json"))
    args = parser.parse_args()
    subprocess.run([str(ROOT / "scripts" / "images.sh"), "mailops-debian12", "mailops-debian12-mail",
                    "mailops-emulator"], check=True)
    results = []
    for size in args.sizes:
        for forks in args.forks:
            results.append(one(size, forks))
            print(json.dumps(results[-1]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1))
    print(f"{'hosts':>5} {'forks':>5} {'first s':>8} {'re-run s':>8} {'tasks/host':>10} {'changed':>7} {'mails':>5}")
    for r in results:
        print(f"{r['hosts']:>5} {r['forks']:>5} {r['first_run_s']:>8} {r['rerun_s']:>8} "
              f"{r['tasks_per_host_min']:>4}-{r['tasks_per_host_max']:<5} {r['changed_on_rerun']:>7} {r['mails']:>5}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
