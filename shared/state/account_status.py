"""Each account's standing, read from Redis in a few pipelined round trips
(:data:`STATUS_SLICE` accounts per trip): contacts pending (and how many through a bulk
export), the running batch with its progress, the last batch, when the next is due,
rejected contacts, the Klaviyo connection, whether a key is set.

``contact-sync status`` and the account API's ``GET /v1/accounts`` both read it here.
"""

from __future__ import annotations

from typing import Any

import redis

from shared import constants as keys
from shared.accounts import KEY_FIELD, OAUTH_FIELD, unsyncable_reason
from shared.redis_text import as_text, as_texts, optional_float
from shared.state import account_health
from shared.state.batch_record import Batch, batch_from_raw
from shared.state.connection import PARKED_STATES


def known_accounts(client: redis.Redis) -> list[str]:
    """``default`` and every stored or seen account, sorted."""
    members = {as_text(name) for name in client.smembers(keys.ACCOUNTS_SET)}
    return sorted(members | {"default"})


def accounts_page(client: redis.Redis, cursor: int, limit: int) -> tuple[list[str], int]:
    """About ``limit`` accounts from ``cursor`` (0: the first page, with ``default``) and
    the next cursor (0: no more): ``SSCAN`` over the accounts set, so a page costs
    O(``limit``) whatever the number of accounts. In no particular order; an account may
    appear twice while Redis resizes the set (SSCAN's guarantee: none is left out)."""
    names: list[str] = ["default"] if cursor == 0 else []
    while True:
        cursor, found = client.sscan(keys.ACCOUNTS_SET, cursor, count=limit)
        names += [name for name in (as_text(n) for n in found) if name != "default"]
        if cursor == 0 or len(names) >= limit:
            return names, int(cursor)


STATUS_SLICE = 500
"""Accounts read per pipelined round trip."""


def _batch(batch_id: str | None, raw: dict[Any, Any]) -> Batch | None:
    return batch_from_raw(batch_id, raw) if batch_id else None


def account_statuses(client: redis.Redis, accounts: list[str],
                     now: float) -> list[dict[str, Any]]:
    """Each account's part of the report, :data:`STATUS_SLICE` accounts per round trip."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(accounts), STATUS_SLICE):
        part = accounts[start:start + STATUS_SLICE]
        pipe = client.pipeline(transaction=False)
        for account in part:
            pipe.hgetall(keys.state(account))
            pipe.zcard(keys.pending(account))
            pipe.zcard(keys.pending_bulk(account))
            pipe.hlen(keys.rejected(account))
            account_health.count_owed(pipe, account)
            pipe.exists(keys.account_config(account))
            pipe.hexists(keys.account_config(account), KEY_FIELD)
            pipe.hexists(keys.account_config(account), OAUTH_FIELD)
        answers = pipe.execute()
        width = 8
        states = [as_texts(answers[width * i]) for i in range(len(part))]
        batches = client.pipeline(transaction=False)
        for account, state in zip(part, states, strict=True):
            for field in ("running", "last_batch"):
                batches.hgetall(keys.batch(account, state.get(field) or "-"))
        records = batches.execute()
        for i, (account, raw_state) in enumerate(zip(part, states, strict=True)):
            batch = _batch(raw_state.get("running"), records[2 * i])
            running: dict[str, Any] = {}
            if batch:  # the record's declared fields only (a raw field may be personal)
                running = {**batch.summary(), "progress": batch.progress(),
                           "enqueued_at": optional_float(raw_state.get("enqueued_at"))}
            last = _batch(raw_state.get("last_batch"), records[2 * i + 1])
            counts = answers[width * i + 1:width * i + 5]
            configured, has_key, oauth = answers[width * i + 5:width * i + 8]
            found.append(_account_status(
                account, raw_state, running, last.summary() if last else {},
                [int(count) for count in counts], now,
                unsyncable_reason(account, bool(configured), bool(has_key or oauth)),
                bool(has_key), bool(oauth)))
    return found


def _account_status(account: str, raw_state: dict[str, str], running: dict[str, Any],
                    last: dict[str, Any], counts: list[int], now: float,
                    unsyncable: str | None, has_key: bool, oauth: bool) -> dict[str, Any]:
    pending, pending_bulk, rejected, owed = counts
    next_due = optional_float(raw_state.get("next_due"))
    connection = raw_state.get("connection")
    refused = connection in PARKED_STATES
    if running:
        due = "after the running batch"
    elif pending and unsyncable:
        due = "never: " + unsyncable
    elif pending and connection == "reconnect_needed":
        due = "once reconnected (Klaviyo refused the OAuth refresh)"
    elif refused and pending:
        due = "retried at next_due (Klaviyo refuses the account's credentials)"
    elif not pending:
        due = "when a contact changes"
    elif raw_state.get("force") or next_due is None or next_due <= now:
        due = "now"
    else:
        due = "at next_due"
    return {
        "account": account,
        "pending": pending,
        "pending_bulk": pending_bulk,
        "running": running or None,
        "last_batch": last or None,
        "next_due": next_due,
        "due": due,
        "rejected": rejected,
        "connection": {
            "state": connection if refused else "ok",
            "code": raw_state.get("connection_code") if refused else None,
            "detail": raw_state.get("connection_detail") if refused else None,
            "since": optional_float(raw_state.get("connection_since")) if refused else None,
        },
        "default_list_missing": raw_state.get("list_missing") or None,
        "owed_default_list": owed,
        "unsyncable": unsyncable,
        "klaviyo_key": has_key,
        "oauth": oauth,
    }
