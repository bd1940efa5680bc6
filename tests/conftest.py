# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Shared pytest setup: the collection and the Gmail emulator package on sys.path, and its fixture."""
from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# `ansible_collections.mailops.gmail` resolves through the symlink made by `make collection`.
sys.path.insert(0, os.path.join(ROOT, ".build", "collections"))
sys.path.insert(0, os.path.join(ROOT, "extensions"))

pytest_plugins = ["gmail_emulator.pytest_plugin"]
