"""Calling an ASGI app in-process, synchronously, with one event loop kept for the whole
run: the fuzz tests send thousands of requests, and the webhook's own code (body reading,
signature, parsing, Redis) runs exactly as under uvicorn, minus the socket."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

Message = dict[str, Any]


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class AsgiClient:
    """``post(path, body, headers)`` straight into ``app``; the body is delivered in
    ``chunk`` -byte messages, as a server streams it."""

    def __init__(self, app: Any, chunk: int = 64 * 1024) -> None:
        self.app = app
        self.chunk = chunk
        self.loop = asyncio.new_event_loop()

    def post(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> Reply:
        return self.loop.run_until_complete(self._request("POST", path, body, headers or {}))

    def get(self, path: str) -> Reply:
        return self.loop.run_until_complete(self._request("GET", path, b"", {}))

    async def _request(self, method: str, path: str, body: bytes,
                       headers: dict[str, str]) -> Reply:
        # A header given as "" is left out (e.g. content-length: a streamed body).
        given = {"content-length": str(len(body)), **{k.lower(): v for k, v in headers.items()}}
        sent = {k: v for k, v in given.items() if v != ""}
        scope: Message = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in sent.items()],
        }
        parts = [body[i:i + self.chunk] for i in range(0, len(body), self.chunk)] or [b""]
        messages: list[Message] = [
            {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
            for i, part in enumerate(parts)]
        status, reply_headers, reply_body = 0, {}, bytearray()

        async def receive() -> Message:
            if messages:
                return messages.pop(0)
            await asyncio.sleep(3600)  # the client stays connected
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status, reply_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                reply_headers = {k.decode("latin-1"): v.decode("latin-1")
                                 for k, v in message.get("headers", [])}
            elif message["type"] == "http.response.body":
                reply_body.extend(message.get("body", b""))

        await self.app(scope, receive, send)
        return Reply(status, reply_headers, bytes(reply_body))

    def close(self) -> None:
        self.loop.close()


@contextmanager
def asgi_client(app: Any) -> Iterator[AsgiClient]:
    client = AsgiClient(app)
    try:
        yield client
    finally:
        client.close()
