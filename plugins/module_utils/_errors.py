# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Turn any failure talking to Gmail into one classification with a Gmail-specific fix.

A classification is a dict: category, code, enhanced_code, message (one line naming the
endpoint), remediation, temporary. `temporary` drives retries in the send module: 4xx
replies, timeouts and dropped connections are worth another try, everything else is not.
"""

from __future__ import annotations

import re
import socket
import ssl

# What a phrase names in a message, per stage of a session.
_STAGES = {
    "connect": "Connection to",
    "greeting": "Greeting from",
    "ehlo": "EHLO to",
    "starttls": "STARTTLS with",
    "tls": "TLS handshake with",
    "auth": "Authentication to",
    "oauth": "OAuth token refresh at",
    "mail": "MAIL FROM at",
    "rcpt": "RCPT TO at",
    "data": "DATA at",
    "logout": "Logout from",
    "list": "IMAP LIST at",
    "examine": "IMAP EXAMINE at",
    "search": "IMAP SEARCH at",
    "fetch": "IMAP FETCH at",
    "idle": "IMAP IDLE at",
    "noop": "IMAP NOOP at",
    "move": "IMAP MOVE at",
}

_REMEDIATION = {
    "auth": "Check that username is the full Gmail address and create a new app password "
    "(Google Account > Security > 2-Step Verification > App passwords).",
    "oauth_token": "The access token is invalid or expired (they last about 1 hour) or lacks the scope "
    "https://mail.google.com/: refresh it (use the oauth option or the mailops.gmail.access_token "
    "lookup) and check the granted scope.",
    "app_password_required": "The account password was refused because 2-Step Verification is on: "
    "create an app password and use it as password.",
    "web_login_required": "Google blocked the sign-in: sign in once on the web (https://accounts.google.com) "
    "from this network, then retry.",
    "starttls_required": "The server wants STARTTLS before AUTH: use port 587 with security=starttls.",
    "auth_required": "The server requires authentication: give username and password, access_token or oauth.",
    "service_disabled": "IMAP or POP access is off for this account: turn it on in Gmail > Settings > "
    "See all settings > Forwarding and POP/IMAP.",
    "session_expired": "Gmail ended the IMAP session (sessions last about a day, an OAuth session as long as "
    "its access token): log in again; a waiting task does this by itself within its timeout.",
    "folder": "No such folder in this account: check folder (Gmail shows each label as a folder; names are "
    "case-sensitive except INBOX) or choose it by special_use (all, sent, ...).",
    "too_many": "Narrow the search (header, message_id, since) or raise max_messages if that many are meant.",
    "relay_denied": "smtp-relay.gmail.com could not tie this host to your Workspace domain: add the host's public "
    "address to the SMTP relay service's allowed IP addresses (Admin console > Apps > Google Workspace > Gmail > "
    'Routing > SMTP relay service), or log in with SMTP AUTH (not enough if "Only accept mail from the specified IP '
    'addresses" is on); without AUTH the EHLO name (ehlohost) and the sender must be in one of your domains.',
    "relay_quota": "The relay's daily limit for this sender (10,000 messages, and 10,000 recipients, in 24 hours) is "
    "reached: wait, or send as other addresses of the domain; nothing was sent.",
    "relay_peak": "smtp-relay.gmail.com defers your organisation's mail for a while: it passed the relay's peak "
    "limit (about 319,444 recipients in 10 minutes). Retry later with backoff and spread large sendings over time.",
    "throttled": "Too many logins: back off for some minutes and reuse one session for many messages.",
    "temporary": "Temporary failure at Gmail: retry later with backoff.",
    "quota": "The daily sending limit is reached: stop sending; Gmail lifts the block within 24 hours.",
    "size": "The message is larger than Gmail accepts (about 25 MB of attachments): shrink it.",
    "recipients": "Too many or invalid recipients: at most 100 recipients per message; check the addresses.",
    "tls": "TLS failed: use port 465 with security=tls or port 587 with security=starttls, "
    "and make sure nothing between this host and Gmail intercepts TLS.",
    "certificate": "The server certificate could not be verified: check host (it must match the certificate), "
    "the system CA store (ca-certificates) or ca_file.",
    "timeout": "No answer in time: check firewalls for outbound 587/465/993/995, or raise timeout.",
    "dns": "The host name does not resolve: check host and this machine's DNS resolver.",
    "refused": "The connection was refused: check host and port and the outbound firewall.",
    "disconnected": "The server closed the connection: retry later; if it persists, check port and security.",
    "network": "Network error: check routing (IPv6 in particular) and the outbound firewall.",
    "protocol": "Unexpected answer from the server: check that host and port point at Gmail.",
    "oauth_invalid_grant": "The refresh token was revoked or expired: authorize again to get a new one. Refresh "
    'tokens of OAuth apps in "Testing" status expire after 7 days: publish the app to '
    "keep them.",
    "oauth_invalid_client": "client_id or client_secret is wrong, or the OAuth client was deleted: copy both "
    "from Google Cloud console > APIs & Services > Credentials.",
    "oauth_unauthorized_client": "The OAuth client may not use this grant or scope: check the client's type and, "
    "for a service account, its domain-wide delegation for https://mail.google.com/.",
    "oauth_key": "Give the service account's JSON key as Google Cloud console creates it (IAM > Service accounts > "
    "Keys > Add key > JSON).",
    "dependency": "Install the missing package on the host named in the message, then run again.",
    "oauth": "The token endpoint refused the request: check oauth.token_uri and the OAuth client settings.",
}

_TEMPORARY = frozenset(("throttled", "temporary", "timeout", "disconnected", "session_expired"))

_ENHANCED = re.compile(r"^([245]\.\d{1,3}\.\d{1,3})\b")

# Reply classification: (code or None, enhanced code or None, text regex or None, category).
# First match wins; code-only rows come last.
_REPLY_RULES = (
    (None, None, r"not enabled for (imap|pop)", "service_disabled"),
    # smtp-relay.gmail.com: before "invalid credentials" (auth), which its text also matches
    (None, None, r"invalid credentials for relay", "relay_denied"),
    # The relay's peak limit (450 4.2.1) defers for minutes: temporary, not the daily quota below.
    (None, None, r"peak smtp relay limit", "temporary", "relay_peak"),
    # The relay's daily limit is a quota (send spools it the same way) with its own fix.
    (None, None, r"smtp relay limit", "quota", "relay_quota"),
    (None, None, r"session expired|please login again", "session_expired"),
    (None, None, r"\[nonexistent\]|unknown mailbox", "folder"),
    (None, "5.7.9", None, "app_password_required"),
    (None, None, r"application-specific password", "app_password_required"),
    (None, "5.7.14", None, "web_login_required"),
    (None, None, r"web ?login|log in via your web browser", "web_login_required"),
    # Codes shared by several meanings are told apart by text: 530 5.7.0 is both "Must issue a
    # STARTTLS command first" and "Authentication Required"; 454 4.7.0 is any temporary AUTH failure
    # (RFC 4954), and only "Too many login attempts" means throttling.
    (None, None, r"authentication required", "auth_required"),
    (None, None, r"starttls", "starttls_required"),
    (None, None, r"too many login|login attempts|throttl", "throttled"),
    (None, "5.4.5", None, "quota"),
    (None, None, r"sending limit", "quota"),
    (None, "5.3.4", None, "size"),
    (None, "4.5.3", None, "recipients"),
    (None, "5.1.1", None, "recipients"),
    (535, None, None, "auth"),
    (None, "5.7.8", None, "auth"),
    (None, None, r"authenticationfailed|invalid credentials|not accepted|\[auth\]", "auth"),
    (534, None, None, "auth"),
    (421, None, None, "temporary"),
    (None, None, r"\[sys/temp\]|\[unavailable\]|temporar|try again later", "temporary"),
)


class GmailError(Exception):
    """A classified failure; str() is the one-line message."""

    def __init__(self, classification):
        super().__init__(classification["message"])
        self.classification = classification

    @property
    def category(self):
        return self.classification["category"]

    @property
    def temporary(self):
        return self.classification["temporary"]

    @classmethod
    def of(cls, exc_or_reply, endpoint, stage="connect", mechanism=None, secrets=()):
        return cls(classify(exc_or_reply, endpoint=endpoint, stage=stage, mechanism=mechanism, secrets=secrets))

    @classmethod
    def new(cls, category, message, endpoint, stage="connect"):
        """A failure found by this code (not a server reply), e.g. STARTTLS not offered."""
        return cls(classification(category, None, None, f"{_STAGES.get(stage, stage)} {endpoint} failed: {message}"))


def redact(text, secrets):
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "********")
    return text


def classification(category, code, enhanced_code, message, remediation=None, temporary=None):
    if temporary is None:
        temporary = category in _TEMPORARY
    return {
        "category": category,
        "code": code,
        "enhanced_code": enhanced_code,
        "message": message,
        "remediation": remediation or _REMEDIATION.get(category, _REMEDIATION["protocol"]),
        "temporary": temporary,
    }


def enhanced_code_of(text):
    match = _ENHANCED.match(text.strip())
    return match.group(1) if match else None


def _reply_category(code, enhanced, text):
    """(category, the key of its remediation) of a reply: the first rule that matches."""
    lowered = text.lower()
    for rule_code, rule_enhanced, pattern, category, *fix in _REPLY_RULES:
        if rule_code is not None and rule_code != code:
            continue
        if rule_enhanced is not None and rule_enhanced != enhanced:
            continue
        if pattern is not None and not re.search(pattern, lowered):
            continue
        return category, (fix or [category])[0]
    if code is not None and 400 <= code < 500:
        return "temporary", "temporary"
    return "protocol", "protocol"


def _classify_reply(reply, prefix, mechanism, secrets):
    code = reply.code
    enhanced = reply.enhanced_code
    parts = (line.strip() for line in reply.lines)
    parts = (part[len(enhanced) :].strip() if enhanced and part.startswith(enhanced) else part for part in parts)
    text = redact(" ".join(part for part in parts if part), secrets)
    category, fix = _reply_category(code, enhanced, text)
    remediation = _REMEDIATION.get(fix) if fix != category else None
    if category == "auth" and mechanism == "XOAUTH2":
        remediation = _REMEDIATION["oauth_token"]
    # 4xx is worth a retry, except 452 4.5.3 (too many recipients): the same message is refused again.
    temporary = category in _TEMPORARY or (code is not None and 400 <= code < 500 and category != "recipients")
    status = " ".join(str(part) for part in (code, enhanced) if part) or getattr(reply, "status", None)
    return classification(category, code, enhanced, f"{prefix} failed ({status}): {text}", remediation, temporary)


def _exception_detail(exc):
    """(category, detail) for an exception raised while talking to a server."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "certificate", "certificate verification failed: %s" % (exc.verify_message or exc)
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or str(exc)
        if reason == "WRONG_VERSION_NUMBER":
            reason += " (the port does not speak TLS from the first byte: port and security do not match)"
        return "tls", f"TLS error: {reason}"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout", "timed out"
    if isinstance(exc, socket.gaierror):
        return "dns", "name does not resolve: %s" % (exc.strerror or exc)
    if isinstance(exc, ConnectionRefusedError):
        return "refused", "connection refused"
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, EOFError)):
        return "disconnected", "the server closed the connection"
    if isinstance(exc, OSError):
        return "network", str(exc.strerror or exc)
    return "protocol", str(exc)


def classify(exc_or_reply, endpoint="", stage="connect", mechanism=None, secrets=()):
    """Classify an exception or a server reply (anything with code, enhanced_code, lines, status).

    `endpoint` is "host:port" for the message; `mechanism` tailors the remediation of an AUTH
    failure (XOAUTH2 means the token, not the password); `secrets` are removed from the text.
    """
    if isinstance(exc_or_reply, GmailError):
        return dict(exc_or_reply.classification)
    prefix = f"{_STAGES.get(stage, stage)} {endpoint}"
    if isinstance(exc_or_reply, BaseException):
        category, detail = _exception_detail(exc_or_reply)
        return classification(category, None, None, f"{prefix} failed: {redact(detail, secrets)}")
    return _classify_reply(exc_or_reply, prefix, mechanism, secrets)
