# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""A set of configuration files brought to the wanted content, mode and owner in one call.

Content is compared byte for byte; a file that differs is replaced atomically (a temporary file in the
same directory, created with the final mode and owner, fsynced, renamed over the old one), so a reader
sees the old file or the new one, and a secret is never readable by others, not even for a moment. A
file with the right content but the wrong mode or owner is fixed in place. A map (a Postfix lookup
table) is rebuilt with postmap when its source changed or its database is missing, under umask 077
for secrets, and its database gets the source's mode and owner.
"""

from __future__ import annotations

import grp
import os
import pwd
import shlex
import stat
import tempfile
import time

# File postmap writes for each database type.
DB_SUFFIX = {"hash": ".db", "btree": ".db", "lmdb": ".lmdb", "cdb": ".cdb", "dbm": ".db", "sdbm": ".dir"}


# Postfix re-reads main.cf until its mtime is two seconds old (util/dict.c, dict_load_file_xt: a
# guard against files edited in place); a file renamed into place complete need not wait.
SETTLE_SECONDS = 2.5


class FilesError(Exception):
    """A file could not be read, written or indexed; the text names it."""


def _ids(owner, group):
    try:
        return pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid
    except KeyError as exc:
        raise FilesError(f"owner {owner!r} or group {group!r} does not exist on this host") from exc


def _current(path):
    """(bytes or None, stat or None) of a path."""
    try:
        with open(path, "rb") as handle:
            return handle.read(), os.fstat(handle.fileno())
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        raise FilesError(f"cannot read {path}: {exc.strerror}") from exc


def _write(path, data, mode, uid, gid, parents=False, settled=False, old_mtime=None):
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        if not parents:
            raise FilesError(f"the directory of {path} does not exist")
        try:
            os.makedirs(directory, 0o755)
        except OSError as exc:
            raise FilesError(f"cannot make the directory of {path}: {exc.strerror}") from exc
    fd, temp = tempfile.mkstemp(prefix=".mailops-", dir=directory)  # created 0600
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            if settled:
                # Never older than the file it replaces: tools that look at mtimes still see a change.
                mtime = max(time.time() - SETTLE_SECONDS, (old_mtime or 0) + 0.001)
                os.utime(handle.fileno(), (mtime, mtime))
        os.replace(temp, path)
    except OSError as exc:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise FilesError(f"cannot write {path}: {exc.strerror}") from exc


def _validate(spec, data, run):
    """Run the spec's validate command (%s: a private copy of the new content); raise when it fails."""
    fd, temp = tempfile.mkstemp(prefix=".mailops-validate-")  # 0600, the running user's
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        rc, err = run(shlex.split(spec["validate"].replace("%s", shlex.quote(temp))), 0o077)
    finally:
        os.unlink(temp)
    if rc != 0:
        # A secret's checker may echo what it read: say only that it failed.
        detail = "its output is not shown: the file holds a secret" if spec["secret"] else err.strip()
        raise FilesError(f"{spec['path']} was not written: its checker ({spec['validate']}) failed (rc {rc}): {detail}")


def _wrong(st, mode, uid, gid):
    return stat.S_IMODE(st.st_mode) != mode or (st.st_uid, st.st_gid) != (uid, gid)


def _fix(path, mode, uid, gid):
    try:
        os.chown(path, uid, gid)
        os.chmod(path, mode)
    except OSError as exc:
        raise FilesError(f"cannot set the mode or owner of {path}: {exc.strerror}") from exc


def _stat(path):
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def apply(files, check_mode=False, want_diff=False, run=None, backup=None):
    """Bring each file (dict: path, content, mode, owner, group, secret, map, backup, parents, settled,
    validate) to its wanted state.

    ``run(argv, umask)`` runs postmap and validate commands and returns (rc, output); ``backup(path)``
    copies a file about to be replaced (when its spec says backup). Returns (changed paths, rebuilt or
    fixed databases, diffs); raises FilesError on the first file that cannot be handled.
    """
    changed, databases, diffs = [], [], []
    # Maps first: postmap reads main.cf, and Postfix re-reads a configuration file younger than about
    # two seconds until it has "cooled down" (util/dict.c); main.cf written just before would cost that.
    for spec in sorted(files, key=lambda one: not one.get("map")):
        path, data = spec["path"], spec["content"].encode("utf-8")
        mode = int(spec["mode"], 8)
        uid, gid = _ids(spec["owner"], spec["group"])
        old, st = _current(path)
        if old != data:
            changed.append(path)
            if want_diff and not spec["secret"]:
                diffs.append({"before_header": path, "after_header": path,
                              "before": (old or b"").decode("utf-8", "replace"), "after": spec["content"]})
            if not check_mode:
                if spec.get("validate"):
                    _validate(spec, data, run)
                if old is not None and spec.get("backup") and backup is not None:
                    backup(path)
                _write(path, data, mode, uid, gid, spec.get("parents"), spec.get("settled"), st and st.st_mtime)
        elif _wrong(st, mode, uid, gid):
            changed.append(path)
            if not check_mode:
                _fix(path, mode, uid, gid)
        if not spec.get("map"):
            continue
        db = path + DB_SUFFIX[spec["map"]]
        db_st = _stat(db)
        if old != data or db_st is None:
            databases.append(db)
            if check_mode:
                continue
            rc, err = run(["postmap", f"{spec['map']}:{path}"], 0o077 if spec["secret"] else 0o022)
            if rc != 0:
                raise FilesError(f"postmap {spec['map']}:{path} failed: {err.strip()}")
            db_st = os.stat(db)
        if _wrong(db_st, mode, uid, gid):
            if db not in databases:
                databases.append(db)
            if not check_mode:
                _fix(db, mode, uid, gid)
    return changed, databases, diffs
