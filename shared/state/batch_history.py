"""Reading an account's batches: one batch, the last completed one and the history (newest
first, :data:`workers.push.lifecycle.BATCHES_KEPT` kept). The account's scheduling state
(the running batch, ``sync-now``) is :mod:`shared.state.account_state`.

The batch life cycle itself (start, complete, fail, retire) is written by
:mod:`workers.push.lifecycle`; the CLI and the account API read it here.
"""

from __future__ import annotations

from typing import Any

import redis

from shared import constants as keys
from shared.redis_text import as_text, as_texts
from shared.state.account_state import last_completed_id
from shared.state.batch_record import read_batch


def hash_of(client: redis.Redis, key: str) -> dict[str, str]:
    """A whole hash as text (absent: ``{}``)."""
    raw: dict[Any, Any] = client.hgetall(key)
    return as_texts(raw)


def batch_info(client: redis.Redis, account: str, batch_id: str) -> dict[str, Any]:
    """:meth:`Batch.summary` of the batch: ``{batch_id, status, started_at, size, bulk,
    completed_at?, report?}``; ``{}`` when the batch is unknown."""
    batch = read_batch(client, account, batch_id)
    return batch.summary() if batch else {}


def last_completed(client: redis.Redis, account: str) -> dict[str, Any] | None:
    """:func:`batch_info` of the account's last completed batch, or None."""
    batch_id = last_completed_id(client, account)
    return batch_info(client, account, batch_id) or None if batch_id else None


def recent_batches(client: redis.Redis, account: str, limit: int = 10) -> list[dict[str, Any]]:
    """:func:`batch_info` of the account's newest batches, newest first."""
    ids: list[Any] = client.lrange(keys.batches(account), 0, limit - 1)
    return [info for info in (batch_info(client, account, as_text(i)) for i in ids) if info]

