# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""What a role needs to know about a host, read-only, in one run: the roles' probe.

The roles install this file, with their question list appended, as an Ansible local fact
(/etc/ansible/facts.d/*.fact), so that gathering facts answers an idle run and the role asks the host
nothing more; they run the same code with ``python3 -c`` when those facts are missing or old. Stdlib
only, Python 3.6+: it runs on managed hosts outside Ansible.

Questions (a dict): ``packages`` (Debian packages: which are installed), ``paths`` (each one's type,
mode, owner, group and link target, when it exists), ``commands`` (name -> argv: stdout when it
succeeds, else None), ``services`` (systemd units: "enabled active"), ``users`` (local users: home,
primary group, whether the home is a directory) and ``user_paths`` (paths relative to each of those
homes, reported like ``paths``).
"""

import grp
import hashlib
import json
import os
import pwd
import stat
import subprocess
import sys
import time


def _ask(argv):
    try:
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, universal_newlines=True,
                              check=False)
    except OSError:
        return None
    return done.stdout if done.returncode == 0 else None


def _name(lookup, number):
    try:
        return lookup(number)[0]
    except KeyError:
        return str(number)


def _path(path):
    try:
        st = os.lstat(path)
    except OSError:
        return None
    kind = "link" if stat.S_ISLNK(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode) else "file"
    found = {"type": kind, "mode": "%04o" % stat.S_IMODE(st.st_mode),
             "owner": _name(pwd.getpwuid, st.st_uid), "group": _name(grp.getgrgid, st.st_gid)}
    if kind == "link":
        found["target"] = os.readlink(path)
    return found


def _user(name):
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return {"home": entry.pw_dir, "group": _name(grp.getgrgid, entry.pw_gid), "home_dir": os.path.isdir(entry.pw_dir)}


def _script():
    """SHA-1 of the fact file itself: tells its answers from those of another release or question list."""
    if not os.path.isfile(sys.argv[0]):
        return ""
    with open(sys.argv[0], "rb") as handle:
        return hashlib.sha1(handle.read()).hexdigest()


def look(questions):
    """The answers to ``questions`` (see the module's docstring), as a JSON-ready dict."""
    packages = questions.get("packages", [])
    listed = _ask(["dpkg-query", "-W", "-f", "${Package}=${db:Status-Status}\n"] + packages) if packages else ""
    users = {name: _user(name) for name in questions.get("users", [])}
    paths = {path: _path(path) for path in questions.get("paths", [])}
    for user in users.values():
        for relative in questions.get("user_paths", []) if user else []:
            path = os.path.join(user["home"], relative)
            paths[path] = _path(path)
    services = {}
    for unit in questions.get("services", []):
        services[unit] = "%s %s" % ((_ask(["systemctl", "is-enabled", unit]) or "disabled").strip(),
                                    (_ask(["systemctl", "is-active", unit]) or "inactive").strip())
    return {
        "at": time.time(),
        "script": _script(),
        "packages": [line.split("=")[0] for line in (listed or "").splitlines() if line.endswith("=installed")],
        "paths": {path: found for path, found in paths.items() if found},
        "commands": {name: _ask(argv) for name, argv in questions.get("commands", {}).items()},
        "services": services,
        "users": users,
    }


def main(questions_json):
    """Print the answers to the questions (a JSON text) as JSON: what the fact file runs."""
    sys.stdout.write(json.dumps(look(json.loads(questions_json))) + "\n")
