"""The sandbox's ASGI app: Klaviyo's ``/api`` and ``/oauth`` routes plus the ``/__sandbox``
inspection API.

A plain ASGI callable (no framework) keeps each request cheap. For every ``/api`` call:
route -> auth (``sandbox.auth``: a key or an OAuth Bearer token) -> revision -> injected
fault -> rate limit -> handler, and every answer is counted per (key, operation, status).
Nothing a caller sends can crash it: unexpected exceptions become a 500 in Klaviyo's
envelope.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import orjson

from sandbox.auth import authenticate, not_authenticated
from sandbox.config import SandboxConfig
from sandbox.errors import ApiError
from sandbox.fault_answers import cdn_challenge, server_error, throttled
from sandbox.faults import Fault
from sandbox.http import OVERSIZE, Reply, Request, Route
from sandbox.identity import RowError
from sandbox.state import SandboxState

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("sandbox")
JSON_API = b"application/vnd.api+json"
MAX_BODY = 12 * 1024 * 1024
_REVISION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[A-Za-z0-9_-]+)?$")
DROP_KEY = "sandbox.close_connection"


def row_error_reply(err: RowError, pointer_prefix: str = "/data/attributes") -> ApiError:
    """A validation/identity error of one profile as an HTTP error."""
    pointer = f"{pointer_prefix}/{err.field}" if err.field else pointer_prefix
    return ApiError(
        err.status, err.detail, code=err.code, title=err.title, pointer=pointer, meta=err.meta
    )


class SandboxApp:
    """The ASGI callable; ``state`` is reachable for tests and the server."""

    def __init__(self, config: SandboxConfig) -> None:
        from sandbox.inspect_api import INSPECT_ROUTES
        from sandbox.oauth_api import OAUTH_ROUTES
        from sandbox.routes import ROUTES

        self.state = SandboxState(config)
        self._api = [(route, route.compile()) for route in ROUTES]
        self._inspect = [(route, route.compile()) for route in INSPECT_ROUTES]
        self._oauth = [(route, route.compile()) for route in OAUTH_ROUTES]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            await self._http(scope, receive, send)
        except Exception:  # the last line of defence: never die, never leak a trace
            log.exception("sandbox: unhandled error")
            err = ApiError(500, "A server error occurred.")
            await _send(send, 500, err.body, {})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        inspect = path.startswith("/__sandbox")
        plain = inspect or path.startswith("/oauth/")  # no API key, no Klaviyo envelope
        table = self._inspect if inspect else self._oauth if plain else self._api
        route, params, allowed = _match(table, method, path)
        if route is None:
            status = 405 if allowed else 404
            err = ApiError(
                status,
                "Method not allowed." if allowed else "The requested resource was not found.",
            )
            await _send(send, status, err.body, {})
            return
        body = await _read_body(receive)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = {
            k: v
            for k, v in parse_qsl(
                scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
            )
        }
        req = Request(
            method, path, params, query, headers, body, self._base(scope, headers), self.state
        )
        if plain:
            reply = _run(route, req)
            await _send(send, reply.status, reply.body, reply.headers)
            return
        await self._api_call(route, req, scope, send)

    async def _api_call(self, route: Route, req: Request, scope: Scope, send: Send) -> None:
        state = self.state
        op = route.operation
        arrived = time.time()
        caller = authenticate(state.store, state.oauth, req.headers.get("authorization"))
        account, key = caller.account, caller.key
        if caller.refused is not None or account is None:
            err = caller.refused or not_authenticated()
            # a known (revoked, scope-less) key's refusals are in the request log too
            known = key in state.store.accounts
            state.count(key, op, err.status, arrived=arrived if known else None)
            await _send(send, err.status, err.body, {})
            return
        req.account = account
        revision = req.headers.get("revision")
        if not revision or not _REVISION.match(revision.strip()):
            state.count(key, op, 400, arrived=arrived)
            err = ApiError(
                400, "A valid 'revision' header (YYYY-MM-DD) is required.", parameter="revision"
            )
            await _send(send, 400, err.body, {})
            return
        fault = state.faults.draw(op)
        if fault is not None:
            if fault.latency_ms:
                await asyncio.sleep(fault.latency_ms / 1000)
            if fault.drop:
                state.count(key, op, 0, arrived=arrived)
                _drop(scope, send)
                return
            if fault.status is not None:
                payload, headers = _fault_answer(fault, state.config.retry_after_on_429)
                state.count(key, op, fault.status, arrived=arrived,
                            retry_after=_retry_after(headers))
                await _send(send, fault.status, payload, headers)
                return
        decision = state.limiter.check(caller.quota, _limit_key(op, req.query))
        if decision is not None and not decision.allowed:
            omit = fault is not None and fault.omit_retry_after
            body, headers = throttled(
                decision.retry_after, state.config.retry_after_on_429 and not omit
            )
            state.count(key, op, 429, arrived=arrived, retry_after=_retry_after(headers))
            await _send(send, 429, body, headers)
            return
        reply = _run(route, req)
        if decision is not None:
            reply.headers.update(
                {
                    "RateLimit-Limit": str(decision.limit),
                    "RateLimit-Remaining": str(decision.remaining),
                    "RateLimit-Reset": str(decision.reset),
                }
            )
        state.count(key, op, reply.status, arrived=arrived)
        await _send(send, reply.status, reply.body, reply.headers)

    def _base(self, scope: Scope, headers: dict[str, str]) -> str:
        public = self.state.config.public_url
        if public:
            return public.rstrip("/")
        host = headers.get("host")
        if not host:
            server = scope.get("server") or ("127.0.0.1", 80)
            host = f"{server[0]}:{server[1]}"
        return f"{scope.get('scheme', 'http')}://{host}"


def create_app(config: SandboxConfig) -> SandboxApp:
    """The sandbox's ASGI app for ``config``."""
    return SandboxApp(config)


def _match(
    table: list[tuple[Route, re.Pattern[str]]], method: str, path: str
) -> tuple[Route | None, dict[str, str], bool]:
    allowed = False
    for route, pattern in table:
        found = pattern.match(path)
        if found is None:
            continue
        if route.method == method:
            return route, found.groupdict(), True
        allowed = True
    return None, {}, allowed


def _run(route: Route, req: Request) -> Reply:
    try:
        return route.handler(req)
    except ApiError as err:
        return Reply(err.status, err.body, err.headers)
    except RowError as err:
        api = row_error_reply(err)
        return Reply(api.status, api.body, {})
    except Exception:
        log.exception("sandbox: handler %s failed", route.operation)
        failure = ApiError(500, "A server error occurred.")
        return Reply(500, failure.body, {})


def _limit_key(op: str, query: dict[str, str]) -> str:
    if op in ("get_profiles", "get_profiles_for_list") and "predictive_analytics" in query.get(
        "additional-fields[profile]", ""
    ):
        return f"{op}:predictive_analytics"
    if (
        op == "get_profile"
        and query.get("include", "")
        and any(x in query["include"] for x in ("lists", "segments"))
    ):
        return "get_profile:include_lists"
    if op == "get_list" and "profile_count" in query.get("additional-fields[list]", ""):
        return "get_list:profile_count"
    return op


def _fault_answer(fault: Fault, with_retry_after: bool) -> tuple[Any, dict[str, str]]:
    """The injected answer of ``fault.status``: a throttle, a server error or a CDN page."""
    if fault.status == 429:
        return throttled(fault.retry_after, with_retry_after and not fault.omit_retry_after)
    if fault.status == 403:
        return cdn_challenge()
    return server_error(fault.status or 500, fault.retry_after, with_retry_after)


def _retry_after(headers: dict[str, str]) -> int:
    return int(headers.get("Retry-After", "0"))


def _drop(scope: Scope, send: Send) -> None:
    """Close the connection without an answer (uvicorn's transport)."""
    closer = scope.get(DROP_KEY)
    if closer is None:
        owner = getattr(send, "__self__", None)
        transport = getattr(owner, "transport", None)
        closer = getattr(transport, "close", None)
    if closer is None:
        raise ConnectionAbortedError("fault: drop")
    closer()


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= MAX_BODY:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if size > MAX_BODY:
        return OVERSIZE
    return b"".join(chunks)


async def _send(send: Send, status: int, body: Any, headers: dict[str, str]) -> None:
    raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    if body is None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*raw_headers, (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})
        return
    if isinstance(body, bytes):  # already encoded, its content-type among the headers
        raw_headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})
        return
    payload = orjson.dumps(body)
    raw_headers += [(b"content-type", JSON_API), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
