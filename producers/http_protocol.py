"""uvicorn's HTTP protocol (httptools) with the connection limits uvicorn lacks.

uvicorn 0.5x with httptools (the protocol it picks when httptools is installed, as here)
puts no bound on the size of a request's headers, and no timer on a connection until its
first response has been sent: a client could hold one open forever, and make the process
buffer a 64 MB header (issue 11). ``h11_max_incomplete_event_size`` applies to h11 only,
and ``limit_concurrency`` answers 503 without ``Retry-After``. This subclass adds, per
connection (settings in :class:`shared.settings.Settings`, documented in docs/SECURITY.md):

* headers (request line included) over ``SYNC_WEB_MAX_HEADER_BYTES``: 431, closed; the
  excess is never buffered (a check after each chunk read, at most one chunk, 256 KiB);
* a request head not complete ``SYNC_WEB_HEADER_TIMEOUT`` s after the connection opened or
  the head began: 408, closed (an idle connection that never sent a byte: closed silently);
* beyond ``SYNC_WEB_MAX_CONNECTIONS`` open connections: the connection that has waited
  longest without proving anything (still sending its head, idle between requests, or
  draining a refused body) is closed to make room (issue 19: 520 slow unauthenticated
  sockets kept the signed webhook at 503 for 105 s); only when every connection carries a
  request past its head is the new one answered 503 with ``Retry-After`` and closed;
* a response sent before the request's body was read (the app refused it early, see
  :mod:`producers.web_guard`): the rest of the body is read and dropped, for at most
  :data:`LINGER_SECONDS` and :data:`LINGER_MAX_BYTES`, then the connection is closed.
  Draining, rather than closing at once, lets a client still sending its body read the
  answer instead of a reset.

Idle keep-alive connections are closed by uvicorn itself (``timeout_keep_alive``, 5 s).
``contact-sync web`` serves with this protocol (``http=``, see :mod:`cli.web_cmd`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from functools import cache
from typing import Any

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from producers.intake import MAX_BODY_BYTES, RETRY_AFTER_SECONDS
from shared.settings import Settings, get_settings

log = logging.getLogger(__name__)

LINGER_SECONDS = 5.0
"""How long an early-refused request's unread body is drained before the connection closes."""
LINGER_MAX_BYTES = MAX_BODY_BYTES + 64 * 1024
"""How much of it at most (a whole webhook body, which a refused CRM may still be sending)."""


@dataclass(frozen=True)
class ConnectionLimits:
    max_header_bytes: int
    header_timeout: float
    max_connections: int

    @classmethod
    def of(cls, settings: Settings) -> ConnectionLimits:
        return cls(settings.web_max_header_bytes, settings.web_header_timeout,
                   settings.web_max_connections)


@cache
def process_limits() -> ConnectionLimits:
    """The limits of this process, from its environment (each uvicorn worker reads its own)."""
    return ConnectionLimits.of(get_settings())


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """See the module docstring."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = process_limits()
        self._in_head = True
        self._head_bytes = 0
        self._head_too_large = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._linger_timer: asyncio.TimerHandle | None = None
        self._drained = 0
        self._waiting_since = self.loop.time()
        """When this connection last began to wait for a head, or began to drain."""

    # --- connection ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections and not self._evict_one():
            self._refuse(503, f"too many open connections (at most "
                         f"{self.limits.max_connections}); retry after Retry-After seconds",
                         {"retry-after": str(RETRY_AFTER_SECONDS)})
            return
        self._arm_head_timer()

    def _unproven(self) -> bool:
        """Still in its head (or idle between requests), or draining a refused request."""
        return not self.transport.is_closing() and (
            self._linger_timer is not None or (self._in_head and self.cycle is None)
            or (self._in_head and self.cycle is not None and self.cycle.response_complete))

    def _evict_one(self) -> bool:
        """Close the unproven connection that has waited longest; False: there is none."""
        candidates = [c for c in self.connections if c is not self
                      and isinstance(c, LimitedHttpToolsProtocol) and c._unproven()]
        if not candidates:
            return False
        oldest = min(candidates, key=lambda c: c._waiting_since)
        log.info("closed a connection from %s waiting %.1f s unproven: %d connections open",
                 oldest._peer(), self.loop.time() - oldest._waiting_since,
                 len(self.connections))
        oldest.transport.close()
        return True

    def _peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "?"

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._head_timer, self._linger_timer):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._linger_timer is not None:  # draining a refused request: dropped unparsed
            self._drained += len(data)
            if self._drained > LINGER_MAX_BYTES:
                self.transport.close()
            return
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        too_large = self._head_too_large or (
            self._in_head and self._head_bytes > self.limits.max_header_bytes)
        if too_large and not self.transport.is_closing():
            self._refuse(431, f"request headers over {self.limits.max_header_bytes} bytes "
                         "(SYNC_WEB_MAX_HEADER_BYTES)")

    # --- parser callbacks --------------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:
            self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.limits.max_header_bytes:
            self._head_too_large = True  # answered by data_received, once the parser returns
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._head_too_large:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._head_too_large:
            return
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0
        self._waiting_since = self.loop.time()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if (self.cycle is not None and self.cycle.more_body
                and not self.transport.is_closing()):
            self._linger()

    # --- refusals ----------------------------------------------------------------------------
    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timeout)

    def _head_timeout(self) -> None:
        self._head_timer = None
        if not self._in_head or self.transport.is_closing():
            return
        if self._head_bytes == 0 and self.cycle is None:
            self.transport.close()  # opened and never used
            return
        self._refuse(408, f"the request headers did not arrive within "
                     f"{self.limits.header_timeout:g} s (SYNC_WEB_HEADER_TIMEOUT)")

    def _refuse(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        """Answer ``status`` with the webhook's JSON shape, then drain and close."""
        log.warning("refused a connection from %s with %d: %s", self._peer(), status, detail)
        body = orjson.dumps({"detail": detail})
        lines = [STATUS_LINE[status], b"content-type: application/json\r\n",
                 b"content-length: %d\r\n" % len(body), b"connection: close\r\n"]
        lines += [f"{name}: {value}\r\n".encode("latin-1")
                  for name, value in (headers or {}).items()]
        self.transport.write(b"".join([*lines, b"\r\n", body]))
        self._linger()

    def _linger(self) -> None:
        """Stop parsing; drop what the client still sends, for at most LINGER_SECONDS."""
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self.flow.resume_reading()
        self._waiting_since = self.loop.time()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._linger_timer = self.loop.call_later(LINGER_SECONDS, self.transport.close)
