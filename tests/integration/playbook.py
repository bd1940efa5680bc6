# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Run ansible-playbook from a test, against localhost, with the collection importable.

    result = run_playbook(tmp_path, [{"hosts": "localhost", "gather_facts": False, "tasks": [...]}])
    assert result.rc == 0, result.output
    check = result.task("Check SMTP")          # the registered-style result dict of that task
    result.status("Check SMTP")                # "ok", "changed", "failed", "skipped", "unreachable"
    result.tasks                               # every task result, in order

Task results come from a small callback (written to tmp_path and enabled next to the normal
stdout callback, so stdout stays what a user sees). It appends one JSON line per task result
to tmp_path/results.jsonl: {"task", "host", "status" (ok|changed|failed|skipped|unreachable),
"result"}. Results are exactly what Ansible hands to callbacks: no_log tasks are censored.
Only localhost is in the inventory (ansible_connection=local, the venv's python), unless
`hosts` names local test hosts (name -> host vars, group `all`, with `group_vars`): a role
applied to several "hosts" on this machine, each with its own variables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / ".build" / "collections"
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")

_CALLBACK = """
from __future__ import annotations
import json, os
from ansible.plugins.callback import CallbackBase

class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "record_results"
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, result, status):
        line = {"task": result._task.get_name(), "host": result._host.get_name(), "status": status,
                "result": result._result}
        with open(os.environ["RECORD_RESULTS_FILE"], "a", encoding="utf-8") as out:
            out.write(json.dumps(line, default=str) + "\\n")

    def v2_runner_on_ok(self, result):
        self._record(result, "changed" if result._result.get("changed") else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")
"""


class Result:
    def __init__(self, rc, stdout, stderr, tasks, files):
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.tasks = tasks
        self.files = files

    @property
    def output(self):
        return self.stdout + self.stderr

    def task(self, name):
        """The result dict of the (last) task with this name; KeyError names the tasks that ran."""
        for entry in reversed(self.tasks):
            if entry["task"] == name:
                return entry["result"]
        raise KeyError(f"no result for task {name!r}; ran: {[entry['task'] for entry in self.tasks]}")

    def status(self, name):
        """ok, changed, failed, skipped or unreachable (Ansible drops "failed" from the result dict)."""
        for entry in reversed(self.tasks):
            if entry["task"] == name:
                return entry["status"]
        raise KeyError(name)

    def __repr__(self):
        return f"Result(rc={self.rc}, tasks={len(self.tasks)})"


def failures(result):
    """host -> failure message (with the failed loop items' messages) of every failed task."""
    found = {}
    for entry in result.tasks:
        if entry["status"] == "failed":
            res = entry["result"]
            items = [item.get("msg", "") for item in res.get("results", []) if item.get("failed")]
            found[entry["host"]] = " | ".join([res.get("msg", ""), *items])
    return found


def run_playbook(tmp_path, plays, extra_args=(), env=None, timeout=300, hosts=None, group_vars=None, prefix=()):
    """Write plays (YAML text or a list of plays) to tmp_path and run ansible-playbook on them
    (after `prefix`, such as a temporary root's, tests/integration/temproot.py)."""
    tmp_path = Path(tmp_path)
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(plays if isinstance(plays, str) else yaml.safe_dump(plays, sort_keys=False))
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "hosts": {name: {**local, **hostvars} for name, hostvars in (hosts or {"localhost": {}}).items()},
        "vars": group_vars or {},
    }}))
    callbacks = tmp_path / "callback_plugins"
    callbacks.mkdir(exist_ok=True)
    (callbacks / "record_results.py").write_text(_CALLBACK)
    results = tmp_path / "results.jsonl"
    if results.exists():
        results.unlink()
    full_env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
        ANSIBLE_CALLBACK_PLUGINS=str(callbacks),
        ANSIBLE_CALLBACKS_ENABLED="record_results",
        RECORD_RESULTS_FILE=str(results),
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"),
        ANSIBLE_REMOTE_TEMP=str(tmp_path / "ansible-remote"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_HOST_KEY_CHECKING="0",
        ANSIBLE_PIPELINING="1",
        PATH=f"{ANSIBLE_PLAYBOOK.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    full_env.update(env or {})
    proc = subprocess.run(
        [*prefix, str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(playbook), *extra_args],
        cwd=tmp_path,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    tasks = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    return Result(proc.returncode, proc.stdout, proc.stderr, tasks, [results])
