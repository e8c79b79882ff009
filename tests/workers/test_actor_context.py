"""The Klaviyo an actor gets (workers/runtime/actor_context.py), against the sandbox."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from shared.settings import get_settings
from tests.workers.push_harness import PushAccount, prepare_env
from workers.runtime import actor_context
from workers.runtime.actor_context import klaviyo_for


def test_a_worker_keeps_the_sdk_clients_of_its_most_recent_accounts_only(
        r: redis.Redis, redis_url: str, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    prepare_env(monkeypatch, redis_url, sandbox.url)
    monkeypatch.setattr(actor_context, "SDK_CLIENTS_KEPT", 2)
    monkeypatch.setattr(actor_context, "_clients", type(actor_context._clients)())
    accounts = [PushAccount(r, sandbox) for _ in range(3)]
    used = []
    for account in accounts:
        klaviyo = klaviyo_for(r, account.store.get(account.name))
        klaviyo.api.Lists.get_lists()  # opens a connection to the sandbox
        used.append(klaviyo.api)
    first_pools: Any = used[0].api_client.rest_client.pool_manager.pools
    assert len(actor_context._clients) == 2 and len(first_pools) == 0  # closed, forgotten
    newest = accounts[2].store.get(accounts[2].name)
    assert klaviyo_for(r, newest).api is used[2]
    again = klaviyo_for(r, accounts[0].store.get(accounts[0].name))
    assert again.api is not used[0]
    assert again.api.Lists.get_lists()["data"] == []  # a new client, working
    get_settings.cache_clear()
