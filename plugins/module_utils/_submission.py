# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Send many prepared messages over one authenticated SMTP session.

- One connection and one AUTH for the whole batch; a new one only after the server dropped us.
- RFC 2920 PIPELINING when advertised: MAIL, every RCPT and DATA go in one flight; the message
  data with its final dot goes in the next, together with the next message's MAIL, RCPT and DATA
  when the caller names it in advance (``upcoming``), so a batch takes about one round trip per
  message. Each reply is still read and judged for its own message. Without PIPELINING, one
  command per round trip.
- Temporary failures (421/450/451/452/454 replies, drops and timeouts before the final dot was
  sent) are retried with bounded exponential backoff; 5xx replies never are.
- A drop after the final dot was sent leaves delivery unknown: the message is not sent again
  here (_outbox settles it through IMAP).
- 550 5.4.5 (daily quota reached at the server) stops the batch: nothing more is tried.
- ``on_data(msg, recipients)`` is called right before the message data goes out, with the
  recipients the server accepted: from then on the server may have the message.
- ``upcoming()`` (optional) returns the message the next ``send()`` will carry, with its final
  recipients, or None when that is not certain yet. Its envelope then rides along; if the next
  ``send()`` carries something else after all (a retry, a resend), the connection is closed first,
  which cancels the open DATA: a message is only ever delivered by its own final dot.

The batch policy around it (dedupe keys, quota, spool, journal) is in _outbox.py.
"""

from __future__ import annotations

import re
import time

from ansible_collections.mailops.gmail.plugins.module_utils._errors import GmailError, classify

_DOT = re.compile(rb"(?m)^\.")


class _Unknown(Exception):
    """The connection failed after the final dot was sent: the server may have the message."""

    def __init__(self, error, recipients):
        super().__init__(error.classification["message"])
        self.error = error
        self.recipients = recipients


class _Stop(Exception):
    """Nothing more can be sent in this run (permanent session failure or server quota)."""

    def __init__(self, classification):
        super().__init__(classification["message"])
        self.classification = classification


def backoff(attempt, base, cap):
    """Delay before retry number ``attempt`` (1-based): base, 2*base, 4*base ... at most cap."""
    return min(cap, base * (2 ** (attempt - 1)))


def stuff(raw):
    """Dot-stuff message bytes (RFC 5321 4.5.2) and terminate them with CRLF . CRLF."""
    if not raw.endswith(b"\r\n"):
        raw += b"\r\n"
    return _DOT.sub(b"..", raw) + b".\r\n"


def _reply_text(reply):
    """"550 5.1.1 text...": the enhanced code once, though each reply line starts with it."""
    enhanced = reply.enhanced_code
    lines = [line[len(enhanced):].strip() if enhanced and line.startswith(enhanced) else line.strip()
             for line in reply.lines]
    return " ".join(str(x) for x in (reply.code, enhanced, " ".join(lines)) if x)


class Submitter:
    """``client_factory()`` returns an unconnected SmtpClient; ``credentials`` are the keyword
    arguments of its ``authenticate()``, or a callable returning them at each login (None for a
    relay without AUTH)."""

    def __init__(self, client_factory, credentials=None, endpoint="", retries=3, retry_delay=1.0,
                 max_delay=30.0, on_data=None, upcoming=None, sleep=time.sleep):
        self.client_factory = client_factory
        self.credentials = credentials
        self.endpoint = endpoint
        self.retries = retries
        self.retry_delay = retry_delay
        self.max_delay = max_delay
        self.on_data = on_data
        self.upcoming = upcoming
        self.sleep = sleep
        self.connections = 0
        self.auths = 0
        self.round_trips = 0
        self.tls_version = None
        self.stopped = None  # classification that ended the batch early
        self.client = None
        self.pipelining = False
        self.eightbitmime = False
        self.smtputf8 = False
        self.size_limit = None
        self._open_error = None
        self._ahead = None  # (msg, recipients): its MAIL/RCPT/DATA are on the wire, the replies not read

    # -- session -------------------------------------------------------------------------
    def _open(self):
        client = self.client_factory()
        self.connections += 1
        self.client = client
        client.connect()
        self.tls_version = getattr(client, "tls_version", None)
        if self.credentials:
            self.auths += 1
            client.authenticate(**(self.credentials() if callable(self.credentials) else self.credentials))
        ext = {k.upper(): v for k, v in (client.extensions or {}).items()}
        self.pipelining = "PIPELINING" in ext
        self.eightbitmime = "8BITMIME" in ext
        self.smtputf8 = "SMTPUTF8" in ext
        size = ext.get("SIZE")
        size = size[0] if isinstance(size, (list, tuple)) and size else size
        self.size_limit = int(size) if size and str(size).isdigit() and int(size) > 0 else None

    def _drop(self):
        self._ahead = None
        if self.client is not None:
            self.round_trips += self.client.round_trips
            self.client.close()
            self.client = None

    def close(self):
        if self._ahead is not None:
            self._drop()  # a DATA is open: QUIT would be taken for message text; closing cancels it
        if self.client is not None:
            try:
                self.client.quit()
            except GmailError:
                pass
            self._drop()

    # -- one transaction ----------------------------------------------------------------------
    def _error(self, reply, stage):
        return GmailError(classify(reply, endpoint=self.endpoint, stage=stage))

    def _envelope(self, msg, rcpts):
        """MAIL (with SIZE, BODY=8BITMIME, SMTPUTF8 as needed), every RCPT and, when pipelining, DATA."""
        mail = f"MAIL FROM:<{msg.sender}>" + (f" SIZE={msg.size}" if self.size_limit else "")
        if self.eightbitmime and any(byte > 0x7F for byte in msg.raw):
            mail += " BODY=8BITMIME"  # RFC 6152: an 8-bit body must be declared
        if getattr(msg, "smtputf8", False):
            if not self.smtputf8:
                raise GmailError.new("recipients", "an address of this message is not ASCII and the server does not "
                                     "offer SMTPUTF8 (RFC 6531); use an ASCII address", self.endpoint, "mail")
            mail += " SMTPUTF8"
        return [mail] + [f"RCPT TO:<{r}>" for r in rcpts]

    def _flight(self, lines):
        return ("\r\n".join(lines + ["DATA"]) + "\r\n").encode("utf-8")

    def _next(self):
        """The next message's envelope to send along with this message's data, or (None, b"")."""
        nxt = self.upcoming() if self.upcoming is not None else None
        if nxt is None or (self.size_limit and nxt.size > self.size_limit):
            return None, b""
        try:
            return nxt, self._flight(self._envelope(nxt, nxt.recipients))
        except GmailError:
            return None, b""  # its own send() reports why

    def _transaction(self, msg, rcpts):
        """Returns (accepted, temporary {rcpt: text}, permanent {rcpt: text}).
        Raises GmailError for a failure of the whole transaction, _Unknown after the dot."""
        c = self.client
        if self.pipelining:
            if self._ahead is None:  # else: sent with the previous message's data
                c.send_raw(self._flight(self._envelope(msg, rcpts)))
            self._ahead = None
            mail_reply = c.read_reply()
            rcpt_replies, data_reply = [], None
            if mail_reply.code != 421:  # 421: the server closes the session, no more replies come
                rcpt_replies = [c.read_reply() for _rcpt in rcpts]
                data_reply = c.read_reply()
        else:
            lines = self._envelope(msg, rcpts)
            mail_reply = c.command(lines[0])
            rcpt_replies, data_reply = [], None
            if mail_reply.code == 250:
                rcpt_replies = [c.command(line) for line in lines[1:]]
                if any(r.code in (250, 251) for r in rcpt_replies):
                    data_reply = c.command("DATA")
        if mail_reply.code != 250:
            if mail_reply.code != 421:
                self._abort(data_reply)
            raise self._error(mail_reply, "mail")
        accepted, temp, perm = [], {}, {}
        for rcpt, reply in zip(rcpts, rcpt_replies):
            if reply.code in (250, 251):
                accepted.append(rcpt)
            else:
                (temp if 400 <= (reply.code or 0) < 500 else perm)[rcpt] = _reply_text(reply)
        if not accepted:
            self._abort(data_reply)
            return accepted, temp, perm
        if data_reply.code != 354:
            self._reset()
            raise self._error(data_reply, "data")
        if self.on_data is not None:
            try:
                self.on_data(msg, accepted)
            except BaseException:
                self._drop()  # the server is waiting for data: only closing cancels the transaction
                raise
        nxt, envelope = self._next() if self.pipelining else (None, b"")
        c.send_raw(stuff(msg.raw) + envelope)
        try:
            final = c.read_reply()
        except GmailError as exc:
            raise _Unknown(exc, accepted) from None
        if nxt is not None:
            self._ahead = (nxt, list(nxt.recipients))
        if final.code != 250:
            if final.code == 421:
                self._drop()  # nothing more comes on this connection, the next envelope's replies neither
            raise self._error(final, "data")
        return accepted, temp, perm

    def _abort(self, data_reply):
        """After a failed MAIL or no accepted RCPT: end a DATA the server accepted anyway, reset."""
        if data_reply is not None and data_reply.code == 354:
            self.client.send_raw(b".\r\n")
            self.client.read_reply()
        self._reset()

    def _reset(self):
        try:
            self.client.command("RSET")
        except GmailError:
            self._drop()

    # -- one message with retries -------------------------------------------------------------
    def send(self, msg):
        """Returns a result dict: status sent|failed|unknown, accepted, refused, pending, unknown, error, attempts."""
        result = {"message_id": msg.message_id, "status": "failed", "accepted": [], "refused": {},
                  "pending": list(msg.recipients), "unknown": [], "error": None, "attempts": 0}
        if self.stopped:
            result["error"] = dict(self.stopped, message="Not attempted: " + self.stopped["message"])
            return result
        retries_used = 0
        while result["pending"]:
            result["attempts"] += 1
            try:
                error = self._attempt(msg, result)
            except _Unknown as exc:
                self._drop()
                result.update(status="unknown", error=dict(exc.error.classification, message=(
                    f"Delivery of {msg.message_id} unknown: the connection failed after the message was sent ("
                    + exc.error.classification["message"] + ")")))
                result["unknown"] = list(exc.recipients)
                result["pending"] = [r for r in result["pending"] if r not in exc.recipients]
                return result
            if error is None:
                continue
            if not error["temporary"] or retries_used >= self.retries or self.stopped:
                result["error"] = error
                if error is self._open_error:
                    self.stopped = error  # no session after all retries: the next message would not get one either
                break
            retries_used += 1
            self.sleep(backoff(retries_used, self.retry_delay, self.max_delay))
        if result["accepted"] and not result["pending"]:
            result["status"] = "sent"
        elif not result["accepted"] and not result["pending"] and not result["error"]:
            result["error"] = {"category": "recipients", "code": None, "enhanced_code": None, "temporary": False,
                               "message": "Every recipient was refused: " + "; ".join(
                                   f"{r}: {t}" for r, t in result["refused"].items()),
                               "remediation": "Check the recipient addresses."}
        return result

    def _attempt(self, msg, result):
        """One try; returns None on progress or a classification to retry on or give up with."""
        if self._ahead is not None and (self._ahead[0] is not msg or self._ahead[1] != result["pending"]):
            self._drop()  # another message's DATA is open: closing cancels it
        try:
            if self.client is None:
                self._open()
        except GmailError as exc:
            self._drop()
            self._open_error = exc.classification
            if not exc.temporary:
                self.stopped = exc.classification
            return exc.classification
        if self.size_limit and msg.size > self.size_limit:
            result["pending"] = []
            return dict(classify(_SizeReply(msg.size, self.size_limit), self.endpoint, "mail"), temporary=False)
        try:
            accepted, temp, perm = self._transaction(msg, result["pending"])
        except GmailError as exc:
            cls = exc.classification
            if cls["code"] == 421 or cls["code"] is None:
                self._drop()  # 421 closes the session; None means a drop or timeout
            if cls["category"] == "quota":
                self.stopped = cls
            if not cls["temporary"] and cls["category"] != "quota":  # quota: deliverable tomorrow
                result["refused"].update({r: cls["message"] for r in result["pending"]})
                result["pending"] = []
            return cls
        result["accepted"] += accepted
        result["refused"].update(perm)
        result["pending"] = list(temp)
        if temp:
            return {"category": "temporary", "code": None, "enhanced_code": None, "temporary": True,
                    "message": "Recipients temporarily refused: "
                    + "; ".join(f"{r}: {t}" for r, t in temp.items()),
                    "remediation": "Retry later; the spool keeps the message for these recipients."}
        return None

    def send_all(self, messages):
        """Send each message in turn, the next one's envelope riding along with each one's data."""
        todo = list(messages)
        self.upcoming = lambda: todo[0] if todo else None
        results = []
        try:
            while todo:
                results.append(self.send(todo.pop(0)))
            return results
        finally:
            self.close()


class _SizeReply:
    """A synthetic 552 5.3.4 for a message over the SIZE the server advertised (never sent)."""

    code = 552
    enhanced_code = "5.3.4"
    status = None

    def __init__(self, size, limit):
        self.lines = [f"message is {size} bytes; the server's SIZE limit is {limit} bytes"]
