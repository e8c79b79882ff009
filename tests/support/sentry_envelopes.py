"""A local Sentry ingest endpoint for the tests: sentry-sdk (in the test process or in the
service's processes, through ``SENTRY_DSN``) sends it real envelopes, which it keeps."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sentry_sdk


class Envelopes(ThreadingHTTPServer):
    """A Sentry ingest endpoint that keeps every envelope it receives (decompressed)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[str] = []

    @property
    def dsn(self) -> str:
        return f"http://public@127.0.0.1:{self.server_address[1]}/1"

    def text(self) -> str:
        return "\n".join(self.bodies)


class _Handler(BaseHTTPRequestHandler):
    server: Envelopes

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":
            import brotli

            body = brotli.decompress(body)
        self.server.bodies.append(body.decode("utf-8", "replace"))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def envelopes() -> Iterator[Envelopes]:
    """A running endpoint (``.dsn``); this process's Sentry client is closed afterwards."""
    server = Envelopes()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)
    server.shutdown()
    server.server_close()
