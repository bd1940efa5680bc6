# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""execution-environment.yml is valid for ansible-builder, and the collection declares its EE needs.

Building the image needs a registry (the base image); `ansible-builder create` writes the whole
build context without one, so that is what is tested.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
VERSION = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
TARBALL = f"mailops-gmail-{VERSION}.tar.gz"


def run(*argv, cwd):
    return subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def test_ansible_builder_create(tmp_path):
    shutil.copy(ROOT / "execution-environment.yml", tmp_path)
    built = run(BIN / "ansible-galaxy", "collection", "build", "--output-path", tmp_path / ".build", ROOT, cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    assert (tmp_path / ".build" / TARBALL).exists(), "galaxy.yml's version and the tarball name disagree"

    created = run(BIN / "ansible-builder", "create", "-f", "execution-environment.yml", "-c", "context", cwd=tmp_path)
    assert created.returncode == 0, created.stdout + created.stderr
    context = tmp_path / "context"
    containerfile = (context / "Containerfile").read_text()
    assert "ansible-galaxy collection install" in containerfile
    # The collection tarball is in the context and the galaxy requirements install exactly it.
    assert (context / "_build" / "collections" / TARBALL).stat().st_size > 10000
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert requirements["collections"] == [{"name": f"/build/collections/{TARBALL}", "type": "file"}]


def test_bad_definition_is_refused(tmp_path):
    # The check above must be able to fail: ansible-builder rejects an unknown key.
    spec = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    spec["dependencies"]["no_such_key"] = True
    (tmp_path / "ee.yml").write_text(yaml.safe_dump(spec))
    created = run(BIN / "ansible-builder", "create", "-f", "ee.yml", "-c", "context", cwd=tmp_path)
    assert created.returncode != 0
    assert "no_such_key" in created.stdout + created.stderr


def test_introspection_finds_the_collection_needs(tmp_path):
    # ansible-builder reads meta/execution-environment.yml of every installed collection.
    tree = tmp_path / "ansible_collections" / "mailops"
    tree.mkdir(parents=True)
    shutil.copytree(ROOT / "meta", tree / "gmail" / "meta")
    shutil.copy(ROOT / "galaxy.yml", tree / "gmail")
    found = run(BIN / "ansible-builder", "introspect", "--sanitize", tmp_path, cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    deps = yaml.safe_load(found.stdout.split("---", 1)[1])
    assert deps["python"] == []
    assert any(line.startswith("ca-certificates ") and "mailops.gmail" in line for line in deps["system"])
