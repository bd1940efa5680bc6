# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""playbooks/verify.yml (also site.yml's first play) against the in-process emulator, no containers.

site.yml over containers is covered by the molecule scenario extensions/molecule/site/.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from playbook import ROOT, run_playbook

EXAMPLE = ROOT / "playbooks" / "inventory" / "example"
VERIFY = [{"ansible.builtin.import_playbook": str(ROOT / "playbooks" / "verify.yml")}]


def inventory(tmp_path: Path, emulator, all_vars: dict, groups: dict) -> Path:
    """An inventory dir: group -> {host: vars}; every host local; the controller reaches the emulator."""
    inv = tmp_path / "inv"
    (inv / "group_vars" / "all").mkdir(parents=True)
    controller = {"gmail_controller_smtp_host": emulator.host,
                  "gmail_controller_smtp_port": emulator.smtp_starttls_port,
                  "gmail_controller_smtp_security": "starttls", "gmail_controller_ca_file": emulator.ca_file,
                  "ansible_connection": "local"}
    (inv / "group_vars" / "all" / "controller.yml").write_text(yaml.safe_dump(controller))
    (inv / "group_vars" / "all" / "main.yml").write_text(yaml.safe_dump(all_vars))
    children = {group: {"hosts": dict(hosts)} for group, hosts in groups.items()}
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": children}}))
    return inv / "hosts.yml"


def logins(emulator):
    return [(s["auth_user"], s["auth_result"]) for s in emulator.sessions() if s["protocol"] == "smtp"]


def test_one_login_per_account_and_no_mail(tmp_path, gmail_emulator):
    inv = inventory(tmp_path, gmail_emulator, {"gmail_username": "ops.alerts@gmail.com",
                                               "gmail_app_password": "abcdefghijklmnop"},
                    {"web": {"web1": None, "web2": None, "web3": None},
                     "reports": {"rep1": {"gmail_username": "team.reports@gmail.com",
                                          "gmail_app_password": "ponmlkjihgfedcba"}}})
    result = run_playbook(tmp_path, VERIFY, ["-i", str(inv)])
    assert result.rc == 0, result.output
    assert sorted(logins(gmail_emulator)) == [("ops.alerts@gmail.com", "ok"), ("team.reports@gmail.com", "ok")]
    assert gmail_emulator.messages() == []
    assert "ops.alerts@gmail.com: valid" in result.stdout
    assert "abcdefghijklmnop" not in result.output and "ponmlkjihgfedcba" not in result.output


def test_refused_account_stops_with_reason_and_fix_but_no_secret(tmp_path, gmail_emulator):
    inv = inventory(tmp_path, gmail_emulator, {"gmail_username": "ops.alerts@gmail.com",
                                               "gmail_app_password": "correct-horse-battery"}, {"web": {"web1": None}})
    result = run_playbook(tmp_path, VERIFY, ["-i", str(inv), "-vvv"])
    assert result.rc != 0
    assert result.status("Stop on an account Gmail refuses") == "failed"
    message = result.task("Stop on an account Gmail refuses")["results"][0]["msg"]
    assert message in result.stdout
    assert "534" in message and "5.7.9" in message and "app password" in message, message
    assert "correct-horse-battery" not in result.output


def test_host_without_account_is_named(tmp_path, gmail_emulator):
    inv = inventory(tmp_path, gmail_emulator, {}, {"web": {"web1": {"gmail_username": "ops.alerts@gmail.com",
                                                                    "gmail_app_password": "abcdefghijklmnop"},
                                                           "web2": None}})
    result = run_playbook(tmp_path, VERIFY, ["-i", str(inv)])
    assert result.rc != 0
    message = result.task("Check that every host names its Gmail account")["msg"]
    assert "gmail_username is not set for" in message and "web2" in message and "web1" not in message
    assert logins(gmail_emulator) == []


def test_example_inventory_vault(tmp_path, gmail_emulator):
    # The example's group_vars as they are (the vault holds the emulator's app password).
    inv = inventory(tmp_path, gmail_emulator, {}, {"postfix_relay": {"web1": None}})
    shutil.copytree(EXAMPLE / "group_vars", tmp_path / "inv" / "group_vars", dirs_exist_ok=True)
    assert (tmp_path / "inv" / "group_vars" / "all" / "vault.yml").read_text().startswith("$ANSIBLE_VAULT;")
    without = run_playbook(tmp_path, VERIFY, ["-i", str(inv)])
    assert without.rc != 0 and "vault" in without.output.lower()
    result = run_playbook(tmp_path, VERIFY, ["-i", str(inv), "--vault-password-file",
                                             str(EXAMPLE / "vault-password.txt")])
    assert result.rc == 0, result.output
    assert logins(gmail_emulator) == [("ops.alerts@gmail.com", "ok")]
