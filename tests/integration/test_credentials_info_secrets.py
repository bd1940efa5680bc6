# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""No password, access token, refresh token or client secret in any output, result or syslog line.

The module runs through ansible-playbook with -vvv, --check and --diff. Its syslog lines are
captured on the target (localhost) by a sitecustomize on PYTHONPATH that replaces
syslog.syslog: AnsibleModule's "Invoked with" line goes there instead of /dev/log.
"""

from __future__ import annotations

from playbook import run_playbook
from test_credentials_info import CLIENT, MODULE, OPS, SECRETS, oauth, play

WRONG_PW = "wrong-app-password-zz"
SITECUSTOMIZE = """
import os, syslog

def _capture(*args):
    with open(os.environ["SYSLOG_CAPTURE"], "a", encoding="utf-8") as out:
        out.write(str(args[-1]) + "\\n")

syslog.syslog = _capture
"""


def assert_no_secret(result, syslog, secrets):
    """None of `secrets` in the run's output, its result files or the captured syslog."""
    haystacks = {"stdout": result.stdout, "stderr": result.stderr, "syslog": syslog}
    haystacks.update({str(path): path.read_text() for path in result.files})
    for secret in secrets:
        for where, text in haystacks.items():
            assert secret not in text, f"{secret[:6]}... found in {where}"


def test_no_secret_in_output_results_or_syslog(gmail_emulator, tmp_path):
    emu = gmail_emulator
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    capture = tmp_path / "syslog.txt"
    tasks = [
        {
            "name": "App password",
            MODULE: {"username": OPS, "password": SECRETS["ops_pw"], "protocols": ["smtp", "imap", "pop"]},
        },
        {
            "name": "Access token",
            MODULE: {"username": OPS, "access_token": SECRETS["ops_token"], "protocols": ["smtp", "pop"]},
        },
        {"name": "OAuth", MODULE: {"username": OPS, "oauth": oauth(emu), "protocols": ["smtp", "imap"]}},
        {
            "name": "Wrong password fails",
            MODULE: {"username": OPS, "password": "{{ wrong_pw }}"},
            "ignore_errors": True,
        },
        {
            "name": "Bad input with a secret in it",
            MODULE: {"username": OPS, "password": "{{ wrong_pw }}\r\nQUIT", "port": 465, "security": "starttls"},
            "ignore_errors": True,
        },
        {
            "name": "Lookup",
            "ansible.builtin.debug": {
                "msg": "{{ lookup('mailops.gmail.access_token', client_id=cid, client_secret=client_secret,"
                " refresh_token=ops_refresh, token_uri=token_uri, ca_file=ca_file, cache_dir='') | length }}"
            },
        },
    ]
    plays = play(emu, tasks)
    plays[0]["vars"].update(wrong_pw=WRONG_PW, cid=CLIENT["client_id"], token_uri=emu.token_uri, ca_file=emu.ca_file)
    env = {"PYTHONPATH": str(site), "SYSLOG_CAPTURE": str(capture)}
    result = run_playbook(tmp_path, plays, extra_args=("-vvv", "--check", "--diff"), env=env)
    assert result.rc == 0, result.output

    assert result.task("App password")["valid"] and result.task("OAuth")["valid"]
    assert result.status("Wrong password fails") == "failed"
    assert "must not contain CR, LF" in result.task("Bad input with a secret in it")["msg"]
    syslog = capture.read_text()
    assert syslog.count("Invoked with") >= 5, syslog  # the capture works: every module run logged
    issued = list(emu.state.issued)  # access tokens the emulator handed out (module refresh + lookup)
    assert len(issued) == 2
    assert_no_secret(result, syslog, list(SECRETS.values()) + [WRONG_PW] + issued)
