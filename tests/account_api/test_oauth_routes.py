"""The OAuth routes of ``web`` over real HTTP, with the sandbox as Klaviyo: start answers
302 to a single-use launch URL, which -- opened in the user's browser -- sets the cookie
binding the flow to that browser and 302s to Klaviyo's authorize URL (PKCE S256, a
single-use state); the callback, in that browser only, 302s back to ``return_to`` with
``connected=1`` or ``error=...``. A replayed, unknown or expired state, or the callback in
another browser, is refused (a page for a person, problem+json for an API client); only
allowed origins are redirected to; disconnect and delete revoke at Klaviyo."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis

from sandbox.inspect_client import SandboxClient
from shared import constants as keys
from shared.klaviyo.oauth_tokens import OAUTH_FIELD
from tests.producers.helpers import Webhook, running_webhook
from tests.support.oauth import (
    CRM_ORIGIN,
    PUBLIC_URL,
    RETURN_TO,
    Browser,
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


@pytest.fixture
def browser(web: Webhook) -> Iterator[Browser]:
    opened = Browser(web.base_url)
    yield opened
    opened.close()


def _start(web: Webhook, account: str = "acme", return_to: str = RETURN_TO,
           headers: dict[str, str] | None = None) -> httpx.Response:
    """The CRM's back end asks for a connection of ``account``."""
    return web.http.get(f"/v1/accounts/{account}/klaviyo/oauth/start",
                        params={"return_to": return_to},
                        headers=AUTH if headers is None else headers)


def _launch_url(web: Webhook, account: str = "acme") -> str:
    started = _start(web, account)
    assert started.status_code == 302, started.text
    return str(started.headers["location"])


def test_start_launch_consent_callback_connects_the_account_and_returns_connected_1(
        web: Webhook, browser: Browser, sandbox: SandboxClient, r: redis.Redis) -> None:
    launch_url = _launch_url(web)
    assert launch_url.startswith(f"{PUBLIC_URL}/v1/oauth/klaviyo/authorize?flow=")
    opened = browser.http.get(browser.here(launch_url))
    assert opened.status_code == 302
    cookie = opened.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert "Path=/v1/oauth/klaviyo/callback" in cookie and "Max-Age=600" in cookie
    authorize = opened.headers["location"]
    params = query_of(authorize)
    assert authorize.startswith(f"{sandbox.url}/oauth/authorize?")
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert params["redirect_uri"] == f"{PUBLIC_URL}/v1/oauth/klaviyo/callback"
    assert set(params["scope"].split()) >= {"profiles:write", "lists:write",
                                             "subscriptions:write"}
    back = browser.back_from_klaviyo(consent_callback(sandbox, authorize))
    assert back.status_code == 302
    assert back.headers["location"] == RETURN_TO + "&connected=1"
    assert r.hexists(keys.account_config("acme"), OAUTH_FIELD)
    assert sandbox.oauth()["counts"]["authorization_code"] == 1
    assert not browser.http.cookies  # the flow's cookie is gone with it


def test_the_cookie_is_secure_when_the_public_url_is_https(
        redis_url: str, sandbox: SandboxClient) -> None:
    env = {**oauth_env(sandbox.url), "SYNC_API_TOKENS": TOKEN,
           "SYNC_PUBLIC_URL": "https://sync.example"}
    with running_webhook(redis_url, env=env) as server:
        launch_url = _launch_url(server).replace("https://sync.example", "")
        opened = server.http.get(launch_url)
    assert opened.status_code == 302 and "Secure" in opened.headers["set-cookie"]


def test_the_authorize_url_finished_in_another_browser_connects_nothing(
        web: Webhook, browser: Browser, sandbox: SandboxClient, r: redis.Redis) -> None:
    """RFC 9700 §4.7: the tenant's flow, opened by its user, leaks (or a stranger plants
    theirs); whoever approves it in another browser gets nothing connected."""
    authorize = browser.open_launch(_launch_url(web))
    strangers_key = sandbox.new_key()
    callback = consent_callback(sandbox, authorize, key=strangers_key)  # a stranger consents
    stranger = Browser(web.base_url)
    try:
        without_cookie = stranger.back_from_klaviyo(callback)
        stranger.open_launch(_launch_url(web, "other"))  # a cookie of its own flow
        with_own_cookie = stranger.back_from_klaviyo(callback)
    finally:
        stranger.close()
    for refused in (without_cookie, with_own_cookie):
        assert refused.status_code == 400 and "location" not in refused.headers
        assert refused.headers["content-type"].startswith("text/html")
        assert "started in another browser" in refused.text
    assert not r.hexists(keys.account_config("acme"), OAUTH_FIELD)
    assert sandbox.oauth()["counts"]["authorization_code"] == 0  # the code was not used
    api_client = web.http.get(callback.replace(PUBLIC_URL, ""))  # no cookie, wants JSON
    assert api_client.status_code == 400
    assert api_client.headers["content-type"] == "application/problem+json"


def test_a_denied_consent_returns_with_klaviyos_error_and_stores_nothing(
        web: Webhook, browser: Browser, sandbox: SandboxClient, r: redis.Redis) -> None:
    back = browser.connect(sandbox, _launch_url(web), allow=False)
    assert back.status_code == 302
    assert back.headers["location"] == RETURN_TO + "&error=access_denied"
    assert not r.exists(keys.account_config("acme"))


def test_a_reloaded_callback_or_an_expired_state_shows_a_page_saying_what_to_do(
        web: Webhook, browser: Browser, sandbox: SandboxClient, r: redis.Redis) -> None:
    authorize = browser.open_launch(_launch_url(web))
    callback = consent_callback(sandbox, authorize)
    assert browser.back_from_klaviyo(callback).status_code == 302
    reloaded = browser.back_from_klaviyo(callback)
    assert reloaded.status_code == 400 and "location" not in reloaded.headers
    assert reloaded.headers["content-type"].startswith("text/html")
    assert "already finished or has expired" in reloaded.text
    assert "start the Klaviyo connection again" in reloaded.text
    as_api = web.http.get(callback.replace(PUBLIC_URL, ""))  # an API client: a problem
    assert as_api.status_code == 400
    assert as_api.headers["content-type"] == "application/problem+json"
    assert as_api.json()["title"] == "Invalid OAuth state"
    made_up = web.http.get("/v1/oauth/klaviyo/callback", params={"state": "x", "code": "x"})
    assert made_up.status_code == 400
    stale = consent_callback(sandbox, browser.open_launch(_launch_url(web, "other")))
    for key in r.scan_iter(keys.oauth_state("*")):
        r.delete(key)  # what its ten minutes do
    expired = browser.back_from_klaviyo(stale)
    assert expired.status_code == 400 and "already finished or has expired" in expired.text
    assert not r.exists(keys.account_config("other"))


def test_a_launch_url_works_once(web: Webhook, browser: Browser) -> None:
    launch_url = _launch_url(web)
    browser.open_launch(launch_url)
    again = browser.http.get(browser.here(launch_url))
    assert again.status_code == 400 and "expired or was already used" in again.text


@pytest.mark.parametrize("return_to", [
    "https://evil.example/steal", f"{CRM_ORIGIN}.evil.example/", "http://[::1",
    "https://crm.example\uff03@evil.example", "https://crm.example:99999/",
    "https://user@crm.example/", "https://\uff43rm.example/", "javascript:alert(1)"])
def test_a_return_to_not_on_an_allowed_origin_or_not_a_url_is_a_422_naming_it(
        web: Webhook, return_to: str) -> None:
    refused = _start(web, return_to=return_to)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "return_to"


def test_start_needs_the_bearer(web: Webhook) -> None:
    assert _start(web, headers={}).status_code == 401
    assert _start(web, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_disconnect_revokes_the_grant_at_klaviyo_and_forgets_the_tokens(
        web: Webhook, browser: Browser, sandbox: SandboxClient, r: redis.Redis) -> None:
    browser.connect(sandbox, _launch_url(web))
    gone = web.http.delete("/v1/accounts/acme/klaviyo", headers=AUTH)
    assert gone.status_code == 204
    assert sandbox.oauth()["grants"] == {"live": 0, "revoked": 1}
    assert not r.hexists(keys.account_config("acme"), OAUTH_FIELD)
    assert web.http.delete("/v1/accounts/nobody/klaviyo", headers=AUTH).status_code == 404


def test_deleting_an_account_revokes_its_grant_before_forgetting_it(
        web: Webhook, browser: Browser, sandbox: SandboxClient, r: redis.Redis) -> None:
    browser.connect(sandbox, _launch_url(web))
    assert web.http.delete("/v1/accounts/acme", headers=AUTH).status_code == 204
    assert sandbox.oauth()["grants"] == {"live": 0, "revoked": 1}
    assert not r.exists(keys.account_config("acme"))


def test_a_reconnection_revokes_the_grant_it_replaces(
        web: Webhook, browser: Browser, sandbox: SandboxClient) -> None:
    browser.connect(sandbox, _launch_url(web))
    back = browser.connect(sandbox, _launch_url(web), key=sandbox.new_key())
    assert back.headers["location"] == RETURN_TO + "&connected=1"
    assert sandbox.oauth()["grants"] == {"live": 1, "revoked": 1}


@pytest.mark.parametrize(("unset", "named"), [
    ({"KLAVIYO_OAUTH_CLIENT_ID": "", "KLAVIYO_OAUTH_CLIENT_SECRET": ""},
     "set KLAVIYO_OAUTH_CLIENT_ID and KLAVIYO_OAUTH_CLIENT_SECRET"),
    ({"SYNC_PUBLIC_URL": ""}, "set SYNC_PUBLIC_URL (")])
def test_without_an_oauth_setting_start_is_a_404_naming_exactly_what_is_missing(
        redis_url: str, sandbox: SandboxClient, unset: dict[str, str], named: str) -> None:
    env = {**oauth_env(sandbox.url), "SYNC_API_TOKENS": TOKEN, **unset}
    with running_webhook(redis_url, env=env) as server:
        answer = _start(server)
    assert answer.status_code == 404
    assert named in answer.json()["detail"]
