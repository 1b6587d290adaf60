"""Console relay: holds one DUT's console for the life of the lab, logs every line with a
timestamp, and serves it to one client at a time on 127.0.0.1 (pyserial `socket://`).

Why a relay (docs/architecture.md): QEMU discards output while nobody holds its pty, and
the continuous console log must include what the DUT says between clients. The relay
exits by itself when the console goes away (the DUT process died).

    python -m bench.lab.console_relay --name lwip-m3 --pty /dev/pts/5 \
        --port-file /run/hilbench/lwip-m3.port --log /run/hilbench/logs/console-lwip-m3.log
"""

from __future__ import annotations

import argparse
import os
import selectors
import socket
import sys
import time
from pathlib import Path

import serial

from firmware_adapters.console import utc_stamp


class LineLogger:
    """Timestamps complete lines from either direction; partial lines wait for their end."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a", buffering=1, encoding="utf-8", errors="replace")
        self._partial = {"<": bytearray(), ">": bytearray()}

    def feed(self, direction: str, data: bytes) -> None:
        buf = self._partial[direction]
        buf += data
        while (nl := buf.find(b"\n")) >= 0:
            text = buf[:nl].decode("utf-8", errors="replace").rstrip("\r")
            del buf[: nl + 1]
            self._file.write(f"{utc_stamp()} {direction} {text}\n")

    def note(self, text: str) -> None:
        self._file.write(f"{utc_stamp()} # {text}\n")


def serve(name: str, pty: str, port_file: Path, log: Path, baud: int = 115200) -> int:
    logger = LineLogger(log)
    try:
        console = serial.serial_for_url(pty, baudrate=baud, timeout=0)
    except (serial.SerialException, OSError) as exc:
        print(f"console_relay {name}: cannot open {pty}: {exc}", file=sys.stderr)
        return 2
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(f"{listener.getsockname()[1]}\n")
    os.replace(tmp, port_file)  # the console is open: whoever waits may continue the DUT
    logger.note(f"relay for {name} on {pty} serving 127.0.0.1:{listener.getsockname()[1]}")

    sel = selectors.DefaultSelector()
    sel.register(console.fileno(), selectors.EVENT_READ, "console")
    sel.register(listener, selectors.EVENT_READ, "listener")
    client: socket.socket | None = None
    while True:
        for key, _ in sel.select(timeout=1.0):
            if key.data == "console":
                try:
                    data = os.read(console.fileno(), 65536)
                except OSError:
                    data = b""
                if not data:
                    logger.note("console closed (the DUT process exited); relay stops")
                    return 0
                logger.feed("<", data)
                if client is not None:
                    try:
                        client.sendall(data)
                    except OSError:
                        pass
            elif key.data == "listener":
                conn, addr = listener.accept()
                if client is not None:
                    conn.sendall(b"ERR EBUSY console held by another client\n")
                    conn.close()
                    logger.note(f"refused a second client from port {addr[1]}")
                    continue
                client = conn
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sel.register(client, selectors.EVENT_READ, "client")
                logger.note(f"client attached from port {addr[1]}")
            elif key.data == "client" and client is not None:
                try:
                    data = client.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(client)
                    client.close()
                    client = None
                    logger.note("client detached")
                    continue
                logger.feed(">", data)
                os.write(console.fileno(), data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="console_relay", description=__doc__.split("\n")[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--pty", required=True, help="device path of the DUT's console")
    parser.add_argument("--port-file", required=True, type=Path)
    parser.add_argument("--log", required=True, type=Path)
    parser.add_argument("--baud", type=int, default=115200)
    args = parser.parse_args(argv)
    time.tzset()
    return serve(args.name, args.pty, args.port_file, args.log, args.baud)


if __name__ == "__main__":
    sys.exit(main())
