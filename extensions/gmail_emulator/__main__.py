# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright: mailops.gmail contributors
"""python -m gmail_emulator --records DIR --listen ADDR [...]: run until SIGTERM/SIGINT."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from .config import ConfigError

PORT_OPTIONS = ("smtp-starttls", "smtp-tls", "imap", "pop", "oauth", "smtp-relay")


def parse(argv):
    p = argparse.ArgumentParser(prog="python -m gmail_emulator", description="Local Gmail stand-in for tests.")
    p.add_argument("--records", required=True, help="records directory (created if missing)")
    p.add_argument("--listen", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    for name in PORT_OPTIONS:
        p.add_argument(f"--{name}-port", type=int, default=0, help="port (default 0: any free port)")
    p.add_argument("--config", help="JSON file: switches and account/OAuth tables (docs/emulator.md)")
    p.add_argument("--ca-dir", help="directory holding (or receiving) ca.pem and ca.key")
    p.add_argument("--extra-san", nargs="*", default=[], help="more names/IPs for the server certificate")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    config = {}
    try:
        from .server import Emulator
    except ImportError as exc:
        print(f"gmail_emulator: {exc}; install aiosmtpd and cryptography "
              "(Debian: apt-get install python3-aiosmtpd python3-cryptography)", file=sys.stderr)
        return 2
    try:
        if args.config:
            with open(args.config, encoding="utf-8") as fh:
                config = json.load(fh)
            if not isinstance(config, dict):
                raise ConfigError(f"--config {args.config}: the file must hold a JSON object")
        config["extra_san"] = list(config.get("extra_san", [])) + args.extra_san
        ports = {f"{n.replace('-', '_')}_port": getattr(args, f"{n.replace('-', '_')}_port") for n in PORT_OPTIONS}
        emu = Emulator(args.records, host=args.listen, ca_dir=args.ca_dir, **ports, **config).start()
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"gmail_emulator: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    emu.write_info()
    print(json.dumps(emu.info), flush=True)
    while not stop.wait(0.5):
        pass
    emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
