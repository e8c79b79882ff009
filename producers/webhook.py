"""The webhook: ``POST /v1/contact-events`` (docs/ARCHITECTURE.md §1), health, readiness
and the OpenAPI document; ``/metrics`` on its own loopback port
(:mod:`producers.metrics_server`).

``uvicorn --factory producers.webhook:create_app`` or ``contact-sync web`` serve it; the
module attribute ``app`` is built on first access from the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import redis
from fastapi import FastAPI, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from producers import intake, signature
from producers.account_api import ACCOUNTS_PATH, mount_account_api
from producers.account_api.problems import problem
from producers.api_docs import mount_docs
from producers.console import mount_console
from producers.crm_deliveries import crm_webhooks
from producers.intake import Answer
from producers.metrics_server import start_metrics_server
from producers.request_guard import RequestGuard
from producers.validation import MAX_EVENTS
from producers.web_guard import WebhookGuard
from shared.events import EventBatch
from shared.redis_client import connect
from shared.settings import Settings, get_settings
from shared.state.heartbeats import BEAT_EVERY_S, Heart

log = logging.getLogger(__name__)

EVENTS_PATH = "/v1/contact-events"


class WebhookConfigError(RuntimeError):
    """The webhook cannot start: a required setting is missing."""


class Accepted(BaseModel):
    accepted: int


class WebhookProblem(BaseModel):
    """The webhook's refusals (``{"detail": ...}``); the account API answers RFC 9457
    problems (:class:`producers.account_api.problems.Problem`): distinct names, so that
    the OpenAPI document has both schemas."""

    detail: str


class EventFieldProblem(BaseModel):
    index: int | None
    field: str
    message: str
    event_id: str | None = None


class SchemaProblem(WebhookProblem):
    errors: list[EventFieldProblem]


_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": WebhookProblem, "description": "The body is not JSON."},
    401: {"model": WebhookProblem, "description": "Signature missing, malformed, stale or "
          "wrong (the first three are answered before the body is read)."},
    408: {"model": WebhookProblem, "description": "The body did not arrive within "
          "SYNC_WEB_BODY_TIMEOUT seconds."},
    413: {"model": WebhookProblem,
          "description": f"Body over 5 MB or over {MAX_EVENTS} events."},
    422: {"model": SchemaProblem, "description": "Schema errors per event index and field, "
          "or events whose account_id is not a configured account (created with "
          "PUT /v1/accounts/{account} or 'contact-sync accounts add'; 'default' always is), "
          "each named by its index and the field account_id; nothing of the request was "
          "stored."},
    503: {"model": WebhookProblem, "description": "Redis unreachable, on a Redis Cluster "
          "no replica confirmed the events in time, or more than "
          "SYNC_WEB_MAX_REQUESTS requests in progress; retry after Retry-After."},
}


def _reply(answer: Answer) -> Response:
    return JSONResponse(answer.body, answer.status, headers=answer.headers or None)


def _check_settings(settings: Settings) -> tuple[list[str], str]:
    if not settings.webhook_secrets:
        raise WebhookConfigError(
            "SYNC_WEBHOOK_SECRET is not set: the webhook refuses to run unsigned. Set it to "
            "the secret shared with the CRM (several, comma-separated, while rotating)."
        )
    if not settings.redis_url:
        raise WebhookConfigError(
            "REDIS_URL is not set: the webhook stores events in Redis. Point it at a Redis "
            "server (e.g. redis://localhost:6379/0), or use 'contact-sync run'."
        )
    return list(settings.webhook_secrets), settings.redis_url


# /metrics reads the service's state from the Redis of the newest app (one per process).
_metrics_client: list[redis.Redis] = []


GC_GEN0_THRESHOLD = 50_000


def tune_gc() -> None:
    """Garbage-collector settings for a process that parses 1,000-event bodies.

    Each request allocates tens of thousands of short-lived objects; with Python's default
    threshold (700) they trigger collections that walk every long-lived object of the
    process (FastAPI, pydantic schemas...). Freezing what exists after start-up and
    collecting the youngest generation less often gave ~1.3x the ingest rate in a quick
    measurement on a 2-core machine.
    """
    gc.collect()
    gc.freeze()
    gen0, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(max(gen0, GC_GEN0_THRESHOLD), gen1, gen2)


async def _beat(heart: Heart) -> None:
    """This web process's heartbeat for ``contact-sync status`` (a Redis outage only
    skips beats: readiness is /readyz's business)."""
    while True:
        with contextlib.suppress(redis.RedisError):
            await asyncio.to_thread(heart.beat)
        await asyncio.sleep(BEAT_EVERY_S)


def create_app(settings: Settings | None = None, *, tune_process_gc: bool = True) -> FastAPI:
    """The webhook app for ``settings`` (default: the environment). Raises
    :class:`WebhookConfigError` without a webhook secret or ``REDIS_URL``.

    ``tune_process_gc``: apply :func:`tune_gc` when the server starts (off in tests that
    serve the app inside the test process)."""
    settings = settings or get_settings()
    secrets, redis_url = _check_settings(settings)
    client = connect(redis_url)
    _metrics_client[:] = [client]

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if tune_process_gc:
            tune_gc()
        beating = asyncio.create_task(_beat(Heart(client, "web")))
        metrics = start_metrics_server(settings, lambda: _metrics_client[0])
        yield
        if metrics is not None:
            metrics.shutdown()
            metrics.server_close()
        beating.cancel()
        client.close()

    app = FastAPI(
        lifespan=lifespan,
        docs_url=None,  # served by mount_docs, without a CDN
        redoc_url=None,
        title="contact-sync",
        version="1",
        description="Contact changes from the CRM, signed with X-Sync-Signature "
        "(t=<unix seconds>,v1=<hex HMAC-SHA256(secret, '<t>.' + raw body)>); and the "
        "account API (/v1/accounts, Authorization: Bearer <one of SYNC_API_TOKENS>).",
    )
    app.state.redis = client
    mount_docs(app)
    mount_account_api(app, settings, client)
    mount_console(app, settings, client)
    app.add_middleware(RequestGuard, tokens=settings.api_tokens,
                       body_timeout=settings.web_body_timeout, skip=("POST", EVENTS_PATH))
    app.add_middleware(WebhookGuard, path=EVENTS_PATH, max_requests=settings.web_max_requests,
                       body_timeout=settings.web_body_timeout)

    @app.post(
        EVENTS_PATH,
        status_code=202,
        response_model=Accepted,
        responses=_RESPONSES,
        summary="Publish contact changes",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/EventBatch"}}}}},
    )
    async def contact_events(
        request: Request,
        x_sync_signature: Annotated[
            str | None, Header(alias=signature.HEADER, description="t=<unix>,v1=<hex>")
        ] = None,
    ) -> Response:
        # The body is read raw (not declared as a parameter): the signature covers its bytes.
        # WebhookGuard has read it already (at most 5 MB, within the body timeout).
        body = await request.body()
        # In a worker thread: while one request waits for Redis, the next one is parsed.
        answer = await run_in_threadpool(intake.handle, body, x_sync_signature, secrets, client)
        return _reply(answer)

    @app.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Redis is reachable",
             responses={503: {"model": WebhookProblem}})
    async def readyz() -> Response:
        try:
            await run_in_threadpool(client.ping)
        except redis.RedisError as error:
            log.warning("not ready: Redis unreachable (%s)", type(error).__name__)
            return JSONResponse({"detail": "Redis is unreachable"}, 503,
                                headers={"Retry-After": str(intake.RETRY_AFTER_SECONDS)})
        return JSONResponse({"status": "ready"})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        # Never a stack trace or an input value in the answer; the log has the trace.
        log.error("unexpected %s on %s %s", type(error).__name__, request.method,
                  request.url.path)
        if request.url.path.startswith(ACCOUNTS_PATH):
            return problem(500, "Internal error", "internal error; every account request "
                           "is safe to repeat: retry it")
        return JSONResponse({"detail": "internal error; the request may not have been "
                             "stored, retry it"}, 500)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            body = EventBatch.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(body.pop("$defs", {}))
            components["EventBatch"] = body
            schema["webhooks"] = crm_webhooks(components)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def __getattr__(name: str) -> Any:
    """``producers.webhook.app``: the app of the environment, built on first access."""
    if name == "app":
        built = create_app()
        globals()["app"] = built
        return built
    raise AttributeError(name)
