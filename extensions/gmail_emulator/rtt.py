# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Round trips: replies are held until the server must wait for the client's next flight.

When the server is about to read and its input buffer holds no complete line while replies
are pending, it sleeps `delay`, sends the pending replies at once and counts one round trip.
Lines that arrive during that sleep were sent before the client could see a reply, so they
belong to the same flight: they are processed first, without a second sleep.
A pipelining client therefore pays one delay per flight, a lock-step client one per command.
"""
from __future__ import annotations

import asyncio
import socket


def set_nodelay(transport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def has_line(reader: asyncio.StreamReader) -> bool:
    # StreamReader keeps unread input in `_buffer` (the same on Python 3.8 to 3.13).
    return b"\n" in getattr(reader, "_buffer", b"")


class Flight:
    """Pending replies of one connection and its round-trip count."""

    def __init__(self, get_delay):
        self.get_delay = get_delay
        self.pending = []
        self.round_trips = 0
        self.waited = False  # the delay of the pending flight has been spent

    def hold(self, data: bytes) -> None:
        self.pending.append(data)

    async def wait(self) -> None:
        if not self.waited:
            self.waited = True
            await asyncio.sleep(self.get_delay())  # sleep(0) still lets queued input arrive

    async def release(self, writer, delay: bool = True) -> None:
        """Send what is pending, after the round-trip delay (unless already spent)."""
        if not self.pending:
            return
        if delay:
            await self.wait()
        data, self.pending, self.waited = b"".join(self.pending), [], False
        self.round_trips += 1
        writer.write(data)
        await writer.drain()

    async def before_read(self, reader, writer) -> None:
        if not self.pending or has_line(reader):
            return
        if not self.waited:
            await self.wait()
            if has_line(reader):
                return  # more of the client's flight: answer it in the same round trip
        await self.release(writer)


class HoldingReader:
    """Wraps a StreamReader so every read first releases the pending flight when it must.

    Attribute access and assignment go to the wrapped reader (aiosmtpd resets its
    transport and buffer on STARTTLS).
    """

    def __init__(self, reader, flight: Flight, get_writer):
        object.__setattr__(self, "_inner", reader)
        object.__setattr__(self, "_flight", flight)
        object.__setattr__(self, "_get_writer", get_writer)

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def __setattr__(self, name, value):
        setattr(self._inner, name, value)

    async def readuntil(self, separator=b"\n"):
        await self._flight.before_read(self._inner, self._get_writer())
        return await self._inner.readuntil(separator)

    async def readline(self):
        await self._flight.before_read(self._inner, self._get_writer())
        return await self._inner.readline()

    async def read(self, n=-1):
        await self._flight.before_read(self._inner, self._get_writer())
        return await self._inner.read(n)
