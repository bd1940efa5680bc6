# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Shared pytest setup: the Gmail emulator package (extensions/) and its fixture."""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "extensions"))

pytest_plugins = ["gmail_emulator.pytest_plugin"]
