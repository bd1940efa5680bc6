#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: config_files
short_description: Write a set of configuration files, and rebuild their lookup tables, in one call
version_added: 0.1.0
description:
  - Brings several files to the wanted content, mode and owner with one round trip to the host, where one
    M(ansible.builtin.template) task per file would take one each. The roles of this collection render their
    templates on the controller (P(ansible.builtin.template#lookup)) and hand the results to this module.
  - A file whose content differs is replaced atomically (a temporary file in the same directory with the final
    mode and owner, fsynced, then renamed), so it is never seen half written or with a looser mode. A file
    with the right content and the wrong mode or owner is fixed in place. Nothing else is touched.
  - A Postfix lookup table (O(files[].map)) is rebuilt with C(postmap) when its source changed or its
    database is missing, and the database gets the source's mode and owner. Secrets are indexed under
    umask 077, so their database is never readable by others.
author:
  - mailops.gmail contributors (@mailops)
options:
  files:
    description: Files whose content may be shown (in C(--diff) and C(-vvv)).
    type: list
    elements: dict
    default: []
    suboptions:
      path: &path
        description: Absolute path of the file. Its directory must exist, unless O(files[].parents) is set.
        type: path
        required: true
      content:
        description: The whole content of the file.
        type: str
        required: true
      mode:
        description: Mode, as an octal string.
        type: str
        default: "0644"
      owner: &owner
        description: Owner.
        type: str
        default: root
      group: &group
        description: Group.
        type: str
        default: root
      map: &map
        description: Database type to run C(postmap) with, for a Postfix lookup table (like V(hash) or V(lmdb)).
        type: str
        choices: [hash, btree, lmdb, cdb, dbm, sdbm]
      backup:
        description: Keep the file it replaces as C(<path>.<pid>.<time>~).
        type: bool
        default: false
      validate: &validate
        description:
          - Command that checks the new content before it replaces the file; C(%s) stands for a private
            copy of it (mode C(0600)). The file is left as it was when the command fails. Not run in check mode.
          - For a secret file the command's output is not shown, only that it failed.
        type: str
      parents: &parents
        description: Make the file's directory and its missing parents (mode C(0755)) when they do not exist.
        type: bool
        default: false
      settled:
        description:
          - Date the modification time of a newly written file about two seconds back (never before the
            file it replaces). For Postfix's C(main.cf), whose reader pauses until the file is two seconds
            old so as not to read a file still being edited (C(util/dict.c)); this module only renames
            complete files into place, so C(postfix check) and the reload right after need not wait.
        type: bool
        default: false
  secret_files:
    description:
      - Files holding secrets (like Postfix's C(sasl_passwd)). Their content is never logged, never shown in
        C(--diff), never kept in a backup, and they are written with the given mode from the start.
    type: list
    elements: dict
    default: []
    suboptions:
      path: *path
      content:
        description: The whole content of the file; never logged.
        type: str
        required: true
      mode:
        description: Mode, as an octal string.
        type: str
        default: "0600"
      owner: *owner
      group: *group
      map: *map
      validate: *validate
      parents: *parents
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: Only for O(files); O(secret_files) are never shown.
notes:
  - Handlers notified by the task run when any file or database changed; check the configuration there
    (for Postfix, C(postfix check)), as the roles of this collection do.
"""

EXAMPLES = r"""
- name: Write main.cf, master.cf and sasl_passwd, and build the sasl_passwd database
  mailops.gmail.config_files:
    files:
      - path: /etc/postfix/main.cf
        content: "{{ lookup('ansible.builtin.template', 'main.cf.j2') }}"
      - path: /etc/postfix/master.cf
        content: "{{ lookup('ansible.builtin.template', 'master.cf.j2') }}"
    secret_files:
      - path: /etc/postfix/sasl_passwd
        content: "{{ lookup('ansible.builtin.template', 'sasl_passwd.j2') }}"
        map: hash
  notify: Reload postfix
"""

RETURN = r"""
changed_files:
  description: Files written, or whose mode or owner was fixed (would be, in check mode).
  type: list
  elements: str
  returned: always
  sample: [/etc/postfix/main.cf]
databases:
  description: Lookup table databases rebuilt with postmap, or whose mode or owner was fixed.
  type: list
  elements: str
  returned: always
  sample: [/etc/postfix/sasl_passwd.db]
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailops.gmail.plugins.module_utils._files import FilesError, apply

_FILE = {
    "path": {"type": "path", "required": True},
    "content": {"type": "str", "required": True},
    "mode": {"type": "str", "default": "0644"},
    "owner": {"type": "str", "default": "root"},
    "group": {"type": "str", "default": "root"},
    "map": {"type": "str", "choices": ["hash", "btree", "lmdb", "cdb", "dbm", "sdbm"]},
    "backup": {"type": "bool", "default": False},
    "validate": {"type": "str"},
    "parents": {"type": "bool", "default": False},
    "settled": {"type": "bool", "default": False},
}


def build_module():
    # A secret's old content is not kept either: no backup option.
    secret = {k: v for k, v in _FILE.items() if k not in ("backup", "settled")}
    secret.update(content={"type": "str", "required": True, "no_log": True}, mode={"type": "str", "default": "0600"})
    return AnsibleModule(
        argument_spec={
            "files": {"type": "list", "elements": "dict", "default": [], "options": _FILE},
            # Only the content is secret (no_log above); the paths may be shown.
            "secret_files": {"type": "list", "elements": "dict", "default": [], "options": secret, "no_log": False},
        },
        supports_check_mode=True,
    )


def main():
    module = build_module()
    specs = [dict(spec, secret=False) for spec in module.params["files"]]
    specs += [dict(spec, secret=True) for spec in module.params["secret_files"]]
    for spec in specs:
        if not os.path.isabs(spec["path"]):
            module.fail_json(msg=f"files[].path must be absolute; got {spec['path']!r}")
        try:
            int(spec["mode"], 8)
        except ValueError:
            module.fail_json(msg=f"files[].mode of {spec['path']} must be an octal string like '0644'; "
                                 f"got {spec['mode']!r}")

    def run(argv, umask):
        rc, out, err = module.run_command(argv, umask=umask)
        return rc, (err + out)

    try:
        changed, databases, diffs = apply(specs, module.check_mode, module._diff, run, module.backup_local)
    except FilesError as exc:
        module.fail_json(msg=str(exc))
    result = {"changed": bool(changed or databases), "changed_files": changed, "databases": databases}
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
