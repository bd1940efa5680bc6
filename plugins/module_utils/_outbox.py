# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""The batch policy around the SMTP submitter: dedupe keys, daily quota, spool and the journal.

Every recipient of every message moves through the journal (_journal.py) before the server can
see the step: queued (reserved) -> sending (written right before the data goes out) -> sent |
unknown | failed | refused. So after a crash, a kill or beside a concurrent run:

- a recipient left ``queued`` by a process that is gone never got the message: it is sent;
- one left ``sending`` may have it: the account's Sent Mail is searched over IMAP for the
  Message-ID (found: sent; not found within confirm_timeout: sent again once, same Message-ID;
  IMAP not usable: reported ``unknown`` with the Message-ID, never skipped, never resent blindly);
- a message is ``skipped`` only when the journal says every recipient has it (or refused it).

A dedupe key stands for one Message-ID: running the task again continues that message (only
the recipients that do not have it yet). Spool files are claimed one at a time and removed or
rewritten right after each outcome.
"""

from __future__ import annotations

import copy
import time

from ansible_collections.mailops.gmail.plugins.module_utils import _spool
from ansible_collections.mailops.gmail.plugins.module_utils._credentials import (
    credentials_until,
    has_credential,
    smtp_client,
)
from ansible_collections.mailops.gmail.plugins.module_utils._errors import GmailError
from ansible_collections.mailops.gmail.plugins.module_utils._imap import ImapClient
from ansible_collections.mailops.gmail.plugins.module_utils._journal import DAY, DONE, Journal, StateError, me, \
    state_path
from ansible_collections.mailops.gmail.plugins.module_utils._mailbox import SentMail
from ansible_collections.mailops.gmail.plugins.module_utils._submission import Submitter

_PRIORITY = ("unknown", "failed", "spooled", "sent", "would_send", "skipped")


def _error(category, message, remediation, temporary=True):
    return {"category": category, "code": None, "enhanced_code": None, "temporary": temporary,
            "message": message, "remediation": remediation}


class _Job:
    """One message (or one chunk of a split message) and what this run does with it."""

    def __init__(self, msg, claim=None):
        self.msg = msg
        self.claim = claim  # _spool.Claim of a flushed spool file
        self.todo = []  # recipients to send to
        self.settle = []  # recipients whose delivery is unknown: look in Sent Mail first
        self.owned = False
        self.reserved = False  # the quota of the first transaction was counted when the batch was planned
        self.give_back = False  # a transaction found missing in Sent Mail: its quota goes back before the resend
        self.resent = False
        self.part = None  # the message as handed to the Submitter (the recipients of this transaction)
        self.states = {}  # recipient -> state not yet written: goes with the next journal write
        self.result = {"index": msg.index, "message_id": msg.message_id, "subject": msg.subject, "status": "failed",
                       "accepted": [], "refused": {}, "unknown": [], "error": None,
                       "spool_path": claim.path if claim else None}


class Outbox:
    """One run of deliver(): the journal of an account, one SMTP session and at most one IMAP session."""

    def __init__(self, path, daily_limit, make_submitter, make_confirmer=None, confirm_timeout=30,
                 retry_unknown=True, dedupe_window=DAY, spool_dir=None, busy_wait=60.0, sleep=time.sleep):
        self.path = path
        self.daily_limit = daily_limit
        self.make_submitter = make_submitter
        self.make_confirmer = make_confirmer if confirm_timeout else None
        self.confirm_timeout = confirm_timeout
        self.retry_unknown = retry_unknown
        self.dedupe_window = dedupe_window
        self.keep = max(DAY, dedupe_window)
        self.spool_dir = spool_dir
        self.busy_wait = busy_wait
        self.sleep = sleep
        self.owner = me()
        self.warnings = []
        self.sub = None
        self.sub_error = None
        self.confirmer = None
        self.confirm_error = None
        self.owned = []  # jobs whose journal entries this run owns
        self.current = None  # the job being sent
        self.queue = []  # the new jobs after the current one, in order

    def over_limit(self):
        return _error("quota", f"Not sent: daily_limit of {self.daily_limit} per 24 h reached",
                      "Flush the spool later (flush_spool: true).")

    def journal(self, readonly=False):
        return Journal(self.path, self.daily_limit, readonly=readonly)

    # -- planning (under the journal lock) ------------------------------------------------------------
    def plan(self, j, job):
        """Decide what to do from the journal; False when another live process works on this message."""
        msg = job.msg
        key = msg.dedupe_key
        bound = j.key_owner(key, self.dedupe_window) if key else None
        if bound and bound != msg.message_id:
            if j.entry(bound) is None:  # a key recorded before the journal kept recipients
                return True
            _rename(msg, bound)
            job.result["message_id"] = bound
        if j.busy(msg.message_id, self.owner):
            return False
        entry = j.entry(msg.message_id) or {"rcpt": {}}
        states = {r: entry["rcpt"].get(r) for r in msg.recipients}
        job.todo = [r for r, s in states.items() if s not in DONE and s != "unknown"]
        job.settle = [r for r, s in states.items() if s == "unknown"]
        if not job.todo and not job.settle:
            job.result.update(status="skipped")
        return True

    def own(self, j, job):
        j.claim(job.msg.message_id, self.owner, job.msg.recipients, self.keep)
        if job.msg.dedupe_key:
            j.bind_key(job.msg.dedupe_key, job.msg.message_id)
        job.owned = True
        self.owned.append(job)

    def reserve(self, j, job, rcpts):
        """Count one transaction against the quota and mark its recipients queued; False when none is left."""
        if j.left == 0:
            return False
        j.reserve(job.msg.message_id, rcpts)
        j.mark(job.msg.message_id, rcpts, "queued")
        return True

    @staticmethod
    def write_states(j, job):
        for state in set(job.states.values()):
            j.mark(job.msg.message_id, [r for r, s in job.states.items() if s == state], state)
        job.states = {}

    # -- sessions --------------------------------------------------------------------------------------
    def submitter(self):
        if self.sub is None and self.sub_error is None:
            try:
                self.sub = self.make_submitter(on_data=self._on_data)  # may refresh an OAuth token
            except GmailError as exc:
                self.sub_error = exc.classification
            else:
                self.sub.upcoming = self._upcoming
        return self.sub

    def _upcoming(self):
        """What the next send() will carry, when already certain: the next new message, its quota counted
        when the batch was planned and nothing to settle first. Its envelope then rides with this data."""
        job = self.queue[0] if self.queue else None
        if job is None or not job.reserved or job.settle or not job.todo or job.result["status"] == "skipped":
            return None
        return self.part(job, job.todo)

    @staticmethod
    def part(job, rcpts):
        """The message for one transaction: the same object for the same recipients, so the Submitter
        knows the envelope it sent ahead is this one."""
        if job.part is None or job.part.recipients != list(rcpts):
            job.part = copy.copy(job.msg)
            job.part.recipients = list(rcpts)
        return job.part

    def _on_data(self, msg, recipients):
        with self.journal() as j:
            if self.current is not None:
                self.write_states(j, self.current)
            j.mark(msg.message_id, recipients, "sending")

    def in_sent_mail(self, message_id):
        """True / False, or None when IMAP cannot tell (the reason in confirm_error)."""
        if self.make_confirmer is None:
            return None
        try:
            if self.confirmer is None:
                self.confirmer = self.make_confirmer()
            return self.confirmer.contains(message_id, self.confirm_timeout)
        except GmailError as exc:
            self.confirm_error = exc.classification
            self.make_confirmer = None  # one try per run
            return None

    def close(self):
        for session in (self.sub, self.confirmer):
            if session is not None:
                session.close()

    # -- one job ----------------------------------------------------------------------------------------
    def run(self, job):
        res = job.result
        if job.settle and self.settle(job, job.settle):
            job.todo = sorted(set(job.todo) | set(job.settle), key=job.msg.recipients.index)
        if job.todo:
            self.send(job, job.todo)
        self.finish(job)
        return res

    def settle(self, job, rcpts):
        """Recipients whose delivery is unknown: Sent Mail decides. True: not there, send again (once)."""
        found = self.in_sent_mail(job.msg.message_id)
        res = job.result
        if found:
            job.states.update(dict.fromkeys(rcpts, "sent"))
            res["accepted"] += rcpts
        elif found is False and self.retry_unknown and not job.resent:
            job.states.update(dict.fromkeys(rcpts, "failed"))
            job.give_back = True
            job.resent = True
            return True
        else:
            job.states.update(dict.fromkeys(rcpts, "unknown"))
            res["unknown"] = sorted(set(res["unknown"]) | set(rcpts))
            res["error"] = self._unknown_error(job, found, res["error"])
        return False

    def _unknown_error(self, job, found, error):
        mid = job.msg.message_id
        if found is False:
            why = (f"{mid} is not in Sent Mail after {self.confirm_timeout} s and retry_unknown is off, "
                   "so it was not sent again")
        elif self.confirm_error:
            why = f"Sent Mail could not be searched for {mid}: {self.confirm_error['message']}"
        else:
            why = f"{mid} could not be looked up (no IMAP: confirm_timeout is 0 or there are no credentials)"
        return _error("unknown", f"{(error or {}).get('message') or 'Delivery unknown'}; {why}",
                      f"Look for Message-ID {mid} in the account's Sent Mail. Running the task again with the same "
                      "dedupe_key (or flushing the spool) settles it through IMAP; it is never sent again blindly.",
                      temporary=False)

    def send(self, job, rcpts):
        res = job.result
        if not job.reserved:  # a spooled message, or the one resend: counted now
            with self.journal() as j:
                self.write_states(j, job)
                if job.give_back:
                    j.give_back(job.msg.message_id)
                    job.give_back = False
                if not self.reserve(j, job, rcpts):
                    job.states.update(dict.fromkeys(rcpts, "failed"))
                    res["error"] = self.over_limit()
                    return
        job.reserved = False
        sub = self.submitter()
        if sub is None:
            res["error"] = self.sub_error
            self._record(job, {"pending": rcpts, "accepted": [], "refused": {}, "unknown": []})
            return
        part = self.part(job, rcpts)
        self.current = job
        try:
            out = sub.send(part)
        finally:
            self.current = None
        self._record(job, out)
        res["error"] = out["error"] if out["status"] != "sent" else res["error"]
        if out["unknown"]:
            job.todo = [r for r in job.todo if r not in out["unknown"]]
            if self.settle(job, out["unknown"]):  # not in Sent Mail: the one resend
                self.send(job, out["unknown"])

    def _record(self, job, out):
        res = job.result
        res["accepted"] += out["accepted"]
        res["refused"].update(out["refused"])
        for rcpts, state in ((out["accepted"], "sent"), (out["refused"], "refused"), (out["pending"], "failed"),
                             (out["unknown"], "unknown")):
            job.states.update(dict.fromkeys(rcpts, state))
        job.todo = [r for r in job.todo if r not in out["accepted"] and r not in out["refused"]]

    def finish(self, job):
        """Journal, then spool: the state of each recipient is on disk before the spool changes."""
        res = job.result
        with self.journal() as j:
            self.write_states(j, job)
            mid = job.msg.message_id
            entry = j.entry(mid)
            states = {r: entry["rcpt"].get(r) for r in job.msg.recipients}
            j.release(mid, self.owner)
            if not job.msg.dedupe_key and job.claim is None and "unknown" not in entry["rcpt"].values() \
                    and not any(o.msg.message_id == mid for o in self.owned if o is not job):
                j.forget(mid)  # nothing can refer to it again: no key, no spool file, nothing to settle
        if job in self.owned:
            self.owned.remove(job)
        job.owned = False
        left = [r for r, s in states.items() if s not in DONE]
        failed = [r for r in left if states[r] != "unknown"]
        if any(s == "unknown" for s in states.values()):
            res["status"] = "unknown"
        elif failed:
            res["status"] = "failed"
        elif any(s == "sent" for s in states.values()):
            res["status"] = "sent"
        if not res["error"] and res["status"] == "failed":
            res["error"] = _error("recipients", "Every recipient was refused: " + "; ".join(
                f"{r}: {t}" for r, t in res["refused"].items()), "Check the recipient addresses.", False)
        self._spool(job, left, failed)

    def _spool(self, job, left, failed):
        res, msg = job.result, job.msg
        try:
            if job.claim is not None:
                if not left:
                    _spool.remove(job.claim.path)
                    res["spool_path"] = None
                elif left != msg.recipients:
                    _spool.rewrite(job.claim, msg.raw, msg.sender, left, msg.dedupe_key)
            elif self.spool_dir and left:
                res["spool_path"] = _spool.write(self.spool_dir, msg.raw, msg.sender, left, msg.message_id,
                                                 msg.dedupe_key)
        except _spool.SpoolError as exc:
            res["error"] = dict(res["error"] or {}, message=f"{(res['error'] or {}).get('message')}; {exc}")
            return
        if res["spool_path"] and failed and res["status"] == "failed":
            res["status"] = "spooled"

    def abandon(self):
        """After an exception or Ctrl-C: give up what this run owns, as a dead owner's would be."""
        if not self.owned:
            return
        with self.journal() as j:
            for job in self.owned:
                if j.entry(job.msg.message_id):
                    j.recover(job.msg.message_id)
        self.owned = []


def _rename(msg, message_id):
    """Give a message the Message-ID its dedupe key already stands for (the same message, sent again)."""
    old = f"Message-ID: {msg.message_id}".encode("utf-8")
    head, sep, body = msg.raw.partition(b"\r\n\r\n")
    msg.raw = head.replace(old, f"Message-ID: {message_id}".encode("utf-8"), 1) + sep + body
    msg.message_id = message_id


def _merge(results):
    """One result per message: chunks of a split message (same Message-ID and index) are folded."""
    merged = {}
    for r in results:
        key = (r["index"], r["message_id"], r["spool_path"] if r["index"] is None else None)
        if key not in merged:
            merged[key] = r
            continue
        m = merged[key]
        m["accepted"] += r["accepted"]
        m["refused"].update(r["refused"])
        m["unknown"] += r["unknown"]
        m["error"] = m["error"] or r["error"]
        m["status"] = min(m["status"], r["status"], key=_PRIORITY.index)
    return list(merged.values())


def deliver(messages, make_submitter, account, daily_limit=500, quota_dir=None, dedupe_window=DAY,
            over_quota="fail", spool_dir=None, flush_spool=False, check_mode=False, make_confirmer=None,
            confirm_timeout=30, retry_unknown=True, busy_wait=60.0):
    """Send prepared messages, after the spool when ``flush_spool``; return (results, stats).

    ``make_submitter(on_data=...)`` returns a Submitter, ``make_confirmer()`` a SentMail (or None).
    Raises StateError before anything is sent when the new messages do not fit the daily quota.
    """
    box = Outbox(state_path(quota_dir, account), daily_limit, make_submitter, make_confirmer, confirm_timeout,
                 retry_unknown, dedupe_window, spool_dir, busy_wait)
    jobs = [_Job(m) for m in messages]
    try:
        pending = _plan_new(box, jobs, check_mode, over_quota, spool_dir)
        flushed = []
        if flush_spool and not check_mode:
            for path in _spool.entries(spool_dir):
                job = _claim_spooled(box, path)
                if job is None:
                    continue
                try:
                    if job.result["status"] != "skipped":
                        box.run(job)
                finally:
                    job.claim.release()
                flushed.append(job.result)
        for number, job in enumerate(pending):
            box.queue = pending[number + 1:]
            box.run(job)
    except BaseException:
        box.abandon()
        raise
    finally:
        box.close()
    stats = {"connections": 0, "auths": 0, "round_trips": 0, "tls_version": None, "warnings": box.warnings,
             "confirm_searches": box.confirmer.searches if box.confirmer else 0}
    if box.sub is not None:
        stats.update(connections=box.sub.connections, auths=box.sub.auths, round_trips=box.sub.round_trips,
                     tls_version=box.sub.tls_version)
    with box.journal(readonly=check_mode) as j:
        box.warnings.extend(w for w in j.warnings if w not in box.warnings)
        extra = sum(job.result["status"] == "would_send" for job in jobs) if check_mode else 0
        stats.update(quota_used=j.used + extra, quota_left=None if j.left is None else max(0, j.left - extra))
    return _merge(flushed + [job.result for job in jobs]), stats


def _plan_new(box, jobs, check_mode, over_quota, spool_dir):
    """Plan the new messages under one lock, waiting a while for messages another run is sending."""
    deadline = time.monotonic() + box.busy_wait
    waiting = list(jobs)
    while True:
        busy = []
        with box.journal(readonly=check_mode) as j:
            box.warnings.extend(w for w in j.warnings if w not in box.warnings)
            if not check_mode:
                j.prune()
            for job in waiting:
                if not box.plan(j, job):
                    busy.append(job)
                elif job.result["status"] != "skipped" and not check_mode:
                    if _duplicate_in_batch(box, job):
                        job.result["status"] = "skipped"
                    else:
                        box.own(j, job)
            if not busy or time.monotonic() > deadline:
                break
        waiting = busy
        box.sleep(0.2)
    for job in busy:
        job.result.update(status="unknown", unknown=list(job.msg.recipients), error=_error(
            "unknown", f"{job.msg.message_id} (dedupe_key {job.msg.dedupe_key}) is being sent by another run right "
            f"now (still after {box.busy_wait:.0f} s); not sent again by this one",
            "Run the task again once the other run has ended: it then skips or completes the message.", False))
    todo = [job for job in jobs
            if job.owned or (check_mode and job.result["status"] != "skipped" and job not in busy)]
    if check_mode:
        for job in todo:
            job.result["status"] = "would_send"
        return []
    _check_quota(box, todo, over_quota, spool_dir)
    return [job for job in todo if job.owned]


def _duplicate_in_batch(box, job):
    """A second message of this batch with the same dedupe key (chunks of one message share its index)."""
    key = job.msg.dedupe_key
    return bool(key) and any(o.msg.dedupe_key == key and o.msg.index != job.msg.index for o in box.owned)


def _check_quota(box, todo, over_quota, spool_dir):
    """Count the first transaction of every new message under one lock, so parallel runs cannot overshoot."""
    sending, over = [job for job in todo if job.todo], []
    with box.journal() as j:
        left = j.left
        if left is not None and len(sending) > left:
            if over_quota == "fail" or not spool_dir:
                for job in todo:
                    j.release(job.msg.message_id, box.owner)
                    if not job.msg.dedupe_key and job.msg.message_id in j.outbox:
                        j.forget(job.msg.message_id)
                box.owned = []
                raise StateError(
                    f"daily_limit: sending {len(sending)} messages would exceed the limit of {box.daily_limit} per "
                    f"24 h for this account ({j.used} sent, {left} left; state in {box.path}). Wait, raise "
                    "daily_limit if the account allows more, or set over_quota: spool with spool_dir to send the "
                    "rest later.")
            sending, over = sending[:left], sending[left:]
        for job in sending:
            if not job.settle:  # one that is settled first is counted if it is sent again
                job.reserved = box.reserve(j, job, job.todo)
    for job in over:
        job.result["error"] = box.over_limit()
        job.todo = []
        box.finish(job)


def _claim_spooled(box, path):
    """Claim one spool file; None when another flush holds it, it is gone, or another run owns its message."""
    claim = _spool.claim(path)
    if claim is None:
        return None
    try:
        job = _Job(_spool.Spooled(path), claim)
    except (OSError, _spool.SpoolError) as exc:
        claim.release()
        box.warnings.append(f"spool_dir: {path} left alone: {exc}")
        return None
    with box.journal() as j:
        if not box.plan(j, job):
            claim.release()
            return None
        if job.result["status"] != "skipped":
            box.own(j, job)
    if job.result["status"] == "skipped":  # the journal says it was delivered: the file is a leftover
        _spool.remove(path)
        job.result["spool_path"] = None
    return job


def session_factories(params, security, **options):
    """(make_submitter, make_confirmer) for deliver() from connection params. The credential is fetched
    only when something is to be sent, and an OAuth access token again when a new login finds it
    (nearly) expired, as Gmail ends an OAuth session with its token; ``options`` go to Submitter."""
    cache = {}

    login = has_credential(params)  # not for a local relay (security none) or the Workspace relay by address

    def creds():
        if not login:
            return None
        expires = cache.get("expires")
        if "creds" not in cache or (expires is not None and time.time() > expires - 60):
            cache["creds"], cache["expires"] = credentials_until(params)
        return cache["creds"]

    def make_submitter(on_data=None):
        creds()  # a refused OAuth refresh fails here, before a connection is made
        return Submitter(lambda: smtp_client(params, security), creds if login else None,
                         endpoint=f"{params['host']}:{params['port']}", on_data=on_data, **options)

    imap_host = params.get("imap_host") or ("imap.gmail.com" if params["host"] == "smtp.gmail.com" else None)

    def make_confirmer():
        return SentMail(lambda: ImapClient(imap_host, params["imap_port"], params.get("ca_file"), params["timeout"]),
                        creds)

    return make_submitter, (make_confirmer if login and imap_host else None)
