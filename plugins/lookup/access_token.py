# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: access_token
short_description: Fresh OAuth 2.0 access token for Gmail from a refresh token or a Workspace service account
version_added: 0.1.0
author:
  - mailops.gmail contributors (@mailops)
description:
  - Exchanges an OAuth 2.0 refresh token for an access token at Google's token endpoint, on the controller;
    or, for a Google Workspace service account with domain-wide delegation, signs a request with its key
    (RS256, the JWT-bearer grant) for a token that acts as O(subject).
  - The token is cached (in memory, and in O(cache_dir) unless that is empty) and reused until
    O(min_validity) seconds before it expires, so many tasks and hosts share one refresh.
  - Each term, if given, is a dict with the keys of the module option C(oauth) (C(client_id), C(client_secret),
    C(refresh_token), or C(service_account_file) or C(service_account_key) and C(subject); C(token_uri)); without
    terms the options below are used. Keys missing in a term come from the options.
options:
  _terms:
    description: Dicts of OAuth credentials, one token returned for each.
    type: list
    elements: dict
    required: false
  client_id:
    description: The OAuth client ID.
    type: str
  client_secret:
    description: The OAuth client secret.
    type: str
  refresh_token:
    description: The refresh token of the grant (scope V(https://mail.google.com/)).
    type: str
  service_account_file:
    description:
      - A Workspace service account's JSON key file on the controller (mode 0600, else refused), instead of
        O(client_id), O(client_secret) and O(refresh_token).
    type: path
  service_account_key:
    description: The same key's JSON text (for example from a vaulted file).
    type: str
  subject:
    description: The Workspace user the service account acts as; required with a service account.
    type: str
  token_uri:
    description: The token endpoint; must be an C(https://) URL.
    type: str
    default: https://oauth2.googleapis.com/token
  ca_file:
    description: A PEM CA bundle to verify the token endpoint against, instead of the system store.
    type: path
  timeout:
    description: Seconds to wait for the token endpoint.
    type: float
    default: 30
  min_validity:
    description: A cached token is reused only while it stays valid for at least this many seconds.
    type: int
    default: 300
  cache_dir:
    description:
      - Directory for cached tokens (mode 0700, files 0600, named by a hash of the whole credential).
      - The file cache shares tokens between the forks of one run and between runs; set to an empty
        string to keep tokens in memory only.
    type: str
    default: ~/.ansible/mailops_gmail/tokens
notes:
  - Refresh tokens of OAuth apps in "Testing" status expire after 7 days (C(invalid_grant)).
  - Access tokens are secrets; use C(no_log) on tasks that show them.
seealso:
  - module: mailops.gmail.credentials_info
"""

EXAMPLES = r"""
- name: Send with an access token fetched on the controller
  mailops.gmail.credentials_info:
    username: ops.alerts@gmail.com
    access_token: "{{ lookup('mailops.gmail.access_token', client_id=gmail_client_id,
                      client_secret=vault_gmail_client_secret, refresh_token=vault_gmail_refresh_token) }}"

- name: A token for alerts@example.com from a service account with domain-wide delegation
  ansible.builtin.set_fact:
    gmail_access_token: "{{ lookup('mailops.gmail.access_token', service_account_file='files/sa.json',
                            subject='alerts@example.com') }}"
  no_log: true

- name: The same with the dict used for the oauth option
  ansible.builtin.set_fact:
    gmail_access_token: "{{ lookup('mailops.gmail.access_token', gmail_oauth) }}"
  no_log: true
"""

RETURN = r"""
_raw:
  description: One access token per term (one when there are no terms).
  type: list
  elements: str
"""

import os
import time

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.mailops.gmail.plugins.module_utils._credentials import check_service_account
from ansible_collections.mailops.gmail.plugins.module_utils._errors import GmailError
from ansible_collections.mailops.gmail.plugins.module_utils._journal import private_dirs
from ansible_collections.mailops.gmail.plugins.module_utils._oauth import (
    cached_access_token,
    fingerprint,
    refresh_oauth,
)
from ansible_collections.mailops.gmail.plugins.module_utils._validate import ParameterError

KEYS = ("client_id", "client_secret", "refresh_token", "service_account_file", "service_account_key", "subject",
        "token_uri")
SERVICE_ACCOUNT = ("service_account_file", "service_account_key")
_MEMORY = {}


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        defaults = {key: self.get_option(key) for key in KEYS}
        return [self._token(self._oauth(term, defaults)) for term in (terms or [{}])]

    @staticmethod
    def _oauth(term, defaults):
        if not isinstance(term, dict):
            raise AnsibleLookupError("mailops.gmail.access_token: each term must be a dict with the keys of oauth")
        unknown = sorted(set(term) - set(KEYS))
        if unknown:
            raise AnsibleLookupError(f"mailops.gmail.access_token: unknown keys {', '.join(unknown)}")
        oauth = dict(defaults, **{key: value for key, value in term.items() if value is not None})
        given = [key for key in SERVICE_ACCOUNT + ("refresh_token",) if oauth.get(key)]
        if len(given) > 1:
            raise AnsibleLookupError(f"mailops.gmail.access_token: give one of {', '.join(given)}, not several")
        refresh_grant = ("client_id", "client_secret", "refresh_token")
        wanted = ("subject",) if given and given[0] in SERVICE_ACCOUNT else refresh_grant
        missing = [key for key in wanted + ("token_uri",) if not oauth.get(key)]
        if missing:
            raise AnsibleLookupError(f"mailops.gmail.access_token: give {', '.join(missing)} (as options or term keys)"
                                     + ("" if given else ", or a service account's key and subject"))
        for key in KEYS:
            if key != "service_account_key" and any(char in str(oauth[key] or "") for char in "\r\n\0"):
                raise AnsibleLookupError(f"mailops.gmail.access_token: {key} must not contain CR, LF or NUL")
        try:
            check_service_account(oauth)
        except ParameterError as exc:
            raise AnsibleLookupError(f"mailops.gmail.access_token: {exc}") from None
        return oauth

    def _token(self, oauth):
        key = fingerprint(oauth)
        min_validity = self.get_option("min_validity")
        entry = _MEMORY.get(key)
        if entry and entry["expires_at"] - min_validity > time.time():
            return entry["access_token"]
        directory = os.path.expanduser(self.get_option("cache_dir") or "")
        ca_file, timeout = self.get_option("ca_file"), self.get_option("timeout")
        try:
            entry = None
            if directory:
                # The file cache is shared with the msmtp role's token helper (_oauth.cached_access_token).
                try:
                    private_dirs(directory)
                    entry = cached_access_token(oauth, os.path.join(directory, key + ".json"), min_validity,
                                                ca_file, timeout)
                except OSError as exc:
                    self._display.warning(f"mailops.gmail.access_token: cannot cache the token in {directory}: {exc}")
            if entry is None:
                token = refresh_oauth(oauth, ca_file, timeout)
                entry = {"access_token": token["access_token"], "expires_at": token["expires_at"]}
        except GmailError as exc:
            raise AnsibleLookupError(f"{exc} {exc.classification['remediation']}") from None
        _MEMORY[key] = entry
        return entry["access_token"]
