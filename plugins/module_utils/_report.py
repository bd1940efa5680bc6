# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""The deploy_report callback's mail, built from plain dicts (no Ansible objects), text and HTML.

run = {
    "playbook": "site.yml", "start": <epoch>, "end": <epoch>, "controller": "ctl01",
    "hosts": {"web1": {"ok": 3, "changed": 1, "failed": 0, "unreachable": 0, "skipped": 2}},
    "failures": [{"host": "web2", "task": "Restart app", "msg": "...", "unreachable": False}],
}
Only what is in ``run`` can reach the mail: the callback puts task names and ``msg`` there,
never module arguments and nothing from a no_log result.
"""

from __future__ import annotations

import html
import time

COUNTERS = ("ok", "changed", "failed", "unreachable", "skipped")
DEFAULT_SUBJECT = "[{status}] {playbook} on {controller}: {failed_hosts} failed, {changed_hosts} changed"
WHEN = ("always", "failure", "changed")
MAX_MSG = 2000  # characters of one failure message kept in the mail


class ReportError(Exception):
    pass


def summary(run):
    hosts = run.get("hosts", {})
    failed = sorted(h for h, c in hosts.items() if c.get("failed") or c.get("unreachable"))
    changed = sorted(h for h, c in hosts.items() if c.get("changed") and h not in failed)
    status = "FAILED" if failed or run.get("failures") else "CHANGED" if changed else "OK"
    return status, failed, changed


def should_send(when, run):
    if when not in WHEN:
        raise ReportError(f"when must be one of {', '.join(WHEN)}, got {when!r}")
    status = summary(run)[0]
    return when == "always" or status == "FAILED" or (when == "changed" and status == "CHANGED")


def _stamp(epoch):
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _duration(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s" if seconds >= 3600 else \
        f"{seconds // 60}m{seconds % 60:02d}s"


def _clip(text):
    text = str(text or "")
    return text if len(text) <= MAX_MSG else text[:MAX_MSG] + " [...]"


def subject_for(run, template=None):
    status, failed, changed = summary(run)
    fields = {"status": status, "playbook": run.get("playbook", "?"), "controller": run.get("controller", "?"),
              "hosts": len(run.get("hosts", {})), "failed_hosts": len(failed), "changed_hosts": len(changed)}
    try:
        subject = (template or DEFAULT_SUBJECT).format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        raise ReportError(f"subject template {template!r} is invalid ({exc}); fields: {', '.join(fields)}") from None
    return " ".join(subject.split())  # no CR/LF can survive into the header


def build_report(run, template=None):
    """Return (subject, text, html) for one playbook run."""
    status, failed, _changed = summary(run)
    start, end = run.get("start", 0), run.get("end", 0)
    facts = [("Playbook", run.get("playbook", "?")), ("Status", status), ("Controller", run.get("controller", "?")),
             ("Started", _stamp(start)), ("Ended", _stamp(end)), ("Duration", _duration(end - start))]
    hosts = sorted(run.get("hosts", {}).items())
    failures = run.get("failures", [])

    width = max([len("host")] + [len(h) for h, _counts in hosts])
    text = [f"{k + ':':<12}{v}" for k, v in facts] + ["", f"{'host':<{width}}  " + "  ".join(COUNTERS)]
    text += [f"{h:<{width}}  " + "  ".join(f"{c.get(k, 0):>{len(k)}}" for k in COUNTERS) for h, c in hosts]
    if failures:
        text += ["", "Failed tasks:"]
        for f in failures:
            kind = "UNREACHABLE" if f.get("unreachable") else "FAILED"
            indented = "    " + _clip(f.get("msg")).replace("\n", "\n    ")
            text += [f"- {f.get('host')}: {f.get('task')} ({kind})", indented]
    elif failed:
        text += ["", "Failed hosts: " + ", ".join(failed)]

    e = html.escape
    colour = {"FAILED": "#b00020", "CHANGED": "#a05a00", "OK": "#1b5e20"}[status]
    rows = "".join(f"<tr><th align='left'>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in facts)
    head = "".join(f"<th>{e(k)}</th>" for k in ("host",) + COUNTERS)
    body = "".join("<tr><td>" + e(h) + "</td>" + "".join(f"<td align='right'>{c.get(k, 0)}</td>" for k in COUNTERS)
                   + "</tr>" for h, c in hosts)
    parts = [f"<h2 style='color:{colour}'>{e(status)}: {e(str(run.get('playbook', '?')))}</h2>",
             f"<table>{rows}</table>", f"<table border='1' cellpadding='3'><tr>{head}</tr>{body}</table>"]
    if failures:
        items = "".join(f"<li><b>{e(str(f.get('host')))}</b>: {e(str(f.get('task')))}"
                        f"<pre>{e(_clip(f.get('msg')))}</pre></li>" for f in failures)
        parts.append(f"<h3>Failed tasks</h3><ul>{items}</ul>")
    page = "<html><body>" + "".join(parts) + "</body></html>"
    return subject_for(run, template), "\n".join(text) + "\n", page
