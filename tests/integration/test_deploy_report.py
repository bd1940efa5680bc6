# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""The deploy_report callback through ansible-playbook against the emulator."""

from __future__ import annotations

import glob
import json
import os
import socket
import threading
import time

import pytest

from test_send import assert_no_secret, conn, control, run_play, send
from test_service_account import key_file, key_material

SECRET_ARG = "s3cr3t-deploy-argument"  # appears only in module arguments and under no_log


def env_for(emu, tmp_path, **extra):
    env = {"ANSIBLE_CALLBACKS_ENABLED": "record_results,mailops.gmail.deploy_report",
           "MAILOPS_GMAIL_REPORT_TO": "dev@example.com,lead@example.com",
           "MAILOPS_GMAIL_REPORT_USERNAME": "ops.alerts@gmail.com",
           "MAILOPS_GMAIL_REPORT_PASSWORD": "abcdefghijklmnop", "MAILOPS_GMAIL_REPORT_HOST": emu.host,
           "MAILOPS_GMAIL_REPORT_PORT": str(emu.smtp_starttls_port), "MAILOPS_GMAIL_REPORT_CA_FILE": emu.ca_file,
           "MAILOPS_GMAIL_REPORT_SECURITY": "starttls", "MAILOPS_GMAIL_REPORT_TIMEOUT": "3",
           "MAILOPS_GMAIL_REPORT_RETRIES": "0", "MAILOPS_GMAIL_REPORT_QUOTA_DIR": str(tmp_path / "quota"),
           "MAILOPS_GMAIL_REPORT_SPOOL_DIR": str(tmp_path / "spool"),
           "MAILOPS_GMAIL_REPORT_IMAP_HOST": emu.host, "MAILOPS_GMAIL_REPORT_IMAP_PORT": str(emu.imap_port),
           "MAILOPS_GMAIL_REPORT_CONFIRM_TIMEOUT": "1"}
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


TASKS = [
    {"name": "Fine", "ansible.builtin.command": "true", "register": "fine"},
    {"name": "Secret failure", "ansible.builtin.fail": {"msg": f"token {SECRET_ARG}"}, "no_log": True,
     "ignore_errors": True, "register": "hidden"},
    {"name": "Failing command", "ansible.builtin.command": f"false {SECRET_ARG}", "register": "boom",
     "ignore_errors": True},
    {"name": "Deploy failed", "ansible.builtin.fail": {"msg": "health check of app failed"}},
]


def eml_texts(emu):
    paths = glob.glob(f"{emu.records_dir}/**/*.eml", recursive=True)
    return [open(p, encoding="utf-8", errors="replace").read() for p in paths]


def test_report_arrives_once_without_secrets(gmail_emulator, tmp_path):
    emu = gmail_emulator
    proc, _registered = run_play(tmp_path, TASKS, extra_args=("-vvv", "--diff"), env=env_for(emu, tmp_path))
    assert proc.rc == 2  # the failed task, not the callback
    [message] = emu.messages()
    assert message["subject"] == "[FAILED] playbook.yml on " + message["subject"].split(" on ")[1]
    assert sorted(message["rcpt_tos"]) == ["dev@example.com", "lead@example.com"]
    body = message["body"]
    assert "Deploy failed (FAILED)" in body and "health check of app failed" in body
    assert "Secret failure (FAILED)" not in body  # ignored failures are not deployment failures
    [eml] = eml_texts(emu)
    assert "multipart/alternative" in eml and "text/html" in eml
    assert SECRET_ARG not in eml and SECRET_ARG not in body
    assert "report mailed to dev@example.com, lead@example.com" in proc.stdout
    assert_no_secret(proc.stdout, proc.stderr, eml)
    assert [s["auth_user"] for s in emu.sessions()] == ["ops.alerts@gmail.com"]


def test_failing_mail_server_warns_and_spools(gmail_emulator, tmp_path):
    emu = gmail_emulator
    tasks = [control(emu, "faults", [{"stage": "auth", "action": "reply", "times": 0,
                                      "reply": "535 5.7.8 Username and Password not accepted."}])] + TASKS
    proc, _registered = run_play(tmp_path, tasks, extra_args=("-vvv", "--check", "--diff"), env=env_for(emu, tmp_path))
    assert proc.rc == 2
    out = proc.stdout + proc.stderr
    assert "deploy_report: the report mail was not sent (Authentication to" in out and "report written to" in out
    [path] = glob.glob(str(tmp_path / "spool" / "*.eml"))
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    spooled = open(path, encoding="utf-8").read()
    assert "health check of app failed" in spooled and SECRET_ARG not in spooled
    [session] = emu.sessions()
    assert emu.messages() == [] and sum(c.startswith("AUTH") for c in session["commands"]) == 1
    assert_no_secret(out, spooled)


@pytest.mark.parametrize("eom", ["drop", "silent"])
def test_a_report_whose_connection_drops_after_the_dot_arrives_once(gmail_emulator, tmp_path, eom):
    """drop: the server kept it and Sent Mail says so; silent: it did not, and it is sent again once."""
    emu = gmail_emulator
    tasks = [control(emu, "faults", [{"stage": "eom", "action": eom}]), TASKS[0]]
    proc, _registered = run_play(tmp_path, tasks, env=env_for(emu, tmp_path, MAILOPS_GMAIL_REPORT_WHEN="always"))
    assert proc.rc == 0, proc.stdout
    assert len(emu.messages()) == 1 and "report mailed to dev@example.com, lead@example.com" in proc.stdout
    assert not glob.glob(str(tmp_path / "spool" / "*.eml"))
    [imap] = [s for s in emu.sessions() if s["protocol"] == "imap"]
    assert imap["auth_result"] == "ok"


def test_world_readable_password_file_is_refused(gmail_emulator, tmp_path):
    emu = gmail_emulator
    secret = tmp_path / "pw"
    secret.write_text("abcdefghijklmnop\n")
    secret.chmod(0o644)
    env = env_for(emu, tmp_path, MAILOPS_GMAIL_REPORT_PASSWORD=None, MAILOPS_GMAIL_REPORT_PASSWORD_FILE=str(secret),
                  MAILOPS_GMAIL_REPORT_WHEN="always")
    proc, _registered = run_play(tmp_path, TASKS[:1], env=env)
    assert proc.rc == 0
    assert "has mode 0644, readable by others; refusing it: run chmod 600" in proc.stderr + proc.stdout
    assert emu.sessions() == [] and len(glob.glob(str(tmp_path / "spool" / "*.eml"))) == 1
    secret.chmod(0o600)
    proc, _registered = run_play(tmp_path, TASKS[:1], env=env, name="again")
    [message] = emu.messages()
    assert message["subject"].startswith("[CHANGED] playbook.yml")
    assert_no_secret(proc.stdout, proc.stderr)


def trickling_server(seconds=60):
    """127.0.0.1: accepts, then sends an SMTP greeting one byte a second (never a whole reply in time)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(seconds)

    def run():
        try:
            conn, _peer = listener.accept()
        except OSError:
            return
        with conn:
            try:
                for byte in b"220-smtp.gmail.com ESMTP " * 10:
                    conn.sendall(bytes([byte]))
                    time.sleep(1)
            except OSError:
                pass  # the client gave up
        listener.close()

    threading.Thread(target=run, daemon=True).start()
    return listener.getsockname()[1]


def test_a_trickling_server_ends_send_and_the_callback_within_three_timeouts(gmail_emulator, tmp_path):
    """timeout 3, retries 0: the module and the report each give up within 3 x timeout (plus Ansible's start)."""
    emu = gmail_emulator
    args = conn(emu, port=trickling_server(), to=["a@example.com"], subject="slow", timeout=3, retries=0,
                quota_dir=str(tmp_path / "q"))
    started = time.monotonic()
    proc, r = run_play(tmp_path, [send("Send to a trickling server", "slow", args)],
                       env=env_for(emu, tmp_path, MAILOPS_GMAIL_REPORT_PORT=str(trickling_server()),
                                   MAILOPS_GMAIL_REPORT_WHEN="always"))
    elapsed = time.monotonic() - started
    assert r["slow"]["failed"] and r["slow"]["messages"][0]["error"]["category"] == "timeout", r["slow"]
    assert "the report mail was not sent" in proc.stdout + proc.stderr
    # Two sessions of at most 3 x 3 s each, and Ansible's own start-up (a few seconds on a busy machine).
    assert elapsed < 2 * 9 + 10, elapsed
    assert_no_secret(proc.stdout, proc.stderr)


RELAY_USER, RELAY_PW = "alerts@example.com", "wxyzwxyzwxyzwxyz"  # a Workspace user of the relay's domain
KEY_ENV = "MAILOPS_GMAIL_REPORT_OAUTH_SERVICE_ACCOUNT_FILE"
WARNING = "deploy_report: the report mail was not sent ("


def relay_env(emu, tmp_path, **extra):
    """The report through the emulator's smtp-relay.gmail.com (its own port: the callback connects by
    address), with no credential at all, as from a controller named web1.example.com."""
    return env_for(emu, tmp_path, **{
        "MAILOPS_GMAIL_REPORT_USERNAME": None, "MAILOPS_GMAIL_REPORT_PASSWORD": None,
        "MAILOPS_GMAIL_REPORT_SERVICE": "workspace_relay", "MAILOPS_GMAIL_REPORT_SENDER": RELAY_USER,
        "MAILOPS_GMAIL_REPORT_PORT": str(emu.smtp_relay_port), "MAILOPS_GMAIL_REPORT_EHLO_NAME": "web1.example.com",
        "MAILOPS_GMAIL_REPORT_WHEN": "always", **extra})


def warning_line(proc):
    """The one line of the callback's warning about the report (Ansible would print a traceback apart)."""
    out = proc.stdout + proc.stderr
    lines = [line for line in out.splitlines() if WARNING in line]
    assert len(lines) == 1, out
    assert "Traceback" not in out
    return lines[0]


def test_the_relay_takes_the_report_by_address_without_any_credential(gmail_emulator, tmp_path):
    emu = gmail_emulator
    emu.set(relay_allowlist=["127.0.0.0/8"])
    proc, _registered = run_play(tmp_path, TASKS[:1], env=relay_env(emu, tmp_path))
    assert proc.rc == 0, proc.stdout
    assert "report mailed to dev@example.com, lead@example.com" in proc.stdout
    [message] = emu.messages()
    assert (message["service"], message["auth_user"], message["mail_from"]) == ("relay", None, RELAY_USER)
    assert "from web1.example.com ([127.0.0.1])" in dict(message["headers"])["Received"]
    [session] = emu.sessions()  # no login, so no Sent Mail to look in either
    assert not [c for c in session["commands"] if c.startswith("AUTH")]
    assert_no_secret(proc.stdout, proc.stderr)


def test_a_relay_refusal_is_a_classified_warning_and_the_run_goes_on(gmail_emulator, tmp_path):
    emu = gmail_emulator
    emu.set(relay_allowlist=["10.0.0.0/8"])  # not the controller's address
    proc, _registered = run_play(tmp_path, TASKS[:1], env=relay_env(emu, tmp_path))
    assert proc.rc == 0, proc.stdout  # as without the callback
    line = warning_line(proc)
    assert "MAIL FROM at" in line and "Invalid credentials for relay [127.0.0.1]" in line, line
    # relay_denied's fix (plugins/module_utils/_errors.py), not a generic one
    fix = ("; fix: smtp-relay.gmail.com could not tie this host to your Workspace domain: add the host's public"
           " address to the SMTP relay service's allowed IP addresses")
    assert fix in line, line
    assert "the EHLO name (ehlo_name)" in line  # this callback's option, not the module's ehlohost
    assert "report written to" in line
    assert emu.messages() == [] and len(glob.glob(str(tmp_path / "spool" / "*.eml"))) == 1
    assert_no_secret(proc.stdout, proc.stderr)


def test_a_service_account_key_file_sends_the_report_and_shows_no_key(gmail_emulator, tmp_path):
    """No allowlist: the relay wants SMTP AUTH, here XOAUTH2 with a token the key signed for alerts@example.com."""
    emu = gmail_emulator
    env = relay_env(emu, tmp_path, MAILOPS_GMAIL_REPORT_USERNAME=RELAY_USER, MAILOPS_GMAIL_REPORT_EHLO_NAME=None,
                    MAILOPS_GMAIL_REPORT_OAUTH_TOKEN_URI=emu.token_uri, **{KEY_ENV: key_file(emu, tmp_path)})
    proc, _registered = run_play(tmp_path, TASKS, extra_args=("-vvv",), env=env)
    assert proc.rc == 2  # the failed task, not the callback
    assert "report mailed to dev@example.com, lead@example.com" in proc.stdout, proc.stdout + proc.stderr
    [message] = emu.messages()
    assert (message["service"], message["auth_user"], message["auth_mechanism"]) == ("relay", RELAY_USER, "XOAUTH2")
    grants = [r for r in emu.token_requests() if r["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert [(r["user"], r["status"]) for r in grants] == [(RELAY_USER, 200)]
    with open(emu.service_account_files["relay-sender"], encoding="utf-8") as fh:
        client_email = json.load(fh)["client_email"]
    for piece in key_material(emu):
        assert piece not in proc.stdout and piece not in proc.stderr
    assert client_email not in proc.stdout + proc.stderr  # nothing of the key file is shown
    assert_no_secret(proc.stdout, proc.stderr, *eml_texts(emu))


# name -> (environment over relay_env, what the one warning line must say). Nothing connects.
BAD_OPTIONS = {
    "service": ({"MAILOPS_GMAIL_REPORT_SERVICE": "sendgrid"},
                "service=sendgrid is unknown: set service to gmail (smtp.gmail.com) or workspace_relay"),
    "ehlo_name": ({"MAILOPS_GMAIL_REPORT_EHLO_NAME": "web1.internal"},
                  "ehlo_name=web1.internal is not in your Workspace domains (example.com): without SMTP AUTH"),
    "sender": ({"MAILOPS_GMAIL_REPORT_SENDER": "ops@other.example", "MAILOPS_GMAIL_REPORT_DOMAINS": "example.com"},
               "sender=ops@other.example is not in your Workspace domains (example.com)"),
    "domains": ({"MAILOPS_GMAIL_REPORT_DOMAINS": "gmail.com", "MAILOPS_GMAIL_REPORT_EHLO_NAME": "x.gmail.com"},
                "smtp-relay.gmail.com is for Google Workspace domains, not gmail.com: use service=gmail"),
    "plaintext": ({"MAILOPS_GMAIL_REPORT_SECURITY": "none", "MAILOPS_GMAIL_REPORT_PORT": "25"},
                  "security=none is for a local relay: smtp-relay.gmail.com takes mail over TLS on 587"),
    "key_mode": ({"MAILOPS_GMAIL_REPORT_USERNAME": RELAY_USER, KEY_ENV: "KEY"},
                 "oauth_service_account_file=KEY can be read by others (mode 0644): it holds a private key; make it"
                 " 0600 (chmod 600)"),
    "two_credentials": ({"MAILOPS_GMAIL_REPORT_USERNAME": RELAY_USER, "MAILOPS_GMAIL_REPORT_PASSWORD": RELAY_PW,
                         KEY_ENV: "KEY"},
                        "more than one credential is set (password, oauth)"),
}


@pytest.mark.parametrize("case", BAD_OPTIONS)
def test_a_bad_option_is_one_warning_naming_it_and_the_run_goes_on(gmail_emulator, tmp_path, case):
    emu = gmail_emulator
    emu.set(relay_allowlist=["127.0.0.0/8"])
    key = key_file(emu, tmp_path, mode=0o644 if case == "key_mode" else 0o600)
    extra, words = BAD_OPTIONS[case]
    extra = {name: key if value == "KEY" else value for name, value in extra.items()}
    proc, _registered = run_play(tmp_path, TASKS[:1], env=relay_env(emu, tmp_path, **extra))
    assert proc.rc == 0, proc.stdout
    line = warning_line(proc)
    assert words.replace("KEY", key) in line, line
    assert "report written to" in line
    assert emu.sessions() == [] and emu.token_requests() == []
    assert_no_secret(proc.stdout, proc.stderr)
    for piece in key_material(emu) + [RELAY_PW]:
        assert piece not in proc.stdout + proc.stderr
