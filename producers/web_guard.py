"""What the web checks before it reads a webhook body, and how long it waits for one.

An ASGI middleware in front of ``POST /v1/contact-events``, so that an unauthenticated
client cannot make the process hold bodies (issue 11, docs/SECURITY.md):

1. a missing, malformed or stale ``X-Sync-Signature`` is refused (401) at once, the body
   unread (the HMAC itself needs the body: it is checked after, by :mod:`producers.intake`);
2. beyond ``max_requests`` webhook requests in progress, a request is refused with 503 and
   ``Retry-After``;
3. a ``Content-Length`` over 5 MB is refused (413) unread; the body must arrive whole within
   ``body_timeout`` seconds (else 408), and is never buffered past 5 MB + one chunk.

The app then gets the body as one message. Refusals have the webhook's answer shape
(``{"detail": ...}``) and are counted like its others. A refused request's unread body is
drained and dropped by the HTTP protocol (:mod:`producers.http_protocol`), so a client that
is still sending can read the answer.
"""

from __future__ import annotations

import asyncio
import enum
import logging

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from producers import intake, signature
from producers.intake import MAX_BODY_BYTES, Answer

log = logging.getLogger(__name__)

_SIGNATURE_HEADER = signature.HEADER.lower().encode()


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def _answer(answer: Answer, scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse(answer.body, answer.status, headers=answer.headers or None)
    await response(scope, receive, send)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` as the one request message, then defers to the
    server's (which reports the disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


class WebhookGuard:
    """See the module docstring; ``path`` is the webhook's, other requests pass through."""

    def __init__(self, app: ASGIApp, *, path: str, max_requests: int,
                 body_timeout: float) -> None:
        self.app = app
        self.path = path
        self.max_requests = max_requests
        self.body_timeout = body_timeout
        self.in_progress = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            signature.check_header(header(scope, _SIGNATURE_HEADER))
        except signature.SignatureError as error:
            log.warning("refused webhook request before reading its body: %s", error)
            await _answer(intake.refuse(401, "signature", str(error)), scope, receive, send)
            return
        if self.in_progress >= self.max_requests:
            log.warning("refused webhook request with 503: %d requests already in progress "
                        "(SYNC_WEB_MAX_REQUESTS)", self.in_progress)
            await _answer(intake.refuse(
                503, "busy", f"too many requests in progress (at most {self.max_requests}); "
                "nothing was stored, retry after Retry-After seconds"), scope, receive, send)
            return
        self.in_progress += 1
        try:
            body = await self._read_body(scope, receive)
            if isinstance(body, Answer):
                await _answer(body, scope, receive, send)
            elif body is not None:
                await self.app(scope, replay(body, receive), send)
        finally:
            self.in_progress -= 1

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | Answer | None:
        """The whole body; a 413 or 408 refusal; ``None`` when the client went away."""
        body = await read_body(scope, receive, MAX_BODY_BYTES, self.body_timeout)
        if body is BodyRefusal.DECLARED_TOO_LARGE:
            return intake.too_large(f"Content-Length {header(scope, b'content-length')} bytes")
        if body is BodyRefusal.TOO_LARGE:
            return intake.too_large(f"body over {MAX_BODY_BYTES} bytes")
        if body is BodyRefusal.TIMEOUT:
            log.warning("refused webhook request with 408: body not whole in %g s",
                        self.body_timeout)
            return intake.refuse(
                408, "timeout", f"the request body did not arrive within "
                f"{self.body_timeout:g} s (SYNC_WEB_BODY_TIMEOUT); nothing was stored")
        return body


class BodyRefusal(enum.Enum):
    """Why :func:`read_body` gave up on a body."""

    DECLARED_TOO_LARGE = "Content-Length over the limit"
    TOO_LARGE = "streamed past the limit"
    TIMEOUT = "not whole in time"


async def read_body(scope: Scope, receive: Receive, max_bytes: int,
                    timeout: float) -> bytes | BodyRefusal | None:
    """A request's whole body, never buffering more than ``max_bytes`` + one chunk, within
    ``timeout`` seconds; a :class:`BodyRefusal`; ``None`` when the client went away."""
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        return BodyRefusal.DECLARED_TOO_LARGE
    chunks: list[bytes] = []
    size = 0
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            async with asyncio.timeout_at(deadline):
                message = await receive()
        except TimeoutError:
            return BodyRefusal.TIMEOUT
        if message["type"] == "http.disconnect":
            return None
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return BodyRefusal.TOO_LARGE
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
