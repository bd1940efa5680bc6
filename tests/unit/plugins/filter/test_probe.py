# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""The roles' probe: the program (module_utils/_hoststate.py) run as a fact file, and when its answers count."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.mailops.gmail.plugins.filter.probe import probe_answers, probe_code


def run_fact(tmp_path, questions):
    """Install the program as a local fact would be, run it as Ansible's setup does, return (code, answers)."""
    code = probe_code(questions, sys.executable)
    fact = tmp_path / "mailops_test.fact"
    fact.write_text(code)
    fact.chmod(0o755)
    done = subprocess.run([str(fact)], capture_output=True, text=True, check=True)
    return code, json.loads(done.stdout)


def test_the_fact_file_answers_every_kind_of_question(tmp_path):
    (tmp_path / "dir").mkdir(mode=0o700)
    (tmp_path / "file").write_text("x")
    (tmp_path / "file").chmod(0o640)
    (tmp_path / "link").symlink_to("file")
    me = os.environ.get("USER") or __import__("pwd").getpwuid(os.getuid()).pw_name
    home = os.path.expanduser("~" + me)
    questions = {
        "packages": ["no-such-package-here"],
        "paths": [str(tmp_path / "dir"), str(tmp_path / "file"), str(tmp_path / "link"), str(tmp_path / "missing")],
        "commands": {"echo": ["echo", "one"], "fails": ["false"], "absent": ["/no/such/command"]},
        "users": [me, "no-such-user-here"],
        "user_paths": [".no-such-dot-file"],
    }
    code, answers = run_fact(tmp_path, questions)
    assert answers["packages"] == []
    paths = answers["paths"]
    assert sorted(paths) == sorted(questions["paths"][:3])
    assert {key: paths[str(tmp_path / "dir")][key] for key in ("type", "mode", "owner")} == {
        "type": "dir", "mode": "0700", "owner": me}
    assert (paths[str(tmp_path / "file")]["type"], paths[str(tmp_path / "file")]["mode"]) == ("file", "0640")
    assert (paths[str(tmp_path / "link")]["type"], paths[str(tmp_path / "link")]["target"]) == ("link", "file")
    assert answers["commands"] == {"echo": "one\n", "fails": None, "absent": None}
    assert answers["users"][me]["home"] == home and answers["users"]["no-such-user-here"] is None
    assert abs(answers["at"] - time.time()) < 60
    # The fact file knows itself: what probe_answers compares.
    assert answers["script"] and probe_answers(answers, code) == answers


def test_run_with_python_c_it_gives_the_same_answers_without_a_script_hash(tmp_path):
    questions = {"paths": [str(tmp_path)]}
    code = probe_code(questions, sys.executable)
    answers = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                        check=True).stdout)
    assert answers["script"] == "" and str(tmp_path) in answers["paths"]
    assert probe_answers(answers, code) == {}


@pytest.mark.parametrize("case", ["other code", "too old", "from the future", "used", "not a dict", "no time"])
def test_answers_that_cannot_stand_for_the_probe(tmp_path, case):
    code, answers = run_fact(tmp_path, {"paths": ["/"]})
    used = None
    if case == "other code":
        code = probe_code({"paths": ["/etc"]}, sys.executable)
    elif case == "too old":
        answers["at"] -= 301
    elif case == "from the future":
        answers["at"] += 301
    elif case == "used":
        used = answers["at"]
    elif case == "not a dict":
        answers = "Failure executing fact script"
    elif case == "no time":
        del answers["at"]
    assert probe_answers(answers, code, used) == {}
    if case in ("too old", "from the future"):
        answers["at"] = time.time()
        assert probe_answers(answers, code, used) == answers


@pytest.mark.parametrize("questions", [["postfix"], "postfix", None])
def test_questions_that_are_no_dict_get_a_clear_error(questions):
    with pytest.raises(AnsibleFilterError, match="probe_code: the questions must be a dict"):
        probe_code(questions)
