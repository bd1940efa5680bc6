# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""The test_mail role on this machine, with a stand-in sendmail that keeps what it is given.

Postfix's queue (test_mail_queue: postfix) is exercised by the molecule scenarios postfix_relay and site.
"""

from __future__ import annotations

import stat

from playbook import run_playbook

FAKE_SENDMAIL = """#!/bin/sh
echo "$@" > "$0.args"
cat > "$0.mail"
"""


def fake_sendmail(tmp_path):
    path = tmp_path / "sendmail"
    path.write_text(FAKE_SENDMAIL)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def role(variables):
    task = {"ansible.builtin.include_role": {"name": "mailops.gmail.test_mail"}, "vars": variables}
    return [{"hosts": "localhost", "gather_facts": False, "tasks": [task]}]


def test_the_mail_goes_through_the_command_with_its_headers_and_changes_nothing(tmp_path):
    sendmail = fake_sendmail(tmp_path)
    result = run_playbook(tmp_path, role({
        "test_mail_to": ["a@example.org", "b@example.org"], "test_mail_subject": "probe from web1",
        "test_mail_headers": {"X-Mailops-Path": "msmtp"}, "test_mail_body": "hello",
        "test_mail_command": [str(sendmail), "-t"]}))
    assert result.rc == 0, result.output
    assert "changed=0" in result.stdout
    mail = (tmp_path / "sendmail.mail").read_text()
    assert mail == "To: a@example.org, b@example.org\nSubject: probe from web1\nX-Mailops-Path: msmtp\n\nhello\n"
    assert (tmp_path / "sendmail.args").read_text() == "-t\n"


def test_no_recipient_or_check_mode_sends_nothing(tmp_path):
    sendmail = fake_sendmail(tmp_path)
    for variables, args in (({"test_mail_to": ""}, []), ({"test_mail_to": []}, []),
                            ({"test_mail_to": "a@example.org"}, ["--check"])):
        result = run_playbook(tmp_path, role({**variables, "test_mail_command": [str(sendmail)]}), args)
        assert result.rc == 0, result.output
        assert not (tmp_path / "sendmail.mail").exists(), (variables, args)
