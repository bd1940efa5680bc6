# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Submitter against an in-process fake SMTP server: pipelining, retries, unknown delivery, quota stop."""

from __future__ import annotations

import pytest

from ansible_collections.mailops.gmail.plugins.module_utils._errors import GmailError
from ansible_collections.mailops.gmail.plugins.module_utils._message import build_message
from ansible_collections.mailops.gmail.plugins.module_utils._submission import Submitter, backoff, stuff
from ansible_collections.mailops.gmail.plugins.module_utils._tls import Reply


def reply(text):
    code, _space, rest = text.partition(" ")
    enhanced = rest.split(" ")[0] if rest[:1].isdigit() else None
    return Reply(int(code), [rest], enhanced)


class FakeServer:
    """Counts what a real server would see. faults: {(stage, nth): 'drop' | 'silent' | 'NNN text'};
    'kept' at eom: the server keeps the message, then the connection drops before its reply.
    late_recipient_check: DATA is always answered 354 and a message without recipients is refused at
    its dot (servers that judge the envelope at the end)."""

    def __init__(self, pipelining=True, size=None, faults=None, eightbit=False, smtputf8=False,
                 late_recipient_check=False):
        self.pipelining, self.size, self.faults = pipelining, size, dict(faults or {})
        self.late_recipient_check = late_recipient_check
        self.eightbit, self.smtputf8, self.mail_lines = eightbit, smtputf8, []
        self.connections = self.auths = 0
        self.counts = {}
        self.delivered = []  # (message-id line, recipients)
        self.flights = []  # per final dot: did the next message's commands come with it

    def fault(self, stage):
        self.counts[stage] = self.counts.get(stage, 0) + 1
        return self.faults.pop((stage, self.counts[stage]), None)


class FakeClient:
    def __init__(self, server):
        self.server, self.round_trips, self.replies, self.awaiting = server, 0, [], False
        self.dead, self.in_data, self.data, self.rcpts = False, False, b"", []
        self.closing = self.mail_ok = self.kept = False
        self.extensions = {}

    def _check(self, stage):
        f = self.server.fault(stage)
        if f in ("drop", "silent", "kept"):
            self.dead, self.kept = True, f == "kept"
            return None
        return reply(f) if f else None

    def connect(self):
        self.server.connections += 1
        f = self._check("connect")
        if self.dead or f:
            raise GmailError.of(f or EOFError(), "fake:587", "greeting")
        self.extensions = {"AUTH": "PLAIN", **({"PIPELINING": ""} if self.server.pipelining else {}),
                           **({"SIZE": str(self.server.size)} if self.server.size else {}),
                           **({"8BITMIME": ""} if self.server.eightbit else {}),
                           **({"SMTPUTF8": ""} if self.server.smtputf8 else {})}

    def authenticate(self, username, password=None, access_token=None):
        self.server.auths += 1
        f = self._check("auth")
        if f:
            raise GmailError.of(f, "fake:587", "auth")

    def command(self, line):
        self.send_raw(line.encode() + b"\r\n")
        return self.read_reply()

    def send_raw(self, data):
        if self.dead:
            raise GmailError.of(BrokenPipeError(), "fake:587", "mail")
        self.awaiting = True
        if self.in_data:
            self.data += data
            # The dot may also end an empty message, right after DATA's 354.
            end = (b"\r\n" + self.data).find(b"\r\n.\r\n")
            if end < 0:
                return
            # Pipelined (RFC 2920): the next message's commands may follow the final dot.
            data, self.data = self.data[end + 3:], self.data[:end + 3]
            self.in_data = False
            f = self._check("eom") or (None if self.rcpts else reply("554 5.5.1 No valid recipients"))
            if f is None and (not self.dead or self.kept):
                mid = [x for x in self.data.split(b"\r\n") if x.lower().startswith(b"message-id")][0]
                self.server.delivered.append((mid, list(self.rcpts)))
            self.replies.append(f or reply("250 2.0.0 OK"))
            self.server.flights.append(bool(data))
            if not data or self.dead:
                return
        late = self.server.late_recipient_check
        for line in data.decode("utf-8").split("\r\n")[:-1]:
            if self.closing:
                return
            verb = line.split(":")[0].split(" ")[0].upper()
            stage = {"MAIL": "mail", "RCPT": "rcpt", "DATA": "data"}.get(verb, "other")
            f = self._check(stage)
            self.closing = bool(f) and f.code == 421
            if verb == "MAIL":
                self.rcpts, self.mail_ok = [], f is None
                self.server.mail_lines.append(line)
            elif verb == "RCPT" and not self.mail_ok or verb == "DATA" and not self.mail_ok and not late:
                f = f or reply("503 5.5.1 MAIL first")
            elif verb == "RSET":
                self.mail_ok = False
            if verb == "RCPT" and f is None:
                self.rcpts.append(line.split("<")[1].rstrip(">"))
            if verb == "DATA" and f is None:
                if not self.rcpts and not late:
                    f = reply("554 5.5.1 No valid recipients")
                else:
                    self.in_data, self.data = True, b""
            self.replies.append(f or reply("354 Go ahead" if verb == "DATA" else "250 2.1.0 OK"))

    def read_reply(self):
        if self.awaiting:
            self.round_trips += 1
            self.awaiting = False
        if self.dead or not self.replies:
            raise GmailError.of(EOFError(), "fake:587", "data")
        return self.replies.pop(0)

    def quit(self):
        self.close()

    def close(self):
        self.dead = True


def batch(n, **extra):
    out = []
    for i in range(n):
        out += build_message(dict(to=f"r{i}@example.com", subject=f"m{i}", body="x", **extra), index=i,
                             default_sender="ops.alerts@gmail.com")
    return out


def submitter(server, **kw):
    sleeps = []
    sub = Submitter(lambda: FakeClient(server), {"username": "ops.alerts@gmail.com", "password": "pw"},
                    endpoint="fake:587", sleep=sleeps.append, **kw)
    return sub, sleeps


@pytest.mark.parametrize("pipelining, trips", [(True, 10 + 1), (False, 10 * 4)])
def test_round_trips_one_session(pipelining, trips):
    """Pipelined: each message's data and final dot share a flight with the next message's envelope."""
    server = FakeServer(pipelining=pipelining)
    sub, _sleeps = submitter(server)
    results = sub.send_all(batch(10))
    assert [r["status"] for r in results] == ["sent"] * 10
    assert (server.connections, server.auths, sub.connections, sub.auths) == (1, 1, 1, 1)
    assert sub.round_trips == trips
    assert len(server.delivered) == 10
    assert server.flights == ([True] * 9 if pipelining else [False] * 9) + [False]


def _exactly_once(server, results, want):
    ids = [mid for mid, _rcpts in server.delivered]
    assert len(ids) == len(set(ids)), ids
    assert [r["status"] for r in results] == want
    assert len(ids) == want.count("sent") + want.count("unknown") - sum(  # an unknown one may not have arrived
        1 for r in results if r["status"] == "unknown" and not any(r["message_id"].encode() in m for m in ids))


@pytest.mark.parametrize("fault, want, connections", [
    # A temporary reply to the 3rd dot: the 4th message's DATA is open on the wire, so the retry of the
    # 3rd needs a new connection; the 4th then goes on that one, once.
    ("451 4.3.0 Mail server temporarily rejected message.", ["sent"] * 6, 2),
    # A permanent one: nothing to retry, the 4th goes on the same connection.
    ("552 5.3.4 Your message exceeded Google's message size limits.", ["sent"] * 2 + ["failed"] + ["sent"] * 3, 1),
    # The connection drops after the 3rd dot: the 3rd is unknown, the 4th (never given its dot) is sent again.
    ("drop", ["sent"] * 2 + ["unknown"] + ["sent"] * 3, 2),
    # The server closes with 421: same as a temporary reply, the session is gone.
    ("421 4.7.0 Try again later, closing connection.", ["sent"] * 6, 2),
])
def test_a_reply_to_a_dot_judges_that_message_only(fault, want, connections):
    server = FakeServer(faults={("eom", 3): fault})
    sub, _sleeps = submitter(server)
    results = sub.send_all(batch(6))
    _exactly_once(server, results, want)
    assert sub.connections == connections


def test_quota_at_a_dot_stops_the_batch_and_the_envelope_ahead_delivers_nothing():
    server = FakeServer(faults={("eom", 2): "550 5.4.5 Daily user sending limit exceeded."})
    sub, _sleeps = submitter(server)
    results = sub.send_all(batch(4))
    assert [r["status"] for r in results] == ["sent", "failed", "failed", "failed"]
    assert results[2]["error"]["message"].startswith("Not attempted: ")
    assert len(server.delivered) == 1 and server.counts["eom"] == 2  # the open DATA got no dot


@pytest.mark.parametrize("stage, fault", [("mail", "550 5.7.1 Sender refused."), ("rcpt", "550 5.1.1 No such user.")])
def test_a_refused_envelope_sent_ahead_is_judged_when_its_turn_comes(stage, fault):
    server = FakeServer(faults={(stage, 3): fault})
    sub, _sleeps = submitter(server)
    results = sub.send_all(batch(5))
    assert [r["status"] for r in results] == ["sent", "sent", "failed", "sent", "sent"]
    assert len(server.delivered) == 4 and sub.connections == 1


def test_a_data_accepted_after_a_refused_mail_is_ended_and_the_session_goes_on():
    """A server that answers DATA 354 although it refused MAIL (it judges recipients at the dot): the
    client ends that empty DATA and resets, and the next messages go on the same session at once;
    left open, the server would take the next envelope as message text and the client would wait
    for a reply until its timeout."""
    server = FakeServer(faults={("mail", 2): "550 5.7.1 Sender refused."}, late_recipient_check=True)
    sub, _sleeps = submitter(server)
    results = sub.send_all(batch(4))
    assert [r["status"] for r in results] == ["sent", "failed", "sent", "sent"]
    assert [rcpts for _mid, rcpts in server.delivered] == [["r0@example.com"], ["r2@example.com"], ["r3@example.com"]]
    assert sub.connections == 1 and server.counts["eom"] == 4


def test_an_envelope_sent_ahead_for_another_message_is_cancelled_not_delivered():
    """If the next send() carries something else than upcoming() said, the open DATA is closed unsent."""
    server = FakeServer()
    msgs = batch(3)
    sub, _sleeps = submitter(server, upcoming=lambda: msgs[2])
    assert sub.send(msgs[0])["status"] == "sent"
    sub.upcoming = None
    assert sub.send(msgs[1])["status"] == "sent"
    assert sub.send(msgs[2])["status"] == "sent"
    sub.close()
    assert [rcpts for _mid, rcpts in server.delivered] == [[f"r{i}@example.com"] for i in range(3)]
    assert sub.connections == 2


def test_421_at_mail_for_third_message_is_retried_once_without_duplicates():
    server = FakeServer(faults={("mail", 3): "421 4.7.0 Try again later, closing connection"})
    sub, sleeps = submitter(server, retry_delay=0.5)
    results = sub.send_all(batch(10))
    assert [r["status"] for r in results] == ["sent"] * 10
    assert results[2]["attempts"] == 2 and sleeps == [0.5]
    ids = [mid for mid, _rcpts in server.delivered]
    assert len(ids) == 10 and len(set(ids)) == 10
    assert (sub.connections, sub.auths) == (2, 2)  # 421 closes the session: reconnect and AUTH again


def test_451_keeps_the_session():
    server = FakeServer(faults={("mail", 1): "451 4.3.0 Local error"})
    sub, _sleeps = submitter(server)
    [res] = sub.send_all(batch(1))
    assert res["status"] == "sent" and sub.connections == 1


def test_454_at_auth_then_success():
    server = FakeServer(faults={("auth", 1): "454 4.7.0 Too many login attempts, please try again later"})
    sub, sleeps = submitter(server)
    [res] = sub.send_all(batch(1))
    assert res["status"] == "sent" and (sub.connections, sub.auths) == (2, 2) and sleeps == [1.0]


def test_535_fails_at_once_with_one_auth_and_stops_the_batch():
    server = FakeServer(faults={("auth", 1): "535 5.7.8 Username and Password not accepted"})
    sub, sleeps = submitter(server)
    results = sub.send_all(batch(3))
    assert [r["status"] for r in results] == ["failed"] * 3
    assert server.auths == 1 and sleeps == [] and server.delivered == []
    assert results[0]["error"]["code"] == 535 and results[0]["error"]["category"] == "auth"
    assert results[1]["error"]["message"].startswith("Not attempted: ")


def test_drop_after_final_dot_is_unknown_and_not_resent():
    server = FakeServer(faults={("eom", 1): "drop"})
    sub, _sleeps = submitter(server)
    results = sub.send_all(batch(2))
    assert [r["status"] for r in results] == ["unknown", "sent"]
    assert "unknown: the connection failed after the message was sent" in results[0]["error"]["message"]
    assert results[0]["unknown"] == list(batch(1)[0].recipients)
    assert server.counts["eom"] == 2  # the first message was not sent again


def test_drop_before_data_is_retried():
    server = FakeServer(faults={("rcpt", 1): "drop"})
    sub, _sleeps = submitter(server)
    [res] = sub.send_all(batch(1))
    assert res["status"] == "sent" and len(server.delivered) == 1 and sub.connections == 2


def test_5xx_is_never_retried_and_batch_continues():
    server = FakeServer(faults={("rcpt", 1): "550 5.1.1 The email account that you tried to reach does not exist"})
    sub, sleeps = submitter(server)
    results = sub.send_all(batch(2))
    assert [r["status"] for r in results] == ["failed", "sent"] and sleeps == []
    assert "5.1.1" in results[0]["refused"]["r0@example.com"]


def test_partial_refusal_reports_both_lists():
    server = FakeServer(faults={("rcpt", 2): "550 5.1.1 No such user"})
    sub, _sleeps = submitter(server)
    [msg] = build_message({"to": ["a@example.com", "b@example.com"], "body": "x"}, default_sender="s@gmail.com")
    [res] = sub.send_all([msg])
    assert res["status"] == "sent" and res["accepted"] == ["a@example.com"]
    assert list(res["refused"]) == ["b@example.com"]


def test_temporary_recipient_refusal_is_retried_for_that_recipient_only():
    server = FakeServer(faults={("rcpt", 2): "450 4.2.1 Mailbox busy"})
    sub, _sleeps = submitter(server)
    [msg] = build_message({"to": ["a@example.com", "b@example.com"], "body": "x"}, default_sender="s@gmail.com")
    [res] = sub.send_all([msg])
    assert res["status"] == "sent" and res["accepted"] == ["a@example.com", "b@example.com"]
    assert [r for _mid, r in server.delivered] == [["a@example.com"], ["b@example.com"]]


def test_server_quota_stops_the_batch():
    server = FakeServer(faults={("mail", 2): "550 5.4.5 Daily user sending limit exceeded"})
    sub, sleeps = submitter(server)
    results = sub.send_all(batch(4))
    assert [r["status"] for r in results] == ["sent", "failed", "failed", "failed"]
    assert results[1]["error"]["category"] == "quota" and sleeps == []
    assert results[3]["error"]["message"].startswith("Not attempted")
    assert server.counts["mail"] == 2


def test_retries_are_bounded():
    faults = {("mail", n): "451 4.3.0 busy" for n in range(1, 10)}
    server = FakeServer(faults=faults)
    sub, sleeps = submitter(server, retries=3, retry_delay=1, max_delay=3)
    [res] = sub.send_all(batch(1))
    assert res["status"] == "failed" and res["attempts"] == 4 and sleeps == [1, 2, 3]
    assert res["error"]["temporary"] and res["pending"] == ["r0@example.com"]


def test_unreachable_server_stops_after_retries():
    server = FakeServer(faults={("connect", n): "drop" for n in range(1, 10)})
    sub, sleeps = submitter(server, retries=1)
    results = sub.send_all(batch(3))
    assert server.connections == 2 and len(sleeps) == 1
    assert all(r["status"] == "failed" for r in results)


def test_message_over_server_size_is_not_sent():
    server = FakeServer(size=100)
    sub, _sleeps = submitter(server)
    [res] = sub.send_all(batch(1))
    assert res["status"] == "failed" and res["error"]["category"] == "size" and server.counts.get("mail") is None


def test_backoff_and_dot_stuffing():
    assert [backoff(n, 1, 5) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
    assert stuff(b"a\r\n.b\r\n..c") == b"a\r\n..b\r\n...c\r\n.\r\n"


@pytest.mark.parametrize("eightbit, body, declared", [
    (True, "Grüße aus dem Rechenzentrum", True),
    (True, "plain ASCII", False),
    (False, "plain ASCII", False),
])
def test_an_8bit_body_is_declared_with_body_8bitmime(eightbit, body, declared):
    server = FakeServer(size=35882577, eightbit=eightbit)
    sub, _sleeps = submitter(server)
    [msg] = build_message({"to": "a@example.com", "subject": "s", "body": body}, default_sender="ops.alerts@gmail.com")
    assert declared == any(b > 0x7F for b in msg.raw)
    [out] = sub.send_all([msg])
    assert out["status"] == "sent"
    [line] = server.mail_lines
    assert line.endswith(" BODY=8BITMIME") == declared and f"SIZE={msg.size}" in line


def test_a_refused_recipient_shows_the_enhanced_code_once():
    server = FakeServer(faults={("rcpt", 1): "550 5.1.1 <nobody@example.com>: The email account does not exist."})
    sub, _sleeps = submitter(server)
    [res] = sub.send_all(batch(1))
    assert res["refused"] == {"r0@example.com": "550 5.1.1 <nobody@example.com>: The email account does not exist."}


def test_an_internationalised_address_goes_with_smtputf8_or_not_at_all():
    [msg] = build_message({"to": "jörg@münchen.example", "subject": "Grüße", "body": "x"},
                          default_sender="ops.alerts@gmail.com")
    assert msg.smtputf8 and "To: jörg@münchen.example".encode() in msg.raw
    server = FakeServer()
    sub, _sleeps = submitter(server)
    [res] = sub.send_all([msg])
    assert res["status"] == "failed" and "does not offer SMTPUTF8" in res["error"]["message"]
    assert server.mail_lines == []  # nothing was offered to a server that cannot take it

    server = FakeServer(smtputf8=True)
    sub, _sleeps = submitter(server)
    [res] = sub.send_all([msg])
    assert res["status"] == "sent" and server.mail_lines[0].endswith(" SMTPUTF8")
    assert server.delivered[0][1] == ["jörg@münchen.example"]
