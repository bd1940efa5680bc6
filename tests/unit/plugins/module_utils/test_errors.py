# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
from __future__ import annotations

import socket
import ssl

import pytest

from ansible_collections.mailops.gmail.plugins.module_utils._errors import GmailError, classify, enhanced_code_of
from ansible_collections.mailops.gmail.plugins.module_utils._tls import Reply

EP = "smtp.gmail.com:587"


def smtp(code, *lines):
    return Reply(code, lines, enhanced_code_of(lines[0]))


# (reply, stage, mechanism) -> (category, code, enhanced, temporary, words in remediation)
REPLIES = [
    (
        smtp(
            535,
            "5.7.8 Username and Password not accepted. For more information, go to",
            "5.7.8  https://support.google.com/mail/?p=BadCredentials",
        ),
        "auth",
        None,
        ("auth", 535, "5.7.8", False, "app password"),
    ),
    (
        smtp(535, "5.7.8 Username and Password not accepted."),
        "auth",
        "XOAUTH2",
        ("auth", 535, "5.7.8", False, "access token"),
    ),
    (
        smtp(535, "5.7.1 Username and Password not accepted."),
        "auth",
        "XOAUTH2",
        ("auth", 535, "5.7.1", False, "access token"),
    ),
    (
        smtp(534, "5.7.9 Application-specific password required."),
        "auth",
        None,
        ("app_password_required", 534, "5.7.9", False, "create an app password"),
    ),
    (
        smtp(534, "5.7.14 <https://accounts.google.com/signin/continue?...> Please log in via your web browser"),
        "auth",
        None,
        ("web_login_required", 534, "5.7.14", False, "sign in once on the web"),
    ),
    (
        smtp(530, "5.7.0 Must issue a STARTTLS command first."),
        "auth",
        None,
        ("starttls_required", 530, "5.7.0", False, "587"),
    ),
    (
        smtp(530, "5.5.1 Authentication Required."),
        "mail",
        None,
        ("auth_required", 530, "5.5.1", False, "give username"),
    ),
    (
        smtp(454, "4.7.0 Too many login attempts, please try again later."),
        "auth",
        None,
        ("throttled", 454, "4.7.0", True, "reuse one session"),
    ),
    (
        smtp(421, "4.7.0 Try again later, closing connection."),
        "greeting",
        None,
        ("temporary", 421, "4.7.0", True, "retry"),
    ),
    (smtp(550, "5.4.5 Daily user sending limit exceeded."), "mail", None, ("quota", 550, "5.4.5", False, "24 hours")),
    (
        smtp(552, "5.3.4 Your message exceeded Google's message size limits."),
        "data",
        None,
        ("size", 552, "5.3.4", False, "shrink"),
    ),
    (
        smtp(452, "4.5.3 Your message has too many recipients."),
        "rcpt",
        None,
        ("recipients", 452, "4.5.3", False, "100 recipients"),
    ),
    (
        smtp(451, "4.3.0 Mail server temporarily rejected message."),
        "data",
        None,
        ("temporary", 451, "4.3.0", True, "retry"),
    ),
    (
        smtp(500, "5.5.2 Syntax error, cannot decode response."),
        "auth",
        None,
        ("protocol", 500, "5.5.2", False, "host and port"),
    ),
    (
        Reply(None, ["[AUTHENTICATIONFAILED] Invalid credentials (Failure)"], status="NO"),
        "auth",
        None,
        ("auth", None, None, False, "app password"),
    ),
    (
        Reply(None, ["[ALERT] Application-specific password required: https://support.google.com/"], status="NO"),
        "auth",
        None,
        ("app_password_required", None, None, False, "app password"),
    ),
    (
        Reply(None, ["[ALERT] Please log in via your web browser"], status="NO"),
        "auth",
        None,
        ("web_login_required", None, None, False, "on the web"),
    ),
    (
        Reply(
            None,
            ["[SYS/PERM] Your account is not enabled for POP access. Please visit your Gmail settings"],
            status="-ERR",
        ),
        "auth",
        None,
        ("service_disabled", None, None, False, "Forwarding and POP/IMAP"),
    ),
    (
        Reply(None, ["[AUTH] Username and password not accepted."], status="-ERR"),
        "auth",
        None,
        ("auth", None, None, False, "app password"),
    ),
    (
        Reply(None, ["[SYS/TEMP] Temporary system problem. Please try again later."], status="-ERR"),
        "greeting",
        None,
        ("temporary", None, None, True, "retry"),
    ),
    # Shared codes, told apart by text (issue 15): 454 4.7.0 is any temporary AUTH failure (RFC 4954) ...
    (smtp(454, "4.7.0 Temporary authentication failure"), "auth", None,
     ("temporary", 454, "4.7.0", True, "retry later")),
    (smtp(454, "4.7.0 Too many login attempts, please try again later."), "auth", None,
     ("throttled", 454, "4.7.0", True, "back off")),
    # ... and 530 5.7.0 is both Gmail's "Authentication Required" and "Must issue a STARTTLS command first".
    (smtp(530, "5.7.0 Authentication Required. Learn more at", "5.7.0  https://support.google.com/mail/?p=W"),
     "mail", None, ("auth_required", 530, "5.7.0", False, "username")),
    (smtp(530, "5.7.0 Must issue a STARTTLS command first."), "auth", None,
     ("starttls_required", 530, "5.7.0", False, "587")),
]


@pytest.mark.parametrize("reply, stage, mechanism, expected", REPLIES)
def test_reply_classification(reply, stage, mechanism, expected):
    category, code, enhanced, temporary, hint = expected
    result = classify(reply, endpoint=EP, stage=stage, mechanism=mechanism)
    assert (result["category"], result["code"], result["enhanced_code"], result["temporary"]) == (
        category,
        code,
        enhanced,
        temporary,
    )
    assert hint in result["remediation"]
    assert EP in result["message"]
    assert "\n" not in result["message"]


def test_message_format_names_endpoint_codes_and_text():
    reply = smtp(
        535,
        "5.7.8 Username and Password not accepted. For more information, go to",
        "5.7.8  https://support.google.com/mail/?p=BadCredentials",
    )
    assert classify(reply, endpoint=EP, stage="auth")["message"] == (
        "Authentication to smtp.gmail.com:587 failed (535 5.7.8): Username and Password not accepted. "
        "For more information, go to https://support.google.com/mail/?p=BadCredentials"
    )


def _cert_error():
    exc = ssl.SSLCertVerificationError(1, "certificate verify failed")
    exc.verify_message = "Hostname mismatch, certificate is not valid for 'smtp.gmail.com'."
    return exc


def _tls_error():
    exc = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    exc.reason = "WRONG_VERSION_NUMBER"
    return exc


EXCEPTIONS = [
    (_cert_error(), "certificate", False, "Hostname mismatch"),
    (_tls_error(), "tls", False, "port and security do not match"),
    (socket.timeout("timed out"), "timeout", True, "timed out"),
    (TimeoutError(), "timeout", True, "timed out"),
    (socket.gaierror(-2, "Name or service not known"), "dns", False, "does not resolve"),
    (ConnectionRefusedError(111, "Connection refused"), "refused", False, "refused"),
    (ConnectionResetError(104, "reset"), "disconnected", True, "closed the connection"),
    (EOFError(), "disconnected", True, "closed the connection"),
    (OSError(101, "Network is unreachable"), "network", False, "unreachable"),
    (ValueError("odd"), "protocol", False, "odd"),
]


@pytest.mark.parametrize("exc, category, temporary, words", EXCEPTIONS)
def test_exception_classification(exc, category, temporary, words):
    result = classify(exc, endpoint="imap.gmail.com:993", stage="connect")
    assert result["category"] == category
    assert result["temporary"] is temporary
    assert result["code"] is None and result["enhanced_code"] is None
    assert result["message"].startswith("Connection to imap.gmail.com:993 failed: ")
    assert words in result["message"]
    assert result["remediation"]


def test_secrets_are_redacted_from_server_text_and_exceptions():
    secret = "abcdefghijklmnop"
    reply = smtp(535, f"5.7.8 bad password {secret}")
    assert secret not in classify(reply, endpoint=EP, stage="auth", secrets=(secret,))["message"]
    assert secret not in classify(OSError(f"x {secret}"), endpoint=EP, secrets=(secret,))["message"]


def test_gmail_error_carries_its_classification():
    err = GmailError.of(smtp(454, "4.7.0 Too many login attempts"), EP, "auth")
    assert err.category == "throttled" and err.temporary
    assert str(err) == err.classification["message"]
    assert classify(err) == err.classification
    new = GmailError.new("tls", "the server does not offer STARTTLS", EP, "starttls")
    assert str(new) == "STARTTLS with smtp.gmail.com:587 failed: the server does not offer STARTTLS"
    assert not new.temporary


@pytest.mark.parametrize(
    "text, expected",
    [
        ("5.7.8 Username", "5.7.8"),
        ("4.7.0", "4.7.0"),
        ("2.0.0 OK", "2.0.0"),
        ("smtp.gmail.com ESMTP", None),
        ("5.7 short", None),
        ("6.1.1 bad class", None),
    ],
)
def test_enhanced_code_parsing(text, expected):
    assert enhanced_code_of(text) == expected


@pytest.mark.parametrize("text, enhanced, category, fix_words", [
    ("Invalid credentials for relay [203.0.113.5]. The IP address you've", "5.7.1", "relay_denied",
     "SMTP relay service's allowed IP addresses"),
    ("Daily SMTP relay limit exceeded for user.", "5.4.5", "quota", "The relay's daily limit for this sender"),
    ("Daily user sending limit exceeded.", "5.4.5", "quota", "Gmail lifts the block within 24 hours"),
])
def test_the_workspace_relays_replies_get_their_own_fix(text, enhanced, category, fix_words):
    from ansible_collections.mailops.gmail.plugins.module_utils._errors import classify
    from ansible_collections.mailops.gmail.plugins.module_utils._tls import Reply

    result = classify(Reply(550, [f"{enhanced} {text}"], enhanced_code=enhanced), "smtp-relay.gmail.com:587", "mail")
    assert (result["category"], result["temporary"]) == (category, False)
    assert fix_words in result["remediation"]


RELAY = "smtp-relay.gmail.com:587"


def test_the_relays_refusal_of_a_host_it_cannot_tie_to_the_domain_is_relay_denied():
    """The relay's whole 550-5.7.1 reply, as the emulator sends it (also with relay_ip_only and AUTH)."""
    reply = smtp(
        550,
        "5.7.1 Invalid credentials for relay [203.0.113.5]. The IP address you've",
        "5.7.1 registered in your Workspace SMTP Relay service doesn't match domain of",
        "5.7.1 the account this email is being sent from. If you are trying to relay",
        "5.7.1 mail from a domain that isn't registered under your Workspace account",
        "5.7.1 or has empty envelope-from, you must configure your mail server",
        "5.7.1 either to use SMTP AUTH to identify the sending domain or to present",
        "5.7.1 one of your domain names in the HELO or EHLO command. 12345-abcd - gsmtp",
    )
    result = classify(reply, endpoint=RELAY, stage="mail")
    assert (result["category"], result["code"], result["enhanced_code"], result["temporary"]) == (
        "relay_denied", 550, "5.7.1", False)
    assert "allowed IP addresses" in result["remediation"]
    assert "Only accept mail from the specified IP addresses" in result["remediation"]
    assert "app password" not in result["remediation"]  # not a credential problem of smtp.gmail.com


@pytest.mark.parametrize("limit", ["messages", "unique recipients"])
def test_the_relays_daily_limit_is_a_quota_with_the_relays_fix(limit):
    """Google sends the same text for both per-sender limits (10,000 messages, 10,000 unique recipients)."""
    result = classify(smtp(550, "5.4.5 Daily SMTP relay limit exceeded for user. 12345-abcd - gsmtp"),
                      endpoint=RELAY, stage="data")
    assert (result["category"], result["enhanced_code"], result["temporary"]) == ("quota", "5.4.5", False)
    assert "10,000 recipients" in result["remediation"] and "nothing was sent" in result["remediation"]


def test_the_relays_peak_deferral_is_temporary_not_the_daily_quota():
    """450 4.2.1, Google's text for the organisation's peak limit: retried later, send does not stop for the day."""
    reply = smtp(
        450,
        "4.2.1 Peak SMTP relay limit exceeded for customer. This is a temporary error.",
        "4.2.1 For more information on SMTP relay limits, please contact your administrator. 12345-abcd - gsmtp",
    )
    result = classify(reply, endpoint=RELAY, stage="mail")
    assert (result["category"], result["code"], result["enhanced_code"], result["temporary"]) == (
        "temporary", 450, "4.2.1", True)
    assert "peak" in result["remediation"] and "Retry later" in result["remediation"]


@pytest.mark.parametrize("stage", ["greeting", "ehlo", "mail"])
def test_a_421_from_the_relay_is_temporary_not_a_credential_problem(stage):
    """421 4.7.0 Try again later, closing connection.: Gmail's generic deferral (the relay's at the HELO stage)."""
    result = classify(smtp(421, "4.7.0 Try again later, closing connection. (EHLO) 12345-abcd - gsmtp"),
                      endpoint=RELAY, stage=stage)
    assert (result["category"], result["code"], result["enhanced_code"], result["temporary"]) == (
        "temporary", 421, "4.7.0", True)
    assert "retry later" in result["remediation"]


def test_too_many_recipients_at_the_relay_is_not_retried():
    """100 recipients per transaction at the relay too: the same message would be refused again."""
    result = classify(smtp(452, "4.5.3 Your message has too many recipients. For more information regarding"),
                      endpoint=RELAY, stage="rcpt")
    assert (result["category"], result["temporary"]) == ("recipients", False)
    assert "100 recipients" in result["remediation"]
