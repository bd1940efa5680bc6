# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Merge the keys podman needs on these hosts into a containers.conf, never overwriting a user's value.

Usage: containers_conf.py FILE [TABLE.KEY=TOML_VALUE ...]

Each key that is missing is added under its table (the table is created when absent); a key that
is already set to the same value is left alone; a key set to another value is a conflict: the file
is not touched and the exit status is 3, with a message naming the keys and why they are needed.
Prints what it did. Exit 0: nothing to do or merged; 3: conflict; 2: bad usage or unreadable file.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
import tomllib

WHY = {
    "containers.default_ulimits": "podman's default ulimits cannot be set on these hosts (setrlimit: not permitted)",
    "engine.runtime": "crun refuses hybrid-cgroup hosts; runc works",
}


def merge(text: str, wanted: dict[str, str]) -> tuple[str, list[str], list[tuple[str, str]]]:
    """Return (new text, added keys, conflicts as (key, message)) for `wanted` ("table.key" -> TOML value)."""
    current = tomllib.loads(text)
    lines = text.splitlines()
    added, conflicts = [], []
    for dotted, value_text in wanted.items():
        table, key = dotted.split(".", 1)
        want = tomllib.loads(f"v = {value_text}")["v"]
        have = current.get(table, {})
        if key in have:
            if have[key] != want:
                conflicts.append((dotted, f"[{table}] {key} = {have[key]!r} (these tests need {value_text})"))
            continue
        header = next((i for i, line in enumerate(lines) if re.fullmatch(rf"\s*\[{re.escape(table)}\]\s*(#.*)?", line)),
                      None)
        if header is None:
            if lines and lines[-1].strip():
                lines.append("")
            lines += [f"[{table}]", f"{key} = {value_text}"]
        else:
            lines.insert(header + 1, f"{key} = {value_text}")
        added.append(f"[{table}] {key} = {value_text}")
    return "\n".join(lines) + "\n", added, conflicts


def main(argv: list[str]) -> int:
    if len(argv) < 2 or any("=" not in a or "." not in a.split("=", 1)[0] for a in argv[2:]):
        print(__doc__, file=sys.stderr)
        return 2
    path = argv[1]
    wanted = dict(a.split("=", 1) for a in argv[2:])
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        text = ""
    try:
        new, added, conflicts = merge(text, wanted)
    except tomllib.TOMLDecodeError as exc:
        print(f"containers_conf.py: {path} is not valid TOML ({exc}); fix it or move it aside, then run again",
              file=sys.stderr)
        return 2
    if conflicts:
        print(f"containers_conf.py: {path} sets keys these tests need to other values, so it was left as it is:",
              file=sys.stderr)
        for dotted, line in conflicts:
            print(f"  {line}: {WHY.get(dotted, 'needed by the test containers')}", file=sys.stderr)
        print("  Change them by hand (or run the tests on another machine); nothing else was changed.", file=sys.stderr)
        return 3
    if not added:
        return 0
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if text:
        with open(path + ".mailops-backup", "w", encoding="utf-8") as fh:
            fh.write(text)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".containers.conf.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(new)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    backup = f"; the previous file is {path}.mailops-backup" if text else ""
    print(f"containers_conf.py: added to {path}: {', '.join(added)}{backup}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
