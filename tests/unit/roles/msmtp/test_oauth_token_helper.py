# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""The msmtp role's OAuth token helper (roles/msmtp/files/msmtp-oauth-token) against the
in-process emulator's token endpoint, installed the way the role installs it: the script plus
the collection's module_utils files listed in roles/msmtp/vars/main.yml, in lib/ beside it.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
ROLE = ROOT / "roles" / "msmtp"
CLIENT_ID = "emulator-client-id.apps.googleusercontent.com"
CLIENT_SECRET = "emulator-client-secret"
REFRESH = "1//refresh-ops-alerts"


def imported_module_utils(path, found=None):
    """The collection's module_utils files a script imports, and what they import in turn."""
    found = set() if found is None else found
    for name in re.findall(r"plugins\.module_utils\.(_\w+) import", path.read_text()):
        if name + ".py" not in found:
            found.add(name + ".py")
            imported_module_utils(ROOT / "plugins" / "module_utils" / (name + ".py"), found)
    return found


@pytest.fixture(scope="module")
def helper(tmp_path_factory):
    """The helper and, under lib/, only the module_utils it imports, as the role lays them out (that
    the role ships them all, the molecule scenario extensions/molecule/msmtp proves with OAuth)."""
    base = tmp_path_factory.mktemp("libexec")
    lib = base / "lib" / "ansible_collections" / "mailops" / "gmail" / "plugins" / "module_utils"
    lib.mkdir(parents=True)
    for name in imported_module_utils(ROLE / "files" / "msmtp-oauth-token"):
        shutil.copy(ROOT / "plugins" / "module_utils" / name, lib / name)
    script = base / "msmtp-oauth-token"
    shutil.copy(ROLE / "files" / "msmtp-oauth-token", script)
    return script


@pytest.fixture
def setup(tmp_path, gmail_emulator):
    creds = tmp_path / "gmail-oauth.json"
    write_creds(creds, gmail_emulator)
    return {"emu": gmail_emulator, "creds": creds, "cache": tmp_path / "cache" / "token.json"}


def write_creds(path, emu, **changes):
    data = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH,
        "token_uri": emu.token_uri,
    }
    data.update(changes)
    path.write_text(json.dumps({k: v for k, v in data.items() if v is not None}))
    path.chmod(0o600)


def run(helper, setup, *extra):
    # -I as in the helper's shebang: no PYTHONPATH, no user site, no script dir on sys.path.
    cmd = [
        sys.executable,
        "-I",
        str(helper),
        "--credentials",
        str(setup["creds"]),
        "--cache",
        str(setup["cache"]),
        "--ca-file",
        setup["emu"].ca_file,
        "--timeout",
        "10",
        *extra,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


def secrets_absent(text):
    return CLIENT_SECRET not in text and REFRESH not in text


def test_refreshes_then_serves_from_cache(helper, setup):
    first = run(helper, setup)
    assert first.returncode == 0, first.stderr
    token = first.stdout.strip()
    assert token.startswith("ya29.") and first.stderr == ""
    assert stat.S_IMODE(setup["cache"].stat().st_mode) == 0o600
    assert stat.S_IMODE(setup["cache"].parent.stat().st_mode) == 0o700
    cached = json.loads(setup["cache"].read_text())
    assert cached["access_token"] == token and cached["expires_at"] > time.time() + 3000
    assert secrets_absent(setup["cache"].read_text())

    second = run(helper, setup)
    assert second.returncode == 0 and second.stdout.strip() == token
    assert len(setup["emu"].token_requests()) == 1


def test_expired_cached_token_is_refreshed(helper, setup):
    assert run(helper, setup).returncode == 0
    cached = json.loads(setup["cache"].read_text())
    setup["cache"].write_text(json.dumps(dict(cached, expires_at=time.time() - 10)))
    again = run(helper, setup)
    assert again.returncode == 0 and again.stdout.strip() != cached["access_token"]
    assert len(setup["emu"].token_requests()) == 2


def test_token_inside_the_margin_is_refreshed(helper, setup):
    setup["emu"].set(token_lifetime=200)  # below the default 300 s margin
    assert run(helper, setup).returncode == 0
    assert run(helper, setup).returncode == 0
    assert len(setup["emu"].token_requests()) == 2
    assert run(helper, setup, "--margin", "60").returncode == 0
    assert len(setup["emu"].token_requests()) == 2


def test_changed_credentials_do_not_reuse_the_old_token(helper, setup):
    first = run(helper, setup)
    write_creds(setup["creds"], setup["emu"], refresh_token="1//refresh-team-reports")
    second = run(helper, setup)
    assert second.returncode == 0 and second.stdout != first.stdout
    assert len(setup["emu"].token_requests()) == 2


def test_revoked_refresh_token_explains_the_fix(helper, setup):
    write_creds(setup["creds"], setup["emu"], refresh_token="1//refresh-revoked")
    result = run(helper, setup)
    assert result.returncode == 1 and result.stdout == ""
    assert "invalid_grant" in result.stderr and "7 days" in result.stderr and "Testing" in result.stderr
    assert result.stderr.startswith("msmtp-oauth-token: ") and "Traceback" not in result.stderr
    assert "1//refresh-revoked" not in result.stderr
    assert not setup["cache"].exists()  # nothing cached for a credential that got no token


def test_wrong_client_secret(helper, setup):
    write_creds(setup["creds"], setup["emu"], client_secret="not-the-secret")
    result = run(helper, setup)
    assert result.returncode == 1 and "invalid_client" in result.stderr
    assert "not-the-secret" not in result.stderr


def test_unreachable_endpoint(helper, setup):
    write_creds(setup["creds"], setup["emu"], token_uri="https://127.0.0.1:9/token")
    result = run(helper, setup)
    assert (
        result.returncode == 1
        and "refused" in result.stderr
        and "127.0.0.1:9" in result.stderr
        and "Traceback" not in result.stderr
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read the OAuth credentials file"),
        ("{not json", "is not valid JSON"),
        ('{"client_id": "x"}', "lacks client_secret, refresh_token"),
    ],
)
def test_bad_credentials_file(helper, setup, content, expected):
    if content is None:
        setup["creds"].unlink()
    else:
        setup["creds"].write_text(content)
    result = run(helper, setup)
    assert result.returncode == 1 and expected in result.stderr and str(setup["creds"]) in result.stderr
    assert "Traceback" not in result.stderr and len(setup["emu"].token_requests()) == 0


def test_loose_cache_mode_is_tightened(helper, setup):
    setup["cache"].parent.mkdir()
    setup["cache"].write_text("garbage")
    setup["cache"].chmod(0o644)
    assert run(helper, setup).returncode == 0
    assert stat.S_IMODE(setup["cache"].stat().st_mode) == 0o600


def test_concurrent_runs_share_one_refresh(helper, setup):
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: run(helper, setup), range(4)))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    assert len({r.stdout for r in results}) == 1
    assert len(setup["emu"].token_requests()) == 1


def test_cache_directory_is_created_private(helper, setup):
    assert not setup["cache"].parent.exists()
    assert run(helper, setup).returncode == 0
    assert oct(stat.S_IMODE(os.stat(setup["cache"].parent).st_mode)) == oct(0o700)
