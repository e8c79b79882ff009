"""A big account's next-sync dry run, kept in Redis between the request that asked for it
and the ones that fetch it (``GET /v1/accounts/{a}/syncs/next``,
:mod:`shared.account_service.next_sync`).

Two keys per account and Klaviyo connection (:func:`shared.constants.dry_run`; the
connection is the OAuth connection's id, :data:`shared.accounts.CONNECTION_FIELD`, or
``key`` for an account with a private key):

- the lock (``...:lock``), ``SET NX`` with a TTL of :data:`LOCK_TTL_S`, held by the one web
  thread computing the dry run, which renews it after each slice it plans and deletes it
  when done; a web process that dies meanwhile leaves it to expire, and the next request
  starts again;
- the result, JSON ``{signature, computed_at, result}`` kept :data:`KEPT_S` seconds: the
  dry run's counts and contact ids (never an email, phone or name) and the
  :func:`signature` of what it was computed from. A result whose signature is no longer
  the account's is never served.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import redis

from shared import constants as keys
from shared import token_lock
from shared.accounts import AccountConfig
from shared.redis_text import as_text
from shared.state.account_state import StateField

KEPT_S = 300
"""How long a computed dry run is served (while its signature holds)."""
LOCK_TTL_S = 60
"""The lock's life without a renewal (a slice of 5,000 contacts takes a few seconds)."""
NO_KEY_CONNECTION = "key"
SIGNED_STATE = (StateField.RUNNING, StateField.LAST_BATCH, StateField.LIST_MISSING)
"""The state fields a dry run depends on: a batch started or ended, the list refused."""


@dataclass(frozen=True)
class Kept:
    """A computed dry run and what it was computed from."""

    signature: str
    computed_at: datetime
    result: dict[str, Any]


def _key(config: AccountConfig, lock: bool = False) -> str:
    return keys.dry_run(config.name, config.connection_id or NO_KEY_CONNECTION, lock)


def keys_of(account: str, connection: str | None) -> list[str]:
    """Every key of the account's dry runs: its key's and its connection's (forgetting an
    account deletes them; they would expire anyway)."""
    found = {NO_KEY_CONNECTION, connection or NO_KEY_CONNECTION}
    return [keys.dry_run(account, c, lock) for c in sorted(found) for lock in (False, True)]


def signature(client: redis.Redis, config: AccountConfig) -> str:
    """A digest of what the account's dry run depends on: its pending contacts and their
    times (``DUMP`` of the sorted set: one value, however big; ~35 ms for 100,000), how
    many of them are bulk, its settings (their ``updated_at`` included) and its batch
    state. Equal digests: the same dry run; a change of any of them changes it."""
    account = config.name
    with client.pipeline(transaction=False) as pipe:
        pipe.dump(keys.pending(account))
        pipe.zcard(keys.pending_bulk(account))
        pipe.hmget(keys.state(account), [str(f) for f in SIGNED_STATE])
        dumped, bulk, state = pipe.execute()
    digest = hashlib.sha256(dumped or b"")
    digest.update(orjson.dumps([int(bulk), [as_text(v) if v else None for v in state],
                                config.model_dump(mode="json")],
                               option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()


def read(client: redis.Redis, config: AccountConfig) -> Kept | None:
    raw = client.get(_key(config))
    if raw is None:
        return None
    value = orjson.loads(as_text(raw))
    return Kept(value["signature"], datetime.fromisoformat(value["computed_at"]),
                value["result"])


def store(client: redis.Redis, config: AccountConfig, kept: Kept) -> None:
    value = {"signature": kept.signature, "computed_at": kept.computed_at.isoformat(),
             "result": kept.result}
    client.set(_key(config), orjson.dumps(value), ex=KEPT_S)


def take_lock(client: redis.Redis, config: AccountConfig, token: str) -> bool:
    """Whether ``token`` now holds the account's dry-run lock (nobody held it)."""
    return bool(client.set(_key(config, lock=True), token, nx=True, ex=LOCK_TTL_S))


def renew_lock(client: redis.Redis, config: AccountConfig, token: str) -> None:
    token_lock.extend(client, _key(config, lock=True), token, LOCK_TTL_S * 1000)


def release_lock(client: redis.Redis, config: AccountConfig, token: str) -> None:
    token_lock.release(client, _key(config, lock=True), token)
