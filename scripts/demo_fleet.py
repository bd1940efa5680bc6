# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""The demo fleet, for scripts/demo.sh: scripts/demo_fleet.py setup|controller DEMO_DIR.

setup       writes DEMO_DIR/infra.yml (the variables of the shared molecule create/prepare/destroy
            playbooks in extensions/molecule/shared/, read from extensions/molecule/config.yml, with
            the fleet below as molecule_yml.platforms) and DEMO_DIR/inventory/hosts.yml.
controller  (after create) writes DEMO_DIR/controller.yml (where the controller reaches the emulator)
            and makes every fleet host's name resolve in every other one (/etc/hosts: satellites reach
            their hub by its name).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIO = "demo"
# name, image, group: at least two Postfix hosts, one msmtp host and one application host.
FLEET = [
    ("demo-postfix1", "localhost/mailops-debian12-mail:latest", "postfix_relay"),
    ("demo-postfix2", "localhost/mailops-debian12-mail:latest", "postfix_relay"),
    ("demo-msmtp1", "localhost/mailops-debian13:latest", "msmtp"),
    ("demo-app1", "localhost/mailops-debian12:latest", "app_smtp"),
]
CONNECTION_PLUGINS = os.path.join(ROOT, "extensions", "molecule", "shared", "plugins", "connection")
IMAGES = sorted({image.split("/")[1].split(":")[0] for _name, image, _group in FLEET} | {"mailops-emulator"})


def write_yaml(path: str, data) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(data, fh, default_flow_style=False, sort_keys=False)


def setup(demo: str, fleet=None, scenario: str = SCENARIO) -> None:
    """Write infra.yml and inventory/hosts.yml for `fleet` ((name, image, group) tuples) under `demo`."""
    fleet = fleet or FLEET
    with open(os.path.join(ROOT, "extensions", "molecule", "config.yml"), encoding="utf-8") as fh:
        infra = yaml.safe_load(fh)["provisioner"]["inventory"]["group_vars"]["all"]
    infra.update({
        "mailops_scenario": scenario,
        "mailops_project_dir": ROOT,
        "mailops_emulator_dir": os.path.join(demo, "emulator"),
        "molecule_yml": {"platforms": [{"name": name, "image": image} for name, image, _group in fleet]},
    })
    write_yaml(os.path.join(demo, "infra.yml"), infra)
    groups: dict = {}
    for name, _image, group in fleet:
        groups.setdefault(group, {"hosts": {}})["hosts"][name] = None
    write_yaml(os.path.join(demo, "inventory", "hosts.yml"), {"all": {
        # mailops_podman (extensions/molecule/shared/plugins/connection): podman with pipelining;
        # ANSIBLE_CONNECTION_PLUGINS must name its folder (CONNECTION_PLUGINS).
        "vars": {"ansible_connection": "mailops_podman", "ansible_python_interpreter": "/usr/bin/python3"},
        "children": groups,
    }})


def controller(demo: str, fleet=None) -> str:
    """Write controller.yml once the emulator runs; return its address."""
    fleet = fleet or FLEET
    with open(os.path.join(demo, "emulator", "state.json"), encoding="utf-8") as fh:
        emulator_ip = json.load(fh)["ip"]
    write_yaml(os.path.join(demo, "controller.yml"), {
        "gmail_controller_smtp_host": emulator_ip,
        "gmail_controller_smtp_port": 587,
        "gmail_controller_imap_host": emulator_ip,
        "gmail_controller_ca_file": os.path.join(demo, "emulator", "ca", "ca.pem"),
        "notify_quota_dir": os.path.join(demo, "quota"),
    })
    fmt = '{{.Name}} {{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}'
    out = subprocess.run(["podman", "inspect", "--format", fmt] + [host[0] for host in fleet],
                         check=True, capture_output=True, text=True).stdout
    link(dict(line.split() for line in out.splitlines()))
    return emulator_ip


# The test hosts have no DNS (extensions/molecule/config.yml). Addresses change when a container
# restarts, so each run rewrites the lines; Postfix's chroot gets the new file too.
HOSTS_SCRIPT = """
{ grep -vE "[[:space:]]($1)\\$" /etc/hosts; printf '%s' "$2"; } >/tmp/hosts.new && cat /tmp/hosts.new >/etc/hosts
if [ -d /var/spool/postfix/etc ]; then cp /etc/hosts /var/spool/postfix/etc/hosts; fi
"""


def link(names: dict) -> None:
    """Pin every fleet host's address (names: host -> address) in every fleet host's /etc/hosts."""
    pattern = "|".join(names)
    lines = "".join(f"{ip} {name}\n" for name, ip in names.items())
    for name in names:
        subprocess.run(["podman", "exec", name, "sh", "-c", HOSTS_SCRIPT, "sh", pattern, lines], check=True)


RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)", re.M)


def playbook(demo: str, path: str, *args: str, forks: int = 5) -> tuple:
    """For the benchmarks: run a playbook on DEMO_DIR's inventory with the venv's Ansible.

    Returns (seconds, {host: [ok, changed, unreachable, failed, skipped]}); exits with the output's
    tail when the playbook fails (callers clean up in `finally`).
    """
    collections = os.environ.get("MAILOPS_COLLECTIONS_PATH") or os.path.join(ROOT, ".build", "collections")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections,
               ANSIBLE_CONNECTION_PLUGINS=CONNECTION_PLUGINS, ANSIBLE_PIPELINING="1", ANSIBLE_FORKS=str(forks),
               ANSIBLE_NOCOLOR="1")
    inventory = os.path.join(demo, "inventory", "hosts.yml")
    command = [os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", inventory, str(path), *args]
    started = time.monotonic()
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600, check=False, cwd=ROOT)
    if proc.returncode:
        # The failed tasks first: on a big fleet they are long gone from the output's tail.
        lines = proc.stdout.splitlines()
        fatal = [line for i, line in enumerate(lines) if any("fatal:" in x for x in lines[max(0, i - 3) : i + 1])]
        sys.exit(f"{os.path.basename(str(path))} failed:\n" + "\n".join(fatal[:60])
                 + f"\n...\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return time.monotonic() - started, {m[0]: [int(x) for x in m[1:]] for m in RECAP.findall(proc.stdout)}


def main(argv: list) -> int:
    if argv == ["images"]:
        print(" ".join(IMAGES))
        return 0
    if len(argv) != 2 or argv[0] not in ("setup", "controller"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "setup":
        setup(os.path.abspath(argv[1]))
    else:
        print(controller(os.path.abspath(argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
