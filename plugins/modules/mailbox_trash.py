#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: mailbox_trash
short_description: Move messages found in a Gmail mailbox to the Trash over IMAP
version_added: 0.2.0
description:
  - Logs in to Gmail's IMAP service as M(mailops.gmail.mailbox_info) does, searches one folder with the same
    options, and moves the matching messages to the folder flagged C(\\Trash) (C([Gmail]/Trash)) with IMAP
    C(MOVE). Gmail empties the Trash after 30 days; until then the messages can be restored.
  - The explicit clean-up step for probe mails
    (O(mailops.gmail.delivery_proof#role:main:delivery_proof_cleanup)); finding messages never changes
    anything, only this module does.
  - At least one search option (O(header), O(message_id), O(subject), O(sender), O(to), O(since)) is required,
    and when more than O(max_messages) messages match nothing is moved, so a search wider than meant cannot empty
    a mailbox.
author:
  - mailops.gmail contributors (@mailops)
extends_documentation_fragment:
  - mailops.gmail.connection
  - mailops.gmail.mailbox
options:
  max_messages:
    description: Move nothing and fail when more messages than this match.
    type: int
    default: 100
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: In check mode the folder is opened read-only and the messages that would move are returned.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
seealso:
  - module: mailops.gmail.mailbox_info
"""

EXAMPLES = r"""
- name: Move this run's probe mails to the Trash
  mailops.gmail.mailbox_trash:
    username: ops.alerts@gmail.com
    password: "{{ vault_gmail_app_password }}"
    special_use: all
    header:
      X-Mailops-Probe: "{{ probe_run_id }}/"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
folder:
  description: The folder searched.
  returned: always
  type: str
  sample: "[Gmail]/All Mail"
count:
  description: How many messages matched.
  returned: always
  type: int
  sample: 3
messages:
  description: The messages moved (in check mode, that would move), each with its C(uid), C(message_id) and
    C(headers) (Message-ID, Subject).
  returned: always
  type: list
  elements: dict
waited:
  description: Seconds the module spent.
  returned: always
  type: float
session:
  description: How the module talked to the server, as RV(mailops.gmail.mailbox_info#module:session) says.
  returned: always
  type: dict
error:
  description: Why it failed (same keys as RV(mailops.gmail.credentials_info#module:smtp.error)).
  returned: failure
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailops.gmail.plugins.module_utils._credentials import (
    CONNECTION_MUTUALLY_EXCLUSIVE,
    CONNECTION_REQUIRED_ONE_OF,
)
from ansible_collections.mailops.gmail.plugins.module_utils._mailbox import (
    SEARCH_OPTIONS,
    check_mailbox_params,
    mailbox_argument_spec,
    trash_messages,
)
from ansible_collections.mailops.gmail.plugins.module_utils._validate import ParameterError


def main():
    module = AnsibleModule(
        argument_spec=mailbox_argument_spec(trash=True),
        mutually_exclusive=CONNECTION_MUTUALLY_EXCLUSIVE + [["folder", "special_use"]],
        required_one_of=CONNECTION_REQUIRED_ONE_OF + [list(SEARCH_OPTIONS)],
        supports_check_mode=True,
    )
    try:
        check_mailbox_params(module.params)
    except ParameterError as exc:
        module.fail_json(msg=str(exc))
    result = trash_messages(module.params, module.check_mode)
    error = result.pop("error", None)
    if error:
        module.fail_json(msg=f"{error['message'].rstrip('.')}. {error['remediation']}", error=error, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
