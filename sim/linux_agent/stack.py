"""The agent's sockets on the kernel's TCP/UDP: non-blocking I/O driven by one selector.

Every command that touches a socket is a method here; asynchronous outcomes (accepted,
connected, peer FIN, reset, all bytes acknowledged) are reported through `emit`.
"""

from __future__ import annotations

import errno
import fcntl
import selectors
import socket
import struct
import termios
from collections.abc import Callable, Iterable

from .conn import Conn, Listener, UdpPort
from .diag import format_endpoint, list_tcp_sockets
from .errors import errno_name, error_code
from .protocol import ProtoError
from .tcpinfo import read_congestion, read_tcp_info, stat_fields, state_name

Emit = Callable[[str, Iterable[tuple[str, object]]], None]
READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
RECV_BYTES = 65536
MAX_IO_ROUNDS = 16  # per wakeup, so one busy connection cannot starve the console
SIOCOUTQ = termios.TIOCOUTQ
_ANY: tuple[str, int] = ("0.0.0.0", 0)


def _outq(sock: socket.socket) -> int | None:
    """Bytes in the send queue not yet acknowledged (SIOCOUTQ); None if not applicable."""
    try:
        buf = fcntl.ioctl(sock.fileno(), SIOCOUTQ, b"\0\0\0\0")
    except OSError:
        return None
    return struct.unpack("i", buf)[0]


class Stack:
    """Connections, listeners and UDP ports of the agent, keyed by their protocol ids."""

    def __init__(self, selector: selectors.BaseSelector, emit: Emit) -> None:
        self._sel = selector
        self._emit = emit
        self.conns: dict[int, Conn] = {}
        self.listeners: dict[int, Listener] = {}
        self.udp: dict[int, UdpPort] = {}
        self._next_id = 1
        self._next_lid = 1
        # A congestion control the namespace may not make its default (a child namespace
        # may only pick those the host allows): set on every new socket instead.
        self.congestion: str | None = None

    def _own_congestion(self, sock: socket.socket) -> None:
        if self.congestion is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION,
                            self.congestion.encode())

    # ---- lookups -------------------------------------------------------------------

    def conn(self, cid: int) -> Conn:
        """The connection `cid` or ERR ENOENT."""
        try:
            return self.conns[cid]
        except KeyError:
            raise ProtoError("ENOENT", f"no connection {cid}") from None

    # ---- TCP commands --------------------------------------------------------------

    def listen(self, port: int, mode: str, backlog: int) -> Listener:
        """Open a listener on 0.0.0.0:port; its accepted connections get `mode`."""
        if any(lst.port == port for lst in self.listeners.values()):
            raise ProtoError("EBUSY", f"already listening on {port}")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._own_congestion(sock)  # accepted connections inherit it
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", port))
            sock.listen(backlog)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise ProtoError(error_code(exc.errno or 0), f"listen: {exc.strerror}") from None
        listener = Listener(self._next_lid, sock, port, mode)
        self._next_lid += 1
        self.listeners[listener.lid] = listener
        self._sel.register(sock, READ, lambda _mask: self._accept(listener))
        return listener

    def unlisten(self, lid: int) -> None:
        """Close listener `lid` (its accepted connections stay)."""
        listener = self.listeners.pop(lid, None)
        if listener is None:
            raise ProtoError("ENOENT", f"no listener {lid}")
        self._sel.unregister(listener.sock)
        listener.sock.close()

    def connect(self, addr: str, port: int, lport: int | None, mode: str) -> Conn:
        """Start an active open; the outcome comes later as EVT connected / EVT error."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            self._own_congestion(sock)
            if lport:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("0.0.0.0", lport))
            err = sock.connect_ex((addr, port))
            if err not in (0, errno.EINPROGRESS):
                raise OSError(err, errno_name(err))
            local = sock.getsockname()
        except OSError as exc:
            sock.close()
            err = exc.errno or 0
            raise ProtoError(error_code(err), f"connect: {errno_name(err)}") from None
        conn = self._new_conn(sock, mode, local=local, remote=(addr, port))
        conn.connecting = True
        self._update(conn)
        return conn

    def send(self, cid: int, nbytes: int) -> None:
        """Queue `nbytes` of the pattern on connection `cid`."""
        conn = self.conn(cid)
        if conn.shut_requested or conn.close_requested:
            raise ProtoError("ESTATE", f"connection {cid} is closed for sending")
        conn.queue_pattern(nbytes)
        if not conn.connecting:
            self._write(conn)
        self._update(conn)

    def set_rx(self, cid: int, mode: str) -> None:
        """Change how connection `cid` consumes received data."""
        conn = self.conn(cid)
        conn.mode = mode
        self._update(conn)

    def shutdown(self, cid: int) -> None:
        """Close the write side once the queued pattern is handed to the kernel."""
        conn = self.conn(cid)
        conn.shut_requested = True
        if not conn.connecting:
            self._finish_output(conn)

    def close(self, cid: int) -> None:
        """Application close: FIN after the queued data; the id is freed at close()."""
        conn = self.conn(cid)
        conn.close_requested = True
        if not conn.has_output() or conn.connecting:
            self._free(conn, abortive=False)
        else:
            self._update(conn)

    def abort(self, cid: int) -> None:
        """Abortive close: SO_LINGER {1, 0} then close, so the kernel sends RST."""
        self._free(self.conn(cid), abortive=True)

    def stat(self, cid: int) -> list[tuple[str, object]]:
        """The `stat` reply fields of connection `cid` (TCP_INFO + the agent's counters)."""
        conn = self.conn(cid)
        try:
            info = read_tcp_info(conn.sock)
            ca = read_congestion(conn.sock)
        except OSError as exc:
            raise ProtoError("EIO", f"TCP_INFO: {exc.strerror}") from None
        items: list[tuple[str, object]] = [
            ("id", conn.id),
            ("state", state_name(info["state"])),
            ("local", format_endpoint(conn.local)),
            ("remote", format_endpoint(conn.remote)),
        ]
        if conn.lid is not None:
            items.append(("lid", conn.lid))
        core, extra = stat_fields(info)
        items += core
        items += [
            ("ca", ca),
            ("tx_bytes", conn.tx_bytes),
            ("tx_acked", self._acked_offset(conn)),
            ("rx_bytes", conn.rx_bytes),
            ("rx_bad", conn.rx_bad),
            ("mode", conn.mode),
            ("age_ms", conn.age_ms()),
        ]
        return items + extra

    def list_conns(self) -> list[list[tuple[str, object]]]:
        """One `conns` data line per TCP socket in the namespace, own ones with their id."""
        own = {(c.local, c.remote): c for c in self.conns.values()}
        by_port = {lst.port: lst for lst in self.listeners.values()}
        seen: set[int] = set()
        lines: list[list[tuple[str, object]]] = []
        for kc in list_tcp_sockets():
            conn = own.get((kc.local, kc.remote)) if kc.state != "LISTEN" else None
            items: list[tuple[str, object]] = [("id", conn.id if conn else 0)]
            listener = by_port.get(kc.local[1])
            if conn is None and listener is not None and kc.state in ("LISTEN", "SYN_RCVD"):
                items.append(("lid", listener.lid))
            items += [
                ("state", kc.state),
                ("local", format_endpoint(kc.local)),
                ("remote", format_endpoint(kc.remote)),
            ]
            if conn is not None:
                seen.add(conn.id)
                items.append(("age_ms", conn.age_ms()))
            if kc.state == "TIME_WAIT":
                items.append(("expires_ms", kc.expires_ms))
            lines.append(items)
        for conn in self.conns.values():
            if conn.id not in seen:  # e.g. closed by a reset the agent has not read yet
                lines.append(self._own_line(conn))
        return lines

    # ---- UDP -----------------------------------------------------------------------

    def udp_bind(self, port: int, mode: str) -> UdpPort:
        """Bind a UDP socket on 0.0.0.0:port that echoes or counts datagrams."""
        if port in self.udp:
            raise ProtoError("EBUSY", f"udp port {port} already bound")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind(("0.0.0.0", port))
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise ProtoError(error_code(exc.errno or 0), f"udp bind: {exc.strerror}") from None
        udp = UdpPort(port, sock, mode)
        self.udp[port] = udp
        self._sel.register(sock, READ, lambda _mask: self._udp_read(udp))
        return udp

    def udp_port(self, port: int) -> UdpPort:
        """The bound UDP port or ERR ENOENT."""
        try:
            return self.udp[port]
        except KeyError:
            raise ProtoError("ENOENT", f"udp port {port} not bound") from None

    # ---- whole-stack ---------------------------------------------------------------

    def reset(self) -> None:
        """Reboot: abort every connection, close every listener and UDP socket, ids anew."""
        for conn in list(self.conns.values()):
            self._free(conn, abortive=True, announce=False)
        for lid in list(self.listeners):
            self.unlisten(lid)
        for udp in self.udp.values():
            self._sel.unregister(udp.sock)
            udp.sock.close()
        self.udp.clear()
        self._next_id = 1
        self._next_lid = 1

    def needs_tick(self) -> bool:
        """Whether some connection waits for acknowledgements or is not watched by select."""
        return any(c.marks or c.events == 0 for c in self.conns.values())

    def tick(self) -> None:
        """Periodic work: EVT sent when queued bytes are acknowledged; errors of idle sockets."""
        for conn in list(self.conns.values()):
            if conn.events == 0 and not conn.connecting:
                err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    self._fail(conn, err)
                    continue
            if conn.marks:
                for mark in conn.acked_marks(self._acked_offset(conn)):
                    self._emit("sent", [("id", conn.id), ("bytes", mark.nbytes)])

    # ---- internals -----------------------------------------------------------------

    def _new_conn(
        self,
        sock: socket.socket,
        mode: str,
        local: tuple[str, int],
        remote: tuple[str, int],
        lid: int | None = None,
    ) -> Conn:
        conn = Conn(self._next_id, sock, mode, lid=lid, local=local, remote=remote)
        self._next_id += 1
        self.conns[conn.id] = conn
        return conn

    def _acked_offset(self, conn: Conn) -> int:
        """Stream offset acknowledged by the peer: written minus what SIOCOUTQ still holds."""
        outq = _outq(conn.sock)
        if outq is None or conn.connecting:
            return 0 if conn.connecting else conn.tx_bytes
        if conn.shut_done and outq > 0:
            outq -= 1  # the FIN takes one sequence number in the send queue
        return max(conn.tx_bytes - outq, 0)

    def _own_line(self, conn: Conn) -> list[tuple[str, object]]:
        try:
            state = state_name(read_tcp_info(conn.sock)["state"])
        except OSError:
            state = "CLOSED"
        return [
            ("id", conn.id),
            ("state", state),
            ("local", format_endpoint(conn.local)),
            ("remote", format_endpoint(conn.remote)),
            ("age_ms", conn.age_ms()),
        ]

    def _update(self, conn: Conn) -> None:
        """Register exactly the selector interest the connection needs now."""
        if conn.id not in self.conns:
            return
        if conn.connecting:
            want = WRITE
        else:
            want = (READ if conn.wants_read() else 0) | (WRITE if conn.has_output() else 0)
        if want == conn.events:
            return
        if conn.events == 0:
            self._sel.register(conn.sock, want, lambda mask: self._on_conn(conn, mask))
        elif want == 0:
            self._sel.unregister(conn.sock)
        else:
            self._sel.modify(conn.sock, want, lambda mask: self._on_conn(conn, mask))
        conn.events = want

    def _accept(self, listener: Listener) -> None:
        for _ in range(64):
            try:
                sock, remote = listener.sock.accept()
            except BlockingIOError:
                return
            except OSError:
                continue  # the peer went away before accept (ECONNABORTED, ...)
            sock.setblocking(False)
            conn = self._new_conn(sock, listener.mode, sock.getsockname(), remote, listener.lid)
            self._emit(
                "accepted",
                [
                    ("id", conn.id),
                    ("lid", listener.lid),
                    ("local", format_endpoint(conn.local)),
                    ("remote", format_endpoint(conn.remote)),
                ],
            )
            self._update(conn)

    def _on_conn(self, conn: Conn, mask: int) -> None:
        if conn.connecting:
            err = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self._fail(conn, err)
                return
            conn.connecting = False
            conn.local = conn.sock.getsockname()
            self._emit(
                "connected",
                [
                    ("id", conn.id),
                    ("local", format_endpoint(conn.local)),
                    ("remote", format_endpoint(conn.remote)),
                ],
            )
            self._finish_output(conn)
            return
        if mask & READ and conn.wants_read() and not self._read(conn):
            return
        if mask & WRITE or conn.has_output():
            self._finish_output(conn)
        elif conn.id in self.conns:
            self._update(conn)

    def _read(self, conn: Conn) -> bool:
        """Drain readable data; False if the connection was freed."""
        for _ in range(MAX_IO_ROUNDS):
            try:
                data = conn.sock.recv(RECV_BYTES)
            except BlockingIOError:
                return True
            except OSError as exc:
                self._fail(conn, exc.errno or errno.EIO)
                return False
            if not data:
                conn.peer_closed = True
                self._emit("peer_closed", [("id", conn.id)])
                return True
            conn.received(data)
            if not conn.wants_read():
                return True
        return True

    def _write(self, conn: Conn) -> bool:
        """Hand queued bytes to the kernel until it pushes back; False if freed."""
        for _ in range(MAX_IO_ROUNDS):
            if not conn.has_output():
                return True
            chunk, is_pattern = conn.next_chunk()
            try:
                n = conn.sock.send(chunk)
            except BlockingIOError:
                return True
            except OSError as exc:
                self._fail(conn, exc.errno or errno.EIO)
                return False
            conn.wrote(n, is_pattern)
        return True

    def _finish_output(self, conn: Conn) -> None:
        """Write what is queued, then the deferred shutdown or close, then re-arm select."""
        if not self._write(conn):
            return
        if not conn.has_output():
            if conn.close_requested:
                self._free(conn, abortive=False)
                return
            if conn.shut_requested and not conn.shut_done:
                try:
                    conn.sock.shutdown(socket.SHUT_WR)
                except OSError as exc:
                    self._fail(conn, exc.errno or errno.EIO)
                    return
                conn.shut_done = True
        self._update(conn)

    def _fail(self, conn: Conn, err: int) -> None:
        items: list[tuple[str, object]] = [("id", conn.id), ("code", error_code(err))]
        if error_code(err) == "EIO":
            items.append(("errno", errno_name(err)))
        self._emit("error", items)
        self._free(conn, abortive=False)

    def _free(self, conn: Conn, abortive: bool, announce: bool = True) -> None:
        if self.conns.pop(conn.id, None) is None:
            return
        if conn.events:
            self._sel.unregister(conn.sock)
            conn.events = 0
        if abortive:
            try:
                conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        conn.sock.close()
        if announce:
            self._emit("closed", [("id", conn.id)])

    def _udp_read(self, udp: UdpPort) -> None:
        for _ in range(MAX_IO_ROUNDS):
            try:
                data, peer = udp.sock.recvfrom(65535)
            except BlockingIOError:
                return
            except OSError:
                continue  # ICMP errors from earlier echoes surface here
            udp.rx_dgrams += 1
            udp.rx_bytes += len(data)
            if udp.mode == "echo":
                try:
                    udp.sock.sendto(data, peer)
                    udp.tx_dgrams += 1
                except OSError:
                    pass
