# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Filters for the roles' one read-only look at a host (plugins/module_utils/_hoststate.py)."""

from __future__ import annotations

import hashlib
import json
import time

from ansible.errors import AnsibleFilterError

from ansible_collections.mailops.gmail.plugins.module_utils import _hoststate


def probe_code(questions, python="/usr/bin/python3"):
    """The fact file (and ``python -c`` program) that answers ``questions`` on a host and prints the
    answers as JSON, run by ``python``."""
    if not isinstance(questions, dict):
        raise AnsibleFilterError("probe_code: the questions must be a dict (packages, paths, commands, ...)")
    with open(_hoststate.__file__, encoding="utf-8") as handle:
        source = handle.read()
    # A JSON string is a valid Python string literal.
    return (f"#!{python}\n# Written by the mailops.gmail roles: an Ansible local fact, read-only.\n{source}\n\n"
            f"main({json.dumps(json.dumps(questions))})\n")


def probe_answers(fact, code, used=None, max_age=300):
    """The answers of a local fact when they can stand for running ``code`` now, else {}.

    They can when the fact file is exactly ``code`` (same release, same questions), they were gathered
    less than ``max_age`` seconds ago (not from a fact cache) and this play has not used them yet
    (``used``: the time of the answers used before, so a second run of a role in one play asks again).
    """
    if not isinstance(fact, dict) or not isinstance(fact.get("at"), (int, float)):
        return {}
    if fact.get("script") != hashlib.sha1(code.encode("utf-8")).hexdigest():
        return {}
    if abs(time.time() - fact["at"]) >= max_age or fact["at"] == used:
        return {}
    return fact


class FilterModule:
    def filters(self):
        return {"probe_code": probe_code, "probe_answers": probe_answers}
