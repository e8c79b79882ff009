"""The account state record: the hash :func:`shared.constants.state`, the scheduling state
of one account, its fields, its readers and the writes Python makes to it.

Who writes what:

- ``workers/push/start_batch.lua`` sets ``running`` and ``started_at`` (and drops ``force``
  and ``enqueued_at``); ``workers/push/complete_batch.lua`` sets ``completed_at``,
  ``next_due``, ``last_batch``, ``last_completed`` and drops ``running``, ``started_at``,
  ``enqueued_at``;
- the scheduler, through :func:`mark_enqueued` (``enqueued_at``);
- ``sync-now``, a new Klaviyo key or a new OAuth connection, through
  :func:`request_sync_now` / :func:`force_next_batch` (``force``);
- :mod:`shared.state.connection` (the ``connection*`` fields: a refused or disconnected
  account) and :mod:`shared.state.account_health` (``list_missing*``), each its own group
  of fields, named here.

Everything that reads the scheduling fields reads them here, by :class:`StateField`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import redis

from shared import constants as keys
from shared.redis_text import as_text, as_texts
from shared.state import due_accounts


class StateField(StrEnum):
    """The state hash's fields."""

    RUNNING = "running"
    """The running batch's id (absent: none runs)."""
    STARTED_AT = "started_at"
    ENQUEUED_AT = "enqueued_at"
    """The scheduler handed the running batch to Dramatiq (crash recovery)."""
    COMPLETED_AT = "completed_at"
    """When the last batch ended (absent: the account never had one)."""
    NEXT_DUE = "next_due"
    LAST_BATCH = "last_batch"
    LAST_COMPLETED = "last_completed"
    FORCE = "force"
    """``1``: a batch is due at the next tick, interval or not."""
    CONNECTION = "connection"
    CONNECTION_CODE = "connection_code"
    CONNECTION_DETAIL = "connection_detail"
    CONNECTION_SINCE = "connection_since"
    LIST_MISSING = "list_missing"
    LIST_MISSING_SINCE = "list_missing_since"


TIMES = (StateField.STARTED_AT, StateField.ENQUEUED_AT, StateField.COMPLETED_AT,
         StateField.NEXT_DUE)
"""The fields that hold an epoch time."""


def account_state(client: redis.Redis, account: str) -> dict[str, Any]:
    """The scheduling state of an account, times as floats."""
    raw: Any = client.hgetall(keys.state(account))
    state: dict[str, Any] = as_texts(raw)
    for name in TIMES:
        if name in state:
            state[name] = float(state[name])
    return state


def _field(client: redis.Redis, account: str, name: StateField) -> str | None:
    value = client.hget(keys.state(account), name)
    return None if value is None else as_text(value)


def running_batch(client: redis.Redis, account: str) -> str | None:
    """The id of the account's running batch, or None."""
    return _field(client, account, StateField.RUNNING) or None


def last_completed_id(client: redis.Redis, account: str) -> str | None:
    """The id of the account's last completed batch, or None."""
    return _field(client, account, StateField.LAST_COMPLETED) or None


def never_completed(client: redis.Redis, account: str) -> bool:
    """True while no batch of the account ever ended (its first sync is still to come)."""
    return _field(client, account, StateField.COMPLETED_AT) is None


def is_forced(client: redis.Redis, account: str) -> bool:
    """True when a batch was asked for, interval or not (``sync-now`` during a batch)."""
    return bool(client.hexists(keys.state(account), StateField.FORCE))


def force_next_batch(pipe: Any, account: str) -> None:
    """Queue on ``pipe`` (or run on a client): the account's next batch is due at the next
    tick, interval or not, and the scheduler's index is told."""
    pipe.hset(keys.state(account), StateField.FORCE, "1")
    due_accounts.look_at(pipe, account, due_accounts.ASAP)


def request_sync_now(client: redis.Redis, account: str) -> None:
    """Make the account due at the scheduler's next tick, interval or not (``sync-now``);
    still never while a batch of it runs."""
    force_next_batch(client, account)


def mark_enqueued(client: redis.Redis, account: str, batch_id: str, now: float) -> bool:
    """Record that the running batch was handed to the batch actor (crash recovery)."""
    if running_batch(client, account) != batch_id:
        return False
    client.hset(keys.state(account), StateField.ENQUEUED_AT, repr(now))
    return True
