# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Send many prepared messages over one authenticated SMTP session.

- One connection and one AUTH for the whole batch; a new one only after the server dropped us.
- RFC 2920 PIPELINING when advertised: MAIL, every RCPT and DATA go in one flight, then the
  message data with the final dot in a second one (2 round trips per message). Without it,
  one command per round trip.
- Temporary failures (421/450/451/452/454 replies, drops and timeouts before the final dot was
  sent) are retried with bounded exponential backoff; 5xx replies never are.
- A drop after the final dot was sent leaves delivery unknown: the message is not sent again
  unless retry_unknown, which resends the very same bytes (same Message-ID).
- 550 5.4.5 (daily quota reached at the server) stops the batch: nothing more is tried.
"""

from __future__ import annotations

import re
import time

from ansible_collections.mailops.gmail.plugins.module_utils import _spool as _spool_mod
from ansible_collections.mailops.gmail.plugins.module_utils._credentials import credentials, smtp_client
from ansible_collections.mailops.gmail.plugins.module_utils._errors import GmailError, classify
from ansible_collections.mailops.gmail.plugins.module_utils._quota import QuotaError, QuotaState, state_path

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
    return " ".join(str(x) for x in (reply.code, reply.enhanced_code, " ".join(reply.lines)) if x)


class Submitter:
    """``client_factory()`` returns an unconnected SmtpClient; ``credentials`` are the keyword
    arguments of its ``authenticate()`` (None for a relay without AUTH)."""

    def __init__(self, client_factory, credentials=None, endpoint="", retries=3, retry_delay=1.0,
                 max_delay=30.0, retry_unknown=False, sleep=time.sleep):
        self.client_factory = client_factory
        self.credentials = credentials
        self.endpoint = endpoint
        self.retries = retries
        self.retry_delay = retry_delay
        self.max_delay = max_delay
        self.retry_unknown = retry_unknown
        self.sleep = sleep
        self.connections = 0
        self.auths = 0
        self.round_trips = 0
        self.tls_version = None
        self.stopped = None  # classification that ended the batch early
        self.client = None
        self.pipelining = False
        self.eightbitmime = False
        self.size_limit = None
        self._open_error = None

    # -- session -------------------------------------------------------------------------
    def _open(self):
        client = self.client_factory()
        self.connections += 1
        self.client = client
        client.connect()
        self.tls_version = getattr(client, "tls_version", None)
        if self.credentials:
            self.auths += 1
            client.authenticate(**self.credentials)
        ext = {k.upper(): v for k, v in (client.extensions or {}).items()}
        self.pipelining = "PIPELINING" in ext
        self.eightbitmime = "8BITMIME" in ext
        size = ext.get("SIZE")
        size = size[0] if isinstance(size, (list, tuple)) and size else size
        self.size_limit = int(size) if size and str(size).isdigit() and int(size) > 0 else None

    def _drop(self):
        if self.client is not None:
            self.round_trips += self.client.round_trips
            self.client.close()
            self.client = None

    def close(self):
        if self.client is not None:
            try:
                self.client.quit()
            except GmailError:
                pass
            self._drop()

    # -- one transaction ----------------------------------------------------------------------
    def _error(self, reply, stage):
        return GmailError(classify(reply, endpoint=self.endpoint, stage=stage))

    def _transaction(self, msg, rcpts):
        """Returns (accepted, temporary {rcpt: text}, permanent {rcpt: text}).
        Raises GmailError for a failure of the whole transaction, _Unknown after the dot."""
        c = self.client
        mail = f"MAIL FROM:<{msg.sender}>" + (f" SIZE={msg.size}" if self.size_limit else "")
        if self.eightbitmime and any(byte > 0x7F for byte in msg.raw):
            mail += " BODY=8BITMIME"  # RFC 6152: an 8-bit body must be declared
        rcpt_lines = [f"RCPT TO:<{r}>" for r in rcpts]
        if self.pipelining:
            c.send_raw(("\r\n".join([mail] + rcpt_lines + ["DATA"]) + "\r\n").encode("ascii"))
            mail_reply = c.read_reply()
            rcpt_replies, data_reply = [], None
            if mail_reply.code != 421:  # 421: the server closes the session, no more replies come
                rcpt_replies = [c.read_reply() for _rcpt in rcpts]
                data_reply = c.read_reply()
        else:
            mail_reply = c.command(mail)
            rcpt_replies, data_reply = [], None
            if mail_reply.code == 250:
                rcpt_replies = [c.command(line) for line in rcpt_lines]
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
        c.send_raw(stuff(msg.raw))
        try:
            final = c.read_reply()
        except GmailError as exc:
            raise _Unknown(exc, accepted) from None
        if final.code != 250:
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
        """Returns a result dict: status sent|failed|unknown, accepted, refused, pending, error, attempts."""
        result = {"message_id": msg.message_id, "status": "failed", "accepted": [], "refused": {},
                  "pending": list(msg.recipients), "error": None, "attempts": 0}
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
                if self.retry_unknown and retries_used < self.retries:
                    retries_used += 1
                    self.sleep(backoff(retries_used, self.retry_delay, self.max_delay))
                    continue
                result.update(status="unknown", error=dict(exc.error.classification, message=(
                    "Delivery unknown: the connection failed after the message was sent ("
                    + exc.error.classification["message"] + "); not resent, to avoid a duplicate. "
                    "Check the recipient's mailbox, or set retry_unknown: true to resend with the same Message-ID.")))
                result["accepted"] += exc.recipients
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
        try:
            return [self.send(m) for m in messages]
        finally:
            self.close()


class _SizeReply:
    """A synthetic 552 5.3.4 for a message over the SIZE the server advertised (never sent)."""

    code = 552
    enhanced_code = "5.3.4"
    status = None

    def __init__(self, size, limit):
        self.lines = [f"message is {size} bytes; the server's SIZE limit is {limit} bytes"]


# -- a whole batch: dedupe, quota, send, spool ----------------------------------------------------
_PRIORITY = ("unknown", "failed", "spooled", "sent", "would_send", "skipped")


def _blank(msg):
    return {"index": msg.index, "message_id": msg.message_id, "subject": msg.subject, "status": "failed",
            "accepted": [], "refused": {}, "pending": list(msg.recipients), "error": None, "attempts": 0,
            "spool_path": getattr(msg, "spool_path", None)}


def _merge(results):
    """One result per message: chunks of a split message (same Message-ID and index) are folded."""
    merged = {}
    for r in results:
        key = (r["index"], r["message_id"], r["spool_path"])
        if key not in merged:
            merged[key] = r
            continue
        m = merged[key]
        m["accepted"] += r["accepted"]
        m["refused"].update(r["refused"])
        m["pending"] += r["pending"]
        m["error"] = m["error"] or r["error"]
        m["status"] = min(m["status"], r["status"], key=_PRIORITY.index)
    return list(merged.values())


def _spool(msg, result, spool_dir):
    """Keep an undelivered message (for the recipients still pending) in the spool."""
    old = result["spool_path"]
    if old and not result["accepted"]:
        result["status"] = "spooled"
        return
    try:
        result["spool_path"] = _spool_mod.write(spool_dir, msg.raw, msg.sender, result["pending"], msg.message_id,
                                                msg.dedupe_key)
        result["status"] = "spooled"
        if old:
            _spool_mod.remove(old)
    except _spool_mod.SpoolError as exc:
        result["error"] = dict(result["error"] or {}, message=f"{(result['error'] or {}).get('message')}; {exc}")


def deliver(messages, make_submitter, account, daily_limit=500, quota_dir=None, dedupe_window=86400,
            over_quota="fail", spool_dir=None, check_mode=False):
    """Send prepared messages (some may come from the spool, with ``spool_path``); return (results, stats).

    Raises QuotaError before anything is sent when the batch does not fit the daily quota.
    """
    path = state_path(quota_dir, account)
    results = [_blank(m) for m in messages]
    batch = []
    with QuotaState(path, daily_limit, readonly=check_mode) as quota:
        warnings = quota.warnings
        keys = {}
        for msg, res in zip(messages, results):
            key = msg.dedupe_key
            if key and (quota.is_duplicate(key, dedupe_window) or keys.get(key, msg.message_id) != msg.message_id):
                res.update(status="skipped", pending=[])
                continue
            if key:
                keys[key] = msg.message_id
            batch.append((msg, res))
        left = quota.left
        if left is not None and len(batch) > left:
            if over_quota == "fail" or not spool_dir:
                raise QuotaError(
                    f"daily_limit: sending {len(batch)} messages would exceed the limit of {daily_limit} per 24 h "
                    f"for {account} ({quota.used} sent, {left} left; state in {path}). Wait, raise daily_limit "
                    "if the account allows more, or set over_quota: spool with spool_dir to send the rest later.")
            for msg, res in batch[left:]:
                res["error"] = {"category": "quota", "code": None, "enhanced_code": None, "temporary": True,
                                "message": f"Not sent: daily_limit of {daily_limit} per 24 h reached for {account}",
                                "remediation": "Flush the spool later (flush_spool: true)."}
                _spool(msg, res, spool_dir)
            batch = batch[:left]
        tokens = [f"{msg.message_id}#{n}" for n, (msg, _res) in enumerate(batch)]
        if not check_mode:
            for token, (msg, _res) in zip(tokens, batch):
                quota.reserve(token, msg.dedupe_key)
    stats = {"connections": 0, "auths": 0, "round_trips": 0, "tls_version": None, "warnings": warnings}
    if check_mode:
        for _msg, res in batch:
            res["status"] = "would_send"
        return _merge(results), dict(stats, quota_used=quota.used + len(batch), quota_left=_left(quota, len(batch)))
    if batch:
        try:
            sub = make_submitter()  # may refresh an OAuth token
        except GmailError as exc:
            for _msg, res in batch:
                res["error"] = exc.classification
        else:
            for (_msg, res), out in zip(batch, sub.send_all([m for m, _res in batch])):
                res.update(out)
            stats.update(connections=sub.connections, auths=sub.auths, round_trips=sub.round_trips,
                         tls_version=sub.tls_version)
    unsent = []
    for token, (msg, res) in zip(tokens, batch):
        if res["status"] == "sent" and res["spool_path"]:
            _spool_mod.remove(res["spool_path"])
        if res["status"] == "failed":
            unsent.append((token, msg))
            if spool_dir and res["pending"]:
                _spool(msg, res, spool_dir)
    with QuotaState(path, daily_limit) as quota:
        warnings.extend(quota.warnings)
        for token, msg in unsent:
            quota.release(token, msg.dedupe_key)
        stats.update(quota_used=quota.used, quota_left=quota.left)
    return _merge(results), stats


def _left(quota, extra):
    return None if quota.left is None else max(0, quota.left - extra)


def submitter_factory(params, security, **options):
    """``make_submitter`` for deliver() from connection params: the credential (an OAuth refresh included)
    is fetched only when something is to be sent; ``options`` go to Submitter (retries, ...)."""

    def make():
        creds = credentials(params) if security != "none" else None
        return Submitter(lambda: smtp_client(params, security), creds, endpoint=f"{params['host']}:{params['port']}",
                         **options)

    return make
