"""What the push actors share: Redis, the account's Klaviyo access, delayed re-sends, and
the atomic "chunk done" step that completes a batch exactly once."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, ParamSpec

import dramatiq
import redis
from klaviyo_api import KlaviyoAPI

from shared import constants as keys
from shared.accounts import AccountConfig, AccountStore
from shared.klaviyo.client import client_for, klaviyo_account_id
from shared.klaviyo.errors import AccountRefused, ReconnectNeeded
from shared.klaviyo.gateway import Gateway
from shared.klaviyo.oauth_session import session_for
from shared.lua_scripts import lua_script
from shared.redis_client import connect
from shared.redis_text import as_text
from shared.settings import get_settings
from shared.state import account_health as health
from shared.state.batch_details import record_details
from shared.state.batch_history import hash_of
from shared.state.batch_record import Batch, count_args, read_batch
from workers.batch_lifecycle import complete_batch, fail_batch
from workers.broker import current_redis_url

P = ParamSpec("P")
log = logging.getLogger(__name__)


class BatchRefused(Exception):
    """Klaviyo refused a request of the batch for a reason that is neither a contact's nor
    the account's credentials (a 400 that names no row): the batch is given up, its
    contacts go back to pending. The message holds Klaviyo's code and title only."""


@cache
def state_redis(url: str) -> redis.Redis:
    return connect(url)


def redis_for_actors() -> redis.Redis:
    """A decoded client on the broker's Redis (all state lives there)."""
    url = current_redis_url() or get_settings().redis_url
    if not url:
        raise RuntimeError("REDIS_URL is not set")
    return state_redis(url)


@dataclass
class Klaviyo:
    """One account's Klaviyo: the SDK client and the gateway all calls go through."""

    account: AccountConfig
    api: KlaviyoAPI
    gateway: Gateway


_clients: dict[tuple[str, str], KlaviyoAPI] = {}


def stops_on_account_problems(fn: Callable[P, None]) -> Callable[P, None]:
    """For push actors whose first two arguments are (account, batch id): a refusal of the
    account's credentials parks the account (:mod:`shared.state.account_health`) and stops the
    batch, a :class:`BatchRefused` gives the batch up; in both cases its contacts go back to
    pending and nobody is marked rejected."""

    @functools.wraps(fn)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            fn(*args, **kwargs)
        except AccountRefused as refused:
            account, batch_id = str(args[0]), str(args[1])
            client = redis_for_actors()
            now = time.time()
            if not isinstance(refused, ReconnectNeeded):  # that one is parked already
                health.park_refused(client, account, refused.code, refused.detail, now)
            log.warning("account %s: Klaviyo refused its credentials (%s %s); batch %s "
                        "stopped, its contacts wait", account, refused.status, refused.code,
                        batch_id)
            interval = max(health.REFUSED_RETRY_S, _interval(client, account))
            fail_batch(client, account, batch_id, f"account refused: {refused.code}", now,
                       interval=interval)
        except BatchRefused as refused:
            account, batch_id = str(args[0]), str(args[1])
            client = redis_for_actors()
            log.error("account %s: batch %s given up: %s", account, batch_id, refused)
            fail_batch(client, account, batch_id, str(refused), time.time())

    return guarded


def _interval(client: redis.Redis, account: str) -> float:
    try:
        return account_config(client, account).interval
    except Exception:  # removed meanwhile: the default pace
        return get_settings().interval


def klaviyo_for(client: redis.Redis, account: AccountConfig) -> Klaviyo:
    """SDK clients are kept per (base URL, key) so their HTTP pools are reused; an OAuth
    account's gateway puts a fresh access token on its client before each call."""
    ident = klaviyo_account_id(account)
    cache_key = (account.klaviyo_base_url, ident)
    if cache_key not in _clients:
        _clients[cache_key] = client_for(account, get_settings().tuning.klaviyo_read_timeout)
    api = _clients[cache_key]
    auth = session_for(client, get_settings(), account, api)
    return Klaviyo(account, api, Gateway(client, ident, auth=auth))


def account_config(client: redis.Redis, account: str) -> AccountConfig:
    return AccountStore(client, get_settings()).get(account)


def resend(actor: dramatiq.Actor[Any, Any], args: tuple[str, ...], delay_s: float) -> None:
    """The same message again after ``delay_s`` (instead of sleeping in this thread)."""
    actor.send_with_options(args=args, delay=max(1, int(delay_s * 1000)))


def hash_without(client: redis.Redis, key: str, *left_out: str) -> dict[str, str]:
    """:func:`hash_of` without the fields ``left_out``: a chunk's ``payload`` is megabytes,
    and only the thread building its request body should hold it."""
    every: list[Any] = client.hkeys(key)  # type: ignore[assignment]
    names = [name for name in map(as_text, every) if name not in left_out]
    values: list[Any] = client.hmget(key, names) if names else []  # type: ignore[assignment]
    return {n: as_text(v) for n, v in zip(names, values, strict=True) if v is not None}


CHUNK_DONE = lua_script(__file__, "chunk_done.lua")


def chunk_done(client: redis.Redis, account: str, batch_id: str, chunk_id: str,
               counts: dict[str, int]) -> None:
    """Mark the chunk done and add its counts -- once, however often it is redelivered --
    then complete the batch if every chunk is done (the completion is idempotent too)."""
    done, total = CHUNK_DONE(
        client,
        keys=[keys.chunk(account, batch_id, chunk_id), keys.batch(account, batch_id)],
        args=count_args(counts),
    )
    if int(done) >= int(total):
        finish_batch(client, account, batch_id)


def finish_batch(client: redis.Redis, account: str, batch_id: str) -> None:
    batch = read_batch(client, account, batch_id) or Batch(batch_id, status=None)
    if complete_batch(client, account, batch_id, batch.final_report(), time.time()):
        health.clear_refused(client, account)


__all__ = ["BatchRefused", "Klaviyo", "account_config",
           "chunk_done", "finish_batch", "hash_of", "hash_without", "klaviyo_for",
           "record_details",
           "redis_for_actors", "resend", "stops_on_account_problems"]
