# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""pytest plugin: `gmail_emulator` fixture (function scope) over one emulator per test session.

Each test gets default switches, no faults, no records, fresh quotas. Register it with
`pytest_plugins = ["gmail_emulator.pytest_plugin"]` (tests/conftest.py does).
"""
from __future__ import annotations

import pytest

from .server import Emulator


@pytest.fixture(scope="session")
def gmail_emulator_server(tmp_path_factory):
    emu = Emulator(str(tmp_path_factory.mktemp("gmail-emulator"))).start()
    yield emu
    emu.stop()


@pytest.fixture
def gmail_emulator(gmail_emulator_server):
    gmail_emulator_server.reset()
    yield gmail_emulator_server
    gmail_emulator_server.clear_faults()
