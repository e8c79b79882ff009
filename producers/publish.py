"""``publish()``: contact changes from Python code inside the CRM, without HTTP.

    from producers.publish import publish
    publish([{"event_id": "evt-1", "account_id": "acme", "type": "contact.upserted",
              "occurred_at": "2026-11-22T10:00:00Z", "contact": {"id": "C-1"}}])

Events are validated like the webhook's (a :class:`PublishError` names each bad event's
index and field, and nothing of the call is stored; so does an event for an account that is
not configured, :mod:`producers.account_gate`) and appended with origin ``publish``.
:class:`Publisher` keeps one connection for many calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Any

import redis

from producers.account_gate import check_accounts
from producers.event_stream import append_events
from producers.validation import MAX_EVENTS, SchemaError, validate_events
from shared.events import ContactEvent
from shared.redis_client import RedisNotConfigured, connect
from shared.settings import get_settings


class PublishError(SchemaError):
    """Events that do not fit the contract; ``errors`` lists index, field and message."""


def _events(items: Iterable[ContactEvent | dict[str, Any]]) -> list[ContactEvent]:
    try:
        return validate_events(items)
    except SchemaError as error:
        raise PublishError(error.errors, error.total) from None


class Publisher:
    """Publishes events over one Redis connection (``redis_url`` or ``REDIS_URL``)."""

    def __init__(self, redis_url: str | None = None, *, client: redis.Redis | None = None):
        if client is None:
            url = redis_url or get_settings().redis_url
            if not url:
                raise RedisNotConfigured(
                    "publish() needs a Redis: pass redis_url or set REDIS_URL")
            client = connect(url)
            self._owned = True
        else:
            self._owned = False
        self.client = client

    def publish(self, events: Iterable[ContactEvent | dict[str, Any]]) -> int:
        """Validate every event, then append them (origin ``publish``); returns how many.

        All are validated, and their accounts checked, before any is stored. Up to 1,000
        events go in one atomic step; a larger call is stored in steps of 1,000 (a Redis
        failure midway raises ``redis.RedisError`` with the earlier steps stored --
        publishing again is harmless).
        """
        valid = _events(events)
        try:
            check_accounts(self.client, [(e.account_id, e.event_id) for e in valid])
        except SchemaError as error:
            raise PublishError(error.errors, error.total) from None
        stored = 0
        for start in range(0, len(valid), MAX_EVENTS):
            stored += append_events(self.client, valid[start:start + MAX_EVENTS], "publish")
        return stored

    def close(self) -> None:
        if self._owned:
            self.client.close()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def publish(events: Iterable[ContactEvent | dict[str, Any]], redis_url: str | None = None) -> int:
    """Validate and append ``events`` (origin ``publish``); returns how many were stored.
    Raises :class:`PublishError` naming each bad event's index and field."""
    with Publisher(redis_url) as publisher:
        return publisher.publish(events)
