"""What every actor runs with: the state Redis (the broker's), an account's config and
its Klaviyo (SDK client and gateway), and delayed re-sends."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import dramatiq
import redis
from klaviyo_api import KlaviyoAPI

from shared.accounts import AccountConfig, AccountStore
from shared.klaviyo.client import client_for, klaviyo_account_id
from shared.klaviyo.gateway import Gateway
from shared.klaviyo.oauth_session import session_for
from shared.settings import get_settings
from workers.runtime.broker import current_redis_url, state_client


def state_redis(url: str) -> redis.Redis:
    """The process's client on the state of ``url`` (the broker's set-up shares it)."""
    return state_client(url)


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


SDK_CLIENTS_KEPT = 256
"""SDK clients (each with its HTTP connection pool) a worker process keeps, the most
recently used: a worker serving 10,000 accounts, or an account whose key changed, would
otherwise hold one for every key it ever used."""

_clients: OrderedDict[tuple[str, str], KlaviyoAPI] = OrderedDict()
_clients_lock = threading.Lock()


def _sdk_client(account: AccountConfig, ident: str) -> KlaviyoAPI:
    cache_key = (account.klaviyo_base_url, ident)
    with _clients_lock:
        api = _clients.get(cache_key)
        if api is not None:
            _clients.move_to_end(cache_key)
            return api
        api = _clients[cache_key] = client_for(account,
                                               get_settings().tuning.klaviyo_read_timeout)
        while len(_clients) > SDK_CLIENTS_KEPT:
            _, dropped = _clients.popitem(last=False)
            # idle connections close now; one in use closes when its call ends
            dropped.api_client.rest_client.pool_manager.clear()
        return api


def klaviyo_for(client: redis.Redis, account: AccountConfig) -> Klaviyo:
    """SDK clients are kept per (base URL, key) so their HTTP pools are reused, at most
    :data:`SDK_CLIENTS_KEPT` of them; an OAuth account's gateway puts a fresh access token
    on its client before each call."""
    ident = klaviyo_account_id(account)
    api = _sdk_client(account, ident)
    auth = session_for(client, get_settings(), account, api)
    return Klaviyo(account, api, Gateway(client, ident, auth=auth))


def account_config(client: redis.Redis, account: str) -> AccountConfig:
    return AccountStore(client, get_settings()).get(account)


def resend(actor: dramatiq.Actor[Any, Any], args: tuple[str, ...], delay_s: float) -> None:
    """The same message again after ``delay_s`` (instead of sleeping in this thread)."""
    actor.send_with_options(args=args, delay=max(1, int(delay_s * 1000)))


__all__ = ["Klaviyo", "account_config", "klaviyo_for", "redis_for_actors", "resend"]
