# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Just enough POP3 to check a login: greeting, USER/PASS or AUTH XOAUTH2 (RFC 5034 initial response), QUIT."""

from __future__ import annotations

from ansible_collections.mailops.gmail.plugins.module_utils._tls import Reply, Session


class PopClient(Session):
    """POP3 over implicit TLS (port 995). Replies are Reply(status=+OK|-ERR, lines=[text])."""

    def __init__(self, host, port=995, ca_file=None, timeout=30, server_hostname=None):
        super().__init__(host, port, timeout, ca_file, server_hostname)

    def connect(self):
        self.transport.open(implicit_tls=True)
        self._expect(self._reply("greeting"), "greeting")
        return self

    def authenticate(self, username, password=None, access_token=None):
        """USER/PASS with an app password or AUTH XOAUTH2 with a token; return the mechanism."""
        initial = self._start_login(username, password, access_token)
        if initial:
            mechanism = "XOAUTH2"
            reply = self.command(f"AUTH XOAUTH2 {initial}", "auth")
            if reply.status == "+":
                reply = self.command("", "auth")  # answer the error challenge to get the final -ERR
        else:
            mechanism = "USER"
            reply = self._expect(self.command(f"USER {username}", "auth"), "auth", mechanism)
            reply = self.command(f"PASS {password}", "auth")
        self._expect(reply, "auth", mechanism)
        return mechanism

    def command(self, line, stage):
        self.transport.send(line.encode("utf-8") + b"\r\n", stage)
        return self._reply(stage)

    def _reply(self, stage):
        line = self.transport.readline(stage)
        status, _dummy, text = line.partition(" ")
        return Reply(None, [text], status=status.upper())

    def _expect(self, reply, stage, mechanism=None):
        if not reply.ok:
            self._fail(reply, stage, mechanism)
        return reply

    def _goodbye(self):
        self.command("QUIT", "logout")
