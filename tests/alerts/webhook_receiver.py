"""A webhook receiver on loopback for delivery tests: answers from a script, records what went over the
wire (idempotency key, status answered, body, signature), and can close and reopen its port."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """A webhook receiver on a fixed loopback port; ``script`` answers requests in order (then 200s): a
    ``(status, headers)`` pair, or a float: hold the request that many seconds and close it unanswered
    (a receiver slower than the sender's timeout, or one whose sender died meanwhile). ``down()``/``up()``
    close and reopen the port (connection refused meanwhile)."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str]] | float] = []
        self.arrived: list[str] = []  # the key of every request, as it arrives
        # key, status answered (0: none), body, signature
        self.requests: list[tuple[str, int, bytes, str]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def delivered_keys(self) -> list[str]:
        """The key of every request answered 200, once per answer."""
        return [key for key, status, _, _ in self.requests if status == 200]

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                key = self.headers["Idempotency-Key"]
                with receiver._lock:
                    receiver.arrived.append(key)
                    step = receiver.script.pop(0) if receiver.script else (200, {})
                if isinstance(step, float):
                    time.sleep(step)
                    receiver.requests.append((key, 0, body, ""))
                    return
                status, headers = step
                receiver.requests.append((key, status, body, self.headers.get("X-LogsMCP-Signature", "")))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
        self._server = None

    def close(self) -> None:
        if self._server is not None:
            self.down()
