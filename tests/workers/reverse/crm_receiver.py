"""A real local HTTP server standing in for the CRM's inbound URL: it records every POST
and answers 503 for the first ``failures`` requests (``-1``: for ever), then 204."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class CrmReceiver:
    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.lock = threading.Lock()
        self.attempts = 0
        self.accepted: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.attempts += 1
                    failing = receiver.failures < 0 or receiver.attempts <= receiver.failures
                    if not failing:
                        receiver.accepted.append((dict(self.headers.items()), body))
                self.send_response(503 if failing else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/klaviyo-sign-ups"

    def documents(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _headers, body in self.accepted]

    def __enter__(self) -> CrmReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
