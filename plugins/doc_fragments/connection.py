# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
from __future__ import annotations


class ModuleDocFragment:
    # The account and how to log in, for any service; matches credential_argument_spec() in
    # plugins/module_utils/_credentials.py.
    DOCUMENTATION = r"""
options:
  username:
    description:
      - The full address of the Gmail or Google Workspace account, for example V(ops.alerts@gmail.com).
    type: str
    required: true
  password:
    description:
      - An app password of the account (16 letters; spaces as Google shows them are accepted).
      - The account password is refused by Gmail when 2-Step Verification is on (534 5.7.9).
      - Mutually exclusive with O(access_token) and O(oauth); one of the three is required, except by the Workspace
        relay (C(service=workspace_relay)), which can know a host by its address.
    type: str
  access_token:
    description:
      - An OAuth 2.0 access token with the scope V(https://mail.google.com/), used with SASL XOAUTH2.
      - Access tokens live about one hour; see the P(mailops.gmail.access_token#lookup) lookup.
      - Mutually exclusive with O(password) and O(oauth).
    type: str
  oauth:
    description:
      - OAuth 2.0; a fresh access token is fetched from O(oauth.token_uri) on the target.
      - Either an OAuth client and a refresh token (O(oauth.client_id), O(oauth.client_secret),
        O(oauth.refresh_token)), or a Google Workspace service account with domain-wide delegation
        (O(oauth.service_account_file) or O(oauth.service_account_key), acting as O(oauth.subject)).
      - Mutually exclusive with O(password) and O(access_token).
    type: dict
    suboptions:
      client_id:
        description: The OAuth client ID (V(....apps.googleusercontent.com)); required with O(oauth.refresh_token).
        type: str
      client_secret:
        description: The OAuth client secret; required with O(oauth.refresh_token).
        type: str
      refresh_token:
        description:
          - The refresh token of the grant.
          - Refresh tokens of OAuth apps in "Testing" status expire after 7 days.
        type: str
      service_account_file:
        description:
          - The JSON key of a Workspace service account, as Google Cloud console creates it, on the host that runs
            the task. It must be readable by its owner only (mode 0600); it is refused otherwise.
          - The token is signed with the key (RS256, the JWT-bearer grant), which needs the Python
            C(cryptography) package there (Debian C(python3-cryptography); the controller has it with ansible-core).
          - The service account needs domain-wide delegation for V(https://mail.google.com/) (Admin console >
            Security > API controls).
        type: path
      service_account_key:
        description:
          - The same key's JSON text, for example read with the C(file) lookup from a vaulted file.
          - Mutually exclusive with O(oauth.service_account_file) and O(oauth.refresh_token).
        type: str
      subject:
        description: The Workspace user the service account acts as; defaults to O(username).
        type: str
      token_uri:
        description:
          - The token endpoint; must be an C(https://) URL. A service account's signed request names it as its
            audience.
        type: str
        default: https://oauth2.googleapis.com/token
  ca_file:
    description:
      - A PEM bundle of CA certificates to verify the servers against, instead of the system store.
      - Certificates and host names are always verified.
    type: path
  timeout:
    description:
      - Seconds for each network step and for each whole session.
    type: float
    default: 30
"""

    # Gmail's SMTP submission service (mailops.gmail.connection.smtp, with the above); the rest of
    # connection_argument_spec().
    SMTP = r"""
options:
  service:
    description:
      - V(gmail) is Gmail's submission service, smtp.gmail.com, with the account's credential.
      - V(workspace_relay) is Google Workspace's SMTP relay service, smtp-relay.gmail.com, for servers of a
        Workspace domain (10,000 messages per sender a day). It knows a host by its public address (the relay's
        IP allowlist in the Admin console; then no credential is given at all) or by SMTP AUTH. Without a
        credential, O(ehlohost) (default - this host's fully qualified name) must be in one of O(domains); the
        envelope sender always must. Both are checked before anything is sent.
    type: str
    choices: [gmail, workspace_relay]
    default: gmail
  domains:
    description:
      - With O(service=workspace_relay), your Workspace domains (the ones registered with the relay), for example
        V([example.com]). Defaults to the domain of O(username).
    type: list
    elements: str
  host:
    description:
      - The SMTP submission server. Default V(smtp.gmail.com), with O(service=workspace_relay)
        V(smtp-relay.gmail.com).
    type: str
  port:
    description:
      - The SMTP port, V(587) (STARTTLS) or V(465) (implicit TLS).
    type: int
    default: 587
  security:
    description:
      - V(starttls) connects in plaintext and upgrades with STARTTLS before anything else; without
        STARTTLS on offer the connection is refused, never continued in plaintext.
      - V(tls) speaks TLS from the first byte.
      - When omitted it follows O(port) (587 means V(starttls), 465 means V(tls)); other ports need it stated.
        Port 465 with V(starttls) and port 587 with V(tls) are refused.
    type: str
    choices: [starttls, tls]
  ehlohost:
    description:
      - The name sent with EHLO. Defaults to the fully qualified name of the host (RFC 5321), or, when the host
        has none, the address literal of its end of the connection, such as V([192.0.2.10]).
    type: str
"""
