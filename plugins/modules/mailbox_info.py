#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: mailbox_info
short_description: Find messages in a Gmail mailbox over IMAP and wait for them to arrive
version_added: 0.2.0
description:
  - Logs in to Gmail's IMAP service with verified TLS (app password or OAuth 2.0, XOAUTH2), opens one folder
    read-only (C(EXAMINE)) and searches it by header, Message-ID, subject, sender, recipient and date.
  - With O(wait_for) it waits up to O(wait_timeout) seconds until that many messages match, in one IMAP session,
    with C(IDLE) where the server offers it (Gmail does; re-issued every 25 minutes, RFC 2177), otherwise by
    polling every O(poll_interval) seconds.
  - Gmail ends IMAP sessions after about a day, and an OAuth session when its access token expires (C(* BYE
    Session expired)); the module then logs in again (refreshing the token with O(oauth)) and goes on waiting
    until the deadline.
  - Returns per message its Message-ID, folder, arrival time (IMAP internal date), the seconds from its C(Date)
    header to its arrival, and the header fields asked for. Nothing in the mailbox is changed, not even the
    C(\\Seen) flag, so the proof that mail arrived is a read-only step.
  - Login failures are classified as by M(mailops.gmail.credentials_info), with a Gmail-specific remediation.
author:
  - mailops.gmail contributors (@mailops)
extends_documentation_fragment:
  - mailops.gmail.connection
  - mailops.gmail.mailbox
options:
  headers:
    description: The header fields to return for each message (the ones named in O(header) are added).
    type: list
    elements: str
    default: [Message-ID, Date, From, To, Subject]
  limit:
    description:
      - At most this many messages are returned, the newest; RV(count) still counts all matches.
    type: int
    default: 100
  wait_for:
    description:
      - Wait until at least this many messages match. V(0) searches once.
      - Needs O(wait_timeout).
    type: int
  wait_timeout:
    description: Seconds to wait for O(wait_for) matches, in total.
    type: float
  poll_interval:
    description: Seconds between searches when the server offers no C(IDLE) (or O(idle=false)).
    type: float
    default: 10
  idle:
    description: Use C(IDLE) to be told of new mail at once, where the server offers it.
    type: bool
    default: true
  fail_on_timeout:
    description:
      - Fail when fewer than O(wait_for) messages matched within O(wait_timeout). The result still lists what
        was found.
    type: bool
    default: true
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads (C(EXAMINE), C(BODY.PEEK)); it runs the same in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
notes:
  - IMAP access must be on for the account (Gmail settings, Forwarding and POP/IMAP).
  - Gmail delivers V(user+anything@gmail.com) to V(user@gmail.com), so probe mail sent to such an address can be
    found with O(to) and sorted away by a filter in Gmail.
seealso:
  - module: mailops.gmail.credentials_info
  - module: mailops.gmail.send
"""

EXAMPLES = r"""
- name: Wait up to 2 minutes for this run's probe mails, in All Mail
  mailops.gmail.mailbox_info:
    username: ops.alerts@gmail.com
    password: "{{ vault_gmail_app_password }}"
    special_use: all
    header:
      X-Mailops-Probe: "{{ probe_run_id }}"
    headers: [Message-ID, Date, X-Mailops-Host, X-Mailops-Path]
    wait_for: "{{ groups['all'] | length }}"
    wait_timeout: 120
    fail_on_timeout: false
  delegate_to: localhost
  run_once: true
  register: probes

- name: Is a sent message in Sent Mail?
  mailops.gmail.mailbox_info:
    username: ops.alerts@gmail.com
    oauth:
      client_id: "{{ gmail_client_id }}"
      client_secret: "{{ vault_gmail_client_secret }}"
      refresh_token: "{{ vault_gmail_refresh_token }}"
    special_use: sent
    message_id: "{{ sent.results[0].message_id }}"
  register: in_sent
"""

RETURN = r"""
folder:
  description: The folder searched (its name in this account).
  returned: success
  type: str
  sample: "[Gmail]/All Mail"
count:
  description: How many messages matched (all of them, even past O(limit)).
  returned: success
  type: int
  sample: 3
complete:
  description: Whether at least O(wait_for) messages matched in time (always true without O(wait_for)).
  returned: success
  type: bool
  sample: true
waited:
  description: Seconds the module spent, logins included.
  returned: success
  type: float
  sample: 4.2
messages:
  description: The matching messages, oldest first (at most O(limit), the newest).
  returned: success
  type: list
  elements: dict
  contains:
    uid:
      description: The message's IMAP UID in RV(folder).
      type: int
    message_id:
      description: The Message-ID header.
      type: str
      sample: "<174.2@host.example>"
    folder:
      description: The folder it was found in.
      type: str
    date:
      description: The C(Date) header, ISO 8601 UTC (null if missing or unreadable).
      type: str
      sample: "2026-12-02T04:10:00Z"
    internal_date:
      description: When Gmail received it (IMAP INTERNALDATE), ISO 8601 UTC.
      type: str
      sample: "2026-12-02T04:10:02Z"
    seconds_to_arrival:
      description: RV(messages[].internal_date) minus RV(messages[].date), in seconds; the sender's clock counts.
      type: float
      sample: 2.0
    size:
      description: The message size in bytes.
      type: int
    headers:
      description: The header fields of O(headers) (and O(header)), decoded; null for a missing one.
      type: dict
      sample: {"Message-ID": "<174.2@host.example>", "Subject": "probe", "X-Mailops-Host": "web1"}
session:
  description: How the module talked to the server.
  returned: success
  type: dict
  contains:
    host:
      description: The IMAP server.
      type: str
    port:
      description: The IMAP port.
      type: int
    tls_version:
      description: The negotiated TLS version.
      type: str
      sample: TLSv1.3
    mechanism:
      description: The login mechanism (V(LOGIN) or V(XOAUTH2)).
      type: str
    idle:
      description: Whether IDLE was used while waiting.
      type: bool
    logins:
      description: How many times the module logged in (more than one when Gmail ended a session during the wait).
      type: int
    reconnects:
      description: How many times a lost session was opened again.
      type: int
error:
  description: Why the search failed (same keys as RV(mailops.gmail.credentials_info#module:smtp.error)).
  returned: failure
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailops.gmail.plugins.module_utils._credentials import (
    CONNECTION_MUTUALLY_EXCLUSIVE,
    CONNECTION_REQUIRED_ONE_OF,
)
from ansible_collections.mailops.gmail.plugins.module_utils._mailbox import (
    check_mailbox_params,
    find_messages,
    mailbox_argument_spec,
)
from ansible_collections.mailops.gmail.plugins.module_utils._validate import ParameterError


def main():
    module = AnsibleModule(
        argument_spec=mailbox_argument_spec(),
        mutually_exclusive=CONNECTION_MUTUALLY_EXCLUSIVE + [["folder", "special_use"]],
        required_one_of=CONNECTION_REQUIRED_ONE_OF,
        required_by={"wait_for": ["wait_timeout"]},
        supports_check_mode=True,
    )
    try:
        check_mailbox_params(module.params)
    except ParameterError as exc:
        module.fail_json(msg=str(exc))
    result = find_messages(module.params)
    error = result.pop("error", None)
    if error:
        module.fail_json(msg=f"{error['message'].rstrip('.')}. {error['remediation']}", error=error, **result)
    if not result["complete"] and module.params["fail_on_timeout"]:
        module.fail_json(msg=f"{result['count']} of {module.params['wait_for']} messages matched in "
                             f"{result['folder']} within {module.params['wait_timeout']} s", **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
