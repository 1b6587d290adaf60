"""`python -m sim.linux_agent --name linux-host --pty-file PATH [--log PATH]`."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from .agent import serve


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(0)  # asked to stop: an orderly shutdown, not a failure


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve the console until SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m sim.linux_agent",
        description="Linux host DUT agent: bench console protocol v1 on a pty.",
    )
    parser.add_argument("--name", default="linux-host", help="DUT name reported by hello")
    parser.add_argument("--pty-file", type=Path, required=True, help="where to write the pty path")
    parser.add_argument("--ifname", help="interface to report (default: first non-loopback)")
    parser.add_argument("--log", type=Path, help="timestamped log of requests, replies, events")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    serve(args.name, args.pty_file, args.ifname, args.log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
