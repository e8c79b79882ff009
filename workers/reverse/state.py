"""What the reverse sync remembers per account, in Redis.

* :func:`shared.constants.lists` -- list id -> JSON :class:`KnownList` (written by discovery
  only: name, found_at, gone_at);
* :func:`shared.constants.list_cursor` -- per list: ``joined_group_at`` (epoch s, the cursor),
  ``last_pull_at``, ``members_pulled`` (written by pulls only), so discovery and pulls never
  overwrite each other's fields;
* :func:`shared.constants.pull_state` -- per account: ``discovered_at``,
  ``discovery_enqueued_on``, ``pull_running_since``, ``pull_started_at``, ``pull_ended_at``,
  ``removals_on``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import redis
from pydantic import BaseModel

from shared import constants as keys
from shared.redis_cluster import transaction
from shared.redis_text import as_texts
from shared.state import due_accounts


class KnownList(BaseModel):
    """A Klaviyo list as discovery recorded it."""

    id: str
    name: str
    found_at: float
    gone_at: float | None = None

    @property
    def active(self) -> bool:
        return self.gone_at is None


def text_hash(client: redis.Redis, key: str) -> dict[str, str]:
    """A hash with text keys and values, whatever the client's decoding."""
    raw: dict[Any, Any] = client.hgetall(key)  # type: ignore[assignment]
    return as_texts(raw)


def known_lists(client: redis.Redis, account: str) -> list[KnownList]:
    """Every list discovery ever found (gone ones included), by name then id."""
    found = [KnownList.model_validate_json(raw)
             for raw in text_hash(client, keys.lists(account)).values()]
    return sorted(found, key=lambda known: (known.name.lower(), known.id))


def save_lists(client: redis.Redis, account: str, changed: list[KnownList]) -> None:
    """Record what discovery found; the account's first pull of them is then due."""
    if changed:
        pipe = client.pipeline(transaction=False)
        pipe.hset(keys.lists(account),
                  mapping={known.id: known.model_dump_json() for known in changed})
        due_accounts.reverse_at(pipe, account, due_accounts.ASAP, sooner_only=True)
        pipe.execute()


def end_pull(client: redis.Redis, account: str, now: float, interval: float,
             removals_on: str | None = None) -> None:
    """Record the end of a pull (``removals_on``: the day of a full pass); the next one is
    due ``interval`` seconds later."""
    state_key = keys.pull_state(account)
    pipe = transaction(client)
    pipe.hset(state_key, "pull_ended_at", repr(now))
    if removals_on:
        pipe.hset(state_key, "removals_on", removals_on)
    pipe.hdel(state_key, "pull_running_since")
    due_accounts.reverse_at(pipe, account, now + interval, sooner_only=True)
    pipe.execute()


def pull_state(client: redis.Redis, account: str) -> dict[str, str]:
    return text_hash(client, keys.pull_state(account))


def list_cursor(client: redis.Redis, account: str, list_id: str) -> dict[str, str]:
    return text_hash(client, keys.list_cursor(account, list_id))


def utc_day(now: float) -> str:
    """``YYYY-MM-DD`` of an epoch time, in UTC."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def iso_seconds(epoch: float) -> str:
    """An epoch time as ISO 8601 UTC, floored to the second (Klaviyo's precision): never
    later than ``epoch``."""
    return datetime.fromtimestamp(int(epoch), UTC).isoformat()
