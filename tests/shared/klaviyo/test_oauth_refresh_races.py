"""A token refresh in flight while the account is reconnected, disconnected or deleted:
the refresh's answer is never stored over what happened meanwhile (newest wins), the
call goes on with the new connection's token or stops, and the orphaned grant is revoked
at Klaviyo. Klaviyo's token endpoint is made slow by a real HTTP proxy in front of the
sandbox that holds every refresh until the test lets it go."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import httpx
import pytest
import redis

from sandbox.inspect_client import SandboxClient
from shared import constants as keys
from shared.account_service.settings import delete_account
from shared.klaviyo.client import build_client
from shared.klaviyo.errors import ReconnectNeeded
from shared.klaviyo.gateway import Gateway
from shared.klaviyo.oauth_flow import disconnect
from shared.klaviyo.oauth_session import OAuthSession
from shared.klaviyo.oauth_tokens import read_tokens, save_tokens
from shared.settings import Settings
from tests.support.oauth import connect_in_process, oauth_env

ACCOUNT = "acme"


class SlowTokenEndpoint:
    """``POST /oauth/token`` forwarded to the sandbox; a refresh waits for :meth:`release`
    (``arrived`` is set when one is waiting): its request before it reaches the sandbox
    (``hold="request"``), or the sandbox's answer on its way back (``"answer"``: Klaviyo
    has refreshed, the store comes late). Everything else passes at once."""

    def __init__(self, sandbox_url: str) -> None:
        self.hold: Literal["request", "answer"] = "answer"
        self.arrived = threading.Event()
        self.released = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                held = b"grant_type=refresh_token" in body
                if held and outer.hold == "request":
                    outer.arrived.set()
                    outer.released.wait(30)
                answer = httpx.post(sandbox_url + self.path, content=body, timeout=10, headers={
                    name: self.headers[name] for name in ("Authorization", "Content-Type")})
                if held and outer.hold == "answer":
                    outer.arrived.set()
                    outer.released.wait(30)
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("content-type", ""))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/oauth/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def release(self) -> None:
        self.released.set()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slow_token(sandbox: SandboxClient) -> Iterator[SlowTokenEndpoint]:
    proxy = SlowTokenEndpoint(sandbox.url)
    yield proxy
    proxy.close()


@pytest.fixture
def settings(sandbox: SandboxClient, redis_url: str, slow_token: SlowTokenEndpoint) -> Settings:
    return Settings(**oauth_env(sandbox.url), REDIS_URL=redis_url,  # type: ignore[arg-type]
                    KLAVIYO_OAUTH_TOKEN_URL=slow_token.url)


def _expire_stored(r: redis.Redis, settings: Settings) -> None:
    tokens = read_tokens(r, ACCOUNT, settings.secret_key)
    assert tokens is not None
    save_tokens(r, ACCOUNT, dataclasses.replace(tokens, expires_at=0.0), settings.secret_key)


def _create_profile_in_background(r: redis.Redis, settings: Settings,
                                  email: str) -> tuple[threading.Thread, list[BaseException]]:
    """A worker's call that must refresh first (its refresh is held by the proxy)."""
    failures: list[BaseException] = []

    def call() -> None:
        client = redis.Redis.from_url(str(settings.redis_url), decode_responses=True)
        api = build_client(None, settings.klaviyo_base_url, access_token="-")
        gateway = Gateway(client, "oauth-acme", auth=OAuthSession(client, settings, ACCOUNT,
                                                                   api))
        try:
            gateway.call("create_profile", api.Profiles.create_profile, {
                "data": {"type": "profile", "attributes": {"email": email}}})
        except BaseException as error:
            failures.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    return thread, failures


def _refresh_held_while(r: redis.Redis, settings: Settings, sandbox: SandboxClient,
                        slow_token: SlowTokenEndpoint,
                        meanwhile: Any) -> list[BaseException]:
    """Connect (the sandbox key ``sandbox.key``), expire the stored token, start a call
    whose refresh the proxy holds, run ``meanwhile``, let the refresh answer."""
    assert connect_in_process(r, settings, sandbox, ACCOUNT).error is None
    _expire_stored(r, settings)
    thread, failures = _create_profile_in_background(r, settings, "late@example.com")
    assert slow_token.arrived.wait(10), "the refresh never reached the token endpoint"
    meanwhile()
    slow_token.release()
    thread.join(30)
    assert not thread.is_alive()
    return failures


@pytest.mark.parametrize("hold", ["answer", "request"])
def test_a_refresh_in_flight_does_not_overwrite_a_reconnection_to_another_klaviyo_account(
        r: redis.Redis, settings: Settings, sandbox: SandboxClient,
        slow_token: SlowTokenEndpoint, hold: Literal["request", "answer"]) -> None:
    """``answer``: Klaviyo refreshed the old grant, the answer arrives after the reconnect;
    ``request``: the refresh reaches Klaviyo after the reconnect revoked the old grant
    (``invalid_grant``), which must not park the new connection ``reconnect_needed``."""
    slow_token.hold = hold
    other_key = sandbox.new_key()
    connected: list[Any] = []

    def reconnect() -> None:
        connected.append(connect_in_process(r, settings, sandbox, ACCOUNT, key=other_key))

    failures = _refresh_held_while(r, settings, sandbox, slow_token, reconnect)
    assert connected[0].error is None
    stored = read_tokens(r, ACCOUNT, settings.secret_key)
    assert stored is not None and stored.fresh(time.time())  # not the old grant's answer
    assert r.hget(keys.state(ACCOUNT), "connection") is None  # not reconnect_needed
    assert failures == []  # the call went on with the new connection's token ...
    assert sandbox.profile_by_email("late@example.com", key=other_key) is not None
    assert sandbox.profile_by_email("late@example.com") is None  # ... and only there
    # the old grant revoked (by the reconnection; its refreshed answer never stored)
    assert sandbox.oauth()["grants"] == {"live": 1, "revoked": 1}


@pytest.mark.parametrize("ending", ["disconnect", "delete"])
def test_a_refresh_in_flight_does_not_undo_a_disconnection_or_bring_a_deleted_account_back(
        r: redis.Redis, settings: Settings, sandbox: SandboxClient,
        slow_token: SlowTokenEndpoint, ending: str) -> None:
    end = {"disconnect": lambda: disconnect(r, settings, ACCOUNT),
           "delete": lambda: delete_account(r, settings, ACCOUNT)}[ending]
    failures = _refresh_held_while(r, settings, sandbox, slow_token, end)
    assert read_tokens(r, ACCOUNT, settings.secret_key) is None
    if ending == "delete":
        assert not r.exists(keys.account_config(ACCOUNT))
        assert not r.sismember(keys.ACCOUNTS_SET, ACCOUNT)
    assert [type(f) for f in failures] == [ReconnectNeeded]
    assert sandbox.profile_by_email("late@example.com") is None
    assert sandbox.oauth()["grants"] == {"live": 0, "revoked": 1}
