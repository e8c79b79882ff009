"""The OAuth routes of ``web`` over real HTTP, with the sandbox as Klaviyo: start answers
302 to the authorize URL (PKCE S256, a single-use state), the callback 302s back to
``return_to`` with ``connected=1`` or ``error=...``, a replayed, unknown or expired state is
refused, only allowed origins are redirected to, and disconnect revokes at Klaviyo."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis

from sandbox.inspect_client import SandboxClient
from shared import constants as keys
from shared.accounts import OAUTH_FIELD
from tests.producers.helpers import Webhook, running_webhook
from tests.support.oauth import (
    CRM_ORIGIN,
    PUBLIC_URL,
    RETURN_TO,
    consent_callback,
    oauth_env,
    query_of,
)

TOKEN = "api-token-1"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def web(redis_url: str, sandbox: SandboxClient) -> Iterator[Webhook]:
    with running_webhook(redis_url, env={**oauth_env(sandbox.url),
                                         "SYNC_API_TOKENS": TOKEN}) as server:
        yield server


def _start(web: Webhook, account: str = "acme", return_to: str = RETURN_TO,
           headers: dict[str, str] | None = None) -> httpx.Response:
    return web.http.get(f"/v1/accounts/{account}/klaviyo/oauth/start",
                        params={"return_to": return_to},
                        headers=AUTH if headers is None else headers)


def _callback(web: Webhook, callback_url: str) -> httpx.Response:
    """The browser arriving at web's callback (SYNC_PUBLIC_URL stands for this server)."""
    return web.http.get(callback_url.replace(PUBLIC_URL, ""))


def test_start_consent_callback_connects_the_account_and_returns_connected_1(
        web: Webhook, sandbox: SandboxClient, r: redis.Redis) -> None:
    started = _start(web)
    assert started.status_code == 302
    authorize = started.headers["location"]
    params = query_of(authorize)
    assert authorize.startswith(f"{sandbox.url}/oauth/authorize?")
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert params["redirect_uri"] == f"{PUBLIC_URL}/v1/oauth/klaviyo/callback"
    assert set(params["scope"].split()) >= {"profiles:write", "lists:write",
                                             "subscriptions:write"}
    back = _callback(web, consent_callback(sandbox, authorize))
    assert back.status_code == 302
    assert back.headers["location"] == RETURN_TO + "&connected=1"
    assert r.hexists(keys.account_config("acme"), OAUTH_FIELD)
    assert sandbox.oauth()["counts"]["authorization_code"] == 1


def test_a_denied_consent_returns_with_klaviyos_error_and_stores_nothing(
        web: Webhook, sandbox: SandboxClient, r: redis.Redis) -> None:
    callback = consent_callback(sandbox, _start(web).headers["location"], allow=False)
    back = _callback(web, callback)
    assert back.status_code == 302
    assert back.headers["location"] == RETURN_TO + "&error=access_denied"
    assert not r.exists(keys.account_config("acme"))


def test_a_replayed_unknown_or_expired_state_is_refused(
        web: Webhook, sandbox: SandboxClient, r: redis.Redis) -> None:
    callback = consent_callback(sandbox, _start(web).headers["location"])
    assert _callback(web, callback).status_code == 302
    replayed = _callback(web, callback)
    assert replayed.status_code == 400
    assert replayed.headers["content-type"] == "application/problem+json"
    assert "location" not in replayed.headers
    foreign = web.http.get("/v1/oauth/klaviyo/callback",
                           params={"state": "made-up", "code": "x"})
    assert foreign.status_code == 400
    stale = consent_callback(sandbox, _start(web, "other").headers["location"])
    for key in r.scan_iter(keys.oauth_state("*")):
        r.delete(key)  # what its ten minutes do
    assert _callback(web, stale).status_code == 400
    assert not r.exists(keys.account_config("other"))


def test_return_to_must_be_on_an_allowed_origin_and_start_needs_the_bearer(
        web: Webhook) -> None:
    refused = _start(web, return_to="https://evil.example/steal")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "return_to"
    assert _start(web, return_to=f"{CRM_ORIGIN}.evil.example/").status_code == 422
    assert _start(web, headers={}).status_code == 401
    assert _start(web, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_disconnect_revokes_the_grant_at_klaviyo_and_forgets_the_tokens(
        web: Webhook, sandbox: SandboxClient, r: redis.Redis) -> None:
    _callback(web, consent_callback(sandbox, _start(web).headers["location"]))
    gone = web.http.delete("/v1/accounts/acme/klaviyo", headers=AUTH)
    assert gone.status_code == 204
    assert sandbox.oauth()["grants"] == {"live": 0, "revoked": 1}
    assert not r.hexists(keys.account_config("acme"), OAUTH_FIELD)
    assert web.http.delete("/v1/accounts/nobody/klaviyo", headers=AUTH).status_code == 404


def test_without_an_oauth_app_start_is_a_404_saying_so(
        redis_url: str, sandbox: SandboxClient) -> None:
    with running_webhook(redis_url, env={"SYNC_API_TOKENS": TOKEN,
                                         "KLAVIYO_BASE_URL": sandbox.url}) as server:
        answer = _start(server)
    assert answer.status_code == 404
    assert "KLAVIYO_OAUTH_CLIENT_ID" in answer.json()["detail"]
