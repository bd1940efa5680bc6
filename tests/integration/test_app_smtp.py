# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Container-free tests of the app_smtp role.

Every preset is rendered by the role itself (ansible-playbook on localhost) for port 587, port 465,
the local relay and the Workspace relay (with and without a login); each file is read back with the
format's own parser and its TLS flags are checked against the port. Django sends real mail to the
in-process emulator with the rendered settings module, unedited, to smtp.gmail.com and to its
smtp-relay.gmail.com. Alertmanager, s-nail and the config checkers (amtool, php -l, ruby -c, xmllint)
run in the molecule scenario extensions/molecule/app_smtp.
"""

from __future__ import annotations

import configparser
import importlib.util
import json
import os
import re
import runpy
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from temproot import TempRoot
from playbook import run_playbook

ROOT = Path(__file__).resolve().parents[2]
SECRET = "abcdefghijklmnop"  # the emulator's app password for ops.alerts@gmail.com
USER = "ops.alerts@gmail.com"
PRESETS = ["django", "dotenv", "grafana", "alertmanager", "gitlab", "gitea", "nextcloud", "mastodon",
           "thunderbird_autoconfig", "s_nail"]
OPTIONS = {"alertmanager": {"to": "oncall@example.com"}, "thunderbird_autoconfig": {"domain": "example.com"}}
EHLO = "web1.example.com"
EHLO_OPTIONS = {"alertmanager": {"hello": EHLO}, "gitea": {"helo_hostname": EHLO}, "grafana": {"ehlo_identity": EHLO}}
ACCOUNT = {"app_smtp_username": USER, "app_smtp_password": SECRET}
WORKSPACE_USER, WORKSPACE_PW = "alerts@example.com", "wxyzwxyzwxyzwxyz"  # the emulator's Workspace user
# The Workspace relay by IP allowlist: no login, so no username or password anywhere.
RELAY = {"app_smtp_service": "workspace_relay", "app_smtp_username": "", "app_smtp_password": "",
         "app_smtp_from": WORKSPACE_USER}
ABSENT = object()  # in EXPECTED: the setting must not be in the file


def apply_role(tmp_path: Path, hosts: dict, extra_args=()):
    """Apply the role to local hosts (name -> role variables); return the playbook Result.

    The configs go where `dest` says (under tmp_path); what else the role writes on a host (its local
    fact) lands in a temporary root (temproot.py), the same one for every run under this tmp_path."""
    play = [{"name": "app_smtp", "hosts": "all", "gather_facts": False, "roles": ["mailops.gmail.app_smtp"]}]
    with TempRoot(tmp_path / "root") as root:
        return run_playbook(tmp_path, play, extra_args, env={"ANSIBLE_FORKS": "4"}, timeout=240, hosts=hosts,
                            prefix=root.prefix)


def configs(out: Path, via: str = "gmail", relay: bool = False) -> list:
    """Every preset but the autoconfig where it is refused (a local relay, the Workspace relay); for the
    Workspace relay with the EHLO name set where the application has a setting for it."""
    return [{"preset": p, "dest": str(out / p), "via": via,
             "options": {**OPTIONS.get(p, {}), **(EHLO_OPTIONS.get(p, {}) if relay else {})}}
            for p in PRESETS if not ((via == "local_relay" or relay) and p == "thunderbird_autoconfig")]


# host -> (extra variables, the EXPECTED key the files must match)
VARIANTS = {
    "port587": ({"app_smtp_port": 587}, "starttls"),
    "port465": ({"app_smtp_port": 465}, "tls"),
    "relay": ({}, "none"),
    "workspace": (RELAY, "workspace"),
    "workspace_auth": ({**RELAY, "app_smtp_username": WORKSPACE_USER, "app_smtp_password": SECRET}, "workspace_auth"),
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Every preset rendered once per variant: {variant: directory}."""
    base = tmp_path_factory.mktemp("app_smtp_render")
    hosts, dirs = {}, {}
    for name, (extra, _mode) in VARIANTS.items():
        dirs[name] = base / name
        dirs[name].mkdir()
        via = "local_relay" if name == "relay" else "gmail"
        hosts[name] = {**ACCOUNT, **extra, "app_smtp_configs": configs(dirs[name], via, name.startswith("workspace"))}
    proc = apply_role(base, hosts)
    assert proc.rc == 0, proc.output
    assert SECRET not in proc.output
    return dirs


def shell_env(path: Path) -> dict:
    """What a shell (and so docker compose, systemd and dotenv loaders) sees: `set -a; . file`."""
    proc = subprocess.run(["env", "-i", "bash", "-c", 'set -a; . "$1"; env -0', "bash", str(path)],
                          capture_output=True, check=True)
    return dict(item.split("=", 1) for item in proc.stdout.decode().split("\0") if "=" in item)


def dotenv_lines(path: Path) -> None:
    """Strict dotenv rules: comments or KEY='literal' lines, nothing a loader could read differently."""
    for line in path.read_text().splitlines():
        assert line.startswith("#") or re.fullmatch(r"[A-Z_][A-Z0-9_]*='[^'\n]*'", line), line


def ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, comment_prefixes=("#", ";"))
    parser.optionxform = str
    parser.read_string(path.read_text())
    return parser


def ruby_like(path: Path, prefix: str) -> dict:
    """gitlab.rb / config.php lines: `<prefix>'key'<sep> <literal>`; single-quoted literals unescaped."""
    values = {}
    pattern = re.compile(prefix + r"'(\w+)'\]?\s*(?:=|=>)\s*('(?:[^'\\]|\\.)*'|true|false|\d+),?")
    for line in path.read_text().splitlines():
        match = pattern.fullmatch(line.strip())
        if match:
            raw = match.group(2)
            if raw.startswith("'"):
                values[match.group(1)] = re.sub(r"\\(.)", r"\1", raw[1:-1])
            else:
                values[match.group(1)] = {"true": True, "false": False}.get(raw) if not raw.isdigit() else int(raw)
    return values


def parse(preset: str, path: Path) -> dict:
    """Read a rendered file the way its application does; return the settings as a flat dict."""
    if preset == "django":
        return {k: v for k, v in runpy.run_path(str(path)).items() if k.isupper()}
    if preset in ("dotenv", "mastodon"):
        dotenv_lines(path)
        return shell_env(path)
    if preset == "grafana":
        return dict(ini(path)["smtp"])
    if preset == "gitea":
        return dict(ini(path)["mailer"])
    if preset == "alertmanager":
        return yaml.safe_load(path.read_text())
    if preset == "gitlab":
        return ruby_like(path, r"gitlab_rails\[")
    if preset == "nextcloud":
        text = path.read_text()
        assert text.startswith("<?php\n") and text.rstrip().endswith(");")
        return ruby_like(path, "")
    if preset == "thunderbird_autoconfig":
        root = ET.parse(path).getroot()
        provider = root.find("./emailProvider")
        imap, pop = (provider.find(f"./incomingServer[@type='{kind}']") for kind in ("imap", "pop3"))
        return {**{el.tag: el.text for el in provider.find("./outgoingServer[@type='smtp']")},
                "domain": provider.findtext("domain"), "imap": (imap.findtext("hostname"), imap.findtext("port"),
                imap.findtext("socketType")), "pop3": (pop.findtext("hostname"), pop.findtext("port"),
                pop.findtext("socketType"))}
    if preset == "s_nail":
        return dict(re.findall(r"^set ([\w-]+)(?:='?([^'\n]*)'?)?$", path.read_text(), re.M))
    raise AssertionError(preset)


# preset -> mode -> the settings that decide the TLS handshake (what the application reads).
EXPECTED = {
    "django": {
        "starttls": {"EMAIL_USE_TLS": True, "EMAIL_USE_SSL": False, "EMAIL_PORT": 587},
        "tls": {"EMAIL_USE_TLS": False, "EMAIL_USE_SSL": True, "EMAIL_PORT": 465},
        "none": {"EMAIL_USE_TLS": False, "EMAIL_USE_SSL": False, "EMAIL_PORT": 25, "EMAIL_HOST_PASSWORD": ""},
    },
    "dotenv": {
        "starttls": {"SMTP_PORT": "587", "SMTP_SECURITY": "starttls", "SMTP_STARTTLS": "true", "SMTP_TLS": "false"},
        "tls": {"SMTP_PORT": "465", "SMTP_SECURITY": "tls", "SMTP_STARTTLS": "false", "SMTP_TLS": "true"},
        "none": {"SMTP_PORT": "25", "SMTP_SECURITY": "none", "SMTP_PASSWORD": "", "SMTP_HOST": "127.0.0.1"},
    },
    "grafana": {
        "starttls": {"host": "smtp.gmail.com:587", "startTLS_policy": "MandatoryStartTLS", "skip_verify": "false",
                     "ehlo_identity": ABSENT},
        "tls": {"host": "smtp.gmail.com:465", "startTLS_policy": "NoStartTLS", "skip_verify": "false"},
        "none": {"host": "127.0.0.1:25", "startTLS_policy": "NoStartTLS"},
    },
    "gitlab": {
        "starttls": {"smtp_port": 587, "smtp_enable_starttls_auto": True, "smtp_tls": False,
                     "smtp_openssl_verify_mode": "peer"},
        "tls": {"smtp_port": 465, "smtp_enable_starttls_auto": False, "smtp_tls": True},
        "none": {"smtp_port": 25, "smtp_address": "127.0.0.1", "smtp_tls": False, "smtp_enable_starttls_auto": False},
    },
    "gitea": {
        "starttls": {"PROTOCOL": "smtp+starttls", "SMTP_PORT": "587", "PASSWD": f"`{SECRET}`", "HELO_HOSTNAME": ABSENT},
        "tls": {"PROTOCOL": "smtps", "SMTP_PORT": "465"},
        "none": {"PROTOCOL": "smtp", "SMTP_PORT": "25", "SMTP_ADDR": "127.0.0.1"},
    },
    "nextcloud": {
        "starttls": {"mail_smtpsecure": "tls", "mail_smtpport": 587, "mail_smtpauth": True},
        "tls": {"mail_smtpsecure": "ssl", "mail_smtpport": 465, "mail_smtppassword": SECRET},
        "none": {"mail_smtpsecure": "", "mail_smtpport": 25, "mail_smtpauth": False},
    },
    "mastodon": {
        "starttls": {"SMTP_ENABLE_STARTTLS": "always", "SMTP_TLS": "false", "SMTP_PORT": "587"},
        "tls": {"SMTP_ENABLE_STARTTLS": "never", "SMTP_TLS": "true", "SMTP_PORT": "465"},
        "none": {"SMTP_ENABLE_STARTTLS": "never", "SMTP_AUTH_METHOD": "none", "SMTP_PORT": "25"},
    },
    "thunderbird_autoconfig": {
        "starttls": {"port": "587", "socketType": "STARTTLS", "hostname": "smtp.gmail.com", "domain": "example.com",
                     "imap": ("imap.gmail.com", "993", "SSL"), "pop3": ("pop.gmail.com", "995", "SSL")},
        "tls": {"port": "465", "socketType": "SSL"},
    },
    "s_nail": {
        "starttls": {"mta": f"smtp://ops.alerts%40gmail.com:{SECRET}@smtp.gmail.com:587", "smtp-use-starttls": "",
                     "tls-verify": "strict"},
        "tls": {"mta": f"smtps://ops.alerts%40gmail.com:{SECRET}@smtp.gmail.com:465", "tls-verify": "strict"},
        "none": {"mta": "smtp://127.0.0.1:25", "smtp-auth": "none"},
    },
}


def flatten_alertmanager(doc: dict) -> dict:
    receiver = doc["receivers"][0]
    assert doc["route"]["receiver"] == receiver["name"]
    return {**doc["global"], "to": receiver["email_configs"][0]["to"]}


EXPECTED["alertmanager"] = {
    "starttls": {"smtp_smarthost": "smtp.gmail.com:587", "smtp_require_tls": True, "smtp_auth_password": SECRET,
                 "to": "oncall@example.com", "smtp_hello": ABSENT},
    # Alertmanager 0.25 dials TLS itself on 465 and would demand STARTTLS on top if this were true.
    "tls": {"smtp_smarthost": "smtp.gmail.com:465", "smtp_require_tls": False},
    "none": {"smtp_smarthost": "127.0.0.1:25", "smtp_require_tls": False},
}

# smtp-relay.gmail.com on 587 with STARTTLS, by IP allowlist: authentication off, no credentials at all.
RELAY_HOST = "smtp-relay.gmail.com"
WORKSPACE = {
    "django": {"EMAIL_HOST": RELAY_HOST, "EMAIL_PORT": 587, "EMAIL_USE_TLS": True, "EMAIL_USE_SSL": False,
               "EMAIL_HOST_USER": "", "EMAIL_HOST_PASSWORD": "", "SERVER_EMAIL": WORKSPACE_USER},
    "dotenv": {"SMTP_HOST": RELAY_HOST, "SMTP_PORT": "587", "SMTP_SECURITY": "starttls", "SMTP_STARTTLS": "true",
               "SMTP_TLS": "false", "SMTP_USERNAME": "", "SMTP_PASSWORD": ""},
    "grafana": {"host": f"{RELAY_HOST}:587", "startTLS_policy": "MandatoryStartTLS", "skip_verify": "false",
                "user": ABSENT, "password": ABSENT, "from_address": WORKSPACE_USER, "ehlo_identity": EHLO},
    "alertmanager": {"smtp_smarthost": f"{RELAY_HOST}:587", "smtp_require_tls": True, "smtp_auth_username": ABSENT,
                     "smtp_auth_password": ABSENT, "smtp_from": WORKSPACE_USER, "smtp_hello": EHLO},
    "gitlab": {"smtp_address": RELAY_HOST, "smtp_port": 587, "smtp_enable_starttls_auto": True, "smtp_tls": False,
               "smtp_openssl_verify_mode": "peer", "smtp_authentication": ABSENT, "smtp_user_name": ABSENT,
               "smtp_password": ABSENT, "smtp_domain": "example.com"},
    "gitea": {"PROTOCOL": "smtp+starttls", "SMTP_ADDR": RELAY_HOST, "SMTP_PORT": "587", "USER": ABSENT,
              "PASSWD": ABSENT, "HELO_HOSTNAME": EHLO},
    "nextcloud": {"mail_smtphost": RELAY_HOST, "mail_smtpport": 587, "mail_smtpsecure": "tls", "mail_smtpauth": False,
                  "mail_smtpauthtype": ABSENT, "mail_smtpname": ABSENT, "mail_smtppassword": ABSENT,
                  "mail_domain": "example.com"},
    "mastodon": {"SMTP_SERVER": RELAY_HOST, "SMTP_PORT": "587", "SMTP_ENABLE_STARTTLS": "always", "SMTP_TLS": "false",
                 "SMTP_AUTH_METHOD": "none", "SMTP_LOGIN": "", "SMTP_PASSWORD": "", "SMTP_OPENSSL_VERIFY_MODE": "peer"},
    "s_nail": {"mta": f"smtp://{RELAY_HOST}:587", "smtp-auth": "none", "smtp-use-starttls": "", "tls-verify": "strict"},
}
# The same relay with SMTP AUTH by a Workspace user: the login is back, and the files hold the password.
WORKSPACE_AUTH = {
    "django": {"EMAIL_HOST": RELAY_HOST, "EMAIL_HOST_USER": WORKSPACE_USER, "EMAIL_HOST_PASSWORD": SECRET},
    "dotenv": {"SMTP_HOST": RELAY_HOST, "SMTP_USERNAME": WORKSPACE_USER, "SMTP_PASSWORD": SECRET},
    "grafana": {"host": f"{RELAY_HOST}:587", "user": WORKSPACE_USER},
    "alertmanager": {"smtp_smarthost": f"{RELAY_HOST}:587", "smtp_auth_username": WORKSPACE_USER},
    "gitlab": {"smtp_address": RELAY_HOST, "smtp_user_name": WORKSPACE_USER, "smtp_authentication": "login"},
    "gitea": {"SMTP_ADDR": RELAY_HOST, "USER": WORKSPACE_USER},
    "nextcloud": {"mail_smtphost": RELAY_HOST, "mail_smtpauth": True, "mail_smtpname": WORKSPACE_USER},
    "mastodon": {"SMTP_SERVER": RELAY_HOST, "SMTP_LOGIN": WORKSPACE_USER, "SMTP_AUTH_METHOD": "plain"},
    "s_nail": {"mta": f"smtp://alerts%40example.com:{SECRET}@{RELAY_HOST}:587", "smtp-auth": "plain"},
}
for _preset, _settings in WORKSPACE.items():
    EXPECTED[_preset].update(workspace=_settings, workspace_auth=WORKSPACE_AUTH[_preset])


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("preset", PRESETS)
def test_preset_parses_with_tls_right_for_port(rendered, preset, variant):
    mode = VARIANTS[variant][1]
    if mode not in EXPECTED[preset]:  # thunderbird autoconfig is for users' clients, never a relay
        assert not (rendered[variant] / preset).exists()
        return
    path = rendered[variant] / preset
    settings = parse(preset, path)
    if preset == "alertmanager":
        settings = flatten_alertmanager(settings)
    for key, value in EXPECTED[preset][mode].items():
        if value is ABSENT:
            assert key not in settings, f"{preset} {variant}: {key} is set, want it absent"
            continue
        assert settings.get(key) == value, f"{preset} {variant}: {key}={settings.get(key)!r}, want {value!r}"
    holds_secret = SECRET in path.read_text()
    assert holds_secret == (mode not in ("none", "workspace") and preset != "thunderbird_autoconfig")
    if mode == "workspace":  # by address: no account of any kind in the file
        assert USER not in path.read_text()
    assert path.stat().st_mode & 0o777 == (0o600 if holds_secret else 0o644)
    assert path.read_text().count("Ansible managed") == 1


def test_django_and_dotenv_keep_hostile_values_literal(tmp_path):
    """Quotes, backslashes, $ and # reach the application unchanged (no interpolation, no injection)."""
    name = "O'Brien \"$HOME\" \\ #1"
    hosts = {"hostile": {**ACCOUNT, "app_smtp_from_name": name, "app_smtp_password": "pa$s#w\\rd\"x",
                         "app_smtp_configs": [{"preset": p, "dest": str(tmp_path / p)}
                                              for p in ("django", "gitlab", "nextcloud")]}}
    proc = apply_role(tmp_path, hosts)
    assert proc.rc == 0, proc.output
    django = parse("django", tmp_path / "django")
    assert django["EMAIL_HOST_PASSWORD"] == "pa$s#w\\rd\"x"
    assert django["DEFAULT_FROM_EMAIL"] == f'"{name}" <{USER}>'
    assert parse("gitlab", tmp_path / "gitlab")["gitlab_email_display_name"] == name
    assert parse("nextcloud", tmp_path / "nextcloud")["mail_smtppassword"] == "pa$s#w\\rd\"x"


# name -> (role variables, text the error must contain). All fail before any file is written.
BAD_INPUT = {
    "unknown_preset": ({"app_smtp_configs": [{"preset": "wordpress", "dest": "DIR/x"}]},
                       "app_smtp_configs[0].preset: unknown preset 'wordpress'"),
    "missing_dir": ({"app_smtp_configs": [{"preset": "django", "dest": "DIR/nope/mail.py"}]},
                    "app_smtp_configs[0].dest: directory DIR/nope does not exist"),
    "465_starttls": ({"app_smtp_port": 465, "app_smtp_security": "starttls"},
                     "app_smtp_security=starttls does not work with app_smtp_port=465"),
    "587_tls": ({"app_smtp_security": "tls"}, "app_smtp_security=tls does not work with app_smtp_port=587"),
    "odd_port_auto": ({"app_smtp_port": 2525}, "app_smtp_port=2525 needs app_smtp_security stated"),
    "no_password": ({"app_smtp_password": ""}, "via gmail needs app_smtp_password"),
    "no_username": ({"app_smtp_username": "ops.alerts"}, "via gmail needs app_smtp_username"),
    "world_readable": ({"app_smtp_configs": [{"preset": "grafana", "dest": "DIR/g", "mode": "0644"}]},
                       "mode 0644 is world-readable but the file holds the app password"),
    "alertmanager_no_to": ({"app_smtp_configs": [{"preset": "alertmanager", "dest": "DIR/a"}]},
                           "set options.to for this preset"),
    "relay_autoconfig": ({"app_smtp_configs": [{"preset": "thunderbird_autoconfig", "dest": "DIR/t",
                                                "via": "local_relay"}]}, "via local_relay is not supported"),
    "password_crlf": ({"app_smtp_password": SECRET + "\r\nRCPT TO:<x@y.z>"},
                      "app_smtp_password must not contain a line break"),
    "quote_in_dotenv": ({"app_smtp_from_name": "O'Brien",
                         "app_smtp_configs": [{"preset": "dotenv", "dest": "DIR/e"}]},
                        "app_smtp_from_name must not contain a line break or any of '"),
    "bad_from": ({"app_smtp_from": "Ops <ops@example.com>"}, "app_smtp_from must be one plain address"),
    "relative_dest": ({"app_smtp_configs": [{"preset": "django", "dest": "mail.py"}]}, "dest must be an absolute"),
    "bad_via": ({"app_smtp_configs": [{"preset": "django", "dest": "DIR/d", "via": "sendmail"}]}, "via"),
    "validate_missing_tool": ({"app_smtp_configs": [{"preset": "nextcloud", "dest": "DIR/n", "validate": True}]},
                              "app_smtp_configs[0].validate is true but /usr/bin/php"),
    "unknown_service": ({"app_smtp_service": "sendgrid"},
                        "value of app_smtp_service must be one of: gmail, workspace_relay, got: sendgrid"),
    "relay_from_outside": ({**RELAY, "app_smtp_from": "ops@other.example", "app_smtp_domains": ["example.com"]},
                           "app_smtp_from (ops@other.example) is not in your Workspace domains (example.com)"),
    "relay_gmail_from": ({**RELAY, "app_smtp_from": USER},
                         "app_smtp_from gives the domain gmail.com, but smtp-relay.gmail.com is for Google Workspace"),
    "relay_gmail_domains": ({**RELAY, "app_smtp_domains": ["example.com", "GMail.com"]},
                            "app_smtp_domains gives the domain gmail.com"),
    "relay_no_sender": ({**RELAY, "app_smtp_from": ""},
                        "With app_smtp_service workspace_relay, set app_smtp_from (an address of your Workspace"
                        " domain) or app_smtp_domains"),
    # The site's Gmail account and app password, left to the relay: it takes AUTH only from its domains' users.
    "relay_gmail_login": ({**RELAY, "app_smtp_username": USER, "app_smtp_password": SECRET},
                          "app_smtp_username (ops.alerts@gmail.com) must be the full address of a user of your"
                          " Workspace domains (example.com) when app_smtp_password is set"),
    "relay_autoconfig_refused": ({**RELAY, "app_smtp_configs": [{"preset": "thunderbird_autoconfig", "dest": "DIR/t",
                                                                 "options": {"domain": "example.com"}}]},
                                 "app_smtp_configs[0] (thunderbird_autoconfig -> DIR/t): not with app_smtp_service"
                                 " workspace_relay: the autoconfig tells people's mail clients where to send"),
    "option_crlf": ({"app_smtp_configs": [{"preset": "gitea", "dest": "DIR/i",
                                           "options": {"helo_hostname": "web1\nPASSWD = x"}}]},
                    "options.helo_hostname must not contain a line break or any of `"),
}


def test_bad_input_is_refused_with_the_variable_named(tmp_path):
    hosts = {}
    for name, (variables, _text) in BAD_INPUT.items():
        raw = json.dumps({**ACCOUNT, "app_smtp_configs": [{"preset": "django", "dest": "DIR/django"}], **variables})
        hosts[name] = json.loads(raw.replace("DIR", str(tmp_path)))
    proc = apply_role(tmp_path, hosts)
    output = proc.output
    assert proc.rc != 0
    assert SECRET not in output
    recap = dict(re.findall(r"^(\S+)\s+: ok=\d+\s+changed=\d+\s+unreachable=\d+\s+failed=(\d+)", proc.stdout, re.M))
    for name, (_variables, text) in BAD_INPUT.items():
        if name == "validate_missing_tool" and Path("/usr/bin/php").exists():
            continue  # the check needs a host without PHP; the molecule host has it and validates
        assert recap.get(name) == "1", f"{name} did not fail: {recap}"
        assert text.replace("DIR", str(tmp_path)) in output, f"{name}: {text!r} not in output"
    dests = {tmp_path / "django"} | {Path(c["dest"].replace("DIR", str(tmp_path))) for variables, _text
                                     in BAD_INPUT.values() for c in variables.get("app_smtp_configs", [])}
    assert [d for d in dests if d.is_absolute() and d.exists()] == []


def test_check_mode_then_apply_then_idempotent(tmp_path):
    # Three formats keep this quick; molecule's idempotence step covers every preset.
    out = tmp_path / "out"
    out.mkdir()
    hosts = {"h": {**ACCOUNT, "app_smtp_configs": [c for c in configs(out) if c["preset"] in PRESETS[:3]]}}
    check = apply_role(tmp_path, hosts, ["--check", "--diff"])
    assert check.rc == 0, check.output
    assert re.search(r"h\s+: ok=\d+\s+changed=1 ", check.stdout), check.stdout
    assert list(out.iterdir()) == []
    first = apply_role(tmp_path, hosts, ["--diff"])
    assert first.rc == 0 and re.search(r"changed=1 ", first.stdout), first.stdout
    second = apply_role(tmp_path, hosts, ["--diff"])
    assert second.rc == 0 and re.search(r"h\s+: ok=\d+\s+changed=0 ", second.stdout), second.stdout
    again = apply_role(tmp_path, hosts, ["--check", "--diff"])
    assert re.search(r"changed=0 ", again.stdout), again.stdout
    for proc in (check, first, second, again):
        assert SECRET not in proc.output


def test_custom_template_gets_the_connection(tmp_path):
    template = tmp_path / "custom.j2"
    template.write_text("{{ app_smtp_conn.host }}:{{ app_smtp_conn.port }} {{ app_smtp_conn.security }}"
                        " {{ app_smtp_conn.flags.use_ssl | default('-') }}\n")
    hosts = {"h": {**ACCOUNT, "app_smtp_port": 465, "app_smtp_configs": [
        {"template": str(template), "dest": str(tmp_path / "plain")},
        # Not Python, so Django's syntax check would refuse it: validate: false turns the check off.
        {"preset": "django", "template": str(template), "dest": str(tmp_path / "with_flags"), "validate": False}]}}
    proc = apply_role(tmp_path, hosts)
    assert proc.rc == 0, proc.output
    assert (tmp_path / "plain").read_text() == "smtp.gmail.com:465 tls -\n"
    assert (tmp_path / "with_flags").read_text() == "smtp.gmail.com:465 tls True\n"
    assert (tmp_path / "plain").stat().st_mode & 0o777 == 0o600
    hosts["h"]["app_smtp_configs"][1]["validate"] = True  # now Python's parser must refuse the file
    (tmp_path / "with_flags").unlink()
    proc = apply_role(tmp_path, hosts)
    assert proc.rc != 0 and not (tmp_path / "with_flags").exists()
    assert f"{tmp_path / 'with_flags'} was not written: its checker (python3 -c" in proc.stdout, proc.stdout
    assert SECRET not in proc.output


DJANGO_SEND = """
import sys
import django
from django.conf import settings
sys.path.insert(0, sys.argv[1])
import mail_settings
settings.configure(**{k: v for k, v in vars(mail_settings).items() if k.isupper()})
django.setup()
if len(sys.argv) > 3:  # the name Django gives in EHLO, socket.getfqdn() otherwise: a host of that name
    from django.core.mail.utils import DNS_NAME
    DNS_NAME._fqdn = sys.argv[3]
from django.core.mail import send_mail
send_mail(sys.argv[2], "sent by Django with the settings app_smtp rendered", None, ["dest@example.com"])
"""


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_django_sends_through_the_emulator(gmail_emulator, tmp_path, security):
    """Real Django, rendered settings unedited; the emulator's CA comes from the environment."""
    if importlib.util.find_spec("django") is None:
        pytest.fail("Django is missing from the venv: add Django==5.2.19 (asgiref, sqlparse) to requirements-dev.txt")
    port = gmail_emulator.smtp_starttls_port if security == "starttls" else gmail_emulator.smtp_tls_port
    app = tmp_path / "app"
    app.mkdir()
    hosts = {"django": {**ACCOUNT, "app_smtp_host": "127.0.0.1", "app_smtp_port": port,
                        "app_smtp_security": security, "app_smtp_from_name": "Django app",
                        "app_smtp_configs": [{"preset": "django", "dest": str(app / "mail_settings.py")}]}}
    proc = apply_role(tmp_path, hosts)
    assert proc.rc == 0, proc.output
    subject = f"django over {security}"
    env = dict(os.environ, SSL_CERT_FILE=gmail_emulator.ca_file)
    sent = subprocess.run([sys.executable, "-c", DJANGO_SEND, str(app), subject], check=False, env=env,
                          capture_output=True, text=True, timeout=60)
    assert sent.returncode == 0, sent.stderr
    [message] = [m for m in gmail_emulator.messages() if m["subject"] == subject]
    assert message["auth_user"] == USER
    assert message["listener"] == ("smtp-starttls" if security == "starttls" else "smtp-tls")
    assert message["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert message["rcpt_tos"] == ["dest@example.com"]


def test_django_refuses_an_unverified_server(gmail_emulator, tmp_path):
    """The same rendered settings without the emulator's CA in the trust store fail: TLS is verified."""
    app = tmp_path / "app"
    app.mkdir()
    hosts = {"django": {**ACCOUNT, "app_smtp_host": "127.0.0.1", "app_smtp_port": gmail_emulator.smtp_starttls_port,
                        "app_smtp_security": "starttls",
                        "app_smtp_configs": [{"preset": "django", "dest": str(app / "mail_settings.py")}]}}
    assert apply_role(tmp_path, hosts).rc == 0
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    sent = subprocess.run([sys.executable, "-c", DJANGO_SEND, str(app), "unverified"], check=False, env=env,
                          capture_output=True, text=True, timeout=60)
    assert sent.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in sent.stderr
    assert not [m for m in gmail_emulator.messages() if m["subject"] == "unverified"]


def test_django_sends_through_the_workspace_relay_by_address(gmail_emulator, tmp_path):
    """No login, no secret on the host: the relay takes the mail from an allowlisted address when the
    sender and the EHLO name (Django's is the host's FQDN) are in the domain, and refuses another name."""
    emu = gmail_emulator
    emu.set(relay_allowlist=["127.0.0.0/8"])
    app = tmp_path / "app"
    app.mkdir()
    # The relay's own port: smtplib connects by address here, so no SNI tells the relay apart.
    hosts = {"django": {**RELAY, "app_smtp_host": "127.0.0.1", "app_smtp_port": emu.smtp_relay_port,
                        "app_smtp_security": "starttls",
                        "app_smtp_configs": [{"preset": "django", "dest": str(app / "mail_settings.py")}]}}
    proc = apply_role(tmp_path, hosts)
    assert proc.rc == 0, proc.output
    rendered = app / "mail_settings.py"
    assert rendered.stat().st_mode & 0o777 == 0o644  # nothing secret in it
    assert parse("django", rendered)["EMAIL_HOST_USER"] == ""
    env = dict(os.environ, SSL_CERT_FILE=emu.ca_file)
    for name, subject in (("web1.example.com", "django via the relay"), ("web1.internal", "outside the domain")):
        sent = subprocess.run([sys.executable, "-c", DJANGO_SEND, str(app), subject, name], check=False, env=env,
                              capture_output=True, text=True, timeout=60)
        if name == "web1.internal":
            assert sent.returncode != 0 and "Invalid credentials for relay [127.0.0.1]" in sent.stderr, sent.stderr
        else:
            assert sent.returncode == 0, sent.stderr
    [message] = emu.messages()
    assert (message["subject"], message["service"], message["auth_user"]) == ("django via the relay", "relay", None)
    assert message["mail_from"] == WORKSPACE_USER and message["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert "from web1.example.com ([127.0.0.1])" in dict(message["headers"])["Received"]
