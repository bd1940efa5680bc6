# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""The postfix_relay role over fleets of 1, 5 and 10 containers: converge, then an idempotent re-run.

Hosts use the image mailops-debian12-mail (Postfix and the SASL modules pre-installed), so the figures
are the role's own work, not apt's. The containers, the test network and the emulator come from the
shared molecule playbooks (extensions/molecule/shared/), as in bench/site_fleet.py. Per fleet size:
wall time of the first converge and of the re-run, tasks per host, changed tasks on the re-run (must
be 0), and the per-host slope of both (least squares over the sizes).

    .venv/bin/python bench/postfix_relay_fleet.py [--sizes 1 5 10] [--forks 10] [--out FILE.json]
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
import demo_fleet  # noqa: E402

SHARED = ROOT / "extensions" / "molecule" / "shared"
PLAY = """- name: Relay through Gmail
  hosts: all
  gather_facts: false
  roles:
    - role: mailops.gmail.postfix_relay
      vars:
        postfix_relay_username: ops.alerts@gmail.com
        postfix_relay_password: abcdefghijklmnop
"""


def playbook(work: Path, path: Path, *args: str, forks: int = 10) -> tuple:
    return demo_fleet.playbook(str(work), str(path), *args, forks=forks)


def one(size: int, forks: int) -> dict:
    fleet = [
        (f"bench-relay-{i:02d}", "localhost/mailops-debian12-mail:latest", "postfix_relay") for i in range(1, size + 1)
    ]
    with tempfile.TemporaryDirectory(prefix="postfix-relay-fleet-") as tmp:
        work = Path(tmp)
        (work / "inventory").mkdir()
        (work / "play.yml").write_text(PLAY)
        demo_fleet.setup(str(work), fleet, scenario="bench-postfix-relay")
        infra = ["-e", f"@{work / 'infra.yml'}"]
        try:
            playbook(work, SHARED / "create.yml", *infra)
            playbook(work, SHARED / "prepare.yml", *infra)
            first, recap1 = playbook(work, work / "play.yml", forks=forks)
            again, recap2 = playbook(work, work / "play.yml", forks=forks)
        finally:
            playbook(work, SHARED / "destroy.yml", *infra)
    tasks = sorted(ok + failed + skipped for ok, _changed, _unreachable, failed, skipped in recap1.values())
    return {
        "hosts": size,
        "forks": forks,
        "converge_s": round(first, 1),
        "rerun_s": round(again, 1),
        "tasks_per_host_min": tasks[0],
        "tasks_per_host_max": tasks[-1],
        "changed_on_rerun": sum(v[1] for v in recap2.values()),
    }


def slope(points: list) -> float:
    """Least-squares seconds per extra host."""
    n = len(points)
    mean_x = sum(point[0] for point in points) / n
    mean_y = sum(point[1] for point in points) / n
    var = sum((point[0] - mean_x) ** 2 for point in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var if var else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "postfix_relay_fleet.json"))
    args = parser.parse_args()
    subprocess.run([str(ROOT / "scripts" / "images.sh"), "mailops-debian12-mail", "mailops-emulator"], check=True)
    results = []
    for size in args.sizes:
        results.append(one(size, args.forks))
        print(json.dumps(results[-1]), flush=True)
    summary = {
        "converge_s_per_host": round(slope([(r["hosts"], r["converge_s"]) for r in results]), 2),
        "rerun_s_per_host": round(slope([(r["hosts"], r["rerun_s"]) for r in results]), 2),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"runs": results, "slope": summary}, indent=1))
    print(f"{'hosts':>5} {'converge s':>10} {'re-run s':>8} {'tasks/host':>10} {'changed on re-run':>17}")
    for r in results:
        print(
            f"{r['hosts']:>5} {r['converge_s']:>10} {r['rerun_s']:>8} "
            f"{r['tasks_per_host_min']:>4}-{r['tasks_per_host_max']:<5} {r['changed_on_rerun']:>17}"
        )
    print(f"per-host slope: converge {summary['converge_s_per_host']} s, re-run {summary['rerun_s_per_host']} s")
    return 1 if any(r["changed_on_rerun"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
