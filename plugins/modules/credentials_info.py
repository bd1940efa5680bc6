#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: credentials_info
short_description: Check Gmail credentials over SMTP, IMAP and POP without sending mail
version_added: 0.1.0
description:
  - Connects to Gmail with verified TLS, authenticates with an app password or OAuth 2.0 (XOAUTH2)
    and ends each session with QUIT or LOGOUT. No mail is ever sent.
  - The requested protocols are checked at the same time, so the run takes about as long as the slowest check.
  - Every failure is classified (wrong password, app password required, web login required, throttled,
    certificate, timeout, ...) and comes with a Gmail-specific remediation.
  - With O(service=workspace_relay) (smtp-relay.gmail.com) the credential is optional (the relay may know the
    host by its address), and the SMTP check asks whether the relay takes mail from O(username) here
    (C(MAIL FROM), then C(RSET), so still nothing is sent); a refusal is classified as V(relay_denied).
author:
  - mailops.gmail contributors (@mailops)
extends_documentation_fragment:
  - mailops.gmail.connection
  - mailops.gmail.connection.smtp
options:
  protocols:
    description:
      - Which services to log in to.
      - IMAP and POP access must be enabled in Gmail's settings (Forwarding and POP/IMAP).
    type: list
    elements: str
    choices: [smtp, imap, pop]
    default: [smtp]
  imap_host:
    description: The IMAP server (implicit TLS).
    type: str
    default: imap.gmail.com
  imap_port:
    description: The IMAP port.
    type: int
    default: 993
  pop_host:
    description: The POP3 server (implicit TLS).
    type: str
    default: pop.gmail.com
  pop_port:
    description: The POP3 port.
    type: int
    default: 995
  fail_on_invalid:
    description:
      - Fail the task when a check fails, with the classified reason and the remediation.
      - With V(false) the task only reports, see RV(valid) and RV(smtp.error).
    type: bool
    default: true
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module changes nothing; it runs the same in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
notes:
  - The OAuth token refresh (O(oauth)) runs on the target, which must reach O(oauth.token_uri).
seealso:
  - plugin: mailops.gmail.access_token
    plugin_type: lookup
"""

EXAMPLES = r"""
- name: Check the app password over SMTP (587, STARTTLS)
  mailops.gmail.credentials_info:
    username: ops.alerts@gmail.com
    password: "{{ vault_gmail_app_password }}"

- name: Check SMTP on 465, IMAP and POP with OAuth 2.0, report only
  mailops.gmail.credentials_info:
    username: ops.alerts@gmail.com
    oauth:
      client_id: "{{ gmail_client_id }}"
      client_secret: "{{ vault_gmail_client_secret }}"
      refresh_token: "{{ vault_gmail_refresh_token }}"
    port: 465
    protocols: [smtp, imap, pop]
    fail_on_invalid: false
  register: gmail_check

- name: Show why a check failed
  ansible.builtin.debug:
    msg: "{{ gmail_check.imap.error.message }} {{ gmail_check.imap.error.remediation }}"
  when: not gmail_check.imap.valid
"""

RETURN = r"""
valid:
  description: Whether every requested protocol authenticated.
  returned: always
  type: bool
  sample: true
smtp:
  description: The SMTP check (only when V(smtp) is in O(protocols)).
  returned: when smtp is checked
  type: dict
  contains:
    valid:
      description: The login worked.
      type: bool
      returned: always
    authenticated:
      description: AUTH was accepted.
      type: bool
      returned: always
    host:
      description: The server checked.
      type: str
      returned: always
      sample: smtp.gmail.com
    port:
      description: The port checked.
      type: int
      returned: always
      sample: 587
    security:
      description: The TLS mode used.
      type: str
      returned: always
      sample: starttls
    mechanism:
      description: The SASL mechanism used (V(PLAIN), V(LOGIN), V(XOAUTH2)), null if AUTH was not reached.
      type: str
      returned: always
      sample: PLAIN
    tls_version:
      description: The negotiated TLS version, null if TLS was not reached.
      type: str
      returned: always
      sample: TLSv1.3
    server_extensions:
      description: The EHLO keywords after TLS and their parameters.
      type: dict
      returned: when the EHLO after TLS succeeded
      sample: {"SIZE": "35882577", "AUTH": "LOGIN PLAIN XOAUTH2", "PIPELINING": ""}
    error:
      description: Why the check failed, null when it worked.
      type: dict
      returned: always
      contains:
        category:
          description:
            - The class of the failure, for example V(auth), V(app_password_required), V(web_login_required),
              V(starttls_required), V(throttled), V(temporary), V(tls), V(certificate), V(timeout), V(dns),
              V(refused), V(disconnected), V(protocol), V(oauth_invalid_grant), V(oauth_invalid_client).
          type: str
          sample: app_password_required
        code:
          description: The SMTP reply code, if the server answered with one.
          type: int
          sample: 534
        enhanced_code:
          description: The enhanced status code, if any.
          type: str
          sample: 5.7.9
        message:
          description: One line naming the endpoint and the server's answer.
          type: str
          sample: "Authentication to smtp.gmail.com:587 failed (534 5.7.9): Application-specific password required."
        remediation:
          description: What to do about it.
          type: str
        temporary:
          description: Whether a later retry may succeed.
          type: bool
imap:
  description: The IMAP check, with the same keys as RV(smtp) except RV(smtp.server_extensions).
  returned: when imap is checked
  type: dict
pop:
  description: The POP check, with the same keys as RV(smtp) except RV(smtp.server_extensions).
  returned: when pop is checked
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailops.gmail.plugins.module_utils._credentials import (
    CONNECTION_MUTUALLY_EXCLUSIVE,
    check_connection_params,
    check_credentials,
    connection_argument_spec,
    has_credential,
)
from ansible_collections.mailops.gmail.plugins.module_utils._validate import ParameterError

PROTOCOLS = ["smtp", "imap", "pop"]


def build_module():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        protocols={"type": "list", "elements": "str", "choices": PROTOCOLS, "default": ["smtp"]},
        imap_host={"type": "str", "default": "imap.gmail.com"},
        imap_port={"type": "int", "default": 993},
        pop_host={"type": "str", "default": "pop.gmail.com"},
        pop_port={"type": "int", "default": 995},
        fail_on_invalid={"type": "bool", "default": True},
    )
    return AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=CONNECTION_MUTUALLY_EXCLUSIVE,
        supports_check_mode=True,
    )


def main():
    module = build_module()
    params = module.params
    try:
        security = check_connection_params(params, extra_ports=("imap_port", "pop_port"))
    except ParameterError as exc:
        module.fail_json(msg=str(exc))
    protocols = [name for name in PROTOCOLS if name in params["protocols"]]
    if not protocols:
        module.fail_json(msg="protocols must name at least one of smtp, imap, pop")
    # The Workspace relay can know a host by its address (its IP allowlist): no credential then.
    if not has_credential(params) and params["service"] == "gmail":
        module.fail_json(msg="give one of password, access_token or oauth (only service=workspace_relay can go "
                             "without, from an address the relay allows)")
    if not has_credential(params) and protocols != ["smtp"]:
        module.fail_json(msg="protocols imap and pop need password, access_token or oauth (only the Workspace "
                             "relay takes mail without a login)")
    results = check_credentials(params, protocols, security)
    valid = all(result["valid"] for result in results.values())
    if not valid and params["fail_on_invalid"]:
        errors = [result["error"] for result in results.values() if result["error"]]
        reasons = [f"{error['message'].rstrip('.')}. {error['remediation']}" for error in errors]
        module.fail_json(msg=" | ".join(reasons), valid=False, changed=False, **results)
    module.exit_json(changed=False, valid=valid, **results)


if __name__ == "__main__":
    main()
