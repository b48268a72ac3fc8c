"""A local HTTP receiver for tests and benchmarks (stdlib http.server in a thread).

It answers from a script of responses (default 204), keeps every request, and — when given the destination's
secret — verifies each one with the ``standardwebhooks`` library, dedupes by ``webhook-id`` and applies the
document per customer the way a careful downstream system would.
"""

import contextlib
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Receiver:
    secret: str | None = None
    requests: list[Received] = field(default_factory=list)
    script: deque = field(default_factory=deque)  # (status, headers) answered in turn, then default_status
    default_status: int = 204
    default_headers: dict = field(default_factory=dict)  # sent with default_status (e.g. Retry-After)
    applied_ids: set = field(default_factory=set)
    duplicate_ids: list = field(default_factory=list)
    state: dict = field(default_factory=dict)  # external_id -> latest applied document data
    applied_versions: dict = field(default_factory=dict)  # external_id -> versions in the order applied
    arrived: dict = field(default_factory=dict)  # (external_id, version) -> time.perf_counter() when applied
    bad_signatures: int = 0
    truncated: int = 0
    refused: list = field(default_factory=list)  # (error, headers, body) of what did not verify
    delay: float = 0.0  # seconds each request takes, to keep deliveries in flight
    started: int = 0  # requests read in full, answered or not yet (``requests`` holds the answered ones)
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _connections: set = field(default_factory=set)  # open keep-alive connections, closed by stop()
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                receiver._connections.add(self.connection)

            def finish(self):
                receiver._connections.discard(self.connection)
                super().finish()

            def do_POST(self):
                expected = int(self.headers.get("content-length", 0))
                body = self.rfile.read(expected)
                if len(body) < expected:  # the sender died mid-request (a killed worker): nothing to apply
                    receiver.truncated += 1
                    self.close_connection = True
                    return
                receiver.started += 1
                if receiver.delay:
                    time.sleep(receiver.delay)
                status, headers = receiver.handle(self.path, dict(self.headers), body)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the sender timed out
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("content-length", "0")
                    self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Down as a real receiver goes down: no new connections, and the kept-alive ones closed too (their
        handler threads would otherwise go on answering senders that reuse them)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for connection in list(self._connections):
            with contextlib.suppress(OSError):  # already closed by the sender
                connection.shutdown(socket.SHUT_RDWR)

    def handle(self, path: str, headers: dict, body: bytes) -> tuple[int, dict]:
        lowered = {key.lower(): value for key, value in headers.items()}
        with self._lock:
            self.requests.append(Received(path=path, headers=lowered, body=body))
            if self.script:
                return self.script.popleft()
            if self.secret and 200 <= self.default_status < 300:
                try:
                    event = Webhook(self.secret).verify(body, lowered)
                except Exception as error:
                    self.bad_signatures += 1
                    self.refused.append((repr(error), lowered, body))
                    return 401, {}
                message_id = lowered["webhook-id"]
                if message_id in self.applied_ids:
                    self.duplicate_ids.append(message_id)
                else:
                    self.applied_ids.add(message_id)
                    data = event["data"]
                    external_id = data["customer"]["external_id"]
                    self.state[external_id] = data
                    self.applied_versions.setdefault(external_id, []).append(data["version"])
                    self.arrived[external_id, data["version"]] = time.perf_counter()
            return self.default_status, self.default_headers
