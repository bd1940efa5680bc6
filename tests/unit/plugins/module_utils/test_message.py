# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
from __future__ import annotations

import email
from email.policy import default

import pytest

from ansible_collections.mailops.gmail.plugins.module_utils._message import (
    MessageError,
    build_message,
    build_messages,
    messages_from_params,
    parse_address,
)

BASE = {"to": "dev@example.com", "subject": "Deployed", "body": "all good"}


def parsed(prepared):
    return email.message_from_bytes(prepared.raw, policy=default)


@pytest.mark.parametrize("value, expected", [
    ("a@example.com", ("", "a@example.com")),
    ("Ops Team <ops@example.com>", ("Ops Team", "ops@example.com")),
    ('"Doe, John" <j.doe+tag@mail.example.org>', ("Doe, John", "j.doe+tag@mail.example.org")),
    ("root@localhost", ("", "root@localhost")),
])
def test_parse_address_valid(value, expected):
    assert parse_address(value, "to") == expected


@pytest.mark.parametrize("value, fragment", [
    ("not-an-address", "not an e-mail address"),
    ("a@b@example.com", "not an e-mail address"),
    ("a@-bad.example.com", "invalid domain"),
    ("a@example", "invalid domain"),
    (".a@example.com", "invalid local part"),
    ("a..b@example.com", "invalid local part"),
    ("a b@example.com", "not an e-mail address"),
    ("x@example.com\r\nBcc: victim@example.com", "CR, LF"),
    ("Name <a@example.com>\nBcc: v@example.com", "CR, LF"),
    ("Evil \"x <a@example.com>", "display name"),
    (42, "must be an address string"),
])
def test_parse_address_invalid(value, fragment):
    with pytest.raises(MessageError, match="to") as err:
        parse_address(value, "to")
    assert fragment in str(err.value)


def test_plain_message_headers_and_envelope():
    [msg] = build_message(dict(BASE, cc=["c@example.com"], bcc="hidden@example.com"), default_sender="ops@gmail.com")
    assert msg.sender == "ops@gmail.com"
    assert msg.recipients == ["dev@example.com", "c@example.com", "hidden@example.com"]
    out = parsed(msg)
    assert out["From"] == "ops@gmail.com" and out["Subject"] == "Deployed"
    assert out["Bcc"] is None and b"hidden@example.com" not in msg.raw
    assert out["Message-ID"] == msg.message_id and msg.message_id.endswith("@gmail.com>")
    assert out.get_content().strip() == "all good"


def test_html_alternative_and_attachment(tmp_path):
    path = tmp_path / "report.txt"
    path.write_text("attached")
    [msg] = build_message(dict(BASE, html_body="<b>ok</b>", attach=[str(path)], sender="Ops <ops@gmail.com>"))
    out = parsed(msg)
    assert out.get_content_type() == "multipart/mixed"
    alt = next(p for p in out.iter_parts())
    assert alt.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alt.iter_parts()] == ["text/plain", "text/html"]
    att = list(out.iter_attachments())[0]
    assert att.get_filename() == "report.txt" and att.get_content() == "attached"


def test_charset_and_custom_headers():
    [msg] = build_message(dict(BASE, body="Grüße", charset="iso-8859-1", headers={"X-Deploy": "42", "X-Num": 7}),
                          default_sender="ops@gmail.com")
    out = parsed(msg)
    assert out["X-Deploy"] == "42" and out["X-Num"] == "7"
    assert out.get_content_charset() == "iso-8859-1" and out.get_content().strip() == "Grüße"


@pytest.mark.parametrize("override, fragment", [
    ({"to": []}, "to is empty"),
    ({"to": ""}, "to is empty"),
    ({"subject": "hi\r\nBcc: x@example.com"}, "subject must not contain CR"),
    ({"headers": {"X-A": "v\nBcc: x@example.com"}}, "headers.X-A must not contain CR"),
    ({"headers": {"Bad Name": "v"}}, "not a valid header name"),
    ({"headers": {"From": "v@example.com"}}, "set by the module"),
    ({"headers": {"X-A": {"nested": 1}}}, "headers.X-A must be a string"),
    ({"html_body": {"a": 1}}, "html_body must be text"),
    ({"body": ["x"]}, "body must be text"),
    ({"attach": ["/nonexistent/file.pdf"]}, "attach[0]: cannot read attachment"),
    ({"charset": "no-such-charset"}, "charset"),
    ({"body": "Grüße", "charset": "us-ascii"}, "cannot encode"),
    ({"to": ["a@example.com", "bad"]}, "to[1]"),
    ({"colour": "red"}, "unknown message option"),
])
def test_bad_input(override, fragment):
    with pytest.raises(MessageError) as err:
        build_message(dict(BASE, **override), default_sender="ops@gmail.com")
    assert fragment in str(err.value)


def test_unreadable_attachment(tmp_path):
    path = tmp_path / "secret.bin"
    path.write_bytes(b"x")
    path.chmod(0)
    import os
    if os.geteuid() == 0:  # root reads anything: use a directory instead, which open() refuses
        path = tmp_path
    with pytest.raises(MessageError, match="attach\\[0\\]: cannot read attachment"):
        build_message(dict(BASE, attach=[str(path)]), default_sender="ops@gmail.com")


def test_sender_required_without_username():
    with pytest.raises(MessageError, match="sender is required"):
        build_message(BASE)


def test_recipient_limit_refuse_and_split():
    many = [f"r{i}@example.com" for i in range(101)]
    with pytest.raises(MessageError, match="101 recipients, Gmail accepts at most 100"):
        build_message(dict(BASE, to=many), default_sender="ops@gmail.com")
    chunks = build_message(dict(BASE, to=many[:1], bcc=many[1:]), default_sender="ops@gmail.com", split=True)
    assert [len(c.recipients) for c in chunks] == [100, 1]
    assert chunks[0].raw == chunks[1].raw and chunks[0].message_id == chunks[1].message_id
    exact = build_message(dict(BASE, to=many[:100]), default_sender="ops@gmail.com")
    assert len(exact) == 1


def test_duplicate_recipients_collapse():
    [msg] = build_message(dict(BASE, to=["A@example.com"], cc=["a@example.com"]), default_sender="ops@gmail.com")
    assert msg.recipients == ["A@example.com"]


def test_size_limit():
    with pytest.raises(MessageError, match="over the size limit of 1000 bytes"):
        build_message(dict(BASE, body="x" * 2000), default_sender="ops@gmail.com", max_size=1000)


def test_messages_list_names_the_bad_entry():
    with pytest.raises(MessageError, match=r"messages\[2\]\.to"):
        build_messages([BASE, BASE, dict(BASE, to="nope")], default_sender="ops@gmail.com")
    with pytest.raises(MessageError, match=r"messages\[1\] must be a dictionary"):
        build_messages([BASE, "x"], default_sender="ops@gmail.com")
    built = build_messages([BASE, BASE], default_sender="ops@gmail.com")
    assert [m.index for m in built] == [0, 1] and built[0].message_id != built[1].message_id


def test_messages_from_params():
    params = {"subject": "default", "body": "b", "to": ["a@example.com"], "messages": [{}, {"subject": "own"}],
              "split_recipients": False}
    built = messages_from_params(params, "ops@gmail.com")
    assert [m.subject for m in built] == ["default", "own"] and [m.index for m in built] == [0, 1]
    with pytest.raises(MessageError, match="messages is empty"):
        messages_from_params(dict(params, messages=[]), "ops@gmail.com")
    assert messages_from_params({"flush_spool": True}, "ops@gmail.com") == []
    [single] = messages_from_params({"to": ["a@example.com"], "subject": "one"}, "ops@gmail.com")
    assert single.index is None


@pytest.mark.parametrize("char", ["\x0b", "\x0c", "\x1c", "\x7f", "\x85", "\u2028", "\u2029", "\x00", "\r", "\n"])
@pytest.mark.parametrize("where", ["subject", "header", "to", "attach"])
def test_control_characters_are_refused_with_the_parameter_named(tmp_path, char, where):
    spec = {"sender": "ops.alerts@gmail.com", "to": ["oncall@example.org"], "subject": "s", "body": "b"}
    expected = {"subject": "subject", "header": "headers.X-Deploy", "to": "to[0]", "attach": "attach[0]"}[where]
    if where == "subject":
        spec["subject"] = f"deploy{char}done"
    elif where == "header":
        spec["headers"] = {"X-Deploy": f"v1{char}2"}
    elif where == "to":
        spec["to"] = [f"oncall{char}@example.org"]
    else:
        spec["attach"] = [str(tmp_path / f"report{char}.txt")]  # refused before the file is opened
    with pytest.raises(MessageError) as err:
        build_message(spec)
    assert str(err.value).startswith(f"{expected} must not contain CR, LF, NUL or other control characters")
    assert f"U+{ord(char):04X}" in str(err.value)


def test_a_tab_in_the_subject_is_kept():
    [prepared] = build_message({"sender": "ops.alerts@gmail.com", "to": ["oncall@example.org"], "subject": "a\tb"})
    assert b"Subject: a\tb" in prepared.raw


@pytest.mark.parametrize("name", ["Content-Disposition", "content-type", "Content-Transfer-Encoding",
                                  "Content-ID", "MIME-Version"])
def test_content_headers_are_refused_not_dropped(name):
    spec = {"sender": "ops.alerts@gmail.com", "to": ["oncall@example.org"], "headers": {name: "attachment"}}
    with pytest.raises(MessageError, match=f"^headers: {name} is set by the module"):
        build_message(spec)
