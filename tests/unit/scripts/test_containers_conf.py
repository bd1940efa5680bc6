# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""scripts/containers_conf.py: setup-host.sh merges the keys podman needs, never overwrites a user's value."""
from __future__ import annotations

import os
import subprocess
import sys
import tomllib

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "scripts", "containers_conf.py")
KEYS = ['containers.default_ulimits=["nofile=1024:1024", "nproc=4096:4096"]', 'engine.runtime="runc"']
WANT = {"default_ulimits": ["nofile=1024:1024", "nproc=4096:4096"]}


def run(path):
    return subprocess.run([sys.executable, SCRIPT, str(path), *KEYS], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("before, kept", [
    ("", {}),
    ('# mine\n[network]\nnetwork_backend = "cni"\n', {"network": {"network_backend": "cni"}}),
    ('[engine]\nevents_logger = "file"\n[containers]\nlog_size_max = 1000\n',
     {"engine": {"events_logger": "file"}, "containers": {"log_size_max": 1000}}),
    ('[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n', {}),
])
def test_missing_keys_are_merged_and_the_rest_kept(tmp_path, before, kept):
    conf = tmp_path / "containers.conf"
    if before:
        conf.write_text(before)
    result = run(conf)
    assert result.returncode == 0, result.stderr
    data = tomllib.loads(conf.read_text())
    assert data["containers"]["default_ulimits"] == WANT["default_ulimits"]
    assert data["engine"]["runtime"] == "runc"
    for table, keys in kept.items():
        for key, value in keys.items():
            assert data[table][key] == value
    assert (tmp_path / "containers.conf.mailops-backup").exists() == bool(before)
    if before.startswith("# mine"):
        assert conf.read_text().startswith(before)
    # A second run has nothing to do and writes nothing.
    mtime = conf.stat().st_mtime_ns
    again = run(conf)
    assert again.returncode == 0 and again.stdout == ""
    assert conf.stat().st_mtime_ns == mtime


def test_a_conflicting_value_is_refused_and_the_file_left_alone(tmp_path):
    conf = tmp_path / "containers.conf"
    before = '[engine]\nruntime = "crun"\n'
    conf.write_text(before)
    result = run(conf)
    assert result.returncode == 3
    assert "runtime = 'crun'" in result.stderr and "runc" in result.stderr and "hybrid" in result.stderr
    assert conf.read_text() == before
    assert not (tmp_path / "containers.conf.mailops-backup").exists()


def test_a_file_that_is_not_toml_is_named(tmp_path):
    conf = tmp_path / "containers.conf"
    conf.write_text("[engine\n")
    result = run(conf)
    assert result.returncode == 2
    assert str(conf) in result.stderr and "not valid TOML" in result.stderr
    assert conf.read_text() == "[engine\n"
