# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""The callback's event handling without a playbook: what reaches the report, and what never does."""

from __future__ import annotations

import pytest

from ansible_collections.mailops.gmail.plugins.callback import deploy_report


class Named:
    def __init__(self, name, no_log=False):
        self.name, self.no_log = name, no_log

    def get_name(self):
        return self.name


class Result:
    def __init__(self, host, task, result, no_log=False):
        self._host, self._task, self._result = Named(host), Named(task, no_log), result


class Stats:
    processed = {"web1": 1, "web2": 1}

    def summarize(self, host):
        return {"ok": 2, "changed": 1, "failures": int(host == "web2"), "unreachable": 0, "skipped": 0}


class Display:
    def __init__(self):
        self.warnings, self.lines = [], []

    def warning(self, text):
        self.warnings.append(text)

    def display(self, text):
        self.lines.append(text)


class Options(dict):
    """The callback's options; the secrets go to the environment, where the callback reads them."""

    def __init__(self, monkeypatch, values):
        super().__init__()
        self.monkeypatch = monkeypatch
        self.update(values)

    def __setitem__(self, key, value):
        if key in deploy_report.SECRET_ENV:
            env = deploy_report.SECRET_ENV[key]
            if value is None:
                self.monkeypatch.delenv(env, raising=False)
            else:
                self.monkeypatch.setenv(env, value)
        super().__setitem__(key, value)

    def update(self, values):
        for key, value in values.items():
            self[key] = value


@pytest.fixture
def callback(tmp_path, monkeypatch):
    cb = deploy_report.CallbackModule()
    cb._display = Display()
    options = {"when": "always", "subject": None, "to": ["dev@example.com"], "sender": None,
               "username": "ops.alerts@gmail.com", "password": None, "password_file": None, "access_token": None,
               "oauth_refresh_token": None, "host": "127.0.0.1", "port": 1, "security": "starttls", "ca_file": None,
               "timeout": 1, "retries": 0, "spool_dir": str(tmp_path / "spool"), "quota_dir": str(tmp_path / "q")}
    options = Options(monkeypatch, options)
    cb.get_option = options.get
    cb.options = options
    return cb


def test_failures_keep_msg_but_never_no_log_output(callback):
    callback.v2_runner_on_failed(Result("web2", "Restart", {"msg": "port busy", "cmd": "secret-arg"}))
    callback.v2_runner_on_failed(Result("web2", "Hidden", {"msg": "pw=hunter2", "_ansible_no_log": True}))
    callback.v2_runner_on_failed(Result("web2", "Task no_log", {"msg": "pw=hunter2"}, no_log=True))
    callback.v2_runner_on_failed(Result("web1", "Ignored", {"msg": "meh"}), ignore_errors=True)
    callback.v2_runner_on_unreachable(Result("db1", "Gathering Facts", {"msg": "ssh timeout"}))
    failures = callback.run["failures"]
    assert [(f["host"], f["task"], f["msg"], f["unreachable"]) for f in failures] == [
        ("web2", "Restart", "port busy", False),
        ("web2", "Hidden", deploy_report.HIDDEN, False),
        ("web2", "Task no_log", deploy_report.HIDDEN, False),
        ("db1", "Gathering Facts", "ssh timeout", True),
    ]
    assert "secret-arg" not in str(callback.run)


def test_unsendable_report_warns_and_spools(callback, tmp_path):
    callback.options["password"] = "abcdefghijklmnop"
    callback.v2_playbook_on_stats(Stats())  # port 1: connection refused
    [warning] = callback._display.warnings
    assert "the report mail was not sent (Connection to 127.0.0.1:1 failed" in warning
    assert "report written to" in warning and "abcdefghijklmnop" not in warning
    assert len(list((tmp_path / "spool").glob("*.eml"))) == 1
    assert callback.run["hosts"]["web2"]["failed"] == 1


@pytest.mark.parametrize("change, fragment", [
    ({"to": None}, "no recipients"),
    ({"password": None}, "give one of password (MAILOPS_GMAIL_REPORT_PASSWORD or password_file)"),
    ({"security": "none", "port": 25, "password": "abcdefghijklmnop"}, "only for a local relay"),
    ({"port": 465, "security": "starttls", "password": "x"}, "does not work with port=465"),
])
def test_configuration_errors_never_raise(callback, change, fragment):
    callback.options.update(change)
    callback.v2_playbook_on_stats(Stats())
    [warning] = callback._display.warnings
    assert fragment in warning and "report written to" in warning


def test_when_failure_skips_a_clean_run(callback):
    callback.options["when"] = "failure"

    class Clean(Stats):
        def summarize(self, host):
            return {"ok": 1, "changed": 0, "failures": 0, "unreachable": 0, "skipped": 0}

    callback.v2_playbook_on_stats(Clean())
    assert callback._display.warnings == [] and callback._display.lines == []


def test_password_file_mode(callback, tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("abcdefghijklmnop\n")
    secret.chmod(0o640)
    callback.options["password_file"] = str(secret)
    with pytest.raises(deploy_report.ReportNotSent, match="mode 0640"):
        callback._secret_from_file()
    secret.chmod(0o600)
    assert callback._secret_from_file() == "abcdefghijklmnop"


def test_secrets_come_from_the_environment_only(callback, monkeypatch):
    """ansible-config dump prints the values of declared option sources, so secrets have none."""
    for name, env in deploy_report.SECRET_ENV.items():
        assert f"name: {env}\n" not in deploy_report.DOCUMENTATION, name
        assert env in deploy_report.DOCUMENTATION, name
    monkeypatch.setenv("MAILOPS_GMAIL_REPORT_PASSWORD", "abcdefghijklmnop")
    assert deploy_report._secret("password") == "abcdefghijklmnop"
