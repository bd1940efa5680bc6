# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Wire formats of the SMTP, IMAP and POP clients against scripted servers."""

from __future__ import annotations

import base64
import socket
import threading
import time

import pytest

from ansible_collections.mailops.gmail.plugins.module_utils import _smtp
from ansible_collections.mailops.gmail.plugins.module_utils._errors import GmailError
from ansible_collections.mailops.gmail.plugins.module_utils._imap import ImapClient
from ansible_collections.mailops.gmail.plugins.module_utils._pop import PopClient
from ansible_collections.mailops.gmail.plugins.module_utils._smtp import SmtpClient
from ansible_collections.mailops.gmail.plugins.module_utils._tls import Transport, xoauth2_initial_response

USER = "ops.alerts@gmail.com"
APP_PASSWORD = "abcdefghijklmnop"
TOKEN = "ya29.valid-ops-alerts"
CHALLENGE = base64.b64encode(b'{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}').decode()
EHLO = [
    "250-smtp.gmail.com at your service",
    "250-SIZE 35882577",
    "250-AUTH LOGIN PLAIN XOAUTH2",
    "250-ENHANCEDSTATUSCODES",
    "250 PIPELINING",
]


class ScriptedTransport(Transport):
    """A Transport whose 'server' is a list of reply lines; records what the client sends."""

    def __init__(self, lines, encrypted=True):
        super().__init__("smtp.gmail.com", 587)
        self.lines = list(lines)
        self.sent = []
        self._encrypted = encrypted
        self.sock = object()

    encrypted = property(lambda self: self._encrypted)
    tls_version = property(lambda self: "TLSv1.3" if self._encrypted else None)

    def open(self, implicit_tls):
        pass

    def start_tls(self):
        self._encrypted = True

    def send(self, data, stage="connect"):
        self.sent.extend(data.decode().split("\r\n")[:-1])
        self._awaiting = True

    def readline(self, stage="connect"):
        if self._awaiting:
            self.round_trips += 1
            self._awaiting = False
        if not self.lines:
            raise GmailError.of(EOFError(), self.endpoint, stage)
        return self.lines.pop(0)

    def close(self):
        self.sock = None


def scripted(client, lines, encrypted=True):
    client.transport = ScriptedTransport(lines, encrypted)
    return client.transport


def smtp(security="starttls"):
    return SmtpClient("smtp.gmail.com", 587, security, local_hostname="client.example")


def test_smtp_starttls_then_auth_plain():
    client = smtp()
    wire = scripted(
        client,
        [
            "220 smtp.gmail.com ESMTP",
            "250-smtp.gmail.com",
            "250-STARTTLS",
            "250 8BITMIME",
            "220 2.0.0 Ready to start TLS",
            *EHLO,
            "235 2.7.0 Accepted",
            "221 2.0.0 closing",
        ],
        encrypted=False,
    )
    client.connect()
    assert client.extensions["SIZE"] == "35882577" and "PIPELINING" in client.extensions
    assert client.authenticate(USER, password=APP_PASSWORD) == "PLAIN"
    client.quit()
    plain = base64.b64encode(f"\0{USER}\0{APP_PASSWORD}".encode()).decode()
    assert wire.sent == ["EHLO client.example", "STARTTLS", "EHLO client.example", f"AUTH PLAIN {plain}", "QUIT"]
    assert client.round_trips == 5


def test_smtp_refuses_plaintext_when_starttls_is_not_offered():
    client = smtp()
    wire = scripted(client, ["220 hi", "250-mx", "250 AUTH PLAIN"], encrypted=False)
    with pytest.raises(GmailError, match="does not offer STARTTLS; refusing to continue in plaintext") as err:
        client.connect()
    assert err.value.category == "tls"
    assert wire.sent == ["EHLO client.example"]


def test_smtp_refuses_auth_on_plaintext():
    client = smtp("none")
    wire = scripted(client, ["220 hi", "250-mx", "250 AUTH PLAIN LOGIN"], encrypted=False)
    client.connect()
    with pytest.raises(GmailError, match="refusing to send credentials over an unencrypted connection"):
        client.authenticate(USER, password=APP_PASSWORD)
    assert not any(line.startswith("AUTH") for line in wire.sent)


def test_smtp_xoauth2_failure_answers_the_challenge_with_an_empty_line():
    client = smtp("tls")
    wire = scripted(
        client,
        [
            "220 hi",
            *EHLO,
            f"334 {CHALLENGE}",
            "535-5.7.8 Username and Password not accepted. For more information, go to",
            "535 5.7.8  https://support.google.com/mail/?p=BadCredentials",
        ],
    )
    client.connect()
    with pytest.raises(GmailError) as err:
        client.authenticate(USER, access_token=TOKEN)
    assert wire.sent[-2:] == [f"AUTH XOAUTH2 {xoauth2_initial_response(USER, TOKEN)}", ""]
    assert err.value.category == "auth" and "access token" in err.value.classification["remediation"]
    assert err.value.classification["enhanced_code"] == "5.7.8"
    assert TOKEN not in str(err.value)


def test_smtp_auth_login_when_plain_is_not_offered():
    client = smtp("tls")
    wire = scripted(
        client,
        [
            "220 hi",
            "250-mx",
            "250 AUTH LOGIN",
            "334 VXNlcm5hbWU6",
            "334 UGFzc3dvcmQ6",
            "534-5.7.9 Application-specific password required.",
            "534 5.7.9 Learn more",
        ],
    )
    client.connect()
    with pytest.raises(GmailError) as err:
        client.authenticate(USER, password="correct-horse-battery")
    assert wire.sent[1:] == [
        "AUTH LOGIN",
        base64.b64encode(USER.encode()).decode(),
        base64.b64encode(b"correct-horse-battery").decode(),
    ]
    assert err.value.category == "app_password_required"


@pytest.mark.parametrize("mechanism, echoed", [
    ("PLAIN", lambda: base64.b64encode(f"\0{USER}\0{APP_PASSWORD}".encode()).decode()),
    ("LOGIN", lambda: base64.b64encode(APP_PASSWORD.encode()).decode()),
    ("XOAUTH2", lambda: xoauth2_initial_response(USER, TOKEN)),
])
def test_a_reply_that_echoes_the_auth_blob_is_redacted(mechanism, echoed):
    client = smtp("tls")
    blob = echoed()
    login = ["334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6"] if mechanism == "LOGIN" else []
    scripted(client, ["220 hi", "250-mx", "250 AUTH PLAIN LOGIN XOAUTH2", *login,
                      f"535 5.7.8 Bad credentials in {blob} refused"])
    client.connect()
    secret = {"access_token": TOKEN} if mechanism == "XOAUTH2" else {"password": APP_PASSWORD}
    with pytest.raises(GmailError) as err:
        client.authenticate(USER, mechanism=mechanism, **secret)
    assert blob not in str(err.value) and blob not in str(err.value.classification)
    assert "********" in str(err.value)


def test_smtp_greeting_421_is_temporary():
    client = smtp("tls")
    scripted(client, ["421 4.7.0 Try again later, closing connection."])
    with pytest.raises(GmailError) as err:
        client.connect()
    assert err.value.category == "temporary" and err.value.temporary
    assert str(err.value).startswith("Greeting from smtp.gmail.com:587 failed (421 4.7.0)")


def test_smtp_command_refuses_crlf():
    client = smtp("tls")
    scripted(client, [])
    with pytest.raises(ValueError):
        client.command("MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>")


def test_imap_login_and_logout():
    client = ImapClient("imap.gmail.com")
    wire = scripted(
        client,
        [
            "* OK Gimap ready",
            "* CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR",
            "M1 OK Thats all",
            "M2 OK ops.alerts@gmail.com authenticated (Success)",
            "* BYE LOGOUT Requested",
            "M3 OK 73 good day",
        ],
    )
    client.connect()
    assert client.authenticate(USER, password='pa"ss\\word') == "LOGIN"
    client.quit()
    assert wire.sent == ["M1 CAPABILITY", f'M2 LOGIN "{USER}" "pa\\"ss\\\\word"', "M3 LOGOUT"]


@pytest.mark.parametrize(
    "capabilities, expected",
    [
        ("IMAP4rev1 AUTH=XOAUTH2 SASL-IR", ["M2 AUTHENTICATE XOAUTH2 {ir}", ""]),
        ("IMAP4rev1 AUTH=XOAUTH2", ["M2 AUTHENTICATE XOAUTH2", "{ir}", ""]),
    ],
)
def test_imap_xoauth2_failure(capabilities, expected):
    client = ImapClient("imap.gmail.com")
    lines = ["* OK Gimap ready", f"* CAPABILITY {capabilities}", "M1 OK"]
    lines += ([] if "SASL-IR" in capabilities else ["+ "]) + [
        f"+ {CHALLENGE}",
        "M2 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)",
    ]
    wire = scripted(client, lines)
    client.connect()
    with pytest.raises(GmailError) as err:
        client.authenticate(USER, access_token=TOKEN)
    ir = xoauth2_initial_response(USER, TOKEN)
    assert wire.sent[1:] == [line.format(ir=ir) for line in expected]
    assert err.value.category == "auth"
    assert (
        str(err.value)
        == "Authentication to imap.gmail.com:993 failed (NO): [AUTHENTICATIONFAILED] Invalid credentials (Failure)"
    )


def test_pop_user_pass_and_xoauth2():
    client = PopClient("pop.gmail.com")
    wire = scripted(client, ["+OK Gpop ready", "+OK send PASS", "+OK Welcome.", "+OK Farewell."])
    client.connect()
    assert client.authenticate(USER, password=APP_PASSWORD) == "USER"
    client.quit()
    assert wire.sent == [f"USER {USER}", f"PASS {APP_PASSWORD}", "QUIT"]

    client = PopClient("pop.gmail.com")
    wire = scripted(client, ["+OK Gpop ready", f"+ {CHALLENGE}", "-ERR [AUTH] Invalid credentials."])
    client.connect()
    with pytest.raises(GmailError) as err:
        client.authenticate(USER, access_token=TOKEN)
    assert wire.sent == [f"AUTH XOAUTH2 {xoauth2_initial_response(USER, TOKEN)}", ""]
    assert err.value.category == "auth"


# --- real sockets (plaintext, 127.0.0.1) for the transport itself ---------------------------


def serve_once(script):
    """A one-connection server on 127.0.0.1; script(conn) runs in a thread. Returns the port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def run():
        conn, _dummy = listener.accept()
        with conn:
            script(conn)
        listener.close()

    threading.Thread(target=run, daemon=True).start()
    return listener.getsockname()[1]


def hung_up_early(conn, chunks):
    """Send one chunk each 0.1 s (b"": stay silent); True when the client hung up before the last one."""
    conn.settimeout(0.1)
    for chunk in chunks:
        try:
            if chunk:
                conn.sendall(chunk)
            if conn.recv(1) == b"":
                return True
        except socket.timeout:
            continue
        except OSError:
            return True
    return False


def judged(script):
    """A server script that records what it returns, for the test to read after the client gave up."""
    seen = []
    return (lambda conn: seen.append(script(conn))), seen


def wait_for(seen):
    for _dummy in range(100):
        if seen:
            return seen[0]
        time.sleep(0.05)
    raise AssertionError("the server script did not end")


def test_silent_server_times_out_within_the_deadline():
    # Silent for 3 s; the client must give up at its 0.5 s deadline, while the server still waits.
    script, seen = judged(lambda conn: hung_up_early(conn, [b""] * 30))
    client = SmtpClient("127.0.0.1", serve_once(script), "starttls", timeout=0.5)
    client.set_deadline(0.5)
    with pytest.raises(GmailError) as err:
        client.connect()
    client.close()
    assert err.value.category == "timeout" and err.value.temporary
    assert wait_for(seen) is True


def test_deadline_bounds_a_slow_dribbling_server():
    # A line every 0.1 s for 3 s: each read is quick, the 0.8 s deadline must still end it.
    script, seen = judged(lambda conn: hung_up_early(conn, [b"220-more\r\n"] * 30))
    client = SmtpClient("127.0.0.1", serve_once(script), "starttls", timeout=0.5)
    client.set_deadline(0.8)
    with pytest.raises(GmailError, match="timed out"):
        client.connect()
    client.close()
    assert wait_for(seen) is True


@pytest.mark.parametrize("trickle", [b"220 smtp.gmail.com ESMTP ready\r\n", b"220-hi\r\n" * 40])
def test_a_trickling_server_is_cut_off_after_timeout_without_a_session_deadline(trickle):
    """One byte every 0.1 s: no single read waits `timeout`, but the reply must be whole within it."""
    script, seen = judged(lambda conn: hung_up_early(conn, [bytes([byte]) for byte in trickle]))
    client = SmtpClient("127.0.0.1", serve_once(script), "starttls", timeout=0.6)
    with pytest.raises(GmailError) as err:
        client.connect()
    client.close()
    assert err.value.category == "timeout", err.value
    assert wait_for(seen) is True  # the client hung up before the reply was whole


def test_starttls_response_injection_is_refused():
    def inject(conn):
        conn.sendall(b"220 hi\r\n")
        conn.recv(100)
        conn.sendall(b"250-mx\r\n250 STARTTLS\r\n")
        conn.recv(100)
        conn.sendall(b"220 go ahead\r\n250 injected\r\n")
        time.sleep(0.5)

    client = SmtpClient("127.0.0.1", serve_once(inject), "starttls", timeout=2)
    with pytest.raises(GmailError, match="sent data before the TLS handshake"):
        client.connect()


def test_refused_connection():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(GmailError) as err:
        SmtpClient("127.0.0.1", port, "tls", timeout=2).connect()
    assert err.value.category == "refused"


def test_ehlo_name_is_qualified_or_an_address_literal(monkeypatch):
    """RFC 5321 4.1.4: EHLO gives the FQDN; a host without one gives its address literal (as smtplib does)."""
    class Sock:
        def __init__(self, address):
            self.address = address

        def getsockname(self):
            return (self.address, 40000)

    monkeypatch.setattr(_smtp.socket, "gethostname", lambda: "vm")
    monkeypatch.setattr(_smtp.socket, "getfqdn", lambda name=None: "vm.example.net")
    assert _smtp.ehlo_name(Sock("192.0.2.7")) == "vm.example.net"
    monkeypatch.setattr(_smtp.socket, "getfqdn", lambda name=None: "vm")
    assert _smtp.ehlo_name(Sock("192.0.2.7")) == "[192.0.2.7]"
    assert _smtp.ehlo_name(Sock("2001:db8::7")) == "[IPv6:2001:db8::7]"
    monkeypatch.setattr(_smtp.socket, "gethostname", lambda: "web1.prod.example.org")
    assert _smtp.ehlo_name(Sock("192.0.2.7")) == "web1.prod.example.org"
