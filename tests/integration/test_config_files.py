# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""mailops.gmail.config_files through ansible-playbook: one call for a set of files, diffs for the plain
ones, the secret never printed (-vvv --diff, check mode), idempotent, and bad input named."""

from __future__ import annotations

import os
import stat

from playbook import run_playbook

SECRET = "[smtp.gmail.com]:587 ops.alerts@gmail.com:abcdefghijklmnop"


def task(tmp_path, main_cf="relayhost = [smtp.gmail.com]:587\n", name="Write"):
    return {"name": name, "mailops.gmail.config_files": {
        "files": [{"path": str(tmp_path / "main.cf"), "content": main_cf, "backup": True}],
        "secret_files": [{"path": str(tmp_path / "sasl_passwd"), "content": SECRET + "\n"}]}}


def play(*tasks):
    return [{"hosts": "localhost", "gather_facts": False, "tasks": list(tasks)}]


def test_one_call_writes_shows_diffs_but_never_the_secret(tmp_path):
    work = tmp_path / "etc"
    work.mkdir()
    check = run_playbook(tmp_path, play(task(work)), extra_args=("-vvv", "--diff", "--check"))
    assert check.rc == 0 and check.status("Write") == "changed", check.output
    assert sorted(os.listdir(work)) == []  # check mode wrote nothing
    first = run_playbook(tmp_path, play(task(work)), extra_args=("-vvv", "--diff"))
    assert first.rc == 0 and first.status("Write") == "changed", first.output
    assert "+relayhost = [smtp.gmail.com]:587" in first.output  # the plain file's diff
    for run in (check, first):
        assert SECRET not in run.output and "abcdefghijklmnop" not in run.output
    assert stat.S_IMODE(os.stat(work / "sasl_passwd").st_mode) == 0o600
    assert (work / "sasl_passwd").read_text() == SECRET + "\n"
    again = run_playbook(tmp_path, play(task(work)), extra_args=("--diff",))
    assert again.rc == 0 and again.status("Write") == "ok", again.output
    changed = run_playbook(tmp_path, play(task(work, "relayhost = [smtp.gmail.com]:465\n")))
    assert changed.task("Write")["changed_files"] == [str(work / "main.cf")]
    backups = [name for name in os.listdir(work) if name.startswith("main.cf.")]
    assert len(backups) == 1 and (work / backups[0]).read_text() == "relayhost = [smtp.gmail.com]:587\n"


def test_bad_input_names_the_file_and_the_fix(tmp_path):
    bad_mode = {"name": "Bad mode", "mailops.gmail.config_files": {
        "files": [{"path": str(tmp_path / "x"), "content": "x", "mode": "rw-r--r--"}]}}
    relative = {"name": "Relative", "mailops.gmail.config_files": {"files": [{"path": "x", "content": "x"}]}}
    no_dir = {"name": "No directory", "mailops.gmail.config_files": {
        "secret_files": [{"path": str(tmp_path / "missing" / "sasl_passwd"), "content": SECRET}]}}
    result = run_playbook(tmp_path, play(*[dict(t, ignore_errors=True) for t in (bad_mode, relative, no_dir)]),
                          extra_args=("-vvv",))
    assert result.task("Bad mode")["msg"].startswith("files[].mode of ") and "octal string like '0644'" in \
        result.task("Bad mode")["msg"]
    assert result.task("Relative")["msg"] == "files[].path must be absolute; got 'x'"
    assert "the directory of" in result.task("No directory")["msg"]
    assert SECRET not in result.output
