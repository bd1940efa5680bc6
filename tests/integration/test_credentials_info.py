# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""mailops.gmail.credentials_info through ansible-playbook against the Gmail emulator.

Many cases share one playbook run (every ansible-playbook start costs about 2 s): each case is
one task with its own EHLO name ("case-N.test"), so the emulator's session records can be told
apart per case; faults are switched between tasks through the emulator's control API.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

from playbook import ANSIBLE_PLAYBOOK, COLLECTIONS, run_playbook

MODULE = "mailops.gmail.credentials_info"
OPS, TEAM, BLOCKED = "ops.alerts@gmail.com", "team.reports@gmail.com", "blocked.user@gmail.com"
OPS_PW, TEAM_PW = "abcdefghijklmnop", "ponmlkjihgfedcba"
CLIENT = {"client_id": "emulator-client-id.apps.googleusercontent.com", "client_secret": "emulator-client-secret"}
ALL = ["smtp", "imap", "pop"]


def defaults(emu, **extra):
    """module_defaults pointing every endpoint at the emulator."""
    args = {
        "host": emu.host,
        "port": emu.smtp_starttls_port,
        "security": "starttls",
        "imap_host": emu.host,
        "imap_port": emu.imap_port,
        "pop_host": emu.host,
        "pop_port": emu.pop_port,
        "ca_file": emu.ca_file,
        "timeout": 5,
    }
    args.update(extra)
    return {MODULE: {key: value for key, value in args.items() if value is not None}}


def oauth(emu, refresh_token="1//refresh-ops-alerts", **extra):
    return dict(CLIENT, refresh_token=refresh_token, token_uri=emu.token_uri, **extra)


# Secrets reach tasks as variables, as they would from a vault: Ansible 2.19 prints the source
# lines of a failed task, so a literal secret in the playbook would show up in the output.
SECRETS = {
    "ops_pw": OPS_PW,
    "ops_token": "ya29.valid-ops-alerts",
    "client_secret": CLIENT["client_secret"],
    "ops_refresh": "1//refresh-ops-alerts",
}


def vaulted(value):
    """value with every secret replaced by a reference to its play variable."""
    if isinstance(value, dict):
        return {key: vaulted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [vaulted(item) for item in value]
    if isinstance(value, str):
        for name, secret in SECRETS.items():
            value = value.replace(secret, "{{ %s }}" % name)
    return value


def play(emu, tasks, **module_defaults):
    return [
        {
            "name": "credentials_info",
            "hosts": "localhost",
            "gather_facts": False,
            "vars": dict(SECRETS),
            "module_defaults": defaults(emu, **module_defaults),
            "tasks": vaulted(tasks),
        }
    ]


def smtp_sessions(emu, marker):
    return [s for s in emu.sessions() if s["protocol"] == "smtp" and f"EHLO {marker}" in s["commands"]]


def test_valid_credentials_on_every_protocol(gmail_emulator, tmp_path):
    emu = gmail_emulator
    tls = {"port": emu.smtp_tls_port, "security": "tls"}
    cases = {
        "App password, SMTP 587 starttls": {"username": OPS, "password": OPS_PW},
        "App password with spaces, SMTP 465 tls, IMAP, POP": dict(
            tls, username=TEAM, password="ponm lkji hgfe dcba", protocols=ALL
        ),
        "OAuth refresh token, SMTP 587, IMAP, POP": {"username": OPS, "oauth": oauth(emu), "protocols": ALL},
        "OAuth refresh token, SMTP 465": dict(tls, username=TEAM, oauth=oauth(emu, "1//refresh-team-reports")),
        "Access token, SMTP 465, IMAP, POP": dict(
            tls, username=OPS, access_token="ya29.valid-ops-alerts", protocols=ALL
        ),
    }
    tasks = [{"name": name, MODULE: args} for name, args in cases.items()]
    tasks.append({"name": "Check mode", MODULE: {"username": OPS, "password": OPS_PW}, "check_mode": True})
    result = run_playbook(tmp_path, play(emu, tasks))
    assert result.rc == 0, result.output

    for name, args in list(cases.items()) + [("Check mode", {})]:
        out = result.task(name)
        assert out["valid"] is True and out["changed"] is False, name
        for proto in args.get("protocols", ["smtp"]):
            check = out[proto]
            assert check["authenticated"] and check["error"] is None, (name, proto, check)
            assert check["tls_version"] in ("TLSv1.2", "TLSv1.3")
            expected = "XOAUTH2" if ("oauth" in args or "access_token" in args) else {"smtp": "PLAIN"}.get(proto)
            if expected:
                assert check["mechanism"] == expected, (name, proto)
        assert set(out) & {"imap", "pop"} == set(args.get("protocols", [])) - {"smtp"}, name
    smtp = result.task("App password, SMTP 587 starttls")["smtp"]
    assert smtp["security"] == "starttls" and smtp["server_extensions"]["SIZE"] == "35882577"
    assert "XOAUTH2" in smtp["server_extensions"]["AUTH"].split()
    assert result.task("OAuth refresh token, SMTP 465")["smtp"]["security"] == "tls"

    # Never sends mail; every session ends with QUIT or LOGOUT.
    sessions = emu.sessions()
    assert emu.messages() == []
    assert len(sessions) == 1 + 3 + 3 + 1 + 3 + 1
    assert {s["closed_by"] for s in sessions} <= {"quit", "logout"}
    assert not any(c.split()[0].upper() in ("MAIL", "RCPT", "DATA") for s in sessions for c in s["commands"])
    assert len(emu.token_requests()) == 2


# name -> (module args, {protocol: (category, code, enhanced_code)}); no faults needed.
FAILURES = {
    "535 5.7.8 wrong app password": (
        {"username": OPS, "password": "wrong-app-password", "protocols": ALL},
        {"smtp": ("auth", 535, "5.7.8"), "imap": ("auth", None, None), "pop": ("auth", None, None)},
    ),
    "534 5.7.9 account password on 465": (
        {"username": OPS, "password": "correct-horse-battery", "protocols": ALL, "tls": True},
        {p: ("app_password_required", 534 if p == "smtp" else None, "5.7.9" if p == "smtp" else None) for p in ALL},
    ),
    "534 5.7.14 blocked sign-in": (
        {"username": BLOCKED, "password": "qrstuvwxyzabcdef", "protocols": ALL},
        {p: ("web_login_required", 534 if p == "smtp" else None, "5.7.14" if p == "smtp" else None) for p in ALL},
    ),
    "XOAUTH2 with an expired token": (
        {"username": OPS, "access_token": "ya29.expired-ops-alerts", "protocols": ALL, "tls": True},
        {"smtp": ("auth", 535, "5.7.8"), "imap": ("auth", None, None), "pop": ("auth", None, None)},
    ),
    "Revoked refresh token": (
        {"username": OPS, "oauth": "1//refresh-revoked", "protocols": ["smtp", "imap"]},
        {p: ("oauth_invalid_grant", None, None) for p in ("smtp", "imap")},
    ),
    "Wrong client secret": (
        {"username": OPS, "oauth": "1//refresh-ops-alerts", "client_secret": "not-the-secret"},
        {"smtp": ("oauth_invalid_client", None, None)},
    ),
    "Untrusted CA (system store)": (
        {"username": OPS, "password": OPS_PW, "protocols": ALL, "ca_file": None},
        {p: ("certificate", None, None) for p in ALL},
    ),
    "Refused connection": (
        {"username": OPS, "password": OPS_PW, "port": "refused", "security": "tls"},
        {"smtp": ("refused", None, None)},
    ),
    "Name that does not resolve": (
        {"username": OPS, "password": OPS_PW, "host": "no-such-host.invalid"},
        {"smtp": ("dns", None, None)},
    ),
}
NOT_REACHED = ("refused", "dns", "oauth_invalid_grant", "oauth_invalid_client")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def case_task(emu, number, name, args):
    """One module task; EHLO case-<number>.test tells its SMTP session apart in the records."""
    args = dict(args, ehlohost=f"case-{number}.test", fail_on_invalid=False)
    if args.pop("tls", False):
        args.update(port=emu.smtp_tls_port, security="tls")
    if isinstance(args.get("oauth"), str):
        extra = {"client_secret": args.pop("client_secret")} if "client_secret" in args else {}
        args["oauth"] = oauth(emu, args["oauth"], **extra)
    if args.get("port") == "refused":
        args["port"] = free_port()
    return {"name": name, MODULE: args}


def assert_classified(out, name, expected):
    assert out["valid"] is False and out["changed"] is False, name
    for proto, (category, code, enhanced) in expected.items():
        error = out[proto]["error"]
        assert (error["category"], error["code"], error["enhanced_code"]) == (category, code, enhanced), (
            name,
            proto,
            error,
        )
        assert error["remediation"] and "\n" not in error["message"], (name, proto)
        assert not out[proto]["authenticated"]


def test_failures_are_classified_without_retry(gmail_emulator, tmp_path):
    emu = gmail_emulator
    tasks = [case_task(emu, number, name, args) for number, (name, (args, _dummy)) in enumerate(FAILURES.items())]
    tasks.append(
        {
            "name": "fail_on_invalid fails the task with message and remediation",
            MODULE: {"username": OPS, "password": "correct-horse-battery"},
            "ignore_errors": True,
        }
    )
    result = run_playbook(tmp_path, play(emu, tasks))
    assert result.rc == 0, result.output

    for number, (name, (_dummy, expected)) in enumerate(FAILURES.items()):
        assert_classified(result.task(name), name, expected)
        if "smtp" in expected:
            # One session per case, no retry; none when the failure comes before the server is reached.
            reached = expected["smtp"][0] not in NOT_REACHED
            assert len(smtp_sessions(emu, f"case-{number}.test")) == int(reached), name
    message = result.task("534 5.7.9 account password on 465")["smtp"]["error"]["message"]
    assert message.startswith(f"Authentication to {emu.host}:{emu.smtp_tls_port} failed (534 5.7.9)")
    failed = result.task("fail_on_invalid fails the task with message and remediation")
    assert result.status("fail_on_invalid fails the task with message and remediation") == "failed"
    assert failed["valid"] is False
    assert "(534 5.7.9)" in failed["msg"] and "create an app password" in failed["msg"]
    assert emu.messages() == []


# Fault rules count occurrences per stage and protocol; the cases below run in this order, so
# "nth" picks the case. The last case finds no rule left and meets IMAP/POP switched off.
FAULTS = [
    {"stage": "connect", "action": "reply", "nth": 1},  # 421 4.7.0 at the greeting
    {"stage": "auth", "action": "reply", "nth": 1, "reply": "530 5.7.0 Must issue a STARTTLS command first."},
    {"stage": "auth", "action": "reply", "nth": 2, "reply": "454 4.7.0 Too many login attempts, try again later."},
    {"stage": "login", "protocol": "imap", "action": "reply", "nth": 1},  # NO [UNAVAILABLE]
    {"stage": "login", "protocol": "pop", "action": "drop", "nth": 1},
    {"stage": "connect", "action": "silent", "nth": 4},
    {"stage": "login", "protocol": "imap", "action": "silent", "nth": 2},
    {"stage": "login", "protocol": "pop", "action": "silent", "nth": 2},
]
FAULT_CASES = {
    "421 at greeting": ({"username": OPS, "password": OPS_PW}, {"smtp": ("temporary", 421, "4.7.0")}),
    "530 5.7.0 server ignores STARTTLS order": (
        {"username": OPS, "password": OPS_PW},
        {"smtp": ("starttls_required", 530, "5.7.0")},
    ),
    "454 4.7.0 throttled": ({"username": OPS, "password": OPS_PW, "tls": True}, {"smtp": ("throttled", 454, "4.7.0")}),
    "IMAP unavailable, POP drops at login": (
        {"username": OPS, "password": OPS_PW, "protocols": ["imap", "pop"]},
        {"imap": ("temporary", None, None), "pop": ("disconnected", None, None)},
    ),
    "Silent server": (
        {"username": OPS, "password": OPS_PW, "protocols": ALL, "timeout": 2},
        {p: ("timeout", None, None) for p in ALL},
    ),
    "IMAP and POP switched off": (
        {"username": OPS, "password": OPS_PW, "protocols": ["imap", "pop"]},
        {p: ("service_disabled", None, None) for p in ("imap", "pop")},
    ),
}


def test_server_faults_are_classified_without_retry(gmail_emulator, tmp_path):
    emu = gmail_emulator
    emu.set_faults(FAULTS)
    emu.set(imap_enabled=False, pop_enabled=False)
    tasks = [case_task(emu, number, name, args) for number, (name, (args, _dummy)) in enumerate(FAULT_CASES.items())]
    silent = list(FAULT_CASES).index("Silent server")
    elapsed = "{{ now().timestamp() | float - t0 | float }}"
    tasks[silent:silent] = [{"name": "Start", "ansible.builtin.set_fact": {"t0": "{{ now().timestamp() }}"}}]
    tasks.insert(silent + 2, {"name": "Elapsed", "ansible.builtin.set_fact": {"elapsed": elapsed}})
    result = run_playbook(tmp_path, play(emu, tasks))
    assert result.rc == 0, result.output

    for name, (_dummy, expected) in FAULT_CASES.items():
        assert_classified(result.task(name), name, expected)
    assert all(result.task("Silent server")[p]["error"]["temporary"] for p in ALL)
    # timeout 2 s + 1 s, plus what the module run itself costs (AnsiballZ, on a loaded machine).
    elapsed = float(result.task("Elapsed")["ansible_facts"]["elapsed"])
    assert elapsed < 2 + 1 + 2, elapsed
    sessions = emu.sessions()
    # One session per case and protocol (no retry): SMTP 421, 530, 454, silent; IMAP unavailable, silent, off.
    assert len([s for s in sessions if s["protocol"] == "smtp"]) == 4
    assert len([s for s in sessions if s["protocol"] == "imap"]) == 3


def test_wrong_certificate_fails_before_auth(gmail_emulator, tmp_path):
    emu = gmail_emulator
    emu.set(wrong_cert=True)
    tasks = [
        case_task(emu, 0, "Wrong name", {"username": OPS, "password": OPS_PW, "protocols": ALL}),
        case_task(emu, 1, "Wrong name on 465", {"username": OPS, "access_token": "ya29.valid-ops-alerts", "tls": True}),
    ]
    result = run_playbook(tmp_path, play(emu, tasks))
    assert result.rc == 0, result.output
    assert_classified(result.task("Wrong name"), "Wrong name", {p: ("certificate", None, None) for p in ALL})
    assert_classified(result.task("Wrong name on 465"), "465", {"smtp": ("certificate", None, None)})
    assert "certificate is not valid for '127.0.0.1'" in result.task("Wrong name")["smtp"]["error"]["message"]
    for session in emu.sessions():
        assert session.get("auth_user") is None and session.get("auth_mechanism") is None
        assert not any(c.split(" ")[0].upper() in ("AUTH", "USER", "PASS") for c in session["commands"])
        assert not any(" LOGIN" in c.upper() or " AUTHENTICATE" in c.upper() for c in session["commands"])


BAD_INPUT = [
    ("Missing username", {"password": OPS_PW}, "missing required arguments: username"),
    (
        "Password and access token",
        {"username": OPS, "password": OPS_PW, "access_token": "ya29.valid-ops-alerts"},
        "mutually exclusive: password|access_token|oauth",
    ),
    ("No credential", {"username": OPS}, "give one of password, access_token or oauth"),
    (
        "OAuth without refresh_token",
        {"username": OPS, "oauth": dict(CLIENT)},
        "one of the following is required: refresh_token, service_account_file, service_account_key found in oauth",
    ),
    (
        "OAuth refresh_token without client_secret",
        {"username": OPS, "oauth": {"client_id": CLIENT["client_id"], "refresh_token": "1//refresh-ops-alerts"}},
        "missing parameter(s) required by 'refresh_token': client_secret found in oauth",
    ),
    (
        "465 with starttls",
        {"username": OPS, "password": OPS_PW, "port": 465, "security": "starttls"},
        "security=starttls does not work with port=465: port 465 uses security=tls",
    ),
    (
        "587 with tls",
        {"username": OPS, "password": OPS_PW, "port": 587, "security": "tls"},
        "security=tls does not work with port=587: port 587 uses security=starttls",
    ),
    (
        "Other port without security",
        {"username": OPS, "password": OPS_PW, "port": 2525},
        "port=2525 needs security stated",
    ),
    ("Port 0", {"username": OPS, "password": OPS_PW, "port": 0}, "port must be a TCP port between 1 and 65535, got 0"),
    (
        "Port 70000",
        {"username": OPS, "password": OPS_PW, "port": 70000, "security": "tls"},
        "port must be a TCP port between 1 and 65535, got 70000",
    ),
    ("IMAP port 70000", {"username": OPS, "password": OPS_PW, "imap_port": 70000}, "imap_port must be a TCP port"),
    (
        "Unknown protocol",
        {"username": OPS, "password": OPS_PW, "protocols": ["smtp", "nntp"]},
        "value of protocols must be one or more of: smtp, imap, pop. Got no match for: nntp",
    ),
    ("No protocol", {"username": OPS, "password": OPS_PW, "protocols": []}, "protocols must name at least one"),
    (
        "Username not an address",
        {"username": "ops.alerts", "password": OPS_PW},
        "username must be a full e-mail address",
    ),
    (
        "CR/LF in password",
        {"username": OPS, "password": OPS_PW + "\r\nQUIT"},
        "password must not contain CR, LF or NUL",
    ),
    (
        "CR/LF in host",
        {"username": OPS, "password": OPS_PW, "host": "smtp.gmail.com\nx"},
        "host must not contain CR, LF or NUL",
    ),
    (
        "CR/LF in ehlohost",
        {"username": OPS, "password": OPS_PW, "ehlohost": "a\r\nMAIL FROM:<x@y.z>"},
        "ehlohost must not contain CR, LF or NUL",
    ),
    (
        "CR/LF in oauth",
        {"username": OPS, "oauth": dict(CLIENT, refresh_token="1//refresh-ops-alerts\n")},
        "oauth.refresh_token must not contain CR, LF or NUL",
    ),
    (
        "Unreadable ca_file",
        {"username": OPS, "password": OPS_PW, "ca_file": "/nonexistent/ca.pem"},
        "ca_file=/nonexistent/ca.pem cannot be read",
    ),
    ("Timeout 0", {"username": OPS, "password": OPS_PW, "timeout": 0}, "timeout must be a positive number"),
    (
        "token_uri over http",
        {"username": OPS, "oauth": dict(CLIENT, refresh_token="1//x", token_uri="http://x/token")},
        "oauth.token_uri must be an https:// URL",
    ),
]


def assert_refused(result, table, emu):
    """Each case (name, args, words) of `table` failed with `words` in its message: no traceback, no secret
    in the output, and no connection made."""
    assert result.rc == 0, result.output
    for name, _dummy, words in table:
        out = result.task(name)
        assert result.status(name) == "failed", (name, out)
        assert words in out["msg"], (name, out["msg"])
        assert "Traceback" not in json.dumps(out), name
    for secret in SECRETS.values():
        assert secret not in result.output
    assert emu.sessions() == []  # refused before any connection


def test_bad_input_is_refused_with_the_parameter_named(gmail_emulator, tmp_path):
    emu = gmail_emulator
    tasks = [{"name": name, MODULE: args, "ignore_errors": True} for name, args, _dummy in BAD_INPUT]
    assert_refused(run_playbook(tmp_path, play(emu, tasks, port=587, security=None)), BAD_INPUT, emu)


def test_docs_render():
    doc = ANSIBLE_PLAYBOOK.with_name("ansible-doc")
    env = {"ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS), "PATH": str(doc.parent), "HOME": str(Path.home())}
    for args in (["mailops.gmail.credentials_info"], ["-t", "lookup", "mailops.gmail.access_token"]):
        proc = subprocess.run([str(doc), *args], capture_output=True, text=True, env=env, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        assert "EXAMPLES" in proc.stdout and "RETURN VALUES" in proc.stdout
