"""The demo's CRM: a local HTTP server that receives the sync's deliveries
(``SYNC_CRM_WEBHOOK_URL``) and keeps each one whose signature checks out, as a CRM would.
No Klaviyo SDK here: ``contact-sync demo --help`` imports this module."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from producers.signature import HEADER, SignatureError, verify


class CrmInbox:
    """The CRM's end of the deliveries: a local HTTP server that keeps every signed POST."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.documents: list[dict[str, Any]] = []
        self.refused = 0
        self._lock = threading.Lock()
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    verify(self.headers.get(HEADER) or "", body, [inbox.secret])
                except SignatureError:
                    with inbox._lock:
                        inbox.refused += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                with inbox._lock:
                    inbox.documents.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, name="demo-crm", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/crm/klaviyo-events"

    def consent_changes(self) -> list[dict[str, Any]]:
        with self._lock:
            return [d for d in self.documents if d.get("type") == "consent.changed"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
