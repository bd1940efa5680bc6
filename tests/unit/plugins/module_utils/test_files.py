# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""_files.apply: a set of files (and Postfix maps) brought to content, mode and owner in one call."""

from __future__ import annotations

import grp
import os
import pwd
import stat
import time

import pytest

from ansible_collections.mailops.gmail.plugins.module_utils._files import FilesError, apply

ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUP = grp.getgrgid(os.getgid()).gr_name


def spec(path, content, mode="0644", secret=False, map_type=None):
    return {"path": str(path), "content": content, "mode": mode, "owner": ME, "group": MY_GROUP,
            "secret": secret, "map": map_type}


class Postmap:
    """Stands in for postmap: writes <source>.db under the umask it is given, or fails."""

    def __init__(self, fail=False):
        self.calls, self.fail = [], fail

    def __call__(self, argv, umask):
        self.calls.append((argv, umask))
        if self.fail:
            return 1, "postmap: fatal: bad input\n"
        old = os.umask(umask)
        try:
            with open(argv[1].split(":", 1)[1] + ".db", "w", encoding="utf-8") as handle:
                handle.write("db")
        finally:
            os.umask(old)
        return 0, ""


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_writes_new_and_changed_files_with_their_modes_and_leaves_the_rest(tmp_path):
    (tmp_path / "same").write_text("same\n")
    os.chmod(tmp_path / "same", 0o644)
    (tmp_path / "old").write_text("old\n")
    files = [spec(tmp_path / "new", "new\n", "0640"), spec(tmp_path / "same", "same\n"),
             spec(tmp_path / "old", "changed\n")]
    changed, databases, diffs = apply(files, want_diff=True)
    assert changed == [str(tmp_path / "new"), str(tmp_path / "old")] and databases == []
    assert (tmp_path / "new").read_text() == "new\n" and mode_of(tmp_path / "new") == 0o640
    assert (tmp_path / "old").read_text() == "changed\n"
    assert [d["after"] for d in diffs] == ["new\n", "changed\n"] and diffs[1]["before"] == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new", "old", "same"]  # no temporary file left
    assert apply(files) == ([], [], [])  # idempotent


def test_a_wrong_mode_alone_is_fixed_in_place(tmp_path):
    path = tmp_path / "f"
    path.write_text("x")
    os.chmod(path, 0o666)
    inode = os.stat(path).st_ino
    assert apply([spec(path, "x", "0600")])[0] == [str(path)]
    assert mode_of(path) == 0o600 and os.stat(path).st_ino == inode


def test_check_mode_reports_and_changes_nothing(tmp_path):
    path = tmp_path / "f"
    path.write_text("old")
    postmap = Postmap()
    changed, databases, diffs = apply([spec(path, "new", map_type="hash")], check_mode=True, want_diff=True,
                                      run=postmap)
    assert changed == [str(path)] and databases == [str(path) + ".db"] and diffs[0]["after"] == "new"
    assert path.read_text() == "old" and postmap.calls == [] and not os.path.exists(str(path) + ".db")


def test_a_secret_is_never_in_a_diff_and_its_map_is_built_private(tmp_path):
    path = tmp_path / "sasl_passwd"
    postmap = Postmap()
    changed, databases, diffs = apply([spec(path, "[smtp.gmail.com]:587 a@gmail.com:secret\n", "0600", True,
                                            "hash")], want_diff=True, run=postmap)
    assert changed == [str(path)] and databases == [str(path) + ".db"] and diffs == []
    assert postmap.calls == [(["postmap", f"hash:{path}"], 0o077)]
    assert mode_of(path) == 0o600 and mode_of(str(path) + ".db") == 0o600
    # unchanged source, database present: no postmap; database deleted: rebuilt
    assert apply([spec(path, "[smtp.gmail.com]:587 a@gmail.com:secret\n", "0600", True, "hash")],
                 run=postmap) == ([], [], [])
    os.unlink(str(path) + ".db")
    assert apply([spec(path, "[smtp.gmail.com]:587 a@gmail.com:secret\n", "0600", True, "hash")],
                 run=postmap)[1] == [str(path) + ".db"]
    assert len(postmap.calls) == 2


def test_a_database_with_a_loose_mode_is_tightened(tmp_path):
    path = tmp_path / "map"
    path.write_text("k v\n")
    os.chmod(path, 0o600)
    (tmp_path / "map.db").write_text("db")
    os.chmod(tmp_path / "map.db", 0o644)
    assert apply([spec(path, "k v\n", "0600", True, "hash")], run=Postmap()) == ([], [str(path) + ".db"], [])
    assert mode_of(tmp_path / "map.db") == 0o600


@pytest.mark.parametrize("case, message", [
    ("postmap", "postmap hash:"), ("directory", "the directory of"), ("owner", "does not exist on this host")])
def test_failures_name_the_file_and_the_cause(tmp_path, case, message):
    path = tmp_path / ("missing/f" if case == "directory" else "f")
    one = spec(path, "k v\n", map_type="hash")
    if case == "owner":
        one["owner"] = "no-such-user-here"
    with pytest.raises(FilesError, match=message):
        apply([one], run=Postmap(fail=True))


def test_parents_makes_the_missing_directories(tmp_path):
    path = tmp_path / "facts.d" / "deep" / "x.fact"
    assert apply([dict(spec(path, "x\n", "0755"), parents=True)])[0] == [str(path)]
    assert path.read_text() == "x\n" and mode_of(path) == 0o755 and mode_of(path.parent) == 0o755


def test_a_settled_file_is_dated_back_so_postfix_need_not_wait(tmp_path):
    path = tmp_path / "main.cf"
    before = time.time()
    apply([dict(spec(path, "a = 1\n"), settled=True)])
    # What Postfix's dict_load_file_xt asks before it stops re-reading: mtime < (whole seconds now) - 1.
    assert os.stat(path).st_mtime < int(before) - 1
    plain = tmp_path / "master.cf"
    apply([spec(plain, "x\n")])
    assert os.stat(plain).st_mtime >= int(before)


def test_a_settled_file_is_never_dated_before_the_file_it_replaces(tmp_path):
    path = tmp_path / "main.cf"
    path.write_text("a = 1\n")
    recent = os.stat(path).st_mtime
    apply([dict(spec(path, "a = 2\n"), settled=True)])
    assert os.stat(path).st_mtime > recent and path.read_text() == "a = 2\n"


def checker(tmp_path, verdict):
    """A validate command (a shell script) that keeps what it was given and exits with verdict."""
    script = tmp_path / "check.sh"
    script.write_text(f"#!/bin/sh\ncp \"$1\" {tmp_path}/seen\necho 'bad line: secret-value' >&2\nexit {verdict}\n")
    script.chmod(0o755)
    return f"{script} %s"


def run_for_real(argv, umask):
    import subprocess  # noqa: PLC0415 (only these tests run commands)

    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return done.returncode, done.stderr + done.stdout


def test_validate_sees_the_new_content_before_it_replaces_the_file(tmp_path):
    path = tmp_path / "msmtprc"
    path.write_text("old\n")
    assert apply([dict(spec(path, "new\n"), validate=checker(tmp_path, 0))], run=run_for_real)[0] == [str(path)]
    assert (tmp_path / "seen").read_text() == "new\n" and path.read_text() == "new\n"


@pytest.mark.parametrize("secret", [False, True])
def test_a_failed_validate_leaves_the_file_and_shows_a_secret_s_checker_output_never(tmp_path, secret):
    path = tmp_path / "msmtprc"
    path.write_text("old\n")
    with pytest.raises(FilesError, match="was not written") as failure:
        apply([dict(spec(path, "new\n", secret=secret), validate=checker(tmp_path, 3))], run=run_for_real)
    assert path.read_text() == "old\n"
    assert ("secret-value" in str(failure.value)) is not secret and "rc 3" in str(failure.value)
    assert not list(tmp_path.glob(".mailops-*"))


def test_check_mode_does_not_validate(tmp_path):
    path = tmp_path / "msmtprc"
    assert apply([dict(spec(path, "new\n"), validate=checker(tmp_path, 3))], check_mode=True,
                 run=run_for_real)[0] == [str(path)]
    assert not (tmp_path / "seen").exists() and not path.exists()
