# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Container-free tests of the msmtp role.

- Bad input is refused before the host is touched, each case naming the variable.
- A check-mode run (-vvv --diff) on localhost changes nothing and prints no secret.
- The whole role, run for real on this machine inside a temporary root (tests/integration/temproot.py),
  writes files the real msmtp accepts and delivers with to the in-process emulator: STARTTLS and TLS
  with app passwords, XOAUTH2 through the role's token helper, a user's own account, aliases.

The whole role on real hosts (packages, modes, cron, mailx, idempotence) is the molecule
scenario extensions/molecule/msmtp.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from playbook import failures, run_playbook
from temproot import TempRoot

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "msmtp"
SECRET = "zyxwvutsrqponmlk"  # made-up app password: must never be printed
OAUTH_SECRET = "made-up-client-secret"
OAUTH = {"client_id": "id.apps.googleusercontent.com", "client_secret": OAUTH_SECRET, "refresh_token": "1//made-up"}
GOOD = {"msmtp_username": "ops.alerts@gmail.com", "msmtp_password": SECRET}

# host -> (variables, text the failure must contain)
BAD_INPUT = {
    "no_username": ({"msmtp_password": SECRET}, "msmtp_username"),
    "no_credential": ({"msmtp_username": "ops.alerts@gmail.com"}, "msmtp_password (an app password) or msmtp_oauth"),
    "both_credentials": ({**GOOD, "msmtp_oauth": OAUTH}, "msmtp_password and msmtp_oauth are both set"),
    "oauth_incomplete": ({"msmtp_username": "a@gmail.com", "msmtp_oauth": {"client_id": "x"}}, "msmtp_oauth"),
    "relay_sender_outside": ({"msmtp_service": "workspace_relay", "msmtp_from": "ops@other.example",
                              "msmtp_domains": ["example.com"], "msmtp_ehlo_name": "web1.example.com"},
                             "msmtp_from (ops@other.example) is not in your Workspace domains (example.com)"),
    "relay_ehlo_outside": ({"msmtp_service": "workspace_relay", "msmtp_from": "alerts@example.com",
                            "msmtp_ehlo_name": "web1.internal"},
                           "msmtp_ehlo_name (web1.internal) is not in your Workspace domains (example.com)"),
    "relay_gmail_domain": ({**GOOD, "msmtp_service": "workspace_relay", "msmtp_ehlo_name": "web1.gmail.com"},
                           "msmtp_domains: gmail.com is no Workspace domain"),
    "oauth_both_kinds": ({"msmtp_username": "a@gmail.com", "msmtp_oauth": dict(OAUTH, service_account_key="{}")},
                         "msmtp_oauth needs either client_id, client_secret and refresh_token, or a service account"),
    "refresh_without_client": ({"msmtp_username": "a@gmail.com", "msmtp_oauth": {"refresh_token": "1//x"}},
                               "msmtp_oauth with a refresh_token needs client_id and client_secret too"),
    "465_starttls": ({**GOOD, "msmtp_port": 465, "msmtp_tls_starttls": True},
                     "msmtp_tls_starttls=true does not work with msmtp_port=465"),
    "587_no_starttls": ({**GOOD, "msmtp_tls_starttls": False},
                        "msmtp_tls_starttls=false does not work with msmtp_port=587"),
    "2525_unstated": ({**GOOD, "msmtp_port": 2525}, "msmtp_port=2525 needs msmtp_tls_starttls stated: true"),
    "port_text": ({**GOOD, "msmtp_port": "smtp"}, "msmtp_port"),
    "bad_username": ({**GOOD, "msmtp_username": "ops.alerts"}, "msmtp_username and msmtp_from must be"),
    "bad_from": ({**GOOD, "msmtp_from": "noreply at example.com"}, "msmtp_username and msmtp_from must be"),
    "password_crlf": ({**GOOD, "msmtp_password": SECRET + "\r\nauth off"}, "msmtp_password contains a CR, LF"),
    "username_lf": ({**GOOD, "msmtp_username": "ops.alerts@gmail.com\nhost evil"}, "msmtp_username contains a CR"),
    "alias_lf": ({**GOOD, "msmtp_aliases": {"root": "a@example.com\nx: y@z.com"}}, "msmtp_aliases contains a CR"),
    "alias_bad": ({**GOOD, "msmtp_aliases": {"root": "admin"}}, "msmtp_aliases: root must be"),
    "default_bad": ({**GOOD, "msmtp_aliases_default": "root"}, "msmtp_aliases_default must be"),
    "test_to_bad": ({**GOOD, "msmtp_test_to": "root@localhost"}, "msmtp_test_to must be"),
    "from_header": ({**GOOD, "msmtp_set_from_header": "always"}, "msmtp_set_from_header"),
    "user_missing": (
        {**GOOD, "msmtp_users": [{"name": "no-such-user-x", "username": "a@gmail.com", "password": SECRET}]},
        "msmtp_users[0].name no-such-user-x is not a local user",
    ),
    "user_twice": (
        {**GOOD, "msmtp_users": [{"name": "root", "username": "a@gmail.com", "password": SECRET}] * 2},
        "is not a local user, or is listed twice",
    ),
    "user_no_home": (
        {**GOOD, "msmtp_users": [{"name": "nobody", "username": "a@gmail.com", "password": SECRET}]},
        "msmtp_users[0].name nobody has no home directory",
    ),
    "user_bad_address": (
        {**GOOD, "msmtp_users": [{"name": "root", "username": "root", "password": SECRET}]},
        "msmtp_users[0].username and msmtp_users[0].from must be",
    ),
    "user_both": (
        {**GOOD, "msmtp_users": [{"name": "root", "username": "a@gmail.com", "password": SECRET, "oauth": OAUTH}]},
        "msmtp_users[0].password and msmtp_users[0].oauth are both set",
    ),
    "user_465_starttls": (
        {
            **GOOD,
            "msmtp_users": [
                {"name": "root", "username": "a@gmail.com", "password": SECRET, "port": 465, "tls_starttls": True}
            ],
        },
        "msmtp_users[0].tls_starttls=true does not work with msmtp_users[0].port=465",
    ),
    "user_crlf": (
        {**GOOD, "msmtp_users": [{"name": "root", "username": "a@gmail.com", "password": SECRET + "\n"}]},
        "msmtp_users contains a CR, LF",
    ),
    "group_oauth": (
        {"msmtp_username": "a@gmail.com", "msmtp_oauth": OAUTH, "msmtp_group_access": True},
        "msmtp_group_access cannot be used with msmtp_oauth",
    ),
    "queue_no_sendmail": ({**GOOD, "msmtp_queue": True, "msmtp_sendmail": False}, "msmtp_queue needs msmtp_sendmail"),
}


def test_bad_input_is_refused_with_the_variable_named(tmp_path):
    hosts = {name: case[0] for name, case in BAD_INPUT.items()}
    play = [{"hosts": "all", "gather_facts": False, "roles": ["mailops.gmail.msmtp"]}]
    result = run_playbook(tmp_path, play, extra_args=["--check", "--forks", "10"], hosts=hosts)
    assert result.rc != 0
    found = failures(result)
    assert found.keys() == BAD_INPUT.keys(), result.output[-3000:]
    wrong = {name: found[name] for name, (_dummy, expected) in BAD_INPUT.items() if expected not in found[name]}
    assert wrong == {}
    assert not any("Traceback" in message for message in found.values())
    # Only validation and preflight ran: nothing was installed or written.
    ran = {entry["task"].split(" : ")[-1] for entry in result.tasks}
    assert all(task.startswith(("Validat", "Check ", "Refuse ", "Keep the host", "Look at")) for task in ran), ran
    assert SECRET not in result.output and OAUTH_SECRET not in result.output


def test_check_mode_changes_nothing_and_prints_no_secret(tmp_path):
    """The whole role in check mode on this machine: a preview, and not one secret in -vvv --diff."""
    variables = {
        "msmtp_username": "ops.alerts@gmail.com",
        "msmtp_oauth": OAUTH,
        "msmtp_users": [{"name": "root", "username": "team.reports@gmail.com", "password": SECRET}],
        "msmtp_aliases": {"root": "admin@example.com"},
        "msmtp_test_to": "admin@example.com",
    }
    play = [{"hosts": "localhost", "gather_facts": False, "vars": variables, "roles": ["mailops.gmail.msmtp"]}]
    before = {path: path.exists() for path in map(Path, ("/etc/msmtprc", "/root/.msmtprc", "/etc/msmtp"))}
    result = run_playbook(tmp_path, play, extra_args=["--check", "--diff", "-vvv"])
    assert result.rc == 0, result.output[-3000:]
    assert {path: path.exists() for path in before} == before
    for secret in (SECRET, OAUTH_SECRET, OAUTH["refresh_token"]):
        assert secret not in result.output
    assert '+passwordeval "cat /root/.config/msmtp/gmail.password"' in result.output  # the diff is shown
    assert "auth xoauth2" in result.output


# --- the role run for real in a temporary root, then the real msmtp against the emulator ---------

MESSAGE = "Subject: {subject}\nTo: {to}\n\nbody of {subject}\n"


@pytest.fixture(scope="module")
def roots(tmp_path_factory, gmail_emulator_server):
    """The whole role, once per case, on this machine inside a temporary root (tests/integration/
    temproot.py: what it writes to /etc, /usr, /var and /root is thrown away afterwards), with the
    emulator as server; return case -> the root, where msmtp then runs with what the role wrote."""
    emu = gmail_emulator_server
    tmp_path = tmp_path_factory.mktemp("msmtp-roles")
    base = {
        "msmtp_host": emu.host,
        "msmtp_tls_trust_file": emu.ca_file,
        "msmtp_syslog": False,
        # This machine has msmtp but not msmtp-mta or bsd-mailx; the role installs nothing then.
        "msmtp_sendmail": False,
        "msmtp_mailx": False,
        "msmtp_aliases": {"root": "team.reports@gmail.com"},
        "msmtp_aliases_default": "ops.alerts@gmail.com",
    }
    starttls = {"msmtp_port": emu.smtp_starttls_port, "msmtp_tls_starttls": True}
    cases = {
        "starttls": {**base, **starttls, **GOOD, "msmtp_password": "abcdefghijklmnop"},
        "tls": {**base, **GOOD, "msmtp_password": "abcdefghijklmnop", "msmtp_port": emu.smtp_tls_port,
                "msmtp_tls_starttls": False},
        "oauth": {
            **base,
            **starttls,
            "msmtp_username": "ops.alerts@gmail.com",
            "msmtp_oauth": {
                "client_id": "emulator-client-id.apps.googleusercontent.com",
                "client_secret": "emulator-client-secret",
                "refresh_token": "1//refresh-ops-alerts",
                "token_uri": emu.token_uri,
            },
        },
        # A Workspace service account's key (the JWT-bearer grant), acting as msmtp_username.
        "service_account": {
            **base,
            **starttls,
            "msmtp_username": "ops.alerts@gmail.com",
            "msmtp_oauth": {"service_account_key": Path(emu.service_account_files["relay-sender"]).read_text(),
                            "token_uri": emu.token_uri},
        },
        # Google Workspace's SMTP relay by address: no login, no secret (the relay's own port here).
        "relay": {
            **base,
            "msmtp_service": "workspace_relay", "msmtp_port": emu.smtp_relay_port, "msmtp_tls_starttls": True,
            "msmtp_username": "", "msmtp_password": "", "msmtp_from": "alerts@example.com",
            "msmtp_ehlo_name": "web1.example.com", "msmtp_aliases_default": "alerts@example.com",
            "msmtp_aliases": {"root": "alerts@example.com"},
        },
        # A listed user's own account (root's ~/.msmtprc).
        "user": {**base, **starttls, **GOOD, "msmtp_users": [
            {"name": "root", "username": "team.reports@gmail.com", "password": "ponmlkjihgfedcba"}]},
        # Group access: the password inline in /etc/msmtprc, quoted.
        "inline": {**base, **starttls, **GOOD, "msmtp_password": "abcd efgh ijkl mnop", "msmtp_group_access": True},
    }
    play = [{"hosts": "localhost", "gather_facts": False, "roles": ["mailops.gmail.msmtp"]}]
    found = {}
    with contextlib.ExitStack() as stack:
        for name, variables in cases.items():
            root = stack.enter_context(TempRoot(tmp_path / name / "root"))
            work = tmp_path / name / "run"
            work.mkdir()
            result = run_playbook(work, [{**play[0], "vars": variables}], prefix=root.prefix)
            assert result.rc == 0, result.output[-3000:]
            assert "abcdefghijklmnop" not in result.output and "ponmlkjihgfedcba" not in result.output
            assert "PRIVATE KEY" not in result.output
            found[name] = root
        yield found


def send(root, *recipients, subject="test", config="/etc/msmtprc"):
    message = MESSAGE.format(subject=subject, to=", ".join(recipients))
    return root.run(["msmtp", "-C", config, "--", *recipients], input=message, timeout=60)


@pytest.mark.parametrize(
    ("case", "user", "mechanism", "tls_mode"),
    [
        ("starttls", "ops.alerts@gmail.com", "PLAIN", "starttls"),
        ("tls", "ops.alerts@gmail.com", "PLAIN", "tls"),
        ("oauth", "ops.alerts@gmail.com", "XOAUTH2", "starttls"),
        ("service_account", "ops.alerts@gmail.com", "XOAUTH2", "starttls"),
        ("user", "team.reports@gmail.com", "PLAIN", "starttls"),
        ("inline", "ops.alerts@gmail.com", "PLAIN", "starttls"),
    ],
)
def test_msmtp_delivers_with_what_the_role_wrote(roots, gmail_emulator, case, user, mechanism, tls_mode):
    config = "/root/.msmtprc" if case == "user" else "/etc/msmtprc"
    result = send(roots[case], "root", "someone@example.org", subject=case, config=config)
    assert result.returncode == 0, result.stderr
    (session,) = [s for s in gmail_emulator.sessions() if s.get("auth_user")]
    assert session["auth_user"] == user and session["auth_mechanism"] == mechanism, session
    assert session["tls_version"].startswith("TLSv1.")
    assert session["starttls"] == (tls_mode == "starttls"), session
    (message,) = gmail_emulator.messages()
    assert message["rcpt_tos"] == ["team.reports@gmail.com", "someone@example.org"]  # root -> its alias
    assert message["mail_from"] == user and message["subject"] == case


def test_the_workspace_relay_takes_mail_from_an_allowed_address_without_a_login(roots, gmail_emulator):
    root = roots["relay"]
    config = root.read("/etc/msmtprc")
    assert "\nauth off\n" in config and "\ndomain web1.example.com\n" in config and "\nuser " not in config
    assert root.run(["ls", "/etc/msmtp"]).stdout.split() == []  # no credential file at all
    gmail_emulator.set(relay_allowlist=["10.0.0.0/8"])
    refused = send(root, "someone@example.org", subject="refused")
    assert refused.returncode != 0 and "Invalid credentials for relay" in refused.stderr, refused.stderr
    gmail_emulator.set(relay_allowlist=["127.0.0.0/8"])
    assert send(root, "someone@example.org", subject="relayed").returncode == 0
    [message] = gmail_emulator.messages()
    assert (message["service"], message["auth_user"], message["mail_from"]) == ("relay", None, "alerts@example.com")
    assert "from web1.example.com" in dict(message["headers"])["Received"]


def test_the_role_wrote_private_files_and_no_secret_outside_them(roots):
    root = roots["starttls"]
    modes = root.run(["stat", "-c", "%n %a %U:%G", "/etc/msmtprc", "/etc/msmtp/gmail.password"]).stdout.split("\n")
    assert modes[:2] == ["/etc/msmtprc 600 root:root", "/etc/msmtp/gmail.password 600 root:root"]
    assert "abcdefghijklmnop" not in root.read("/etc/msmtprc")
    inline = roots["inline"].run(["stat", "-c", "%a %U:%G", "/etc/msmtprc"]).stdout.strip()
    assert inline == "640 root:msmtp"


def test_other_local_names_go_to_the_default_alias(roots, gmail_emulator):
    # One local name per message: msmtp 1.8.23 expands only the first local recipient of a message.
    assert send(roots["starttls"], "www-data").returncode == 0
    assert [m["rcpt_tos"] for m in gmail_emulator.messages()] == [["ops.alerts@gmail.com"]]


def test_oauth_token_is_cached_between_mails(roots, gmail_emulator):
    root = roots["oauth"]
    root.run(["rm", "-f", "/var/cache/msmtp/gmail-oauth-token.json"])
    for n in range(2):
        assert send(root, "someone@example.org", subject=f"oauth {n}").returncode == 0
    assert len(gmail_emulator.token_requests()) == 1
    assert len(gmail_emulator.messages()) == 2


def test_revoked_refresh_token_reaches_the_user(roots, gmail_emulator):
    root = roots["oauth"]
    good = root.read("/etc/msmtp/gmail-oauth.json")
    root.write("/etc/msmtp/gmail-oauth.json", json.dumps(dict(json.loads(good), refresh_token="1//refresh-revoked")))
    root.run(["rm", "-f", "/var/cache/msmtp/gmail-oauth-token.json"])
    try:
        result = send(root, "someone@example.org")
    finally:
        root.write("/etc/msmtp/gmail-oauth.json", good)
    assert result.returncode != 0
    assert "invalid_grant" in result.stderr and "7 days" in result.stderr, result.stderr
    assert gmail_emulator.messages() == []


def test_wrong_app_password_fails_clearly(roots, gmail_emulator):
    root = roots["starttls"]
    good = root.read("/etc/msmtp/gmail.password")
    root.write("/etc/msmtp/gmail.password", "wrongwrongwrongw")
    try:
        result = send(root, "someone@example.org")
    finally:
        root.write("/etc/msmtp/gmail.password", good)
    assert result.returncode != 0 and "5.7.8" in result.stderr, result.stderr
    assert gmail_emulator.messages() == []
