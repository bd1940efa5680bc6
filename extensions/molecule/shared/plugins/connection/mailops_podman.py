# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""containers.podman.podman with pipelining: one `podman exec -i` per module instead of four or five.

The stock plugin runs mkdir, chmod, python and rm through `podman exec` and a `podman mount` for
every task, each a podman process of its own; on a 2-core machine that is most of the time a test
run spends. Its pipelining is off because it never attaches stdin (`podman exec` without `-i`).
Used by the molecule scenarios and the demo fleet (test hosts only, root, no become).
"""
from __future__ import annotations

DOCUMENTATION = r"""
name: mailops_podman
short_description: Run tasks in podman containers, with pipelining
description:
  - The C(containers.podman.podman) connection with stdin attached, so Ansible can pipeline modules,
    and the container's file system mounted only when a file is copied.
author: mailops.gmail contributors
options:
  remote_addr:
    description: The name of the container.
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
      - name: ansible_podman_host
  remote_user:
    description: The user in the container (unset = the image's user).
    vars:
      - name: ansible_user
    env:
      - name: ANSIBLE_REMOTE_USER
    ini:
      - section: defaults
        key: remote_user
  podman_executable:
    description: The podman command.
    default: podman
    vars:
      - name: ansible_podman_executable
    env:
      - name: ANSIBLE_PODMAN_EXECUTABLE
  podman_extra_args:
    description: Extra arguments for every podman command.
    default: ""
    vars:
      - name: ansible_podman_extra_args
    env:
      - name: ANSIBLE_PODMAN_EXTRA_ARGS
  pipelining:
    description: Send modules on stdin instead of copying them into the container.
    type: boolean
    default: true
    vars:
      - name: ansible_pipelining
"""

import os
import shlex
import shutil

from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.connection import ConnectionBase
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection


class Connection(PodmanConnection):
    transport = "mailops_podman"
    has_pipelining = True

    def _connect(self):
        # No `podman mount` here: most tasks copy no file.
        ConnectionBase._connect(self)  # pylint: disable=protected-access
        self._connected = True
        return self

    def exec_command(self, cmd, in_data=None, sudoable=False):
        if in_data is None:
            return super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        args = ["exec", "-i"] + (["--user", self.user] if self.user else [])
        return self._podman(args, shlex.split(cmd), in_data)

    def _mounted(self) -> bool:
        if self._mount_point is None:
            rc, out, _err = self._podman("mount")
            path = out.strip()
            self._mount_point = path if rc == 0 and path and os.listdir(path) else b""
        return bool(self._mount_point) and not self.user

    def put_file(self, in_path, out_path):
        if not self._mounted():
            return super().put_file(in_path, out_path)
        ConnectionBase.put_file(self, in_path, out_path)
        shutil.copyfile(to_bytes(in_path), self._mount_point + to_bytes(out_path))
        return None

    def fetch_file(self, in_path, out_path):
        if not self._mounted():
            return super().fetch_file(in_path, out_path)
        ConnectionBase.fetch_file(self, in_path, out_path)
        shutil.copyfile(self._mount_point + to_bytes(in_path), to_bytes(out_path))
        return None
