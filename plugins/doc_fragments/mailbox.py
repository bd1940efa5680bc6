# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
from __future__ import annotations


class ModuleDocFragment:
    # The IMAP server, the folder and the search of mailbox_info and mailbox_trash; matches
    # mailbox_argument_spec() in plugins/module_utils/_mailbox.py.
    DOCUMENTATION = r"""
options:
  host:
    description: The IMAP server (implicit TLS).
    type: str
    default: imap.gmail.com
  port:
    description: The IMAP port.
    type: int
    default: 993
  folder:
    description:
      - The folder to search, by name, for example V(INBOX) or a label such as V(alerts).
      - Mutually exclusive with O(special_use). Without either, V(INBOX).
    type: str
  special_use:
    description:
      - The folder to search, by its special-use flag (RFC 6154), whatever its name in the account's language.
      - V(all) is Gmail's "All Mail" (every message, whatever its labels; a filter that skips the inbox does not hide
        it); V(sent) is "Sent Mail", where Gmail files what the account sent through smtp.gmail.com.
      - Mutually exclusive with O(folder).
    type: str
    choices: [all, sent, drafts, junk, trash, flagged, important]
  header:
    description:
      - Header fields that must contain the given text (IMAP C(SEARCH HEADER)), a dict of field name and text,
        for example the field V(X-Mailops-Probe) with the text V(run-1234). Every entry must match.
    type: dict
  message_id:
    description: The Message-ID to look for, with its angle brackets.
    type: str
  subject:
    description: Text the C(Subject) must contain (case-insensitive).
    type: str
  sender:
    description: Text the C(From) header must contain, for example the address.
    type: str
  to:
    description: Text the C(To) header must contain, for example V(ops.alerts+probe@gmail.com).
    type: str
  since:
    description: Only messages that arrived on or after this day, V(YYYY-MM-DD) (IMAP C(SINCE), the server's day).
    type: str
"""
