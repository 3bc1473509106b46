"""A TCP forwarder on a free loopback port whose link can be cut and restored: a network outage between two real
processes (a broker bridge and the broker it bridges to) without stopping either of them."""

from __future__ import annotations

import socket
import threading

from tests.mosquitto import free_port


class TcpProxy:
    host = "127.0.0.1"

    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.port = free_port()
        self._target = (target_host, target_port)
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._cut = False
        self.connections = 0  # accepted and forwarded, over the proxy's life
        self._server = socket.create_server((self.host, self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        """Drop every forwarded connection; new ones are closed at once until `restore`."""
        with self._lock:
            self._cut = True
            for s in self._open:
                _close(s)
            self._open.clear()

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def close(self) -> None:
        self.cut()
        _close(self._server)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            with self._lock:
                if self._cut:
                    _close(client)
                    continue
                try:
                    upstream = socket.create_connection(self._target, timeout=5)
                except OSError:
                    _close(client)
                    continue
                self._open += [client, upstream]
                self.connections += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        _close(src)
        _close(dst)


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()
