"""One webhook request, from raw bytes to an answer: signature, parsing, storing.

Framework-free, so the order of the checks (docs/ARCHITECTURE.md §1) reads in one place:
size -> signature -> JSON -> count -> schema -> configured accounts -> Redis. The FastAPI app
(:mod:`producers.webhook`) only reads the body and turns an :class:`Answer` into a response.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from producers import signature
from producers.account_gate import UnknownAccounts, check_accounts
from producers.event_stream import append_wire_events
from producers.validation import NotJson, SchemaError, TooManyEvents, parse_batch
from shared.redis_cluster import NotReplicated
from shared.telemetry.exposition import count_events_received, count_events_refused
from shared.wire_events import WireEvent

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 5 * 1024 * 1024
"""At most 5 MB per request (docs/ARCHITECTURE.md §1)."""
RETRY_AFTER_SECONDS = 5
"""What a 503 tells the CRM to wait before retrying."""


@dataclass(frozen=True)
class Answer:
    """The status, JSON body and extra headers of the webhook's reply."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def refuse(status: int, reason: str, detail: str, **extra: Any) -> Answer:
    """A refusal, counted by ``reason`` (the ``reason`` label of the refused counter)."""
    count_events_refused(reason)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else {}
    return Answer(status, {"detail": detail, **extra}, headers)


def too_large(what: str) -> Answer:
    return refuse(413, "too_large",
                  f"request too large: {what}; at most 5 MB and 1000 events per request")


def check(body: bytes, signature_header: str | None,
          secrets: Sequence[str]) -> list[WireEvent] | Answer:
    """The events of a body whose size was already checked, or the refusal."""
    try:
        signature.verify(signature_header, body, secrets)
    except signature.SignatureError as error:
        log.warning("refused webhook request: %s", error)
        return refuse(401, "signature", str(error))
    try:
        return parse_batch(body)
    except NotJson as error:
        return refuse(400, "not_json", str(error))
    except TooManyEvents as error:
        return refuse(413, "too_large", str(error))
    except SchemaError as error:
        where = (f"{'-' if e.index is None else e.index}:{e.event_id or '?'}:{e.field}"
                 for e in error.errors[:20])
        log.warning("refused a request with %d schema error(s), nothing stored: %s",
                    error.total, ", ".join(where))
        return refuse(
            422, "schema",
            f"{error.total} schema error(s); nothing of this request was stored",
            errors=[e.as_dict() for e in error.errors],
        )


def _redis_down(events: Sequence[WireEvent], error: redis.RedisError) -> Answer:
    log.error("Redis unreachable, %d events refused with 503: %s",
              len(events), type(error).__name__)
    return refuse(503, "redis_down",
                  "the event store (Redis) is unreachable; nothing was stored, retry later")


def refuse_unknown_accounts(events: Sequence[WireEvent], client: redis.Redis) -> Answer | None:
    """A 422 naming each event (index, ``account_id``) whose account is not configured,
    a 503 when Redis cannot say, or ``None`` when every account is configured."""
    try:
        check_accounts(client, [(e["account_id"], e["event_id"]) for e in events])
    except UnknownAccounts as error:
        log.warning("refused a request with %d event(s) for unconfigured accounts, nothing "
                    "stored: event indexes %s", error.total,
                    ", ".join(str(e.index) for e in error.errors[:20]))
        return refuse(
            422, "unknown_account",
            f"{error.total} event(s) for accounts that are not configured; nothing of this "
            "request was stored",
            errors=[e.as_dict() for e in error.errors],
        )
    except redis.RedisError as error:
        return _redis_down(events, error)
    return None


def store(events: Sequence[WireEvent], client: redis.Redis) -> Answer:
    """Append checked events (origin ``webhook``): 202 once Redis has them, else 503."""
    try:
        stored = append_wire_events(client, events, "webhook")
    except NotReplicated:
        log.error("no replica confirmed %d events in time; refused with 503", len(events))
        return refuse(503, "redis_not_replicated",
                      "the event store's replica did not confirm the events in time; they "
                      "may not survive a failover, retry later")
    except redis.RedisError as error:
        return _redis_down(events, error)
    count_events_received(stored, source="webhook")
    if events:
        log.info("accepted %d events (%s .. %s)", stored, events[0]["event_id"],
                 events[-1]["event_id"])
        if log.isEnabledFor(logging.DEBUG):
            log.debug("accepted event ids: %s", ", ".join(e["event_id"] for e in events))
    return Answer(202, {"accepted": stored})


def handle(
    body: bytes, signature_header: str | None, secrets: Sequence[str], client: redis.Redis
) -> Answer:
    """Check, parse and store one request body whose size was already checked."""
    checked = check(body, signature_header, secrets)
    if isinstance(checked, Answer):
        return checked
    return refuse_unknown_accounts(checked, client) or store(checked, client)
