# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""The emulator's IMAP (993 role) and POP3 (995 role) listeners, driven by imaplib and poplib."""
from __future__ import annotations

import base64
import imaplib
import json
import poplib
import re
import smtplib
import ssl
import time

import pytest
from gmail_emulator.wire import xoauth2

USER, APP_PW = "ops.alerts@gmail.com", "abcdefghijklmnop"
BEARER_JSON = {"status": "400", "schemes": "Bearer", "scope": "https://mail.google.com/"}


def ctx(emu):
    return ssl.create_default_context(cafile=emu.ca_file)


@pytest.fixture
def imap(gmail_emulator):
    conn = imaplib.IMAP4_SSL(gmail_emulator.host, gmail_emulator.imap_port, ssl_context=ctx(gmail_emulator),
                             timeout=5)
    yield conn
    if conn.state != "LOGOUT":
        conn.shutdown()


@pytest.fixture
def pop(gmail_emulator):
    conn = poplib.POP3_SSL(gmail_emulator.host, gmail_emulator.pop_port, context=ctx(gmail_emulator), timeout=5)
    yield conn
    conn.close()


def test_imap_login_select_logout(gmail_emulator, imap):
    assert imap.welcome.startswith(b"* OK Gimap ready")
    caps = imap.capabilities
    for cap in ("AUTH=XOAUTH2", "AUTH=PLAIN", "AUTH=PLAIN-CLIENTTOKEN", "AUTH=OAUTHBEARER"):
        assert cap in caps
    typ, data = imap.login(USER, "abcd efgh ijkl mnop")
    assert typ == "OK" and data == [f"{USER} authenticated (Success)".encode()]
    assert imap.noop()[0] == "OK"
    assert imap.xatom("ID", "NIL")[0] == "OK"
    assert imap.select("INBOX") == ("OK", [b"0"])
    typ, data = imap.logout()
    assert typ == "BYE" and data == [b"LOGOUT Requested"]
    [session] = gmail_emulator.sessions()
    assert session["protocol"] == "imap" and session["tls_version"] == "TLSv1.3"
    assert (session["auth_mechanism"], session["auth_user"], session["auth_result"]) == ("LOGIN", USER, "ok")
    assert session["closed_by"] == "logout" and any(c.endswith("LOGIN ops.alerts@gmail.com ****")
                                                    for c in session["commands"])


@pytest.mark.parametrize("user, password, text", [
    (USER, "wrong", b"[AUTHENTICATIONFAILED] Invalid credentials (Failure)"),
    ("nobody@gmail.com", APP_PW, b"[AUTHENTICATIONFAILED] Invalid credentials (Failure)"),
    (USER, "correct-horse-battery", b"[ALERT] Application-specific password required"),
    ("blocked.user@gmail.com", "qrstuvwxyzabcdef", b"[ALERT] Please log in via your web browser"),
])
def test_imap_login_refused(imap, user, password, text):
    with pytest.raises(imaplib.IMAP4.error) as err:
        imap.login(user, password)
    assert text.decode() in str(err.value)


def test_imap_xoauth2(gmail_emulator, imap):
    blob = f"user={USER}\x01auth=Bearer ya29.valid-ops-alerts\x01\x01"
    typ, _data = imap.authenticate("XOAUTH2", lambda _challenge: blob)
    assert typ == "OK" and imap.state == "AUTH"
    imap.logout()
    [session] = gmail_emulator.sessions()
    assert (session["auth_mechanism"], session["auth_result"]) == ("XOAUTH2", "ok")


def test_imap_xoauth2_failure_continuation(gmail_emulator, imap):
    challenges = []

    def answer(challenge):
        challenges.append(challenge)
        return f"user={USER}\x01auth=Bearer ya29.expired-ops-alerts\x01\x01" if len(challenges) == 1 else ""
    with pytest.raises(imaplib.IMAP4.error, match=r"\[AUTHENTICATIONFAILED\] Invalid credentials \(Failure\)"):
        imap.authenticate("XOAUTH2", answer)
    assert json.loads(challenges[1]) == BEARER_JSON


def test_imap_sasl_ir_plain(imap):
    payload = base64.b64encode(f"\0{USER}\0{APP_PW}".encode()).decode()
    typ, _data = imap._simple_command("AUTHENTICATE", "PLAIN", payload)
    assert typ == "OK"


def test_imap_disabled(gmail_emulator, imap):
    gmail_emulator.set(imap_enabled=False)
    with pytest.raises(imaplib.IMAP4.error, match="not enabled for IMAP use"):
        imap.login(USER, APP_PW)


def test_pop_login_stat_quit(gmail_emulator, pop):
    assert pop.getwelcome().startswith(b"+OK Gpop ready")
    assert "SASL" in pop.capa() and "XOAUTH2" in pop.capa()["SASL"]
    assert pop.user(USER).startswith(b"+OK")
    assert pop.pass_(APP_PW) == b"+OK Welcome."
    assert pop.stat() == (0, 0)
    assert pop.noop().startswith(b"+OK")
    assert pop.quit() == b"+OK Farewell."
    [session] = gmail_emulator.sessions()
    assert (session["protocol"], session["auth_mechanism"], session["auth_result"]) == ("pop", "USER", "ok")
    assert "PASS ****" in session["commands"]


@pytest.mark.parametrize("user, password, text", [
    (USER, "wrong", "-ERR [AUTH] Username and password not accepted."),
    (USER, "correct-horse-battery", "-ERR [AUTH] Application-specific password required"),
])
def test_pop_login_refused(pop, user, password, text):
    pop.user(user)
    with pytest.raises(poplib.error_proto, match=text.replace("[", r"\[").replace("]", r"\]")):
        pop.pass_(password)


def test_pop_xoauth2(pop):
    assert pop._shortcmd(f"AUTH XOAUTH2 {xoauth2(USER, 'ya29.valid-ops-alerts')}") == b"+OK Welcome."


def test_pop_xoauth2_failure_continuation(pop):
    pop._putcmd(f"AUTH XOAUTH2 {xoauth2(USER, 'ya29.expired-ops-alerts')}")
    line, _size = pop._getline()
    assert line.startswith(b"+ ") and json.loads(base64.b64decode(line[2:])) == BEARER_JSON
    pop._putcmd("")
    assert pop._getline()[0] == b"-ERR [AUTH] Invalid credentials."


def test_pop_disabled_per_account(gmail_emulator, pop):
    gmail_emulator.state.config["accounts"][USER]["pop"] = False
    pop.user(USER)
    with pytest.raises(poplib.error_proto, match="not enabled for POP access"):
        pop.pass_(APP_PW)


def test_login_faults(gmail_emulator):
    gmail_emulator.set_faults([
        {"stage": "login", "action": "reply", "protocol": "imap", "reply": "{tag} NO [UNAVAILABLE] Try later"},
        {"stage": "login", "action": "drop", "protocol": "pop"},
        {"stage": "connect", "action": "reply", "protocol": "pop", "reply": "-ERR [SYS/TEMP] busy", "nth": 2},
    ])
    imap = imaplib.IMAP4_SSL(gmail_emulator.host, gmail_emulator.imap_port, ssl_context=ctx(gmail_emulator))
    with pytest.raises(imaplib.IMAP4.error, match=r"\[UNAVAILABLE\] Try later"):
        imap.login(USER, APP_PW)
    assert imap.login(USER, APP_PW)[0] == "OK"
    imap.logout()
    pop = poplib.POP3_SSL(gmail_emulator.host, gmail_emulator.pop_port, context=ctx(gmail_emulator), timeout=5)
    pop.user(USER)
    with pytest.raises((poplib.error_proto, OSError)):
        pop.pass_(APP_PW)
    pop.close()
    with pytest.raises(poplib.error_proto, match="busy"):
        poplib.POP3_SSL(gmail_emulator.host, gmail_emulator.pop_port, context=ctx(gmail_emulator), timeout=5)
    faults = [s["faults"] for s in gmail_emulator.sessions()]
    assert faults == [[{"stage": "login", "action": "reply"}], [{"stage": "login", "action": "drop"}],
                      [{"stage": "connect", "action": "reply"}]]


def _submit(emu, to, message_id, subject="settle me", head=""):
    with smtplib.SMTP(emu.host, emu.smtp_starttls_port, timeout=5) as smtp:
        smtp.starttls(context=ctx(emu))
        smtp.login(USER, APP_PW)
        smtp.sendmail(USER, to, f"{head}Message-ID: {message_id}\r\nSubject: {subject}\r\n\r\nbody\r\n".encode())


def test_imap_sent_mail_list_examine_search(gmail_emulator, imap):
    """Sent Mail as Gmail shows it: found by \\Sent in LIST, EXAMINE read-only, UID SEARCH HEADER Message-ID."""
    emu = gmail_emulator
    _submit(emu, ["team.reports@gmail.com"], "<m1@example.com>")
    imap.login(USER, APP_PW)
    status, lines = imap.list('""', '"*"')
    assert status == "OK" and b'(\\HasNoChildren \\Sent) "/" "[Gmail]/Sent Mail"' in lines
    assert imap.list('""', '"%"')[1] == [b'(\\HasNoChildren) "/" "INBOX"', b'(\\HasChildren \\Noselect) "/" "[Gmail]"']
    assert imap.select('"[Gmail]/Sent Mail"', readonly=True) == ("OK", [b"1"])
    [uid] = imap.uid("SEARCH", "HEADER", "Message-ID", '"<m1@example.com>"')[1][0].split()
    assert imap.uid("SEARCH", "HEADER", "Message-ID", '"<other@example.com>"') == ("OK", [b""])
    assert imap.search(None, "SUBJECT", '"settle"') == ("OK", [b"1"])
    with pytest.raises(imaplib.IMAP4.error, match="Could not parse command"):
        imap.search(None, "NONSENSE")
    assert int(uid) > 0
    assert imap.select("INBOX", readonly=True) == ("OK", [b"0"])  # sent to someone else
    status, text = imap.select('"Nope"')
    assert status == "NO" and b"[NONEXISTENT] Unknown Mailbox: Nope" in text[0]


def test_imap_inbox_of_the_recipient_and_the_delay_and_name_switches(gmail_emulator):
    emu = gmail_emulator
    emu.set(sent_mail_delay=1.0, sent_mail_folder="[Gmail]/Gesendet")
    _submit(emu, ["team.reports@gmail.com"], "<m2@example.com>")
    conn = imaplib.IMAP4_SSL(emu.host, emu.imap_port, ssl_context=ctx(emu), timeout=5)
    conn.login("team.reports@gmail.com", "ponmlkjihgfedcba")
    assert conn.select("INBOX", readonly=True) == ("OK", [b"0"])  # not yet: sent_mail_delay
    time.sleep(1.1)
    assert conn.select("INBOX", readonly=True) == ("OK", [b"1"])
    assert b'(\\HasNoChildren \\Sent) "/" "[Gmail]/Gesendet"' in conn.list('""', '"*"')[1]
    conn.logout()


def test_imap_session_expires_as_gmails_do(gmail_emulator, imap):
    gmail_emulator.set(imap_session_lifetime=0.5)
    imap.login(USER, APP_PW)
    assert imap.noop()[0] == "OK"
    time.sleep(0.6)
    with pytest.raises(imaplib.IMAP4.abort, match="Session expired, please login again."):
        imap.noop()
    [session] = gmail_emulator.sessions()
    assert session["closed_by"] == "expired"


def test_imap_oauth_session_ends_with_its_token(gmail_emulator, imap):
    gmail_emulator.set(token_lifetime=1)
    token, _lifetime = gmail_emulator.state.issue_token(USER)  # as POST /token would issue it
    imap.authenticate("XOAUTH2", lambda _challenge: f"user={USER}\x01auth=Bearer {token}\x01\x01")
    assert imap.noop()[0] == "OK"
    time.sleep(1.1)
    with pytest.raises(imaplib.IMAP4.abort, match="Session expired"):
        imap.noop()


def test_pop_session_is_closed_after_its_lifetime(gmail_emulator, pop):
    gmail_emulator.set(pop_session_lifetime=0.5)
    pop.user(USER)
    pop.pass_(APP_PW)
    assert pop.noop() == b"+OK"
    time.sleep(0.6)
    with pytest.raises((poplib.error_proto, OSError)):
        pop.noop()  # Gmail closes the connection; no reply text is on record
    [session] = gmail_emulator.sessions()
    assert session["closed_by"] == "expired"


def test_pop_oauth_session_ends_with_its_token(gmail_emulator, pop):
    gmail_emulator.set(token_lifetime=1)
    token, _lifetime = gmail_emulator.state.issue_token(USER)
    blob = base64.b64encode(f"user={USER}\x01auth=Bearer {token}\x01\x01".encode()).decode()
    assert pop._shortcmd(f"AUTH XOAUTH2 {blob}") == b"+OK Welcome."
    assert pop.stat() == (0, 0)
    time.sleep(1.1)
    with pytest.raises((poplib.error_proto, OSError)):
        pop.stat()


def _oauthbearer(token):
    return f"n,a={USER},\x01auth=Bearer {token}\x01\x01"


def test_imap_and_pop_take_oauthbearer(gmail_emulator, imap, pop):
    """Gmail's IMAP and POP accept OAUTHBEARER (RFC 7628); a bad token gets the invalid_request challenge."""
    typ, _data = imap.authenticate("OAUTHBEARER", lambda _challenge: _oauthbearer("ya29.valid-ops-alerts"))
    assert typ == "OK"
    blob = base64.b64encode(_oauthbearer("ya29.valid-ops-alerts").encode()).decode()
    assert pop._shortcmd(f"AUTH OAUTHBEARER {blob}") == b"+OK Welcome."
    imap.logout()
    pop.quit()
    assert {(s["protocol"], s["auth_mechanism"], s["auth_result"]) for s in gmail_emulator.sessions()} == {
        ("imap", "OAUTHBEARER", "ok"), ("pop", "OAUTHBEARER", "ok")}


def test_pop_oauthbearer_failure_carries_invalid_request(pop):
    blob = base64.b64encode(_oauthbearer("ya29.expired-ops-alerts").encode()).decode()
    pop._putcmd(f"AUTH OAUTHBEARER {blob}")
    line, _size = pop._getline()
    assert json.loads(base64.b64decode(line[2:]))["status"] == "invalid_request"
    pop._putcmd("")
    assert pop._getline()[0] == b"-ERR [AUTH] Invalid credentials."


def _raw(conn, line):
    """Send one command line past imaplib (its own state checks, IDLE) and return the next line."""
    conn.send(line.encode() + b"\r\n")
    return conn.readline()


def test_imap_uid_fetch_on_the_wire(gmail_emulator, imap):
    """UID FETCH as Gmail answers it: UID, INTERNALDATE, RFC822.SIZE, then the header fields as a literal."""
    emu = gmail_emulator
    _submit(emu, ["team.reports@gmail.com"], "<f1@example.com>", "settle\r\n me", head="X-Other: no\r\n")
    [record] = emu.messages(wait=False)  # the imap session is open
    with open(f"{emu.records_dir}/messages/{record['eml']}", "rb") as fh:
        eml = fh.read()
    imap.login(USER, APP_PW)
    imap.select('"[Gmail]/Sent Mail"', readonly=True)
    uid = record["seq"]
    date = time.strftime("%d-%b-%Y %H:%M:%S +0000", time.gmtime(record["received"]))
    fields = b"Message-ID: <f1@example.com>\r\nSubject: settle\r\n me\r\n\r\n"
    head = (f'* 1 FETCH (UID {uid} INTERNALDATE "{date}" RFC822.SIZE {len(eml)} '
            f"BODY[HEADER.FIELDS (MESSAGE-ID SUBJECT)] {{{len(fields)}}}\r\n").encode()
    assert _raw(imap, f"T1 UID FETCH {uid} (BODY.PEEK[HEADER.FIELDS (Message-ID subject)] RFC822.SIZE INTERNALDATE)") \
        == head
    assert imap.read(len(fields)) == fields
    assert imap.readline() == b")\r\n" and imap.readline() == b"T1 OK Success\r\n"
    # The same through imaplib; INTERNALDATE as it parses it.
    status, data = imap.uid("FETCH", str(uid), "(INTERNALDATE BODY[HEADER.FIELDS (MESSAGE-ID)])")
    assert status == "OK" and data == [(f'1 (UID {uid} INTERNALDATE "{date}" BODY[HEADER.FIELDS (MESSAGE-ID)] {{32}}'
                                        .encode(), b"Message-ID: <f1@example.com>\r\n\r\n"), b")"]
    assert abs(time.mktime(imaplib.Internaldate2tuple(data[0][0])) - record["received"]) < 1
    header = eml.split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    assert imap.fetch("1", "(BODY.PEEK[HEADER] RFC822.HEADER)")[1] == [
        (b"1 (BODY[HEADER] {%d}" % len(header), header), (b" RFC822.HEADER {%d}" % len(header), header), b")"]
    assert imap.fetch("1", "BODY.PEEK[]")[1] == [(b"1 (BODY[] {%d}" % len(eml), eml), b")"]


def test_imap_fetch_sets_items_and_errors(gmail_emulator, imap):
    emu = gmail_emulator
    for n in (1, 2, 3):
        _submit(emu, ["team.reports@gmail.com"], f"<s{n}@example.com>")
    uids = [m["seq"] for m in emu.messages(wait=False)]
    imap.login(USER, APP_PW)
    assert _raw(imap, "F1 FETCH 1 UID") == b"F1 BAD Command received in Invalid state.\r\n"
    imap.select('"[Gmail]/Sent Mail"')
    assert imap.fetch("1:*", "(UID FLAGS)") == ("OK", [f"{n} (UID {u} FLAGS ())".encode()
                                                       for n, u in enumerate(uids, 1)])
    assert imap.fetch("3,1,7", "UID") == ("OK", [f"1 (UID {uids[0]})".encode(), f"3 (UID {uids[2]})".encode()])
    assert imap.fetch("*", "UID") == ("OK", [f"3 (UID {uids[2]})".encode()])
    assert imap.fetch("3:2,5:*", "UID")[1] == [f"2 (UID {uids[1]})".encode(), f"3 (UID {uids[2]})".encode()]
    status, [fast] = imap.fetch("2", "FAST")
    date = rb'"\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d \+0000"'
    assert status == "OK" and re.fullmatch(rb"2 \(FLAGS \(\) INTERNALDATE " + date + rb" RFC822.SIZE \d+\)", fast)
    assert imap.uid("FETCH", f"{uids[1]}:{uids[2]}", "FLAGS")[1] == [
        f"2 (UID {uids[1]} FLAGS ())".encode(), f"3 (UID {uids[2]} FLAGS ())".encode()]
    assert imap.uid("FETCH", f"{uids[2] + 10}:*", "UID")[1] == [f"3 (UID {uids[2]})".encode()]  # RFC 3501: n:* has *
    assert imap.uid("FETCH", str(uids[2] + 10), "UID") == ("OK", [None])  # unknown UIDs: skipped silently
    for numbers, items in (("1", "(NONSENSE)"), ("0", "UID"), ("a:b", "UID"), ("1", "BODY[]<0.10>"), ("1", "()")):
        with pytest.raises(imaplib.IMAP4.error, match="Could not parse command"):
            imap.fetch(numbers, items)


def test_imap_idle_pushes_exists_until_done(gmail_emulator, imap):
    emu = gmail_emulator
    assert "IDLE" in imap.capabilities
    imap.login(USER, APP_PW)
    assert imap.select("INBOX") == ("OK", [b"0"])
    assert _raw(imap, "A1 IDLE") == b"+ idling\r\n"
    _submit(emu, [USER], "<idle1@example.com>")  # arrives while the client idles
    assert imap.readline() == b"* 1 EXISTS\r\n"
    _submit(emu, [USER], "<idle2@example.com>")
    assert imap.readline() == b"* 2 EXISTS\r\n"
    assert _raw(imap, "DONE") == b"A1 OK IDLE terminated (Success)\r\n"
    assert imap.uid("SEARCH", "HEADER", "Message-ID", '"<idle2@example.com>"')[0] == "OK"
    imap.logout()
    session = [s for s in emu.sessions() if s["protocol"] == "imap"][0]
    assert session["commands"][-4:-2] == ["A1 IDLE", "DONE"]


@pytest.mark.parametrize("by", ["lifetime", "token"])
def test_imap_idle_that_outlives_the_session_gets_the_bye(gmail_emulator, imap, by):
    if by == "lifetime":
        gmail_emulator.set(imap_session_lifetime=1.0)
        imap.login(USER, APP_PW)
    else:  # an OAuth session ends with its token
        gmail_emulator.set(token_lifetime=1)
        token, _lifetime = gmail_emulator.state.issue_token(USER)
        imap.authenticate("XOAUTH2", lambda _challenge: f"user={USER}\x01auth=Bearer {token}\x01\x01")
    imap.select("INBOX")
    assert _raw(imap, "A1 IDLE") == b"+ idling\r\n"
    assert imap.readline() == b"* BYE Session expired, please login again.\r\n"
    assert imap.readline() == b""  # closed
    [session] = gmail_emulator.sessions()
    assert session["closed_by"] == "expired" and session["commands"][-1] == "A1 IDLE"


def test_imap_idle_switched_off_and_idle_without_a_folder(gmail_emulator, imap):
    assert imap.login(USER, APP_PW)[0] == "OK"
    assert b"IDLE" in imap.capability()[1][0].split()
    assert _raw(imap, "A1 IDLE") == b"A1 BAD Command received in Invalid state.\r\n"
    gmail_emulator.set(imap_idle=False)
    conn = imaplib.IMAP4_SSL(gmail_emulator.host, gmail_emulator.imap_port, ssl_context=ctx(gmail_emulator),
                             timeout=5)
    assert "IDLE" not in conn.capabilities and "UNSELECT" in conn.capabilities
    conn.login(USER, APP_PW)
    assert b"IDLE" not in conn.capability()[1][0].split()
    conn.select("INBOX")
    assert _raw(conn, "A2 IDLE").startswith(b"A2 BAD Unknown command")
    conn.logout()


def test_imap_noop_reports_new_mail_once(gmail_emulator, imap):
    imap.login(USER, APP_PW)
    assert imap.select("INBOX") == ("OK", [b"0"]) and imap.response("EXISTS") == ("EXISTS", [b"0"])
    assert imap.noop() == ("OK", [b"Success"]) and imap.response("EXISTS") == ("EXISTS", [None])
    _submit(gmail_emulator, [USER], "<noop1@example.com>")
    imap.noop()
    assert imap.response("EXISTS") == ("EXISTS", [b"1"])
    imap.noop()
    assert imap.response("EXISTS") == ("EXISTS", [None])  # told once


def test_imap_plus_address_lands_in_the_inbox(gmail_emulator, imap):
    """Gmail delivers user+tag@ (and, at gmail.com, the address with other dots) to the user's INBOX."""
    emu = gmail_emulator
    _submit(emu, ["ops.alerts+mailops-probe@gmail.com"], "<plus@example.com>",
            head="To: ops.alerts+mailops-probe@gmail.com\r\n")
    _submit(emu, ["o.p.s.alerts@googlemail.com"], "<dots@example.com>")
    _submit(emu, ["ops.alerts+x@example.com"], "<other@example.com>")  # another domain's account
    imap.login(USER, APP_PW)
    assert imap.select("INBOX", readonly=True) == ("OK", [b"2"])
    assert imap.search(None, "TO", '"ops.alerts+mailops-probe@gmail.com"') == ("OK", [b"1"])
    assert imap.search(None, "HEADER", "Message-ID", '"<dots@example.com>"') == ("OK", [b"2"])
    assert imap.search(None, "TO", '"ops.alerts@gmail.com"') == ("OK", [b""])
    conn = imaplib.IMAP4_SSL(emu.host, emu.imap_port, ssl_context=ctx(emu), timeout=5)
    conn.login("team.reports@gmail.com", "ponmlkjihgfedcba")
    assert conn.select("INBOX", readonly=True) == ("OK", [b"0"])
    conn.logout()


def test_imap_uid_move_to_trash_only_from_a_folder_opened_read_write(gmail_emulator, imap):
    """UID MOVE (RFC 6851) to [Gmail]/Trash: the message leaves every other folder, as a delete in Gmail does."""
    emu = gmail_emulator
    for number in (1, 2):
        _submit(emu, ["ops.alerts+probe@gmail.com"], f"<t{number}@example.com>")
    imap.login(USER, APP_PW)
    imap.select('"[Gmail]/All Mail"', readonly=True)
    uid = imap.uid("SEARCH", "HEADER", "Message-ID", '"<t1@example.com>"')[1][0].decode()
    assert imap.uid("MOVE", uid, '"[Gmail]/Trash"')[0] == "NO"  # EXAMINE: read-only
    imap.select('"[Gmail]/All Mail"')
    assert imap.uid("MOVE", uid, '"[Gmail]/Spam"')[0] == "NO"
    status, _lines = imap.uid("MOVE", uid, '"[Gmail]/Trash"')
    assert status == "OK"
    assert imap.untagged_responses.get("EXPUNGE") == [b"1"]
    for folder, left in (("INBOX", 1), ('"[Gmail]/All Mail"', 1), ('"[Gmail]/Sent Mail"', 1), ('"[Gmail]/Trash"', 1)):
        assert imap.select(folder, readonly=True) == ("OK", [str(left).encode()]), folder
    assert imap.uid("SEARCH", "HEADER", "Message-ID", '"<t1@example.com>"')[1] == [uid.encode()]  # in Trash
