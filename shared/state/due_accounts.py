"""Which accounts the scheduler must look at, so that a tick costs O(accounts due), not
O(accounts).

Two sorted sets, member = account, score = when the scheduler should look at it next:

* :data:`shared.constants.DUE_PUSH` -- the push side. Whoever puts contacts into an
  account's pending set adds the account *afterwards* (:func:`note_pending`, ``ZADD NX``
  at :data:`ASAP`: an account already waiting for its interval keeps its later score). A finished
  batch sets the time the next one may start (:func:`look_at`); ``sync-now`` and a changed
  interval set "now". When the scheduler looks and finds nothing to do it either moves the
  score to when there will be (the interval's end, a running batch's recheck) or, when
  nothing is pending, removes the account with :func:`forget_if_idle`: ``ZREM``, *then*
  look at pending again and add it back if something arrived. Whatever the interleaving
  with a writer (pending, then ``ZADD NX``), an account with pending contacts is never
  left out of the index.
* :data:`shared.constants.DUE_REVERSE` -- the reverse side (list discovery and pulls,
  :mod:`workers.reverse.schedule`): every syncable account, scored by its next discovery
  or pull; a finished pull and newly found lists move it forward (``ZADD LT``).

Both are global keys next to the per-account ones, written in the same pipeline as, or
right after, the per-account change (never inside a per-account Lua script, which must
stay within one Redis Cluster slot). :func:`rebuild` adds every known account once per
scheduler process, which also carries an existing deployment over.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis

from shared import constants as keys
from shared.redis_text import as_text

DUE_PER_TICK = 1_000
"""At most this many accounts are looked at per tick (the rest in the next ones)."""


ASAP = 0.0
"""The score of "look at it at the next tick" (any clock's now is later)."""


def note_pending(pipe: Any, account: str) -> None:
    """After adding to ``account``'s pending set (in ``pipe`` or a client): look at it."""
    pipe.zadd(keys.DUE_PUSH, {account: ASAP}, nx=True)


def look_at(pipe: Any, account: str, at: float, *, sooner_only: bool = False) -> None:
    """The scheduler should look at ``account`` at ``at`` (earlier or later than now;
    ``sooner_only``: unless it already would earlier)."""
    pipe.zadd(keys.DUE_PUSH, {account: at}, lt=sooner_only)


def due(client: redis.Redis, key: str, now: float, limit: int = DUE_PER_TICK) -> list[str]:
    """Accounts of the index ``key`` to look at by ``now``, most overdue first."""
    found: list[Any] = client.zrangebyscore(key, "-inf", now, start=0, num=limit)
    return [as_text(account) for account in found]


def forget_if_idle(client: redis.Redis, account: str) -> None:
    """Take ``account`` out of the push index; back in if contacts are pending after all."""
    client.zrem(keys.DUE_PUSH, account)
    if client.exists(keys.pending(account)):
        note_pending(client, account)


def reverse_at(pipe: Any, account: str, at: float, *, sooner_only: bool = False) -> None:
    """The reverse schedule should look at ``account`` at ``at`` (``sooner_only``: unless
    it already would earlier)."""
    pipe.zadd(keys.DUE_REVERSE, {account: at}, lt=sooner_only)


def forget_reverse(client: redis.Redis, account: str) -> None:
    client.zrem(keys.DUE_REVERSE, account)


def rebuild(client: redis.Redis, accounts: Iterable[str]) -> None:
    """Every known account, looked at now unless it is already scheduled (pipelined)."""
    pipe = client.pipeline(transaction=False)
    for i, account in enumerate(accounts):
        pipe.zadd(keys.DUE_PUSH, {account: ASAP}, nx=True)
        pipe.zadd(keys.DUE_REVERSE, {account: ASAP}, nx=True)
        if i % 5_000 == 4_999:
            pipe.execute()
    pipe.execute()
