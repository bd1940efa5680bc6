# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Find messages in a Gmail folder over IMAP, read-only, and wait for them to arrive (mailbox_info).

One IMAP session for the whole wait: EXAMINE (never SELECT: nothing is marked seen), UID SEARCH, then
IDLE where the server offers it (re-issued before 29 minutes, RFC 2177) or NOOP and a new search every
poll interval. Gmail ends sessions (after about a day, an OAuth session with its token): the watch logs
in again, with a fresh token, and goes on until its deadline.
"""

from __future__ import annotations

import calendar
import email.parser
import email.policy
import email.utils
import re
import time

from ansible_collections.mailops.gmail.plugins.module_utils._credentials import (
    check_credential_params,
    credential_argument_spec,
    credentials,
)
from ansible_collections.mailops.gmail.plugins.module_utils._errors import GmailError, classify
from ansible_collections.mailops.gmail.plugins.module_utils._imap import ImapClient
from ansible_collections.mailops.gmail.plugins.module_utils._validate import ParameterError, check_port

# RFC 2177: a client re-issues IDLE at least every 29 minutes (a server may log out one idle for 30).
IDLE_MAX = 25 * 60
DEFAULT_HEADERS = ("Message-ID", "Date", "From", "To", "Subject")
# The special-use flags (RFC 6154) the module offers, by the name its option uses.
SPECIAL_USE = {"all": "\\All", "sent": "\\Sent", "drafts": "\\Drafts", "junk": "\\Junk", "trash": "\\Trash",
               "flagged": "\\Flagged", "important": "\\Important"}
# Failures that another login cannot cure: the wait stops at once.
_FINAL = frozenset(("auth", "oauth_token", "app_password_required", "web_login_required", "service_disabled",
                    "certificate", "tls", "dns", "refused", "imap", "folder", "oauth_invalid_grant",
                    "oauth_invalid_client", "oauth"))
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_FIELD_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 field names: printable ASCII but ":"
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_INTERNALDATE = re.compile(r"^\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$")


SEARCH_OPTIONS = ("header", "message_id", "subject", "sender", "to", "since")


def mailbox_argument_spec(trash=False):
    """Options of mailops.gmail.mailbox_info (or, ``trash``, mailbox_trash); pair with
    CONNECTION_MUTUALLY_EXCLUSIVE + [[folder, special_use]]."""
    spec = credential_argument_spec()
    spec.update(
        host={"type": "str", "default": "imap.gmail.com"},
        port={"type": "int", "default": 993},
        folder={"type": "str"},
        special_use={"type": "str", "choices": sorted(SPECIAL_USE)},
        header={"type": "dict"},
        message_id={"type": "str"},
        subject={"type": "str"},
        sender={"type": "str"},
        to={"type": "str"},
        since={"type": "str"},
    )
    if trash:
        spec.update(max_messages={"type": "int", "default": 100})
        return spec
    spec.update(
        headers={"type": "list", "elements": "str", "default": list(DEFAULT_HEADERS)},
        limit={"type": "int", "default": 100},
        wait_for={"type": "int"},
        wait_timeout={"type": "float"},
        poll_interval={"type": "float", "default": 10},
        idle={"type": "bool", "default": True},
        fail_on_timeout={"type": "bool", "default": True},
    )
    return spec


def check_mailbox_params(params):
    """What AnsibleModule cannot check; the message names the option and the fix. Raises ParameterError."""
    check_credential_params(params)
    check_port(params["port"], "port")
    if params["folder"] is not None and not params["folder"].strip():
        raise ParameterError("folder must name a folder, such as INBOX, or leave it out and use special_use")
    header = params.get("header") or {}
    for name in list(header) + list(params.get("headers") or []):
        if not _FIELD_NAME.fullmatch(str(name)):
            raise ParameterError(f"header field name {name!r} (in header or headers) is not valid: use a name "
                                 "such as X-Mailops-Probe, without spaces or colon")
    for name, value in header.items():
        if not isinstance(value, str):
            raise ParameterError(f"header.{name} must be text to search for, got {type(value).__name__}: quote it")
    values = {f"header.{name}": value for name, value in header.items()}
    values.update({name: params[name] for name in ("message_id", "subject", "sender", "to")})
    for name, value in values.items():
        if value is not None and not value.isascii():
            raise ParameterError(f"{name} must be ASCII text (IMAP SEARCH without CHARSET): search for an "
                                 "ASCII part of it")
    if params["since"] is not None:
        try:
            valid = _DAY.fullmatch(params["since"]) and time.strptime(params["since"], "%Y-%m-%d")
        except ValueError:
            valid = False
        if not valid:
            raise ParameterError(f"since must be a day as YYYY-MM-DD, such as 2026-12-01, got {params['since']!r}")
    for name, low in (("wait_for", 0), ("limit", 0), ("max_messages", 1)):
        if params.get(name) is not None and params[name] < low:
            raise ParameterError(f"{name} must be {low} or more, got {params[name]}")
    if (params.get("wait_timeout") or 0) < 0:
        raise ParameterError(f"wait_timeout must be 0 or more seconds, got {params['wait_timeout']}")
    if params.get("poll_interval", 1) <= 0:
        raise ParameterError(f"poll_interval must be a positive number of seconds, got {params['poll_interval']}")


def _watch(params, clock=time.monotonic, read_only=True):
    return MailboxWatch(
        lambda: ImapClient(params["host"], params["port"], params.get("ca_file"), params["timeout"]),
        lambda: credentials(params),
        folder=params.get("folder") or "INBOX", special_use=params.get("special_use"),
        poll=params.get("poll_interval") or 10.0, use_idle=params.get("idle", True), clock=clock, read_only=read_only,
    )


def _run(watch, params, result, action, clock=time.monotonic):
    """Run ``action()`` (it updates ``result``), then close the session and add folder, waited and session;
    a failure becomes result["error"], a classified one, never a traceback that could carry a secret."""
    started = clock()
    try:
        action()
    except GmailError as exc:
        result["error"] = exc.classification
    except Exception as exc:
        result["error"] = classify(exc, f"{params['host']}:{params['port']}")
    finally:
        watch.close()
    facts = watch.facts
    result.update(folder=watch.folder, waited=round(clock() - started, 1), session={
        "host": params["host"], "port": params["port"], "tls_version": facts["tls_version"],
        "mechanism": facts["mechanism"], "idle": facts["idle"], "logins": facts["logins"],
        "reconnects": facts["reconnects"]})
    return result


def find_messages(params, clock=time.monotonic):
    """mailbox_info's result: folder, count, complete, waited, messages, session; "error" on a failure."""
    names = list(dict.fromkeys(list(params["headers"]) + list(params.get("header") or {})))
    watch = _watch(params, clock)
    result = {"folder": None, "count": 0, "complete": False, "messages": []}

    def action():
        messages, count, complete = watch.collect(search_criteria(params), names, params["wait_for"] or 0,
                                                  params["wait_timeout"] or 0.0, params["limit"])
        result.update(count=count, complete=complete, messages=messages)

    return _run(watch, params, result, action, clock)


def trash_messages(params, check_mode):
    """mailbox_trash's result: the matching messages moved to Trash (in check mode: would be), or "error".

    The folder is opened read-write (SELECT) only outside check mode; more matches than max_messages move
    nothing (a search wider than meant must not empty a mailbox)."""
    watch = _watch(params, read_only=check_mode)
    result = {"folder": None, "count": 0, "changed": False, "messages": []}

    def action():
        messages, count, _complete = watch.collect(search_criteria(params), ["Message-ID", "Subject"],
                                                   limit=params["max_messages"] + 1)
        result.update(count=count, messages=messages[:params["max_messages"]])
        if count > params["max_messages"]:
            raise GmailError.new("too_many", f"{count} messages match, more than max_messages="
                                 f"{params['max_messages']}: nothing was moved", watch.client.endpoint, "search")
        if messages and not check_mode:
            trash = watch.client.folder_with_flag(SPECIAL_USE["trash"])
            if trash is None:
                raise GmailError.new("imap", "no folder carries the \\Trash flag", watch.client.endpoint, "list")
            watch.client.uid_move([m["uid"] for m in messages], trash)
        result["changed"] = bool(messages)

    return _run(watch, params, result, action)


def search_criteria(params):
    """The UID SEARCH criteria of the module's options, as ImapClient.uid_search() takes them."""
    criteria = [("HEADER", name, value) for name, value in (params.get("header") or {}).items()]
    if params.get("message_id"):
        criteria.append(("HEADER", "Message-ID", params["message_id"]))
    for option, key in (("subject", "SUBJECT"), ("sender", "FROM"), ("to", "TO")):
        if params.get(option):
            criteria.append((key, params[option]))
    if params.get("since"):
        year, month, day = (int(part) for part in params["since"].split("-"))
        criteria.append(("SINCE", f"{day}-{_MONTHS[month - 1].capitalize()}-{year}"))
    return criteria


def internal_date(text):
    """IMAP INTERNALDATE ("02-Dec-2026 04:10:00 +0000") as an epoch, None if unreadable."""
    match = _INTERNALDATE.match(text or "")
    if not match or match.group(2).lower() not in _MONTHS:
        return None
    day, month, year, hour, minute, second = (int(match.group(1)), _MONTHS.index(match.group(2).lower()) + 1,
                                              int(match.group(3)), int(match.group(4)), int(match.group(5)),
                                              int(match.group(6)))
    offset = (int(match.group(8)) * 60 + int(match.group(9))) * 60 * (1 if match.group(7) == "+" else -1)
    return calendar.timegm((year, month, day, hour, minute, second)) - offset


def _iso(epoch):
    return None if epoch is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def describe(uid, fetched, folder, names):
    """One message of the result: Message-ID, folder, arrival, seconds from its Date to arrival, headers."""
    parsed = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(fetched["header"])
    headers = {}
    for name in names:
        value = parsed.get(name)
        headers[name] = None if value is None else str(value)
    arrived = internal_date(fetched["internal_date"])
    try:
        dated = email.utils.parsedate_to_datetime(str(parsed.get("Date"))).timestamp() if parsed.get("Date") else None
    except (TypeError, ValueError):
        dated = None
    return {
        "uid": uid,
        "folder": folder,
        "message_id": str(parsed["Message-ID"]) if parsed["Message-ID"] else None,
        "date": _iso(dated),
        "internal_date": _iso(arrived),
        "seconds_to_arrival": None if arrived is None or dated is None else round(arrived - dated, 1),
        "size": fetched["size"],
        "headers": headers,
    }


class MailboxWatch:
    """Searches one folder and waits for matches over one IMAP session, logging in again when Gmail ends it.

    ``client_factory()`` returns an unconnected ImapClient; ``credentials()`` the keyword arguments of its
    authenticate(), asked again at each login (an OAuth token is refreshed then).
    """

    def __init__(self, client_factory, credentials, folder="INBOX", special_use=None, poll=10.0, use_idle=True,
                 clock=time.monotonic, sleep=time.sleep, read_only=True):
        self.client_factory = client_factory
        self.credentials = credentials
        self.wanted_folder = folder
        self.special_use = special_use
        self.poll = poll
        self.use_idle = use_idle
        self.clock = clock
        self.sleep = sleep
        self.read_only = read_only
        self.client = None
        self.folder = None
        self.facts = {"logins": 0, "reconnects": 0, "idle": False, "searches": 0, "mechanism": None,
                      "tls_version": None}

    def _open(self):
        client = self.client_factory()
        self.client = client
        client.connect()
        self.facts["tls_version"] = client.tls_version
        self.facts["mechanism"] = client.authenticate(**self.credentials())
        self.facts["logins"] += 1
        if self.special_use:
            flag = SPECIAL_USE[self.special_use]
            self.folder = client.folder_with_flag(flag)
            if self.folder is None:
                raise GmailError.new("imap", f"no folder carries the {flag} flag (special_use={self.special_use}); "
                                     "is this a Gmail account? Name the folder instead", client.endpoint, "list")
        else:
            self.folder = self.wanted_folder
        client.examine(self.folder, self.read_only)

    def _search(self, criteria):
        if self.client is None:
            self._open()
        self.facts["searches"] += 1
        return self.client.uid_search(criteria)

    def _wait_for_news(self, seconds):
        """Block until the server reports new mail or `seconds` pass (IDLE), or one poll interval (NOOP);
        True when it reported new mail."""
        if self.use_idle and self.client.can_idle:
            self.facts["idle"] = True
            return self.client.idle(min(seconds, IDLE_MAX))
        self.sleep(min(seconds, self.poll))
        return self.client.noop()

    def find(self, criteria, wait_for=0, wait_timeout=0.0):
        """(UIDs matching, whether at least ``wait_for`` matched before ``wait_timeout`` seconds passed)."""
        deadline = self.clock() + wait_timeout
        while True:
            try:
                uids = self._search(criteria)
                while True:
                    if len(uids) >= wait_for:
                        return uids, True
                    remaining = deadline - self.clock()
                    if remaining <= 0:
                        return uids, False
                    if self._wait_for_news(remaining):
                        break  # search again; without news the last answer still stands
            except GmailError as exc:
                self.close()
                if exc.category in _FINAL or self.clock() >= deadline:
                    raise
                self.facts["reconnects"] += 1
                # A server that ends every session at once must not be hammered until the deadline.
                self.sleep(min(0.2 * self.facts["reconnects"], 2.0, max(deadline - self.clock(), 0)))

    def collect(self, criteria, names, wait_for=0, wait_timeout=0.0, limit=100):
        """(the newest ``limit`` matches as describe() gives them, oldest first; how many matched; complete)."""
        wanted = wait_for
        for attempt in (1, 2):
            uids, _dummy = self.find(criteria, wait_for, wait_timeout)
            try:
                # Message-ID and Date always: the result's message_id and seconds_to_arrival need them.
                fetched = self.client.uid_fetch_headers(sorted(uids)[-limit:] if limit else [],
                                                        list(dict.fromkeys(list(names) + ["Message-ID", "Date"])))
                break
            except GmailError as exc:  # the session ended between search and fetch: once more, no waiting
                self.close()
                if exc.category in _FINAL or attempt == 2:
                    raise
                wait_for, wait_timeout = 0, 0.0
                self.facts["reconnects"] += 1
        messages = [describe(uid, fetched[uid], self.folder, names) for uid in sorted(fetched)]
        return messages, len(uids), len(uids) >= wanted

    def close(self):
        if self.client is not None:
            self.client.quit()
            self.client = None


class SentMail(MailboxWatch):
    """Answers "is this Message-ID in the account's Sent Mail?" over one IMAP session for the whole run.

    Gmail files every message submitted through smtp.gmail.com in the folder flagged \\Sent (its name
    depends on the account's language); the send module asks this to settle a delivery left unknown.
    """

    def __init__(self, client_factory, credentials, **kwargs):
        creds = credentials if callable(credentials) else (lambda: credentials)
        super().__init__(client_factory, creds, special_use="sent", **kwargs)

    @property
    def searches(self):
        return self.facts["searches"]

    def contains(self, message_id, wait):
        """True once the message shows in Sent Mail, False after ``wait`` seconds without it."""
        uids, _dummy = self.find([("HEADER", "Message-ID", message_id)], 1, wait)
        return bool(uids)
