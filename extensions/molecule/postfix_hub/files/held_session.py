# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Test-only, run on a satellite: one SMTP session to the hub held open across a change of the hub's
daily budget. Sends one message, creates WORKDIR/ready, waits for WORKDIR/go, then sends the rest on
the same connection, and writes what each message got to WORKDIR/result.json.

Usage: held_session.py HUB PORT SUBJECT_TAG COUNT WORKDIR
"""
import json
import os
import smtplib
import socket
import ssl
import sys
import time

HUB, PORT, TAG, COUNT, WORKDIR = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
ME = socket.gethostname()
SENDER = f"root@{socket.getfqdn()}"


def send(smtp, number):
    message = (f"From: {SENDER}\r\nTo: oncall@example.org\r\nSubject: {TAG}{number} {ME}\r\n\r\n"
               "Sent on a session held open across a budget change.\r\n")
    try:
        smtp.sendmail(SENDER, ["oncall@example.org"], message)
        return [number, 250, ""]
    except smtplib.SMTPResponseException as exc:
        smtp.rset()
        return [number, exc.smtp_code, exc.smtp_error.decode()]


context = ssl.create_default_context(cafile="/etc/postfix/fleet/ca.crt")
context.load_cert_chain("/etc/postfix/fleet/host.crt", "/etc/postfix/fleet/host.key")
results = []
with smtplib.SMTP(HUB, PORT, local_hostname=socket.getfqdn(), timeout=60) as session:
    session.starttls(context=context)
    session.ehlo(socket.getfqdn())
    results.append(send(session, 1))
    open(os.path.join(WORKDIR, "ready"), "w", encoding="utf-8").close()
    deadline = time.time() + 240
    while not os.path.exists(os.path.join(WORKDIR, "go")):
        if time.time() > deadline:
            sys.exit("nobody said go")
        time.sleep(0.2)
    results.extend(send(session, number) for number in range(2, COUNT + 1))
with open(os.path.join(WORKDIR, "result.json"), "w", encoding="utf-8") as out:
    json.dump(results, out)
