# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""A temporary root for running a role for real on this machine without changing it.

    with TempRoot(tmp_path / "root") as root:
        run_playbook(tmp_path, play, prefix=root.prefix)      # the role writes /etc/..., /root/...
        root.run(["msmtp", "-C", "/etc/msmtprc", "--", "x@example.org"], input=...)
        root.read("/etc/msmtprc")

A private mount namespace (unshare, as root) in which /etc, /usr, /var and /root are overlays:
everything written there lands in <base>/<dir>/upper and is gone with the namespace; the machine's
own files stay as they were. Loopback and the other namespaces are shared, so the emulator of the
test session is reachable.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

DIRS = ("etc", "usr", "var", "root")
_SCRIPT = """
set -e
for d in {dirs}; do
  mkdir -p "$1/$d/upper" "$1/$d/work"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$1/$d/upper,workdir=$1/$d/work" "/$d"
done
touch "$1/ready"
exec sleep infinity
""".format(dirs=" ".join(DIRS))


class TempRoot:
    def __init__(self, base):
        self.base = Path(base)
        self.process = None

    def __enter__(self):
        self.base.mkdir(parents=True, exist_ok=True)
        # unshare execs the shell in the new namespace: its pid is the namespace's.
        self.process = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", _SCRIPT, "sh", str(self.base)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _dummy in range(200):
            if (self.base / "ready").exists():
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"no temporary root: {self.process.stderr.read().decode()}")
            time.sleep(0.05)
        raise RuntimeError("the temporary root did not come up")

    def __exit__(self, *exc):
        self.process.kill()
        self.process.wait()

    @property
    def prefix(self):
        """Put before a command to run it inside the temporary root."""
        return ["nsenter", "-t", str(self.process.pid), "-m", "--"]

    def run(self, argv, **kwargs):
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        kwargs.setdefault("timeout", 120)
        return subprocess.run([*self.prefix, *argv], check=False, **kwargs)

    def read(self, path):
        result = self.run(["cat", path])
        if result.returncode:
            raise FileNotFoundError(path)
        return result.stdout

    def write(self, path, text, mode="0600"):
        result = self.run(["sh", "-c", 'cat > "$1" && chmod "$2" "$1"', "sh", path, mode], input=text)
        assert result.returncode == 0, result.stderr
