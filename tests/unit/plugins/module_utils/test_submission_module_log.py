# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""What the send module writes to the target's syslog ("Invoked with ...") and stdout never holds a secret.

This machine has no /dev/log, so syslog is captured by patching the calls AnsibleModule makes.
"""

from __future__ import annotations

import json

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.mailops.gmail.plugins.modules import send

SECRETS = {"password": "abcdefghijklmnop", "access_token": "ya29.valid-ops-alerts",
           "client_secret": "emulator-client-secret", "refresh_token": "1//refresh-ops-alerts"}
CREDENTIALS = [
    {"password": SECRETS["password"]},
    {"access_token": SECRETS["access_token"]},
    {"oauth": {"client_id": "emulator-client-id.apps.googleusercontent.com", "token_uri": "https://127.0.0.1:9/token",
               "client_secret": SECRETS["client_secret"], "refresh_token": SECRETS["refresh_token"]}},
]


@pytest.fixture
def syslog_lines(monkeypatch):
    lines = []
    monkeypatch.setattr(basic, "HAS_SYSLOG", True)
    monkeypatch.setattr(basic, "has_journal", False)
    monkeypatch.setattr(basic.syslog, "openlog", lambda *a, **k: None)
    monkeypatch.setattr(basic.syslog, "syslog", lambda *a: lines.append(str(a[-1])))
    return lines


def run_module(args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit):
        send.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("credential", CREDENTIALS, ids=["password", "access_token", "oauth"])
@pytest.mark.parametrize("extra, failed", [
    ({"_ansible_check_mode": True}, False),
    ({"subject": "bad\r\nBcc: x@example.com"}, True),
])
def test_no_secret_in_syslog_or_result(credential, extra, failed, syslog_lines, capsys, tmp_path):
    args = dict({"username": "ops.alerts@gmail.com", "to": ["dev@example.com"], "subject": "s", "body": "b",
                 "quota_dir": str(tmp_path)}, **credential, **extra)
    result = run_module(args, capsys)
    assert bool(result.get("failed")) is failed
    invoked = [line for line in syslog_lines if "Invoked with" in line]
    assert invoked and "dev@example.com" in invoked[0]  # the arguments are logged, the secrets masked
    text = json.dumps(result) + "\n".join(syslog_lines)
    for secret in SECRETS.values():
        assert secret not in text
