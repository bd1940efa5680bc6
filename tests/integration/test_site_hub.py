# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""site.yml's gmail_relay_mode: which host gets which role variables, without containers.

The collection is a copy made of links: the real plugins (credentials_info, send), the real
playbooks and notify role, and stand-in postfix_relay/msmtp/app_smtp roles (with the real roles'
defaults) that only report the variables they were given. verify.yml and the digest talk to the
in-process emulator; no host is changed. Hub and satellite Postfix over containers:
extensions/molecule/postfix_hub and make demo.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from playbook import ROOT, run_playbook

SITE = [{"ansible.builtin.import_playbook": str(ROOT / "playbooks" / "site.yml")}]
PASSWORD = "abcdefghijklmnop"
# What each stand-in role reports; `secret` says whether the app password reached it.
REPORT = {
    "postfix_relay": "{{ {'mode': postfix_relay_mode, 'hubs': postfix_relay_hubs,"
                     " 'username': postfix_relay_username, 'secret': postfix_relay_password | length > 0} }}",
    "msmtp": "{{ {'secret': msmtp_password | length > 0} }}",
    "app_smtp": "{{ {'secret': app_smtp_password | length > 0} }}",
}


def role_variables(role: str) -> list:
    """Every variable of a role's main entry point (meta/argument_specs.yml)."""
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return sorted(specs["argument_specs"]["main"]["options"])


def collection(tmp_path: Path, report: dict | None = None) -> Path:
    """Stand-ins for the roles in `report` (role -> what its one task prints), the real rest."""
    report = REPORT if report is None else report
    base = tmp_path / "collections"
    coll = base / "ansible_collections" / "mailops" / "gmail"
    (coll / "roles").mkdir(parents=True)
    for name in ("plugins", "meta", "playbooks"):
        (coll / name).symlink_to(ROOT / name)
    for role in ("postfix_relay", "msmtp", "app_smtp", "notify", "test_mail", "delivery_proof"):
        if role not in report:
            (coll / "roles" / role).symlink_to(ROOT / "roles" / role)
            continue
        (coll / "roles" / role / "tasks").mkdir(parents=True)
        (coll / "roles" / role / "defaults").symlink_to(ROOT / "roles" / role / "defaults")
        task = {"name": f"Report {role}", "ansible.builtin.debug": {"msg": report[role]}}
        (coll / "roles" / role / "tasks" / "main.yml").write_text(yaml.safe_dump([task]))
    return base


def inventory(tmp_path: Path, emulator, groups: dict, all_vars: dict) -> Path:
    """Every host local; the secret only where `groups` puts it (group -> {"hosts", "vars"})."""
    inv = tmp_path / "inv"
    for group, data in groups.items():
        if data.get("vars"):
            (inv / "group_vars" / group).mkdir(parents=True)
            (inv / "group_vars" / group / "main.yml").write_text(yaml.safe_dump(data["vars"]))
    (inv / "group_vars" / "all").mkdir(parents=True)
    (inv / "group_vars" / "all" / "main.yml").write_text(yaml.safe_dump({
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "gmail_username": "ops.alerts@gmail.com",
        "gmail_notify_to": ["team.reports@gmail.com"],
        "gmail_controller_smtp_host": emulator.host,
        "gmail_controller_smtp_port": emulator.smtp_starttls_port,
        "gmail_controller_smtp_security": "starttls",
        "gmail_controller_ca_file": emulator.ca_file,
        "notify_quota_dir": str(tmp_path / "quota"),
        # No mail from the test machine's own sendmail (the proof is tested in molecule's site scenario).
        "gmail_prove_delivery": False,
        **all_vars,
    }))
    children = {group: {"hosts": dict.fromkeys(data["hosts"])} for group, data in groups.items()}
    (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": children}}))
    return inv / "hosts.yml"


def run_site(tmp_path, emulator, groups, all_vars=None, report=None):
    inv = inventory(tmp_path, emulator, groups, all_vars or {})
    env = {"ANSIBLE_COLLECTIONS_PATH": str(collection(tmp_path, report))}
    # run_playbook's own localhost is not part of the fleet.
    return run_playbook(tmp_path, SITE, ["-i", str(inv), "--limit", "all:!localhost"], env=env)


def reports(result) -> dict:
    """host -> what its stand-in role received, for every role that ran."""
    return {(entry["host"], entry["task"].split()[-1]): entry["result"]["msg"]
            for entry in result.tasks if ": Report " in entry["task"]}


def logins(emulator):
    return [(s["auth_user"], s["auth_result"]) for s in emulator.sessions() if s["protocol"] == "smtp"]


HUB_FLEET = {
    "postfix_relay": {"hosts": ["sat1", "relay1", "sat2", "relay2"]},
    "gmail_relay_hubs": {"hosts": ["relay1", "relay2"], "vars": {"gmail_app_password": PASSWORD}},
    "msmtp": {"hosts": ["small1"], "vars": {"gmail_app_password": PASSWORD}},
}


def test_hub_mode_gives_the_secret_only_to_hubs(tmp_path, gmail_emulator):
    result = run_site(tmp_path, gmail_emulator, HUB_FLEET, {"gmail_relay_mode": "hub"})
    assert result.rc == 0, result.output
    got = reports(result)
    for hub in ("relay1", "relay2"):
        assert got[(hub, "postfix_relay")] == {"mode": "hub", "hubs": [], "username": "ops.alerts@gmail.com",
                                               "secret": True}
    for sat in ("sat1", "sat2"):
        assert got[(sat, "postfix_relay")] == {"mode": "satellite", "hubs": ["relay1", "relay2"],
                                               "username": "ops.alerts@gmail.com", "secret": False}
    assert got[("small1", "msmtp")] == {"secret": True}
    assert len(got) == 5
    # One credential check (satellites hold nothing to check), then the digest with the hubs'
    # password although the first host of the run is a satellite.
    assert logins(gmail_emulator) == [("ops.alerts@gmail.com", "ok")] * 2
    digest = gmail_emulator.messages()
    assert [m["subject"] for m in digest] == ["[OK] site.yml: 5 ok, 0 failed"]
    assert PASSWORD not in result.output


def test_hub_mode_without_hub_group_uses_the_first_relay(tmp_path, gmail_emulator):
    # The password is in postfix_relay's group_vars here: site.yml still hands it to the hub only.
    fleet = {"postfix_relay": {"hosts": ["relay1", "sat1"], "vars": {"gmail_app_password": PASSWORD}}}
    result = run_site(tmp_path, gmail_emulator, fleet, {"gmail_relay_mode": "hub"})
    assert result.rc == 0, result.output
    got = reports(result)
    assert got[("relay1", "postfix_relay")]["mode"] == "hub"
    assert got[("relay1", "postfix_relay")]["secret"] is True
    assert got[("sat1", "postfix_relay")] == {"mode": "satellite", "hubs": ["relay1"],
                                              "username": "ops.alerts@gmail.com", "secret": False}


def test_direct_mode_is_unchanged(tmp_path, gmail_emulator):
    result = run_site(tmp_path, gmail_emulator, HUB_FLEET, {"gmail_app_password": PASSWORD})
    assert result.rc == 0, result.output
    got = reports(result)
    for host in ("sat1", "relay1", "sat2", "relay2"):
        assert got[(host, "postfix_relay")] == {"mode": "direct", "hubs": [], "username": "ops.alerts@gmail.com",
                                                "secret": True}
    assert "Configure Postfix satellites" in result.stdout and "skipping: no hosts matched" in result.stdout
    unmatched = [line for line in result.output.splitlines() if "Could not match supplied host pattern" in line]
    assert not [line for line in unmatched if "site" in line], unmatched  # none about site.yml's own groups
    assert logins(gmail_emulator) == [("ops.alerts@gmail.com", "ok")] * 2


@pytest.mark.parametrize("all_vars, groups, words", [
    ({"gmail_relay_mode": "satellite"}, HUB_FLEET, "gmail_relay_mode must be direct or hub (it is satellite)"),
    ({"gmail_relay_mode": "hub"}, {**HUB_FLEET, "gmail_relay_hubs": {"hosts": ["relay1", "elsewhere"]}},
     "must also be in group postfix_relay (a hub is a Postfix relay): elsewhere."),
    ({"gmail_relay_mode": "hub", "gmail_app_password": PASSWORD}, {"msmtp": {"hosts": ["small1"]}},
     "the postfix_relay group is empty"),
])
def test_bad_hub_settings_stop_before_anything_runs(tmp_path, gmail_emulator, all_vars, groups, words):
    result = run_site(tmp_path, gmail_emulator, groups, all_vars)
    assert result.rc != 0
    assert words in " ".join(result.stdout.split()), result.stdout
    assert reports(result) == {} and logins(gmail_emulator) == []


def test_hub_example_inventory(tmp_path, gmail_emulator):
    """playbooks/inventory/hub as shipped (vault included): the secret reaches the two hubs only."""
    example = ROOT / "playbooks" / "inventory" / "hub"
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "gmail_test_to": [],
             "gmail_prove_delivery": False,
             "gmail_controller_smtp_host": gmail_emulator.host,
             "gmail_controller_smtp_port": gmail_emulator.smtp_starttls_port,
             "gmail_controller_smtp_security": "starttls", "gmail_controller_ca_file": gmail_emulator.ca_file,
             "notify_quota_dir": str(tmp_path / "quota")}
    (tmp_path / "local.yml").write_text(yaml.safe_dump(local))
    result = run_playbook(tmp_path, SITE, [
        "-i", str(example / "hosts.yml"), "--limit", "all:!localhost", "-e", f"@{tmp_path / 'local.yml'}",
        "--vault-password-file", str(example / "vault-password.txt")],
        env={"ANSIBLE_COLLECTIONS_PATH": str(collection(tmp_path))})
    assert result.rc == 0, result.output
    got = {host: data for (host, role), data in reports(result).items() if role == "postfix_relay"}
    hubs = ["relay1.example.net", "relay2.example.net"]
    assert sorted(host for host, data in got.items() if data["secret"]) == hubs
    assert sorted(host for host, data in got.items() if data["mode"] == "satellite") == [
        "db1.example.net", "web1.example.net", "web2.example.net"]
    assert {tuple(data["hubs"]) for data in got.values() if data["mode"] == "satellite"} == {tuple(hubs)}
    assert logins(gmail_emulator) == [("ops.alerts@gmail.com", "ok")] * 2
    assert [m["subject"] for m in gmail_emulator.messages()] == ["[OK] site.yml: 5 ok, 0 failed"]


@pytest.mark.parametrize("relay_mode", ["direct", "hub"])
def test_every_role_variable_in_group_vars_reaches_the_role(tmp_path, gmail_emulator, relay_mode):
    """A role variable set in the inventory wins over what site.yml and the site variables would give it.

    Every variable of every role's argument spec is set in its group's group_vars (the notify role's
    in group all) to a value of its own; each stand-in role reports them all. In hub mode site.yml
    decides the mode (and a satellite's hubs, and that it holds no password), and nothing else.
    """
    report = {role: "{{ dict(%r | zip(query('ansible.builtin.vars', *%r))) }}" % (names, names)
              for role in ("postfix_relay", "msmtp", "app_smtp", "notify", "delivery_proof")
              for names in [role_variables(role)]}
    wanted = {role: {name: f"from group_vars: {name}" for name in role_variables(role)} for role in report}
    groups = {"postfix_relay": {"hosts": ["relay1", "sat1"], "vars": wanted["postfix_relay"]},
              "gmail_relay_hubs": {"hosts": ["relay1"]},
              "msmtp": {"hosts": ["small1"], "vars": wanted["msmtp"]},
              "app_smtp": {"hosts": ["app1"], "vars": wanted["app_smtp"]}}
    site = {"gmail_relay_mode": relay_mode, "gmail_app_password": PASSWORD, "gmail_smtp_port": 465,
            "gmail_from": "site@example.com", **wanted["notify"], **wanted["delivery_proof"]}
    result = run_site(tmp_path, gmail_emulator, groups, site, report)
    got = reports(result)
    assert {role for _host, role in got} == set(report), result.output[-3000:]
    for (host, role), received in got.items():
        expected = dict(wanted[role])
        if role == "postfix_relay" and relay_mode == "hub":
            expected["postfix_relay_mode"] = "hub" if host == "relay1" else "satellite"
            if host == "sat1":
                expected.update(postfix_relay_hubs=["relay1"], postfix_relay_password="")
        assert received == expected, (host, role)
