"""A real local HTTP server standing in for the CRM's inbound URL: it records every POST
and answers 503 for the first ``failures`` requests (``-1``: for ever), then 204.

``refuse(document)`` answers 503 to the documents it picks, and ``slow(document)`` makes
the CRM take that many seconds before it answers (it then records the document as
``late``: a CRM that is slow still does the work, but the sender has stopped waiting)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shared.settings import get_settings

SECRET = "crm-inbound-secret"
Document = dict[str, Any]


@dataclass(frozen=True)
class Attempt:
    """One POST as the CRM saw it."""

    arrived: float
    """time.monotonic() when the request arrived."""
    document: Document
    answer: int
    late: bool = False


class CrmReceiver:
    def __init__(self, failures: int = 0, refuse: Callable[[Document], bool] | None = None,
                 slow: Callable[[Document], float] | None = None) -> None:
        self.failures = failures
        self.lock = threading.Lock()
        self.attempts = 0
        self.log: list[Attempt] = []
        self.accepted: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = time.monotonic()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                document = json.loads(body)
                delay = slow(document) if slow else 0.0
                if delay:
                    time.sleep(delay)
                refused = bool(refuse and refuse(document))  # outside the lock: it may read
                with receiver.lock:
                    receiver.attempts += 1
                    failing = receiver.failures < 0 or receiver.attempts <= receiver.failures
                    failing = failing or refused
                    if not failing and not delay:
                        receiver.accepted.append((dict(self.headers.items()), body))
                    receiver.log.append(Attempt(arrived, document, 503 if failing else 204,
                                                late=bool(delay)))
                try:
                    self.send_response(503 if failing else 204)
                    self.end_headers()
                except OSError:  # the sender stopped waiting
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/klaviyo-sign-ups"

    def documents(self) -> list[Document]:
        with self.lock:
            return [json.loads(body) for _headers, body in self.accepted]

    def attempts_of(self, entry_id: str) -> list[Attempt]:
        with self.lock:
            return [attempt for attempt in self.log if attempt.document["id"] == entry_id]

    def __enter__(self) -> CrmReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def configure_crm(monkeypatch: Any, url: str, retries: int = 20, min_backoff_ms: int = 20,
                  max_backoff_ms: int = 200, timeout_ms: int | None = None) -> None:
    """Point the delivery at ``url`` with a short retry policy."""
    monkeypatch.setenv("SYNC_CRM_WEBHOOK_URL", url)
    monkeypatch.setenv("SYNC_CRM_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("SYNC_CRM_MAX_RETRIES", str(retries))
    monkeypatch.setenv("SYNC_CRM_MIN_BACKOFF_MS", str(min_backoff_ms))
    monkeypatch.setenv("SYNC_CRM_MAX_BACKOFF_MS", str(max_backoff_ms))
    if timeout_ms is not None:
        monkeypatch.setenv("SYNC_CRM_TIMEOUT_MS", str(timeout_ms))
    get_settings.cache_clear()
