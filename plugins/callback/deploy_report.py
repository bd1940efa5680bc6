# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: deploy_report
type: notification
short_description: Mail one deployment report per playbook run through Gmail
version_added: 0.1.0
description:
  - At the end of each playbook, sends one mail (not one per task) with the playbook, start, end and duration,
    the controller, per-host ok/changed/failed/unreachable/skipped counts and every failed task with its host and
    its C(msg), as text and HTML.
  - Never includes module arguments, and nothing of a task or result under C(no_log).
  - Sends over verified TLS with AUTH (app password) or XOAUTH2 (access token, OAuth refresh token, or a Workspace
    service account's key), or to a local relay without credentials (O(security=none)), through the same code as the
    P(mailops.gmail.send#module) module.
  - With O(service=workspace_relay) it sends through Google Workspace's SMTP relay, which can know the controller by
    its address, so that no credential is needed at all; the relay's rules (sender and EHLO name in O(domains)) are
    checked before connecting, as by the module.
  - If the mail cannot be sent, the run is not disturbed - a warning is shown and the report is written as an
    C(.eml) file to O(spool_dir) (send it later with P(mailops.gmail.send#module) and C(flush_spool)).
  - Secrets are read only from environment variables or a file of mode 0600, never from C(ansible.cfg).
  - A bad option never breaks the run either. What the callback checks itself (the connection, the credentials,
    the Workspace relay's rules, O(service)) gives one warning that names the option and the fix, and the report is
    spooled; a value Ansible refuses when it loads the callback (a wrong type, or a value of O(when) or O(security)
    not among the choices) makes Ansible skip the callback with its own warning.
requirements:
  - Enable it with C(callbacks_enabled = mailops.gmail.deploy_report) in C(ansible.cfg) or
    E(ANSIBLE_CALLBACKS_ENABLED).
author:
  - mailops.gmail contributors (@mailops)
options:
  to:
    description: Recipients of the report. Without them no report is sent (a warning says so).
    type: list
    elements: str
    ini:
      - {section: callback_deploy_report, key: to}
    env:
      - name: MAILOPS_GMAIL_REPORT_TO
  sender:
    description: The From address; defaults to O(username).
    type: str
    ini:
      - {section: callback_deploy_report, key: sender}
    env:
      - name: MAILOPS_GMAIL_REPORT_SENDER
  when:
    description:
      - V(always) sends after every run, V(failure) only when a host failed or was unreachable,
        V(changed) when something changed or failed.
    type: str
    choices: [always, failure, changed]
    default: failure
    ini:
      - {section: callback_deploy_report, key: when}
    env:
      - name: MAILOPS_GMAIL_REPORT_WHEN
  subject:
    description:
      - Subject template with the fields C({status}) (OK, CHANGED, FAILED), C({playbook}), C({controller}),
        C({hosts}), C({failed_hosts}) and C({changed_hosts}).
    type: str
    default: "[{status}] {playbook} on {controller}: {failed_hosts} failed, {changed_hosts} changed"
    ini:
      - {section: callback_deploy_report, key: subject}
    env:
      - name: MAILOPS_GMAIL_REPORT_SUBJECT
  username:
    description:
      - The Gmail or Workspace account; required with a credential (O(password), O(password_file), O(access_token)
        or the oauth options), so not for a local relay (O(security=none)) nor for the Workspace relay by address.
    type: str
    ini:
      - {section: callback_deploy_report, key: username}
    env:
      - name: MAILOPS_GMAIL_REPORT_USERNAME
  password:
    description:
      - The app password. Only from the environment variable E(MAILOPS_GMAIL_REPORT_PASSWORD), never from
        C(ansible.cfg). The callback reads the variable itself rather than declaring it as this option's source,
        so C(ansible-config dump) never prints it.
    type: str
  password_file:
    description:
      - A file holding the app password (first line). Refused, with a warning, unless its mode is 0600 or stricter.
    type: path
    ini:
      - {section: callback_deploy_report, key: password_file}
    env:
      - name: MAILOPS_GMAIL_REPORT_PASSWORD_FILE
  access_token:
    description: An OAuth 2.0 access token for XOAUTH2. Only from E(MAILOPS_GMAIL_REPORT_ACCESS_TOKEN), as O(password).
    type: str
  oauth_client_id:
    description: OAuth client ID; with O(oauth_client_secret) and O(oauth_refresh_token) a fresh token is fetched.
    type: str
    ini:
      - {section: callback_deploy_report, key: oauth_client_id}
    env:
      - name: MAILOPS_GMAIL_REPORT_OAUTH_CLIENT_ID
  oauth_client_secret:
    description: OAuth client secret. Only from E(MAILOPS_GMAIL_REPORT_OAUTH_CLIENT_SECRET), read like O(password).
    type: str
  oauth_refresh_token:
    description: OAuth refresh token. Only from E(MAILOPS_GMAIL_REPORT_OAUTH_REFRESH_TOKEN), read like O(password).
    type: str
  oauth_service_account_file:
    description:
      - A Google Workspace service account's JSON key file (domain-wide delegation for V(https://mail.google.com/)),
        instead of a password or a refresh token. The report is sent as O(oauth_subject) with an access token the
        key signs for (the JWT-bearer grant).
      - Refused, with a warning, unless its mode is 0600 or stricter, as by the modules.
    type: path
    ini:
      - {section: callback_deploy_report, key: oauth_service_account_file}
    env:
      - name: MAILOPS_GMAIL_REPORT_OAUTH_SERVICE_ACCOUNT_FILE
  oauth_subject:
    description: The Workspace user the service account acts as; defaults to O(username).
    type: str
    ini:
      - {section: callback_deploy_report, key: oauth_subject}
    env:
      - name: MAILOPS_GMAIL_REPORT_OAUTH_SUBJECT
  oauth_token_uri:
    description: The OAuth token endpoint.
    type: str
    default: https://oauth2.googleapis.com/token
    ini:
      - {section: callback_deploy_report, key: oauth_token_uri}
    env:
      - name: MAILOPS_GMAIL_REPORT_OAUTH_TOKEN_URI
  service:
    description:
      - V(gmail) is smtp.gmail.com with the account's credential.
      - V(workspace_relay) is Google Workspace's SMTP relay, smtp-relay.gmail.com. When its settings allow the
        controller's public address, no credential is needed - without one, O(ehlo_name) must be in one of
        O(domains), and the sender always must be. O(security=none) is refused with it.
      - Other values are refused with a warning (not by Ansible, which would drop the report).
    type: str
    default: gmail
    ini:
      - {section: callback_deploy_report, key: service}
    env:
      - name: MAILOPS_GMAIL_REPORT_SERVICE
  domains:
    description:
      - With O(service=workspace_relay), your Workspace domains; by default the domain of O(username), else of
        O(sender). gmail.com is refused.
    type: list
    elements: str
    ini:
      - {section: callback_deploy_report, key: domains}
    env:
      - name: MAILOPS_GMAIL_REPORT_DOMAINS
  ehlo_name:
    description:
      - The name given in EHLO; by default, with O(service=workspace_relay) and no credential, the controller's
        fully qualified name (the relay then tells your domain by it), otherwise the SMTP library's default.
    type: str
    ini:
      - {section: callback_deploy_report, key: ehlo_name}
    env:
      - name: MAILOPS_GMAIL_REPORT_EHLO_NAME
  host:
    description:
      - The SMTP server. Default V(smtp.gmail.com), with O(service=workspace_relay) V(smtp-relay.gmail.com).
    type: str
    ini:
      - {section: callback_deploy_report, key: host}
    env:
      - name: MAILOPS_GMAIL_REPORT_HOST
  port:
    description: The SMTP port.
    type: int
    default: 587
    ini:
      - {section: callback_deploy_report, key: port}
    env:
      - name: MAILOPS_GMAIL_REPORT_PORT
  security:
    description:
      - V(starttls), V(tls), or V(none) for a local relay without credentials. Follows O(port) when omitted
        (587 V(starttls), 465 V(tls)).
    type: str
    choices: [starttls, tls, none]
    ini:
      - {section: callback_deploy_report, key: security}
    env:
      - name: MAILOPS_GMAIL_REPORT_SECURITY
  ca_file:
    description: CA bundle to verify the server against instead of the system store.
    type: path
    ini:
      - {section: callback_deploy_report, key: ca_file}
    env:
      - name: MAILOPS_GMAIL_REPORT_CA_FILE
  timeout:
    description: Seconds for each network step.
    type: float
    default: 30
    ini:
      - {section: callback_deploy_report, key: timeout}
    env:
      - name: MAILOPS_GMAIL_REPORT_TIMEOUT
  retries:
    description: Retries of temporary failures.
    type: int
    default: 2
    ini:
      - {section: callback_deploy_report, key: retries}
    env:
      - name: MAILOPS_GMAIL_REPORT_RETRIES
  spool_dir:
    description: Where a report that could not be sent is written (mode 0600 files).
    type: path
    default: ~/.ansible/mailops_gmail/reports
    ini:
      - {section: callback_deploy_report, key: spool_dir}
    env:
      - name: MAILOPS_GMAIL_REPORT_SPOOL_DIR
  quota_dir:
    description: Directory of the per-account daily quota state shared with P(mailops.gmail.send#module).
    type: path
    default: ~/.ansible/mailops_gmail
    ini:
      - {section: callback_deploy_report, key: quota_dir}
    env:
      - name: MAILOPS_GMAIL_REPORT_QUOTA_DIR
  imap_host:
    description:
      - The IMAP server where Sent Mail is searched when the delivery of the report is unknown.
      - When omitted it is V(imap.gmail.com) if O(host) is V(smtp.gmail.com); otherwise no search is made.
    type: str
    ini:
      - {section: callback_deploy_report, key: imap_host}
    env:
      - name: MAILOPS_GMAIL_REPORT_IMAP_HOST
  imap_port:
    description: The IMAP port (implicit TLS).
    type: int
    default: 993
    ini:
      - {section: callback_deploy_report, key: imap_port}
    env:
      - name: MAILOPS_GMAIL_REPORT_IMAP_PORT
  confirm_timeout:
    description:
      - Seconds to look for the report in Sent Mail when the connection failed after it was sent (found - sent;
        not found - sent again once, same Message-ID; no IMAP - spooled as unknown, and a flush settles it).
        V(0) switches the search off. Only this case waits; a normal run does not open IMAP.
    type: int
    default: 30
    ini:
      - {section: callback_deploy_report, key: confirm_timeout}
    env:
      - name: MAILOPS_GMAIL_REPORT_CONFIRM_TIMEOUT
"""

import os
import re
import socket
import stat
import time

from ansible.plugins.callback import CallbackBase

from ansible_collections.mailops.gmail.plugins.module_utils import _spool
from ansible_collections.mailops.gmail.plugins.module_utils._credentials import (
    DAILY_LIMITS,
    SERVICES,
    check_connection_params,
    check_relay_sender,
    check_submission,
    relay_domains,
)
from ansible_collections.mailops.gmail.plugins.module_utils._message import build_message
from ansible_collections.mailops.gmail.plugins.module_utils._oauth import DEFAULT_TOKEN_URI
from ansible_collections.mailops.gmail.plugins.module_utils._outbox import deliver, session_factories
from ansible_collections.mailops.gmail.plugins.module_utils._report import build_report, should_send
from ansible_collections.mailops.gmail.plugins.module_utils._validate import ParameterError

HIDDEN = "(hidden: no_log)"
# Secrets are read from the environment here, not declared as the options' sources, because
# `ansible-config dump` prints every declared source's value.
SECRET_ENV = {"password": "MAILOPS_GMAIL_REPORT_PASSWORD", "access_token": "MAILOPS_GMAIL_REPORT_ACCESS_TOKEN",
              "oauth_client_secret": "MAILOPS_GMAIL_REPORT_OAUTH_CLIENT_SECRET",
              "oauth_refresh_token": "MAILOPS_GMAIL_REPORT_OAUTH_REFRESH_TOKEN"}


# The send module's parameter names in module_utils' messages, and this callback's options for them.
_OPTION_NAMES = (
    (re.compile(r"\boauth\.(client_id|client_secret|refresh_token|service_account_file|subject|token_uri)\b"),
     r"oauth_\1"),
    (re.compile(r"\behlohost\b"), "ehlo_name"),
)


def _secret(name):
    return os.environ.get(SECRET_ENV[name]) or None


def _in_option_names(message):
    for pattern, name in _OPTION_NAMES:
        message = pattern.sub(name, message)
    return message


class ReportNotSent(Exception):
    pass


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "mailops.gmail.deploy_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super().__init__(display=display)
        self.run = {"playbook": "?", "start": time.time(), "controller": socket.gethostname(), "hosts": {},
                    "failures": []}

    def v2_playbook_on_start(self, playbook):
        self.run["playbook"] = os.path.basename(playbook._file_name)
        self.run["start"] = time.time()

    def _failure(self, result, unreachable=False):
        hidden = result._result.get("_ansible_no_log") or getattr(result._task, "no_log", False)
        msg = HIDDEN if hidden else result._result.get("msg", "")
        self.run["failures"].append({"host": result._host.get_name(), "task": result._task.get_name(),
                                     "msg": str(msg), "unreachable": unreachable})

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not ignore_errors:
            self._failure(result)

    def v2_runner_on_unreachable(self, result):
        self._failure(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        self.run["end"] = time.time()
        for host in sorted(stats.processed):
            s = stats.summarize(host)
            self.run["hosts"][host] = {"ok": s["ok"], "changed": s["changed"], "failed": s["failures"],
                                       "unreachable": s["unreachable"], "skipped": s["skipped"]}
        try:
            if not should_send(self.get_option("when"), self.run):
                return
            subject, text, page = build_report(self.run, self.get_option("subject"))
        except Exception as exc:  # the run must never break because of the report
            self._display.warning(f"deploy_report: cannot build the report: {exc}")
            return
        msg = None
        try:
            if not self.get_option("to"):
                raise ReportNotSent("no recipients: set to in [callback_deploy_report] or MAILOPS_GMAIL_REPORT_TO")
            [msg] = build_message({"to": self.get_option("to"), "sender": self.get_option("sender"),
                                   "subject": subject, "body": text, "html_body": page},
                                  default_sender=self.get_option("username"))
            self._send(msg, self._params(msg))
        except ParameterError as exc:  # the module's wording, in this callback's option names
            self._spool(msg, subject, text, page, _in_option_names(str(exc)))
        except Exception as exc:
            self._spool(msg, subject, text, page, exc)

    def _secret_from_file(self):
        path = self.get_option("password_file")
        if not path:
            return None
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o077:
            raise ReportNotSent(f"password_file {path} has mode {mode:04o}, readable by others; refusing it: "
                                f"run chmod 600 {path}")
        with open(path, encoding="utf-8") as handle:
            return handle.readline().strip()

    def _oauth(self):
        """The send module's oauth dict from the options: a refresh-token grant or a service account's key."""
        refresh_token, key_file = _secret("oauth_refresh_token"), self.get_option("oauth_service_account_file")
        if refresh_token and key_file:
            raise ReportNotSent("MAILOPS_GMAIL_REPORT_OAUTH_REFRESH_TOKEN and oauth_service_account_file are both "
                                "set: keep one of the two")
        if refresh_token and not (self.get_option("oauth_client_id") and _secret("oauth_client_secret")):
            raise ReportNotSent("MAILOPS_GMAIL_REPORT_OAUTH_REFRESH_TOKEN needs oauth_client_id and "
                                "MAILOPS_GMAIL_REPORT_OAUTH_CLIENT_SECRET too")
        if not (refresh_token or key_file):
            return None
        oauth = dict.fromkeys(("client_id", "client_secret", "refresh_token", "service_account_file",
                               "service_account_key", "subject"))
        oauth["token_uri"] = self.get_option("oauth_token_uri") or DEFAULT_TOKEN_URI
        if key_file:
            # The subject defaults to username later (_credentials.credentials_until), as in the module.
            oauth.update(service_account_file=key_file, subject=self.get_option("oauth_subject"))
        else:
            oauth.update(client_id=self.get_option("oauth_client_id"), client_secret=_secret("oauth_client_secret"),
                         refresh_token=refresh_token)
        return oauth

    def _params(self, msg):
        """The send module's connection parameters, checked by the same code as in the module
        (module_utils._credentials: check_connection_params, check_submission, check_relay_sender)."""
        service = self.get_option("service") or "gmail"
        if service not in SERVICES:
            raise ReportNotSent(f"service={service} is unknown: set service to gmail (smtp.gmail.com) or "
                                "workspace_relay (smtp-relay.gmail.com)")
        credentials = {"password": _secret("password") or self._secret_from_file(),
                       "access_token": _secret("access_token"), "oauth": self._oauth()}
        given = [name for name, value in credentials.items() if value]
        if len(given) > 1:
            raise ReportNotSent(f"more than one credential is set ({', '.join(given)}): keep one of password (or "
                                "password_file), access_token and the oauth options")
        params = dict(credentials, username=self.get_option("username"), sender=msg.sender, service=service,
                      domains=self.get_option("domains"), host=self.get_option("host"), port=self.get_option("port"),
                      security=self.get_option("security"), ehlohost=self.get_option("ehlo_name"),
                      ca_file=self.get_option("ca_file"), timeout=self.get_option("timeout"),
                      imap_host=self.get_option("imap_host"), imap_port=self.get_option("imap_port"))
        params["security"] = security = check_connection_params(params)
        check_submission(params, security, credentials="password (MAILOPS_GMAIL_REPORT_PASSWORD or password_file), "
                                                       "access_token or the oauth options")
        if service == "workspace_relay":
            check_relay_sender(msg.sender, relay_domains(params))
        return params

    def _send(self, msg, params):
        make_submitter, make_confirmer = session_factories(params, params["security"],
                                                           retries=self.get_option("retries"))
        account = params["username"] or msg.sender
        daily_limit = DAILY_LIMITS[params["service"]]  # the module's defaults
        [result], stats = deliver([msg], make_submitter, account, daily_limit=daily_limit,
                                  quota_dir=self.get_option("quota_dir"), make_confirmer=make_confirmer,
                                  confirm_timeout=self.get_option("confirm_timeout"))
        for warning in stats.get("warnings", []):
            self._display.warning(f"deploy_report: {warning}")
        if result["status"] != "sent" or result["refused"]:
            error = result["error"] or {"message": "refused: " + "; ".join(result["refused"].values())}
            # The classified error with its fix (a relay refusal says what to change in the Admin console).
            fix = error.get("remediation")
            raise ReportNotSent(_in_option_names(f"{error['message']}; fix: {fix}" if fix else error["message"]))
        self._display.display(f"deploy_report: report mailed to {', '.join(result['accepted'])}")

    def _spool(self, msg, subject, text, page, exc):
        spool_dir = self.get_option("spool_dir")
        try:
            if msg is None:  # the message itself could not be built: keep a minimal one
                [msg] = build_message({"to": "undisclosed@localhost", "subject": subject, "body": text,
                                       "html_body": page}, default_sender="deploy-report@localhost")
            path = _spool.write(spool_dir, msg.raw, msg.sender, msg.recipients, msg.message_id)
            where = f"report written to {path}"
        except Exception as spool_exc:
            where = f"and it could not be spooled either: {spool_exc}"
        self._display.warning(f"deploy_report: the report mail was not sent ({exc}); {where}")
