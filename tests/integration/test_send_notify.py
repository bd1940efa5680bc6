# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""The mailops.gmail.notify role through playbooks/notify.yml: one digest for all hosts, one failing."""

from __future__ import annotations

import json
import os
import subprocess

from playbook import ANSIBLE_PLAYBOOK as PLAYBOOK
from test_send import ROOT, assert_no_secret


def test_one_digest_for_all_hosts(gmail_emulator, tmp_path):
    emu = gmail_emulator
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(
        "[web]\nweb1 ansible_connection=local\nweb2 ansible_connection=local\n"
        "web3 ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=1 ansible_ssh_timeout=2\n"
        "[all:vars]\nansible_python_interpreter=\"{{ ansible_playbook_python }}\"\n")
    extra = {"target": "web", "deployment": "shop 1.4.2", "notify_to": ["team@example.com"],
             "notify_username": "ops.alerts@gmail.com", "notify_password": "abcdefghijklmnop",
             "notify_host": emu.host, "notify_port": emu.smtp_starttls_port, "notify_security": "starttls",
             "notify_ca_file": emu.ca_file, "notify_quota_dir": str(tmp_path / "q"), "notify_dedupe_key": "shop-1.4.2"}
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build" / "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_HOST_KEY_CHECKING="0", ANSIBLE_HOME=str(tmp_path / "home"))
    cmd = [str(PLAYBOOK), "-i", str(inventory), str(ROOT / "playbooks" / "notify.yml"), "-e", json.dumps(extra)]
    first = subprocess.run(cmd + ["-vvv"], env=env, capture_output=True, text=True, timeout=300, check=False)
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert first.returncode == 4 and again.returncode == 4  # web3 unreachable
    [message] = emu.messages()  # the second run was deduplicated
    assert message["subject"] == "[FAILED] shop 1.4.2: 2 ok, 1 failed"
    assert message["rcpt_tos"] == ["team@example.com"]
    body = message["body"].replace("\r\n", "\n")
    assert "Succeeded (2):\n  - web1\n  - web2" in body and "Failed or unreachable (1):\n  - web3" in body
    assert len(emu.sessions()) == 1
    assert_no_secret(first.stdout, first.stderr, again.stdout)


def test_the_digest_through_the_workspace_relay_with_no_credential(gmail_emulator, tmp_path):
    """notify_service workspace_relay: the relay knows the controller by its address; no account, no password."""
    emu = gmail_emulator
    emu.set(relay_allowlist=["127.0.0.0/8"])
    inventory = tmp_path / "inventory.ini"
    inventory.write_text("[web]\nweb1 ansible_connection=local\n"
                         "[all:vars]\nansible_python_interpreter=\"{{ ansible_playbook_python }}\"\n")
    extra = {"target": "web", "deployment": "shop 1.4.3", "notify_to": ["team@example.com"],
             "notify_service": "workspace_relay", "notify_sender": "alerts@example.com",
             "notify_ehlo_name": "ansible.example.com", "notify_host": emu.host, "notify_port": emu.smtp_relay_port,
             "notify_security": "starttls", "notify_ca_file": emu.ca_file, "notify_quota_dir": str(tmp_path / "q")}
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".build" / "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_HOME=str(tmp_path / "home"))
    cmd = [str(PLAYBOOK), "-i", str(inventory), str(ROOT / "playbooks" / "notify.yml"), "-e", json.dumps(extra)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-2000:]
    [message] = emu.messages()
    assert (message["service"], message["auth_user"], message["mail_from"]) == ("relay", None, "alerts@example.com")
    assert message["subject"] == "[OK] shop 1.4.3: 1 ok, 0 failed"
    # An EHLO name outside the domains is refused before anything is sent.
    extra["notify_ehlo_name"] = "ansible.internal"
    refused = subprocess.run(cmd[:-1] + [json.dumps(extra)], env=env, capture_output=True, text=True, timeout=300,
                             check=False)
    assert refused.returncode != 0 and "ehlohost=ansible.internal is not in your Workspace domains" in refused.stdout
    assert len(emu.messages()) == 1
