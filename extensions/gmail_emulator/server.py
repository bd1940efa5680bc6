# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""The Emulator: every listener on one asyncio loop in a background thread."""
from __future__ import annotations

import asyncio
import os
import threading

from . import imap, oauth, pop, smtp
from .records import load, write_json
from .serviceaccount import ServiceAccounts
from .state import State
from .tlsca import EmulatorCA, server_contexts

PORTS = ("smtp_starttls_port", "smtp_tls_port", "imap_port", "pop_port", "oauth_port", "smtp_relay_port")


class Emulator:
    """A local Gmail. `Emulator(records_dir, host=..., ca_dir=..., <port>=..., **config)`.

    Ports default to 0 (ephemeral). `config` takes the switches of config.SWITCHES and the
    tables accounts, clients, refresh_tokens, access_tokens, extra_san.
    """

    def __init__(self, records_dir: str, host: str = "127.0.0.1", ca_dir: str | None = None, **config):
        self.host = host
        self.ports = {name: int(config.pop(name, 0) or 0) for name in PORTS}
        ca_dir = ca_dir or os.path.join(os.path.abspath(records_dir), "ca")
        self.service_accounts = ServiceAccounts(ca_dir)
        config.setdefault("service_accounts", self.service_accounts.table())
        self.service_account_files = {}
        self.state = State(records_dir, config)
        self.records_dir = self.state.recorder.dir
        self.ca = EmulatorCA(ca_dir)
        self.ca_file = self.ca.ca_file
        self._loop = None
        self._thread = None
        self._servers = []

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> Emulator:
        ready = threading.Event()
        failure = []

        def run():
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(self._listen())
            except Exception as exc:  # reported to the caller of start()
                failure.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._close())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="gmail-emulator", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise RuntimeError(f"gmail emulator could not listen on {self.host}: {failure[0]}") from failure[0]
        self.service_account_files = self.service_accounts.write(self.token_uri)
        return self

    async def _listen(self) -> None:
        ctx = server_contexts(self.ca, self.state.config["extra_san"], lambda: self.state.get("wrong_cert"))
        starters = {
            "smtp_starttls_port": lambda p: smtp.start(self.state, self.host, p, ctx, False),
            "smtp_tls_port": lambda p: smtp.start(self.state, self.host, p, ctx, True),
            "imap_port": lambda p: imap.start(self.state, self.host, p, ctx),
            "pop_port": lambda p: pop.start(self.state, self.host, p, ctx),
            "oauth_port": lambda p: oauth.start(self.state, self.host, p, ctx, lambda: self.info),
            # smtp-relay.gmail.com on a port of its own (STARTTLS): tests that cannot ask for it by name
            "smtp_relay_port": lambda p: smtp.start(self.state, self.host, p, ctx, False, relay=True),
        }
        for name in PORTS:
            server = await starters[name](self.ports[name])
            self._servers.append(server)
            self.ports[name] = server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        for server in self._servers:
            server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:  # open sessions
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop = self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- addresses --------------------------------------------------------------------
    def __getattr__(self, name):
        if name in PORTS:
            return self.__dict__["ports"][name]
        raise AttributeError(name)

    @property
    def token_uri(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.oauth_port}/token"

    @property
    def info(self) -> dict:
        return dict(self.ports, host=self.host, ca_file=self.ca_file, token_uri=self.token_uri,
                    records=self.records_dir, service_account_files=self.service_account_files)

    def write_info(self) -> None:
        write_json(os.path.join(self.records_dir, "emulator.json"), self.info)

    # -- runtime control (thread-safe) ------------------------------------------------
    def set(self, **switches) -> None:
        """Change switches (delay, pipelining, wrong_cert, daily_limit, max_message_size, ...)."""
        self.state.set(**switches)

    def set_faults(self, rules) -> None:
        self.state.faults.set(rules)

    def clear_faults(self) -> None:
        self.state.faults.set([])

    def reset(self) -> None:
        """Default switches, no faults, no records, quotas and issued tokens forgotten.

        Sessions still open write no more records (their messages are still recorded).
        """
        self.state.reset()

    # -- records ----------------------------------------------------------------------
    def wait_idle(self, timeout: float = 5.0) -> bool:
        return self.state.wait_idle(timeout)

    def records(self, wait: bool = True) -> dict:
        if wait:
            self.state.wait_idle()
        return load(self.records_dir)

    def sessions(self, wait: bool = True) -> list:
        """Session records; by default waits (up to 5 s) until open sessions have ended."""
        return self.records(wait)["sessions"]

    def messages(self, wait: bool = True) -> list:
        return self.records(wait)["messages"]

    def token_requests(self) -> list:
        return self.records(False)["oauth"]

    def issued_tokens(self) -> list:
        """Access tokens handed out by POST /token since the last reset (for secret-leak checks)."""
        return self.state.issued_tokens()

    def clear_records(self) -> None:
        self.state.wait_idle()
        self.state.recorder.clear()
