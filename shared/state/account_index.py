"""The console's overview of every account, one page at a time, sorted by any column,
without reading every account per page.

The per-account facts live in per-account keys (:mod:`shared.state.account_status`); at
10,000 accounts, sorting them by pending contacts on each page view would read them all.
Instead one sorted set per column (:func:`shared.constants.console_account_index`:
account -> its value of the column) is built from one pipelined pass over every account
(:data:`SLICE` accounts per round trip), kept :data:`INDEX_TTL_S` seconds, and a page is
one ``ZRANGE`` of it plus the pipelined reads of that page's accounts
(:func:`shared.state.account_status.account_statuses`). The page's rows are live; their
order (and which accounts exist) is at most :data:`INDEX_TTL_S` old, as the page says.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import redis

from shared import constants as keys
from shared.redis_text import as_text, optional_float
from shared.state.account_status import known_accounts
from shared.state.batch_record import BatchField
from shared.state.connection import PARKED_STATES

Column = Literal["name", "state", "last_sync", "pending", "rejected"]
COLUMNS: tuple[Column, ...] = ("name", "state", "last_sync", "pending", "rejected")
INDEX_TTL_S = 30
"""Seconds an index is kept before the next page view builds it again."""
SLICE = 1000
"""Accounts read per pipelined round trip while building."""
BUILD_TTL_S = 300
"""The staging keys of a build expire after this (a build takes seconds)."""
STATE_ORDER = {"ok": 0, **{state: 1 + i for i, state in enumerate(sorted(PARKED_STATES))}}
"""``state`` sorts ok first, then the parked connection states."""


@dataclass(frozen=True)
class IndexPage:
    accounts: list[str]
    total: int
    built_at: float


def _scores(client: redis.Redis, part: list[str]) -> list[dict[Column, float]]:
    pipe = client.pipeline(transaction=False)
    for account in part:
        pipe.hmget(keys.state(account), ["connection", "last_batch"])
        pipe.zcard(keys.pending(account))
        pipe.hlen(keys.rejected(account))
    answers = pipe.execute()
    last = client.pipeline(transaction=False)
    for i, account in enumerate(part):
        batch_id = as_text(answers[3 * i][1] or b"") or "-"
        last.hget(keys.batch(account, batch_id), BatchField.COMPLETED_AT)
    completed = last.execute()
    scores: list[dict[Column, float]] = []
    for i in range(len(part)):
        connection = as_text(answers[3 * i][0] or b"")
        scores.append({"name": 0.0,
                       "state": float(STATE_ORDER.get(connection, 0)),
                       "last_sync": optional_float(as_text(completed[i] or b"")) or 0.0,
                       "pending": float(answers[3 * i + 1]),
                       "rejected": float(answers[3 * i + 2])})
    return scores


def build(client: redis.Redis, now: float | None = None) -> float:
    """Build every column's index from one pass over the accounts; returns when."""
    now = time.time() if now is None else now
    accounts = known_accounts(client)
    building = uuid.uuid4().hex[:12]  # two web processes may build at once: apart
    staged = {column: keys.console_account_index_staged(column, building)
              for column in COLUMNS}
    for start in range(0, len(accounts), SLICE):
        part = accounts[start:start + SLICE]
        scores = _scores(client, part)
        pipe = client.pipeline(transaction=False)
        for column in COLUMNS:
            pipe.zadd(staged[column], {account: score[column]
                                      for account, score in zip(part, scores, strict=True)})
            pipe.expire(staged[column], BUILD_TTL_S)  # a build cut short leaves nothing
        pipe.execute()
    pipe = client.pipeline(transaction=True)
    for column in COLUMNS:
        pipe.rename(staged[column], keys.console_account_index(column))
        pipe.expire(keys.console_account_index(column), INDEX_TTL_S)
    pipe.set(keys.console_account_index("built_at"), repr(now), ex=INDEX_TTL_S)
    pipe.execute()
    return now


def page(client: redis.Redis, column: Column, descending: bool, offset: int, size: int,
         *, rebuild: bool = False) -> IndexPage:
    """Accounts ``offset`` to ``offset + size`` in the order of ``column``; the index is
    built first when it has expired (or ``rebuild``)."""
    key = keys.console_account_index(column)
    pipe = client.pipeline(transaction=False)
    pipe.get(keys.console_account_index("built_at"))
    pipe.zcard(key)
    built, total = pipe.execute()
    stale = rebuild or built is None or not total
    built_at = build(client) if stale else float(as_text(built))
    pipe = client.pipeline(transaction=False)
    pipe.zcard(key)
    stop = offset + size - 1
    if descending:
        pipe.zrevrange(key, offset, stop)
    else:
        pipe.zrange(key, offset, stop)
    total, found = pipe.execute()
    names: list[Any] = found
    return IndexPage([as_text(name) for name in names], int(total), built_at)
