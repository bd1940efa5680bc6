# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""Run tasks in local podman containers by entering their namespaces (nsenter), with pipelining.

The stock containers.podman.podman connection runs mkdir, chmod, python and rm through `podman exec`
and a `podman mount` for every task: each a podman, conmon and runc process, about 125 ms of a
2-core machine's time, which was most of what a test run spent. Here a task is one `nsenter` into
the container's mount, UTS, IPC, network and PID namespaces and root (2 ms), with the container's
own environment, and the module comes on stdin (pipelining). The container is looked up once
(`podman inspect`) and cached by name in /run/mailops-podman until its process changes.
For the molecule scenarios and the demo fleet: local rootful containers, tasks as root, no become.
"""
from __future__ import annotations

DOCUMENTATION = r"""
name: mailops_podman
short_description: Run tasks in local podman containers through nsenter, with pipelining
description:
  - Enters the namespaces and root of a running local podman container with C(nsenter) and runs the
    command there with the container's environment; modules are pipelined on stdin.
  - With O(remote_user) set it falls back to C(containers.podman.podman).
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
    description: The user in the container (unset = root, through nsenter).
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

import json
import os
import shlex
import subprocess

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection

display = Display()
CACHE = "/run/mailops-podman"
NSENTER = ["nsenter", "--mount", "--uts", "--ipc", "--net", "--pid", "--root", "--wd"]


class Connection(PodmanConnection):
    transport = "mailops_podman"
    has_pipelining = True

    def _connect(self):
        # No `podman mount`: files go through nsenter too.
        ConnectionBase._connect(self)  # pylint: disable=protected-access
        self._connected = True
        return self

    def _target(self) -> dict:
        """{"id", "pid", "env"} of the running container, from the cache while its process lives."""
        path = os.path.join(CACHE, os.path.basename(str(self._container_id)) + ".json")
        try:
            with open(path, encoding="utf-8") as fh:
                target = json.load(fh)
            with open(f"/proc/{int(target['pid'])}/cgroup", encoding="utf-8") as fh:
                if target["id"] in fh.read():
                    return target
        except (OSError, ValueError, KeyError, TypeError):
            pass
        fmt = "{{.Id}} {{.State.Pid}} {{json .Config.Env}}"
        rc, out, err = self._podman(["container", "inspect"], ["--format", fmt])
        if rc != 0:
            reason = err.decode(errors="replace").strip()
            raise AnsibleConnectionFailure(f"podman inspect {self._container_id} failed: {reason}")
        cid, pid, env = out.decode().split(" ", 2)
        pid, env = int(pid), json.loads(env)
        if not pid:
            raise AnsibleConnectionFailure(f"container {self._container_id} is not running")
        target = {"id": cid, "pid": pid, "env": env}
        os.makedirs(CACHE, mode=0o700, exist_ok=True)
        tmp = f"{path}.{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(target, fh)
        os.replace(tmp, path)
        return target

    def _enter(self, argv: list, in_data=None, stdin_file=None, stdout_file=None):
        target = self._target()
        command = NSENTER + [f"--target={target['pid']}", "/usr/bin/env", "-i"] + target["env"] + argv
        display.vvv(f"NSENTER {argv}", host=self._container_id)
        if stdin_file is not None or stdout_file is not None:
            proc = subprocess.run(command, stdin=stdin_file, stdout=stdout_file or subprocess.PIPE,
                                  stderr=subprocess.PIPE, check=False)
            return proc.returncode, proc.stdout or b"", proc.stderr
        proc = subprocess.run(command, input=in_data or b"", capture_output=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def exec_command(self, cmd, in_data=None, sudoable=False):
        if self.user:
            return super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        return self._enter(shlex.split(cmd), in_data=in_data)

    def put_file(self, in_path, out_path):
        if self.user:
            return super().put_file(in_path, out_path)
        ConnectionBase.put_file(self, in_path, out_path)
        with open(to_bytes(in_path), "rb") as src:
            rc, _out, err = self._enter(["/bin/sh", "-c", 'cat >"$1"', "sh", out_path], stdin_file=src)
        if rc != 0:
            raise AnsibleConnectionFailure(f"copying to {out_path} in {self._container_id} failed: {err!r}")
        return None

    def fetch_file(self, in_path, out_path):
        if self.user:
            return super().fetch_file(in_path, out_path)
        ConnectionBase.fetch_file(self, in_path, out_path)
        with open(to_bytes(out_path), "wb") as dst:
            rc, _out, err = self._enter(["/bin/cat", in_path], stdout_file=dst)
        if rc != 0:
            raise AnsibleConnectionFailure(f"fetching {in_path} from {self._container_id} failed: {err!r}")
        return None
