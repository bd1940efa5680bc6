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
import stat
import tempfile

# File postmap writes for each database type.
DB_SUFFIX = {"hash": ".db", "btree": ".db", "lmdb": ".lmdb", "cdb": ".cdb", "dbm": ".db", "sdbm": ".dir"}


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


def _write(path, data, mode, uid, gid):
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        raise FilesError(f"the directory of {path} does not exist")
    fd, temp = tempfile.mkstemp(prefix=".mailops-", dir=directory)  # created 0600
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as exc:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise FilesError(f"cannot write {path}: {exc.strerror}") from exc


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
    """Bring each file (dict: path, content, mode, owner, group, secret, map, backup) to its wanted state.

    ``run(argv, umask)`` runs postmap and returns (rc, stderr); ``backup(path)`` copies a file about to be
    replaced (when its spec says backup). Returns (changed paths, rebuilt or fixed databases, diffs); raises
    FilesError on the first file that cannot be handled.
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
                if old is not None and spec.get("backup") and backup is not None:
                    backup(path)
                _write(path, data, mode, uid, gid)
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
