#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: send
short_description: Send mail through Gmail, many messages over one verified, authenticated session
version_added: 0.1.0
description:
  - Sends one message, or a list of messages in O(messages), over B(one) TLS session with B(one) AUTH,
    pipelining MAIL, RCPT and DATA (RFC 2920) when the server offers it.
  - Enforces Gmail's limits before sending - at most 100 recipients per message, the message size, and a
    daily quota counted over a rolling 24 hours in a small state file per account on the host that runs the module.
  - Retries temporary failures (421, 450, 451, 452, 454 replies, dropped connections before the message data was sent)
    with bounded exponential backoff; never retries permanent (5xx) replies; never sends a message twice.
  - Undeliverable messages can be kept in a spool directory and sent later with O(flush_spool).
  - CR or LF in any header value or address is refused, and addresses are validated strictly.
author:
  - mailops.gmail contributors (@mailops)
extends_documentation_fragment:
  - mailops.gmail.connection
  - mailops.gmail.connection.smtp
options:
  username:
    description:
      - The full address of the Gmail or Google Workspace account, for example V(ops.alerts@gmail.com).
      - Required with O(password), O(access_token) or O(oauth). Omit it, with every credential, only for a local
        relay (O(security=none)).
    type: str
    required: false
  security:
    description:
      - V(starttls) connects in plaintext and upgrades with STARTTLS before anything else; without STARTTLS on
        offer the connection is refused, never continued in plaintext.
      - V(tls) speaks TLS from the first byte.
      - V(none) is for a local relay such as C(localhost:25) and is allowed only without credentials.
      - When omitted it follows O(port) (587 means V(starttls), 465 means V(tls)); other ports need it stated.
    type: str
    choices: [starttls, tls, none]
  sender:
    description:
      - The From address, V(address) or V(Display Name <address>). Defaults to O(username).
      - Gmail rewrites it to the account address unless it is a verified "Send mail as" alias.
    type: str
    aliases: [from]
  to:
    description: Recipients, a list or a comma-separated string.
    type: list
    elements: str
  cc:
    description: Copy recipients.
    type: list
    elements: str
  bcc:
    description: Blind copy recipients (in the envelope only, never in a header).
    type: list
    elements: str
  reply_to:
    description: Reply-To addresses.
    type: list
    elements: str
  subject:
    description: The subject. CR and LF are refused.
    type: str
  body:
    description: The plain text body. Must be text.
    type: raw
  html_body:
    description:
      - An HTML body. With O(body) the message is C(multipart/alternative). Must be text.
    type: raw
  attach:
    description: Paths of files to attach, on the host that runs the module.
    type: list
    elements: path
  headers:
    description:
      - Extra header fields, name to value. Headers the module builds itself (From, To, Subject, Message-ID,
        MIME-Version and every C(Content-*) header, ...) are refused; use the options.
    type: dict
  charset:
    description: Character set of the text parts.
    type: str
    default: utf-8
  dedupe_key:
    description:
      - A message whose key was sent successfully within O(dedupe_window) is skipped (status V(skipped),
        not changed), so that re-running a deployment playbook does not send the same notification again.
    type: str
  messages:
    description:
      - A list of messages sent over one session. Each entry is a dictionary with the keys
        C(sender), C(to), C(cc), C(bcc), C(reply_to), C(subject), C(body), C(html_body), C(attach), C(headers),
        C(charset) and C(dedupe_key), with the meaning of the options of the same name.
      - The top-level message options are defaults for every entry.
      - A bad entry fails the task before anything is sent, naming the entry by its index (V(messages[3].to)).
    type: list
    elements: raw
  split_recipients:
    description:
      - Gmail accepts at most 100 recipients per message. With V(false) a message with more fails before sending.
      - With V(true) the envelope is split into transactions of at most 100 recipients; every recipient gets the
        same message (same headers and Message-ID). Each transaction counts against the daily quota.
    type: bool
    default: false
  max_message_size:
    description:
      - Largest message in bytes, checked before connecting (Gmail advertises 35882577). A smaller SIZE advertised
        by the server is enforced too.
    type: int
    default: 35882577
  daily_limit:
    description:
      - Messages per account per rolling 24 hours (Gmail - about 500 for consumer accounts, 2000 for Workspace;
        the Workspace relay - 10,000 per sender).
      - A batch that does not fit fails before connecting (see O(over_quota)). V(0) switches the check off.
      - Default V(500), with O(service=workspace_relay) V(10000).
    type: int
  over_quota:
    description:
      - V(fail) fails the task before connecting when the batch does not fit the O(daily_limit).
      - V(spool) sends what fits and spools the rest (needs O(spool_dir)).
    type: str
    choices: [fail, spool]
    default: fail
  quota_dir:
    description:
      - Directory of the per-account quota and dedupe state files (mode 0600, locked while in use), on the host
        that runs the module.
      - A state file that is damaged or of another shape is moved aside (C(.corrupt-<time>), mode 0600) with a
        warning, and counting starts anew.
    type: path
    default: ~/.ansible/mailops_gmail
  dedupe_window:
    description:
      - Seconds during which a O(dedupe_key) stands for the message first sent with it. Running the task again
        within it skips the message when every recipient has it, and otherwise sends it (same Message-ID) only
        to the recipients that do not.
    type: int
    default: 86400
  confirm_timeout:
    description:
      - When delivery is unknown (the connection failed after the whole message was sent, or a run that was
        sending it was killed), the account's Sent Mail folder (found by its C(\\Sent) flag) is searched over IMAP
        for the Message-ID for up to this many seconds. Found means V(sent); not found means it is sent again
        once, with the same Message-ID (see O(retry_unknown)); IMAP not reachable means V(unknown).
      - The cost is paid only in these cases - one IMAP session per run, and up to this many seconds of waiting
        for a message that is not there.
      - V(0) switches the search off, so unknown stays V(unknown).
    type: int
    default: 30
  imap_host:
    description:
      - The IMAP server used to look for sent messages (implicit TLS, verified like O(host)).
      - When omitted it is V(imap.gmail.com) if O(host) is V(smtp.gmail.com), and otherwise no IMAP search is made
        (another server does not file what it accepts in a Gmail Sent Mail folder).
    type: str
  imap_port:
    description: The IMAP port.
    type: int
    default: 993
  retries:
    description: How many times a temporary failure is retried (per message, and for the session).
    type: int
    default: 3
  retry_delay:
    description: Seconds before the first retry; doubled for each further retry, at most 30 seconds.
    type: float
    default: 1
  retry_unknown:
    description:
      - When the connection fails after the whole message was sent, the server may or may not have it.
        With V(true) the message is sent again - once, with the same Message-ID - but only after O(imap_host)
        said it is not in Sent Mail within O(confirm_timeout); it is never resent blindly.
      - With V(false) such a message stays V(unknown) unless Sent Mail shows it.
    type: bool
    default: true
  spool_dir:
    description:
      - When set, a message that could not be delivered for a temporary reason (or because a session could not
        be established or the quota is reached) is written here as an C(.eml) file with its envelope, atomically,
        and the task does not fail for it (status V(spooled)).
      - Without it, an undeliverable message fails the task with the reply code and enhanced status code.
    type: path
  flush_spool:
    description:
      - Send the messages in O(spool_dir) first (oldest first); delivered ones are removed from the spool.
      - Each file is claimed under a lock and removed or rewritten right after its outcome, so concurrent flushes
        of one directory never send a file twice, and a flush that is killed leaves the rest for the next one.
      - Can be combined with new messages, or used alone.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Builds and validates every message and checks the quota; connects and authenticates nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
notes:
  - Recipients refused by the server make the task fail, after the other messages were sent.
  - A permanent session failure (wrong password, certificate) fails the task even when the messages were spooled.
  - The quota state lives on the host that runs the module; delegate to one host (for example the controller)
    so that all sends of an account are counted in one place.
seealso:
  - module: mailops.gmail.credentials_info
  - plugin: mailops.gmail.deploy_report
    plugin_type: callback
"""

EXAMPLES = r"""
- name: Send a deployment notification
  mailops.gmail.send:
    username: ops.alerts@gmail.com
    password: "{{ gmail_app_password }}"
    to: [team@example.com]
    subject: "Deployed {{ app_version }}"
    body: "Version {{ app_version }} is live."
    dedupe_key: "deploy-{{ app_version }}"
  delegate_to: localhost
  run_once: true

- name: Send one message per team over one session, spooling what cannot be sent now
  mailops.gmail.send:
    username: ops.alerts@gmail.com
    oauth:
      client_id: "{{ oauth_client_id }}"
      client_secret: "{{ oauth_client_secret }}"
      refresh_token: "{{ oauth_refresh_token }}"
    subject: Maintenance tonight
    spool_dir: /var/spool/mailops
    messages: "{{ teams | map('community.general.dict_kv', 'to') | list }}"

- name: Send the spooled messages
  mailops.gmail.send:
    username: ops.alerts@gmail.com
    password: "{{ gmail_app_password }}"
    spool_dir: /var/spool/mailops
    flush_spool: true

- name: Hand a message to the local relay (no TLS, no credentials)
  mailops.gmail.send:
    host: localhost
    port: 25
    security: none
    sender: root@web01.example.com
    to: [admins@example.com]
    subject: Hello
    body: Sent through the local Postfix.
"""

RETURN = r"""
messages:
  description: One entry per message, in order (spooled messages first when O(flush_spool)).
  returned: always
  type: list
  elements: dict
  contains:
    index:
      description: Position in O(messages), or null for the single message and for spooled ones.
      type: int
    message_id:
      description: The Message-ID header.
      type: str
      sample: <173262.12.4242@gmail.com>
    subject:
      description: The subject.
      type: str
    status:
      description:
        - V(sent), V(skipped) (the journal says every recipient has it), V(spooled), V(failed), V(unknown) (the
          message may or may not have been delivered and Sent Mail could not tell; see O(confirm_timeout)), or
          V(would_send) in check mode.
      type: str
      sample: sent
    accepted:
      description: Recipients the server accepted.
      type: list
      elements: str
    refused:
      description: Recipients the server refused, with its reply.
      type: dict
    unknown:
      description: Recipients for whom delivery is unknown.
      type: list
      elements: str
      sample: {"nobody@example.com": "550 5.1.1 The email account that you tried to reach does not exist."}
    error:
      description: Why the message was not delivered (category, code, enhanced_code, message, remediation).
      type: dict
    spool_path:
      description: The spool file of the message, when it is (still) spooled.
      type: str
session:
  description: Figures of the SMTP session(s).
  returned: always
  type: dict
  contains:
    connections:
      description: Connections opened (1 unless the server dropped the session).
      type: int
      sample: 1
    auths:
      description: AUTH commands sent.
      type: int
      sample: 1
    round_trips:
      description:
        - Round trips to the server, including greeting, EHLO, STARTTLS and AUTH.
        - With PIPELINING about one per message, as each message's data shares a flight with the next one's envelope.
      type: int
      sample: 107
    tls_version:
      description: The TLS version of the session.
      type: str
      sample: TLSv1.3
quota:
  description: The account's rolling 24 hour counter after this run.
  returned: always
  type: dict
  contains:
    used:
      description: Messages counted in the last 24 hours.
      type: int
    left:
      description: Messages left before O(daily_limit), null when unlimited.
      type: int
    limit:
      description: The O(daily_limit).
      type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailops.gmail.plugins.module_utils._credentials import (
    CONNECTION_MUTUALLY_EXCLUSIVE,
    DAILY_LIMITS,
    check_connection_params,
    check_relay_sender,
    check_submission,
    connection_argument_spec,
    relay_domains,
)
from ansible_collections.mailops.gmail.plugins.module_utils._journal import StateError
from ansible_collections.mailops.gmail.plugins.module_utils._message import (
    GMAIL_MAX_SIZE,
    MessageError,
    messages_from_params,
)
from ansible_collections.mailops.gmail.plugins.module_utils._outbox import deliver, session_factories
from ansible_collections.mailops.gmail.plugins.module_utils._spool import SpoolError
from ansible_collections.mailops.gmail.plugins.module_utils._validate import ParameterError, check_port


def argument_spec():
    spec = connection_argument_spec(require_credentials=False)
    spec["security"] = {"type": "str", "choices": ["starttls", "tls", "none"]}
    spec.update(
        sender={"type": "str", "aliases": ["from"]},
        to={"type": "list", "elements": "str"},
        cc={"type": "list", "elements": "str"},
        bcc={"type": "list", "elements": "str"},
        reply_to={"type": "list", "elements": "str"},
        subject={"type": "str"},
        body={"type": "raw"},
        html_body={"type": "raw"},
        attach={"type": "list", "elements": "path"},
        headers={"type": "dict"},
        charset={"type": "str", "default": "utf-8"},
        dedupe_key={"type": "str", "no_log": False},
        messages={"type": "list", "elements": "raw"},
        split_recipients={"type": "bool", "default": False},
        max_message_size={"type": "int", "default": GMAIL_MAX_SIZE},
        daily_limit={"type": "int"},
        over_quota={"type": "str", "choices": ["fail", "spool"], "default": "fail"},
        quota_dir={"type": "path", "default": "~/.ansible/mailops_gmail"},
        dedupe_window={"type": "int", "default": 86400},
        retries={"type": "int", "default": 3},
        retry_delay={"type": "float", "default": 1},
        retry_unknown={"type": "bool", "default": True},
        confirm_timeout={"type": "int", "default": 30},
        imap_host={"type": "str"},
        imap_port={"type": "int", "default": 993},
        spool_dir={"type": "path"},
        flush_spool={"type": "bool", "default": False},
    )
    return spec


def check_params(params):
    """Checks AnsibleModule cannot express; returns the resolved security."""
    connection = {k: v for k, v in params.items() if k in connection_argument_spec() or k == "sender"}
    security = check_connection_params(connection)
    params.update(host=connection["host"], ehlohost=connection["ehlohost"])  # filled in by service
    check_port(params["imap_port"], "imap_port")
    if params["daily_limit"] is None:
        params["daily_limit"] = DAILY_LIMITS[params["service"]]
    check_submission(params, security)
    for name in ("retries", "retry_delay", "dedupe_window", "daily_limit", "max_message_size", "confirm_timeout"):
        if params[name] < 0:
            raise ParameterError(f"{name} must be 0 or more, got {params[name]}")
    if params["flush_spool"] and not params.get("spool_dir"):
        raise ParameterError("flush_spool needs spool_dir")
    if params["over_quota"] == "spool" and not params.get("spool_dir"):
        raise ParameterError("over_quota=spool needs spool_dir")
    return security


def check_relay_senders(params, prepared):
    """The Workspace relay takes only senders of its domains (and says so only after connecting)."""
    domains = relay_domains(params)
    for index, msg in enumerate(prepared):
        check_relay_sender(msg.sender, domains, f"messages[{index}].sender" if params.get("messages") else "sender")


def summary(results):
    """The failure message of the task, or None when every message is accounted for."""
    problems = []
    for r in results:
        name = f"messages[{r['index']}]" if r["index"] is not None else (r["spool_path"] or "the message")
        if r["status"] in ("failed", "unknown"):
            error = r["error"] or {}
            problems.append(f"{name} {r['status']}: {error.get('message')} {error.get('remediation') or ''}".strip())
        elif r["status"] == "spooled" and r["error"] and not r["error"].get("temporary") \
                and r["error"].get("category") != "quota":  # spooled, but retrying later will not help by itself
            error = r["error"]
            problems.append(f"{name} spooled after a permanent failure: {error.get('message')} "
                            f"{error.get('remediation') or ''}".strip())
        elif r["refused"]:
            problems.append(f"{name}: recipients refused: "
                            + "; ".join(f"{k}: {v}" for k, v in r["refused"].items()))
    if not problems:
        return None
    return f"{len(problems)} of {len(results)} messages not fully delivered: " + " | ".join(problems)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), mutually_exclusive=CONNECTION_MUTUALLY_EXCLUSIVE,
                           supports_check_mode=True)
    params = module.params
    try:
        security = check_params(params)
        prepared = messages_from_params(params, params.get("username"), params["max_message_size"])
    except (ParameterError, MessageError) as exc:
        module.fail_json(msg=str(exc))
    if params["service"] == "workspace_relay":
        try:
            check_relay_senders(params, prepared)
        except ParameterError as exc:
            module.fail_json(msg=str(exc))
    account = params.get("username") or (prepared[0].sender if prepared else "relay")

    make_submitter, make_confirmer = session_factories(params, security, retries=params["retries"],
                                                       retry_delay=params["retry_delay"])
    try:
        results, stats = deliver(prepared, make_submitter, account, daily_limit=params["daily_limit"],
                                 quota_dir=params["quota_dir"], dedupe_window=params["dedupe_window"],
                                 over_quota=params["over_quota"], spool_dir=params.get("spool_dir"),
                                 flush_spool=params["flush_spool"], check_mode=module.check_mode,
                                 make_confirmer=make_confirmer, confirm_timeout=params["confirm_timeout"],
                                 retry_unknown=params["retry_unknown"])
    except (StateError, SpoolError) as exc:
        module.fail_json(msg=str(exc))
    out = {
        "changed": any(r["status"] in ("sent", "would_send") for r in results),
        "messages": results,
        "session": {k: stats[k] for k in ("connections", "auths", "round_trips", "tls_version")},
        "quota": {"used": stats["quota_used"], "left": stats["quota_left"], "limit": params["daily_limit"]},
    }
    for warning in stats.get("warnings", []):
        module.warn(warning)
    spooled = sum(r["status"] == "spooled" for r in results)
    if spooled:
        module.warn(f"{spooled} message(s) spooled in {params['spool_dir']}; send them with flush_spool: true")
    problem = summary(results)
    if problem:
        module.fail_json(msg=problem, **out)
    module.exit_json(**out)


if __name__ == "__main__":
    main()
