# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""The collection builds into a tarball that ansible-galaxy installs and ansible-doc reads."""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Local state that must never be shipped (build_ignore in galaxy.yml).
NOT_SHIPPED = (".venv/", ".build/", ".cache/", ".demo/", "tests/output/", ".git/")
PLUGIN_TYPES = {"modules": "module", "callback": "callback", "lookup": "lookup"}
# (plugin folder, ansible-doc type, plugin names found in the source tree)
PLUGINS = [
    (folder, kind, sorted(f"mailops.gmail.{p.stem}" for p in (ROOT / "plugins" / folder).glob("[!_.]*.py")))
    for folder, kind in PLUGIN_TYPES.items()
]


def run(*args: str, env: dict | None = None) -> str:
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    """Build the tarball into dist/ and install it into collections/ of a fresh directory."""
    tmp = tmp_path_factory.mktemp("build")
    run(str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp / "dist"), str(ROOT))
    tarballs = list((tmp / "dist").glob("mailops-gmail-*.tar.gz"))
    assert len(tarballs) == 1, tarballs
    # Only the fresh directory counts: `make` points ANSIBLE_COLLECTIONS_PATH at the source tree,
    # where ansible-galaxy would find the collection "already installed" and do nothing.
    # --no-deps: the dependency (community.crypto) would come from Galaxy, which is not reachable here.
    run(str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "--no-deps", "-p", str(tmp / "collections"),
        str(tarballs[0]), env=doc_env(tmp / "collections"))
    return tmp


@pytest.fixture(scope="module")
def tarball(build_dir):
    return next((build_dir / "dist").glob("mailops-gmail-*.tar.gz"))


@pytest.fixture(scope="module")
def collections(build_dir):
    return build_dir / "collections"


def doc_env(collections: Path) -> dict:
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
                ANSIBLE_NOCOLOR="1")


def test_tarball_is_named_after_galaxy_yml_and_ships_no_local_state(tarball):
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    assert tarball.name == f"{galaxy['namespace']}-{galaxy['name']}-{galaxy['version']}.tar.gz"
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    assert "MANIFEST.json" in names and "meta/runtime.yml" in names
    shipped = [n for n in names if any(n == p.rstrip("/") or n.startswith(p) for p in NOT_SHIPPED)]
    assert shipped == [], f"local state in the tarball: {shipped[:10]}"


def test_installed_collection_has_every_role(collections):
    roles = sorted(p.parent.name for p in (ROOT / "roles").glob("*/tasks"))
    for role in roles:
        assert (collections / "ansible_collections/mailops/gmail/roles" / role / "tasks").is_dir(), role


@pytest.mark.parametrize(("folder", "kind", "expected"), [p for p in PLUGINS if p[2]], ids=str)
def test_ansible_doc_lists_every_plugin(collections, folder, kind, expected):
    out = run(str(BIN / "ansible-doc"), "-l", "-t", kind, "mailops.gmail", env=doc_env(collections))
    listed = sorted(line.split()[0] for line in out.splitlines() if line.startswith("mailops.gmail."))
    assert set(expected) <= set(listed), f"ansible-doc -l -t {kind} lists {listed}, expected {expected} ({folder})"


def test_ansible_doc_renders_each_module(collections):
    modules = sorted(p.stem for p in (ROOT / "plugins/modules").glob("*.py") if not p.name.startswith("_"))
    if not modules:
        pytest.fail("the collection has no modules to document")
    out = run(str(BIN / "ansible-doc"), *(f"mailops.gmail.{m}" for m in modules), env=doc_env(collections))
    for module in modules:
        assert f"mailops.gmail.{module}" in out
