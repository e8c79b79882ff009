"""Forgetting an account: every record of it in Redis, and its place in the global indexes
(``DELETE /v1/accounts/{account}``; Klaviyo is not touched).

The keys are enumerated from the account's own indexes (its contact index, batch history,
known lists and their members), never by scanning the keyspace. A batch that runs while
the account is forgotten loses its batch and chunk records first: its actors find the batch
no longer running at their next step and end without writing (a step already under way
may still finish; what it writes is its own contact's records).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis

from shared import constants as keys
from shared.accounts import CONNECTION_FIELD, KEY_FIELD, OAUTH_FIELD
from shared.identity import IdentityMap
from shared.redis_text import as_text
from shared.state.batch_record import chunks_total
from shared.state.chunk_record import chunk_key
from shared.state.dry_run_cache import keys_of as dry_run_keys
from shared.telemetry import metrics

DELETE_STEP = 1_000


def _members(client: redis.Redis, key: str, kind: str) -> Iterator[str]:
    scan = {"set": client.sscan_iter, "hash": client.hscan_iter,
            "zset": client.zscan_iter}[kind]
    for item in scan(key, count=DELETE_STEP):
        yield as_text(item[0] if isinstance(item, tuple) else item)


def _account_keys(client: redis.Redis, account: str, connection: str | None
                  ) -> Iterator[str]:
    """Every key of the account, its running batch's first (so its actors stop)."""
    batch_ids: list[Any] = client.lrange(keys.batches(account), 0, -1)
    for batch_id in (as_text(b) for b in batch_ids):
        total = chunks_total(client, account, batch_id)
        yield keys.batch(account, batch_id)
        yield from (chunk_key(account, batch_id, i) for i in range(total))
        yield from (keys.batch_details(account, batch_id),
                    keys.batch_members(account, batch_id),
                    keys.batch_members_bulk(account, batch_id))
    yield from (keys.state(account), keys.batches(account), keys.pending(account),
                keys.pending_bulk(account))
    for list_id in list(_members(client, keys.lists(account), "hash")):
        for profile_id in _members(client, keys.list_members(account, list_id), "set"):
            yield keys.crm_member_queue(account, list_id, profile_id)
            yield keys.crm_member_last(account, list_id, profile_id)
        yield from (keys.list_members(account, list_id), keys.list_cursor(account, list_id),
                    keys.list_pushed(account, list_id))
    for contact_id in _members(client, keys.contact_times(account), "zset"):
        yield keys.contact(account, contact_id)
    # consent deliveries queue by profile under no list (shared/consent/ledger.py); every
    # profile the CRM sent is in the email identity map
    identity = IdentityMap(client, account)
    for profile_id in set(identity.profile_ids(DELETE_STEP)):
        yield keys.crm_member_queue(account, "", profile_id)
        yield keys.crm_member_last(account, "", profile_id)
    yield from (keys.contact_times(account), keys.contact_facets(account),
                *identity.record_keys(), keys.synced_contacts(account), keys.held_back(account),
                keys.rejected(account), keys.subscribers_stream(account),
                keys.lists(account), keys.pull_state(account), keys.crm_delivered(account),
                keys.list_owed(account), keys.phone_owners(account),
                keys.consent_ledger(account), *dry_run_keys(account, connection),
                keys.account_config(account), keys.account_config_log(account))


def forget_account(client: redis.Redis, account: str) -> int:
    """Delete every record of ``account`` and take it out of the global indexes; returns
    the number of keys deleted. Idempotent."""
    connection = client.hget(keys.account_config(account), CONNECTION_FIELD)
    with client.pipeline(transaction=False) as pipe:
        # first its credentials and connection id: every process stops calling Klaviyo for
        # it at its next call, and a token refresh in flight stores nothing
        pipe.hdel(keys.account_config(account), OAUTH_FIELD, CONNECTION_FIELD, KEY_FIELD)
        pipe.srem(keys.ACCOUNTS_SET, account)
        pipe.srem(keys.REFUSED_ACCOUNTS, account)
        pipe.srem(keys.REJECTING_ACCOUNTS, account)
        pipe.zrem(keys.DUE_PUSH, account)
        pipe.zrem(keys.DUE_REVERSE, account)
        pipe.hdel(keys.METRICS, *metrics.account_fields(account))  # its /metrics series
        pipe.execute()
    deleted = 0
    step: list[str] = []
    for key in _account_keys(client, account, None if connection is None
                             else as_text(connection)):
        step.append(key)
        if len(step) >= DELETE_STEP:
            deleted += int(client.delete(*step))
            step = []
    if step:
        deleted += int(client.delete(*step))
    return deleted
