# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Connection options shared by credentials_info and send, their checks, and the concurrent login check.

The argument spec here matches plugins/doc_fragments/connection.py option for option.
"""

from __future__ import annotations

import email.utils
import os
import socket
import threading

from ansible_collections.mailops.gmail.plugins.module_utils._errors import GmailError, classification, classify
from ansible_collections.mailops.gmail.plugins.module_utils._imap import ImapClient
from ansible_collections.mailops.gmail.plugins.module_utils._oauth import (
    DEFAULT_TOKEN_URI,
    refresh_oauth,
    service_account_key,
)
from ansible_collections.mailops.gmail.plugins.module_utils._pop import PopClient
from ansible_collections.mailops.gmail.plugins.module_utils._smtp import SmtpClient
from ansible_collections.mailops.gmail.plugins.module_utils._validate import (
    ParameterError,
    check_address,
    check_port,
    check_readable_file,
    check_strings,
    in_domains,
    is_consumer_domain,
    resolve_security,
    workspace_domains,
)

CREDENTIAL_OPTIONS = ("password", "access_token", "oauth")
CONNECTION_MUTUALLY_EXCLUSIVE = [CREDENTIAL_OPTIONS]
CONNECTION_REQUIRED_ONE_OF = [CREDENTIAL_OPTIONS]


def credential_argument_spec(require_credentials=True):
    """The account and how to log in (plugins/doc_fragments/connection.py); pair with the lists above."""
    return {
        "username": {"type": "str", "required": require_credentials},
        "password": {"type": "str", "no_log": True},
        "access_token": {"type": "str", "no_log": True},
        "oauth": {
            "type": "dict",
            "options": {
                "client_id": {"type": "str"},
                "client_secret": {"type": "str", "no_log": True},
                "refresh_token": {"type": "str", "no_log": True},
                "service_account_file": {"type": "path"},
                "service_account_key": {"type": "str", "no_log": True},
                "subject": {"type": "str"},
                "token_uri": {"type": "str", "default": DEFAULT_TOKEN_URI, "no_log": False},
            },
            # A refresh-token grant (client, secret, token) or a service account's key.
            "required_one_of": [["refresh_token", "service_account_file", "service_account_key"]],
            "mutually_exclusive": [["refresh_token", "service_account_file", "service_account_key"]],
            "required_by": {"refresh_token": ["client_id", "client_secret"]},
        },
        "ca_file": {"type": "path"},
        "timeout": {"type": "float", "default": 30},
    }


GMAIL_HOST, RELAY_HOST = "smtp.gmail.com", "smtp-relay.gmail.com"
SERVICES = ("gmail", "workspace_relay")
# Messages a day: about 500 on a consumer account; the relay's 10,000 per sender.
DAILY_LIMITS = {"gmail": 500, "workspace_relay": 10000}


def connection_argument_spec(require_credentials=True):
    """Options of plugins/doc_fragments/connection.py (DOCUMENTATION and SMTP); pair with the two lists above
    (with service=workspace_relay a credential is optional: required_if, not required_one_of)."""
    spec = credential_argument_spec(require_credentials)
    spec.update(
        service={"type": "str", "choices": list(SERVICES), "default": "gmail"},
        domains={"type": "list", "elements": "str"},
        host={"type": "str"},
        port={"type": "int", "default": 587},
        security={"type": "str", "choices": ["starttls", "tls"]},
        ehlohost={"type": "str"},
    )
    return spec


def has_credential(params):
    return any(params.get(name) for name in CREDENTIAL_OPTIONS)


def check_credential_params(params):
    """Checks of credential_argument_spec() options that AnsibleModule cannot express. Raises ParameterError."""
    # A key file's JSON has line breaks and never goes on the wire as it is: the one string that may.
    oauth = params.get("oauth")
    check_strings(dict(params, oauth={k: v for k, v in oauth.items() if k != "service_account_key"}) if oauth
                  else params)
    if params.get("username") is not None:
        check_address(params["username"], "username")
    if not params["timeout"] > 0:
        raise ParameterError(f"timeout must be a positive number of seconds, got {params['timeout']}")
    check_readable_file(params.get("ca_file"), "ca_file")
    oauth = params.get("oauth")
    if oauth and not oauth["token_uri"].startswith("https://"):
        raise ParameterError("oauth.token_uri must be an https:// URL: the client secret is sent to it")
    if oauth:
        check_service_account(oauth)


def check_service_account(oauth):
    """A service account's key: a key file only its owner can read, holding a key; the user to act as an address."""
    path = oauth.get("service_account_file")
    if path:
        try:
            mode = os.stat(path).st_mode & 0o777
        except OSError as exc:
            raise ParameterError(f"oauth.service_account_file={path} cannot be read ({exc.strerror}): give the "
                                 "path of the JSON key on the host that runs the task") from None
        if mode & 0o077:
            raise ParameterError(f"oauth.service_account_file={path} can be read by others (mode {mode:04o}): it "
                                 "holds a private key; make it 0600 (chmod 600)")
    try:
        service_account_key(oauth)
    except ValueError as exc:
        raise ParameterError(str(exc)) from None
    if oauth.get("subject") is not None:
        check_address(oauth["subject"], "oauth.subject")


def check_connection_params(params, extra_ports=()):
    """Checks AnsibleModule cannot express; returns the resolved SMTP security. Raises ParameterError.

    Fills in host (by service) and, for the Workspace relay without a credential, ehlohost (this host's
    fully qualified name), which must then be in one of the domains: the relay identifies the sending
    domain by it."""
    check_credential_params(params)
    relay = params.get("service") == "workspace_relay"
    params["host"] = params.get("host") or (RELAY_HOST if relay else GMAIL_HOST)
    security = resolve_security(params["port"], params.get("security"))
    for name in extra_ports:
        check_port(params[name], name)
    if relay:
        domains = relay_domains(params)
        if not has_credential(params):
            params["ehlohost"] = params.get("ehlohost") or socket.getfqdn()
            if not in_domains(params["ehlohost"], domains):
                raise ParameterError(
                    f"ehlohost={params['ehlohost']} is not in your Workspace domains ({', '.join(domains)}): without "
                    "SMTP AUTH smtp-relay.gmail.com identifies your domain by the EHLO name; give this host a fully "
                    "qualified name in one of them (or set ehlohost), or log in with password or oauth")
    elif params.get("domains"):
        raise ParameterError("domains is for service=workspace_relay: leave it out for smtp.gmail.com")
    return security


def check_submission(params, security, credentials="password, access_token or oauth"):
    """The rules of sending (the send module, the deploy_report callback) on top of check_connection_params:
    no credential in plaintext, a credential or a relay that needs none, a username with a credential.
    ``credentials`` names the caller's credential options. Raises ParameterError."""
    given = has_credential(params)
    relay = params.get("service") == "workspace_relay"
    if relay and security == "none":
        raise ParameterError("security=none is for a local relay: smtp-relay.gmail.com takes mail over TLS on 587 "
                             "(security=starttls)")
    if security == "none" and given:
        raise ParameterError("security=none would send the credentials in plaintext: it is only for a local relay "
                             f"without {credentials}; use port 587 (starttls) or 465 (tls)")
    if security != "none" and not given and not relay:
        raise ParameterError(f"give one of {credentials} (or security=none for a local relay, or "
                             "service=workspace_relay from an address the Workspace relay allows)")
    if given and not params.get("username"):
        raise ParameterError(f"username is required with {credentials}")


def check_relay_sender(sender, domains, where="sender"):
    """The Workspace relay takes only senders of its domains (and says so only after connecting)."""
    if not in_domains(sender, domains):
        raise ParameterError(f"{where}={sender} is not in your Workspace domains ({', '.join(domains)}): "
                             "smtp-relay.gmail.com refuses it (550 5.7.1); send from an address of your domain")


def relay_domains(params):
    """The Workspace domains of the relay checks: domains, else the domain of username (or of sender, for
    send). Raises ParameterError."""
    identity = params.get("username") or email.utils.parseaddr(params.get("sender") or "")[1]
    domains = workspace_domains(params.get("domains"), identity)
    if not domains:
        raise ParameterError("service=workspace_relay needs domains (your Workspace domains, e.g. [example.com]), "
                             "or username or sender (an address in one of them)")
    if any(is_consumer_domain(d) for d in domains):
        raise ParameterError("smtp-relay.gmail.com is for Google Workspace domains, not gmail.com: use "
                             "service=gmail (smtp.gmail.com) for a consumer account")
    return domains


def credentials(params):
    """Keyword arguments for Session.authenticate(); refreshes the access token when oauth is given."""
    return credentials_until(params)[0]


def credentials_until(params):
    """(credentials(), the epoch they stop working or None): an access token from oauth expires."""
    oauth = params.get("oauth")
    if oauth:
        # A service account acts as the account that logs in, unless told otherwise.
        oauth = dict(oauth, subject=oauth.get("subject") or params["username"])
        token = refresh_oauth(oauth, params.get("ca_file"), params["timeout"])
        return {"username": params["username"], "access_token": token["access_token"]}, token.get("expires_at")
    return _static_credentials(params), None


def _static_credentials(params):
    if params.get("access_token"):
        return {"username": params["username"], "access_token": params["access_token"]}
    return {"username": params["username"], "password": params.get("password")}


def smtp_client(params, security):
    return SmtpClient(
        params["host"],
        params["port"],
        security,
        ca_file=params.get("ca_file"),
        timeout=params["timeout"],
        local_hostname=params.get("ehlohost"),
    )


def _endpoints(params, security, protocols):
    clients = {
        "smtp": lambda: smtp_client(params, security),
        "imap": lambda: ImapClient(params["imap_host"], params["imap_port"], params.get("ca_file"), params["timeout"]),
        "pop": lambda: PopClient(params["pop_host"], params["pop_port"], params.get("ca_file"), params["timeout"]),
    }
    addresses = {
        "smtp": (params["host"], params["port"], security),
        "imap": (params.get("imap_host"), params.get("imap_port"), "tls"),
        "pop": (params.get("pop_host"), params.get("pop_port"), "tls"),
    }
    return {name: (clients[name], addresses[name]) for name in protocols}


def _blank(address):
    host, port, security = address
    return {
        "valid": False,
        "authenticated": False,
        "host": host,
        "port": port,
        "security": security,
        "mechanism": None,
        "tls_version": None,
        "error": None,
    }


def check_one(make_client, address, creds, timeout, relay_sender=None):
    """Connect, authenticate, end the session (QUIT/LOGOUT): never sends mail.

    For the Workspace relay (``relay_sender``) the login is optional, and what counts is whether the relay
    takes that envelope sender from this host: MAIL FROM, then RSET, so nothing is sent."""
    result = _blank(address)
    client = make_client()
    client.set_deadline(timeout)
    try:
        client.connect()
        result["tls_version"] = client.tls_version
        if isinstance(client, SmtpClient):
            result["server_extensions"] = dict(client.extensions)
        if creds.get("password") or creds.get("access_token"):
            result["mechanism"] = client.authenticate(**creds)
            result["authenticated"] = True
        if relay_sender:
            client.accepts_sender(relay_sender)
        result["valid"] = True
    except GmailError as exc:
        result["error"] = exc.classification
    except Exception as exc:  # a bug must still end as a result, not a lost thread
        result["error"] = classify(exc, f"{address[0]}:{address[1]}")
    finally:
        client.quit()
    return result


def check_credentials(params, protocols, security):
    """Check every protocol concurrently; wall time is about that of the slowest check."""
    endpoints = _endpoints(params, security, protocols)
    relay_sender = params["username"] if params.get("service") == "workspace_relay" else None
    try:
        creds = credentials(params)
    except GmailError as exc:
        results = {}
        for name, (_dummy, address) in endpoints.items():
            results[name] = dict(_blank(address), error=exc.classification)
        return results
    results = {}
    timeout = params["timeout"]

    def run(name, make_client, address):
        results[name] = check_one(make_client, address, creds, timeout, relay_sender if name == "smtp" else None)

    threads = [threading.Thread(target=run, args=(name,) + pair, daemon=True) for name, pair in endpoints.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 1)
    for name, (_dummy, address) in endpoints.items():
        if name not in results:  # a check that outlived its deadline: report, do not wait
            message = f"Check of {address[0]}:{address[1]} failed: no result within {timeout} s"
            results[name] = dict(_blank(address), error=classification("timeout", None, None, message))
    return results
