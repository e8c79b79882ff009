"""Problems of an account, as opposed to problems of its contacts.

Two of them, both kept in the account's state hash (:func:`shared.constants.state`):

* **refused**: Klaviyo answered 401/403 to the account's credentials (a wrong or revoked
  key, a missing scope). The running batch stops and its contacts go back to pending,
  nobody is marked rejected; the scheduler tries again at most every
  :data:`REFUSED_RETRY_S`; a new key clears it at once (:func:`settings_changed`). Fields
  ``connection`` (``refused``), ``connection_code``, ``connection_detail``,
  ``connection_since``; the names of refused accounts are also in
  :data:`shared.constants.REFUSED_ACCOUNTS` (the ``contact_sync_accounts_refused`` gauge).
* **default list missing**: the default list was refused by Klaviyo (deleted there). Chunks
  go without it; the first-time contacts of those chunks are *owed* the list
  (:func:`shared.constants.list_owed`) and join it once a default list is set again.
  Fields ``list_missing`` (the list id), ``list_missing_since``. The owed set is read and
  written here only: :func:`owe_list`, :func:`owed`, :func:`count_owed`,
  :func:`settle_owed` (a chunk that joined them to the list, an erasure).

Neither field holds personal data: codes and Klaviyo's own sentences about credentials.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis

from shared import constants as keys
from shared.redis_cluster import transaction
from shared.redis_text import as_text
from shared.state import connection as connection_state
from shared.state import due_accounts
from shared.state.account_state import StateField, force_next_batch
from shared.state.connection import CONNECTION_FIELDS, PARKED_STATES

REFUSED_RETRY_S = 900.0
"""The slowest pace of retries of a refused account: one batch per 15 minutes at most."""
LIST_FIELDS = (StateField.LIST_MISSING, StateField.LIST_MISSING_SINCE)


@dataclass(frozen=True)
class Connection:
    """Whether Klaviyo takes the account's credentials, as last seen."""

    state: str
    """``ok``, ``refused`` or ``reconnect_needed`` (an OAuth refresh was refused)."""
    code: str = ""
    detail: str = ""
    since: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "code": self.code or None,
                "detail": self.detail or None, "since": self.since}


def park_refused(client: redis.Redis, account: str, code: str, detail: str,
                 now: float) -> None:
    """Record that Klaviyo refuses the account's credentials (the first refusal's time is
    kept while it lasts)."""
    with transaction(client) as pipe:
        connection_state.park(pipe, account, "refused", code, detail, now)
        pipe.execute()


def clear_refused(client: redis.Redis, account: str) -> None:
    """The account's credentials work (again)."""
    with transaction(client) as pipe:
        connection_state.clear(pipe, account)
        pipe.execute()


def connection(client: redis.Redis, account: str) -> Connection:
    values = client.hmget(keys.state(account), list(CONNECTION_FIELDS))
    state, code, detail, since = (None if v is None else as_text(v) for v in values)
    if state not in PARKED_STATES:
        return Connection("ok")
    return Connection(state or "", code or "", detail or "", float(since) if since else None)


def refused_accounts(client: redis.Redis) -> int:
    return int(client.scard(keys.REFUSED_ACCOUNTS))


def mark_list_missing(client: redis.Redis, account: str, list_id: str, now: float) -> None:
    client.hset(keys.state(account), mapping={"list_missing": list_id,
                                               "list_missing_since": repr(now)})


def missing_list(client: redis.Redis, account: str) -> str | None:
    """The default list id Klaviyo refused, or None."""
    value = client.hget(keys.state(account), "list_missing")
    return as_text(value) if value else None


def owe_list(pipe: Any, account: str, contact_ids: Iterable[str]) -> None:
    """Remember contacts that should have joined the default list (in ``pipe``)."""
    ids = list(contact_ids)
    if ids:
        pipe.sadd(keys.list_owed(account), *ids)


def owed(client: redis.Redis, account: str, contact_ids: list[str]) -> set[str]:
    """Those of ``contact_ids`` that are owed the default list."""
    if not contact_ids or not client.exists(keys.list_owed(account)):
        return set()
    flags = client.smismember(keys.list_owed(account), contact_ids)
    return {cid for cid, flag in zip(contact_ids, flags, strict=True) if flag}


def count_owed(pipe: Any, account: str) -> None:
    """Queue the number of contacts owed the default list (answered with ``pipe``)."""
    pipe.scard(keys.list_owed(account))


def settle_owed(pipe: Any, account: str, contact_ids: Iterable[str]) -> None:
    """These contacts are no longer owed the list: they joined it, or are erased (in
    ``pipe``)."""
    ids = list(contact_ids)
    if ids:
        pipe.srem(keys.list_owed(account), *ids)


def settings_changed(client: redis.Redis, account: str, fields: Iterable[str],
                     now: float) -> None:
    """React to a stored change of an account's settings: a new Klaviyo key clears a
    refusal and makes the account due at once; a new default list clears ``list missing``
    and puts the contacts owed a list back into pending, so the next batch adds them."""
    changed = set(fields)
    if "klaviyo_api_key" in changed and connection(client, account).state != "ok":
        clear_refused(client, account)
        force_next_batch(client, account)  # the same key given again stores nothing,
        # so nothing else tells the scheduler
    if "default_list_id" in changed:
        client.hdel(keys.state(account), *LIST_FIELDS)
        owed_ids = [as_text(c) for c in client.smembers(keys.list_owed(account))]
        for start in range(0, len(owed_ids), 10_000):
            part = owed_ids[start:start + 10_000]
            client.zadd(keys.pending(account), dict.fromkeys(part, now), nx=True)
        if owed_ids:
            due_accounts.note_pending(client, account)
