# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
from __future__ import annotations

import certifi
import pytest

from ansible_collections.mailops.gmail.plugins.module_utils._validate import (
    ParameterError,
    check_address,
    check_no_crlf,
    check_port,
    check_readable_file,
    check_strings,
    resolve_security,
)


@pytest.mark.parametrize("value", ["ops.alerts@gmail.com", "a+tag@example.co.uk", "x_y@sub.domain-1.org"])
def test_good_addresses(value):
    assert check_address(value, "username") == value


@pytest.mark.parametrize(
    "value",
    [
        "ops.alerts",
        "@gmail.com",
        "a@b",
        "a b@gmail.com",
        "<a@gmail.com>",
        "a@gmail.com, b@gmail.com",
        "a@-bad.com",
        "a@gmail.com\r\nRCPT TO:<x@y.z>",
        5,
    ],
)
def test_bad_addresses_name_the_parameter(value):
    with pytest.raises(ParameterError, match="^username must"):
        check_address(value, "username")


@pytest.mark.parametrize("value", ["a\rb", "a\nb", "a\0b"])
def test_crlf_refused_without_echoing_the_value(value):
    with pytest.raises(ParameterError) as err:
        check_no_crlf(value, "password")
    assert str(err.value).startswith("password must not contain CR, LF")
    assert value not in str(err.value)


def test_check_strings_walks_nested_options():
    with pytest.raises(ParameterError, match=r"^oauth\.refresh_token must not"):
        check_strings({"host": "smtp.gmail.com", "oauth": {"client_id": "x", "refresh_token": "1//a\nb"}})
    with pytest.raises(ParameterError, match=r"^protocols\[1\] must not"):
        check_strings({"protocols": ["smtp", "imap\r"]})
    check_strings({"port": 587, "oauth": None, "protocols": ["smtp"]})


@pytest.mark.parametrize(
    "port, security, expected",
    [
        (587, None, "starttls"),
        (465, None, "tls"),
        (587, "starttls", "starttls"),
        (465, "tls", "tls"),
        (2525, "starttls", "starttls"),
        (2465, "tls", "tls"),
    ],
)
def test_resolve_security(port, security, expected):
    assert resolve_security(port, security) == expected


@pytest.mark.parametrize(
    "port, security, words",
    [
        (465, "starttls", "security=starttls does not work with port=465: port 465 uses security=tls or use port=587"),
        (587, "tls", "security=tls does not work with port=587: port 587 uses security=starttls or use port=465"),
        (2525, None, "port=2525 needs security stated"),
        (0, None, "port must be a TCP port between 1 and 65535, got 0"),
        (70000, "tls", "port must be a TCP port between 1 and 65535, got 70000"),
    ],
)
def test_resolve_security_refusals(port, security, words):
    with pytest.raises(ParameterError) as err:
        resolve_security(port, security)
    assert words in str(err.value)


@pytest.mark.parametrize("value", [0, -1, 65536, True, "587"])
def test_bad_ports(value):
    with pytest.raises(ParameterError, match="^imap_port must be a TCP port"):
        check_port(value, "imap_port")


def test_readable_file(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(open(certifi.where(), "rb").read())
    assert check_readable_file(str(bundle), "ca_file") == str(bundle)
    assert check_readable_file(None, "ca_file") is None
    for bad in (tmp_path / "missing.pem", tmp_path):
        with pytest.raises(ParameterError, match="^ca_file=.* cannot be read"):
            check_readable_file(str(bad), "ca_file")


@pytest.mark.parametrize("content", [b"x", b"", b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
                                     b"\x30\x82\x01\x0a\x02"])
def test_a_ca_file_without_a_pem_certificate_is_named(tmp_path, content):
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(content)
    with pytest.raises(ParameterError) as err:
        check_readable_file(str(bundle), "ca_file")
    assert str(err.value).startswith(f"ca_file={bundle} holds no certificate OpenSSL can load")
    assert "PEM CA bundle" in str(err.value)


@pytest.mark.parametrize("name, expected", [
    ("web1.example.com", True), ("example.com", True), ("EXAMPLE.COM.", True), ("alerts@example.com", True),
    ("a.b.example.com", True), ("badexample.com", False), ("example.com.evil.net", False), ("web1.internal", False),
    ("alerts@other.example", False), ("", False),
])
def test_in_domains_is_the_workspace_relay_rule(name, expected):
    """The module check and the roles' Jinja test (mailops.gmail.in_domains) are this one function."""
    from ansible_collections.mailops.gmail.plugins.module_utils._validate import in_domains
    from ansible_collections.mailops.gmail.plugins.test.gmail import in_domains as jinja_test

    assert in_domains(name, ["example.com", "corp.example.net"]) is expected
    assert jinja_test(name, ["Example.com"]) is expected


@pytest.mark.parametrize("value, expected", [
    ("gmail.com", True), ("GoogleMail.com.", True), ("ops.alerts@gmail.com", True), ("example.com", False),
    ("gmail.com.example.net", False), ("mygmail.com", False), ("", False), (None, False),
])
def test_consumer_domains_are_never_the_relays(value, expected):
    """The modules' refusal of domains=[gmail.com] and the roles' Jinja test (mailops.gmail.consumer_domain)."""
    from ansible_collections.mailops.gmail.plugins.module_utils._validate import is_consumer_domain
    from ansible_collections.mailops.gmail.plugins.test.gmail import consumer_domain

    assert is_consumer_domain(value) is expected
    assert consumer_domain(value) is expected


@pytest.mark.parametrize("domains, identity, expected", [
    (["Example.com ", "corp.example.net."], "x@other.org", ["example.com", "corp.example.net"]),
    ([], "Alerts@Example.COM", ["example.com"]), (None, "", []), (["", " "], "root", []),
])
def test_workspace_domains_are_given_or_the_senders(domains, identity, expected):
    """The modules' domains and the roles' filter (mailops.gmail.relay_domains) are this one function."""
    from ansible_collections.mailops.gmail.plugins.filter.gmail import relay_domains
    from ansible_collections.mailops.gmail.plugins.module_utils._validate import workspace_domains

    assert workspace_domains(domains, identity) == expected
    assert relay_domains(domains, identity) == expected
