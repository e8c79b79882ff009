"""An OAuth account's calls through the gateway, against the sandbox's OAuth server: tokens
stored encrypted, refreshed before they expire, once for every worker, after a 401 once,
and a refused refresh parking the account ``reconnect_needed``."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest
import redis

from sandbox.inspect_client import SandboxClient
from shared import constants as keys
from shared.accounts import CONNECTION_FIELD, AccountStore
from shared.klaviyo.client import build_client, klaviyo_account_id
from shared.klaviyo.errors import AccountRefused, ReconnectNeeded
from shared.klaviyo.gateway import Gateway
from shared.klaviyo.oauth_session import OAuthSession
from shared.klaviyo.oauth_tokens import read_tokens, save_tokens
from shared.settings import Settings
from tests.support.oauth import RETURN_TO, connect_in_process, oauth_settings

ACCOUNT = "acme"


@pytest.fixture
def settings(sandbox: SandboxClient, redis_url: str) -> Settings:
    return oauth_settings(sandbox.url, redis_url)


def _connect(r: redis.Redis, settings: Settings, sandbox: SandboxClient,
             key: str | None = None) -> None:
    assert connect_in_process(r, settings, sandbox, ACCOUNT, key=key,
                              return_to=RETURN_TO).error is None


def _gateway(r: redis.Redis, settings: Settings) -> tuple[Gateway, Any]:
    api = build_client(None, settings.klaviyo_base_url, access_token="-")
    session = OAuthSession(r, settings, ACCOUNT, api)
    return Gateway(r, "oauth-acme", auth=session), api


def _expire_stored(r: redis.Redis, settings: Settings) -> None:
    """The stored access token is past its refresh margin (as an hour later)."""
    tokens = read_tokens(r, ACCOUNT, settings.secret_key)
    assert tokens is not None
    save_tokens(r, ACCOUNT, dataclasses.replace(tokens, expires_at=0.0), settings.secret_key)


def _all_redis_text(r: redis.Redis) -> str:
    seen = []
    for key in r.scan_iter(count=1000):
        kind = r.type(key)
        if kind == "string":
            seen.append(str(r.get(key)))
        elif kind == "hash":
            seen.append(str(r.hgetall(key)))
        elif kind == "list":
            seen.append(str(r.lrange(key, 0, -1)))
    return "\n".join(seen)


def test_a_connected_account_calls_klaviyo_with_bearer_tokens_stored_only_encrypted(
        r: redis.Redis, settings: Settings, sandbox: SandboxClient) -> None:
    _connect(r, settings, sandbox)
    gateway, api = _gateway(r, settings)
    gateway.call("create_profile", api.Profiles.create_profile, {
        "data": {"type": "profile", "attributes": {"email": "ada@example.com"}}})
    assert sandbox.profile_by_email("ada@example.com") is not None
    tokens = read_tokens(r, ACCOUNT, settings.secret_key)
    assert tokens is not None
    stored = _all_redis_text(r)
    assert tokens.access_token not in stored and tokens.refresh_token not in stored
    assert "sandbox-secret" not in stored
    assert tokens.access_token not in repr(tokens)
    config = AccountStore(r, settings).get(ACCOUNT)
    assert config.oauth_connected and config.unsyncable_reason is None
    assert config.public_view()["klaviyo_key"] == "connected (OAuth)"


def test_a_token_about_to_expire_is_refreshed_before_the_call_and_the_rotation_stored(
        r: redis.Redis, settings: Settings, sandbox: SandboxClient) -> None:
    _connect(r, settings, sandbox)
    before = read_tokens(r, ACCOUNT, settings.secret_key)
    _expire_stored(r, settings)
    gateway, api = _gateway(r, settings)
    gateway.call("get_profiles", api.Profiles.get_profiles)
    after = read_tokens(r, ACCOUNT, settings.secret_key)
    assert before is not None and after is not None
    assert after.refresh_token != before.refresh_token
    assert sandbox.oauth()["counts"]["refresh_token"] == 1
    assert sandbox.calls()["get_profiles"] == {"200": 1}  # no 401 first


def test_a_401_refreshes_once_and_retries_the_call(
        r: redis.Redis, settings: Settings, sandbox: SandboxClient) -> None:
    _connect(r, settings, sandbox)
    gateway, api = _gateway(r, settings)
    gateway.call("get_profiles", api.Profiles.get_profiles)
    sandbox.expire_access_tokens()  # early death (revoked upstream, clocks apart)
    gateway.call("get_profiles", api.Profiles.get_profiles)
    assert sandbox.calls()["get_profiles"] == {"200": 2, "401": 1}
    assert sandbox.oauth()["counts"]["refresh_token"] == 1


def test_workers_refreshing_at_once_use_one_refresh(
        r: redis.Redis, settings: Settings, sandbox: SandboxClient) -> None:
    _connect(r, settings, sandbox)
    _expire_stored(r, settings)
    ready = threading.Barrier(4)
    failures: list[BaseException] = []

    def worker() -> None:
        client = redis.Redis.from_url(str(settings.redis_url), decode_responses=True)
        gateway, api = _gateway(client, settings)
        ready.wait()
        try:
            gateway.call("get_profiles", api.Profiles.get_profiles)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sandbox.oauth()["counts"]["refresh_token"] == 1
    assert sandbox.oauth()["grants"] == {"live": 1, "revoked": 0}


def test_a_refused_refresh_parks_the_account_reconnect_needed(
        r: redis.Redis, settings: Settings, sandbox: SandboxClient) -> None:
    _connect(r, settings, sandbox)
    sandbox.uninstall_app()
    _expire_stored(r, settings)
    gateway, api = _gateway(r, settings)
    with pytest.raises(ReconnectNeeded) as refused:
        gateway.call("get_profiles", api.Profiles.get_profiles)
    assert isinstance(refused.value, AccountRefused) and refused.value.code == "invalid_grant"
    assert r.hget(keys.state(ACCOUNT), "connection") == "reconnect_needed"
    assert "get_profiles" not in sandbox.calls()
    _connect(r, settings, sandbox)  # a new connection clears it
    assert r.hget(keys.state(ACCOUNT), "connection") is None
    assert r.hget(keys.state(ACCOUNT), "force") == "1"


def test_an_oauth_account_counts_against_a_quota_apart_from_a_private_keys(
        r: redis.Redis, settings: Settings, sandbox: SandboxClient) -> None:
    store = AccountStore(r, settings)
    store.add("keyed", sandbox.key)
    keyed = store.get("keyed")
    _connect(r, settings, sandbox)
    oauth = store.get(ACCOUNT)
    assert klaviyo_account_id(oauth).startswith("oauth-")
    assert klaviyo_account_id(oauth) != klaviyo_account_id(keyed)


def test_a_key_set_after_the_connection_replaces_it(
        r: redis.Redis, settings: Settings, sandbox: SandboxClient) -> None:
    _connect(r, settings, sandbox)
    store = AccountStore(r, settings)
    assert store.get(ACCOUNT).oauth_connected
    after = store.set(ACCOUNT, klaviyo_api_key=sandbox.key)
    assert not after.oauth_connected and after.klaviyo_api_key is not None


def test_tokens_stored_before_connection_ids_keep_working_and_adopt_one_at_their_refresh(
        r: redis.Redis, settings: Settings, sandbox: SandboxClient) -> None:
    _connect(r, settings, sandbox)
    r.hdel(keys.account_config(ACCOUNT), CONNECTION_FIELD)  # as an older release stored them
    gateway, api = _gateway(r, settings)
    gateway.call("get_profiles", api.Profiles.get_profiles)
    assert r.hget(keys.account_config(ACCOUNT), CONNECTION_FIELD) is None
    _expire_stored(r, settings)
    gateway.call("get_profiles", api.Profiles.get_profiles)
    assert r.hget(keys.account_config(ACCOUNT), CONNECTION_FIELD)  # adopted at the refresh
    assert sandbox.calls()["get_profiles"] == {"200": 2}
    assert sandbox.oauth()["counts"]["refresh_token"] == 1
