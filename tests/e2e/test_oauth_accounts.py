"""An account connected through OAuth, end to end on the Procfile's real processes with the
sandbox as Klaviyo: the CRM's page starts the connection, the user approves it on
Klaviyo's consent page, the callback answers ``connected=1``; the account's changes then
sync over Bearer tokens that keep expiring during batches of several chunks, without a
failed contact; when the user uninstalls the app the account is ``reconnect_needed`` and its
changes wait (nothing rejected) until it is connected again. No token and no client secret
shows in any process's output, in ``status`` or in Redis."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from sandbox.inspect_client import SandboxClient
from sandbox.server import free_port
from shared import constants as keys
from shared.klaviyo.oauth_tokens import read_tokens
from tests.e2e.pipeline import PROCESSES, Account, Pipeline, start_all
from tests.support.oauth import RETURN_TO, Browser, consent_callback, oauth_env, query_of
from tests.support.process_stack import ProcessStack, wait_until

TOKEN = "crm-backend-token"
CODES: list[str] = []
"""The authorization codes the browser carried (one use each; never to be logged either)."""


@pytest.fixture
def pipeline(process_stack: ProcessStack, sandbox: SandboxClient) -> Iterator[Pipeline]:
    process_stack.env.update(oauth_env(sandbox.url, process_stack.env["SYNC_SECRET_KEY"]))
    process_stack.env.update(SYNC_API_TOKENS=TOKEN, SYNC_CHUNK_MAX_PROFILES="4")
    sandbox.set_access_token_ttl(1)  # tokens die within every batch
    sandbox.set_jobs("async", 0, processing_ms=150)
    for name in PROCESSES:
        process_stack.start(name)
    running = Pipeline(process_stack, sandbox)
    yield running
    running.close()


def _connect(pipeline: Pipeline, account: Account) -> str:
    """The CRM's page: start (its back end), the launch in the user's browser, the user's
    consent in Klaviyo, the browser's callback."""
    http, web = pipeline.stack.http, pipeline.stack.web_url
    started = http.get(f"{web}/v1/accounts/{account.name}/klaviyo/oauth/start",
                       params={"return_to": RETURN_TO},
                       headers={"Authorization": f"Bearer {TOKEN}"})
    assert started.status_code == 302, started.text
    browser = Browser(web)
    try:
        authorize = browser.open_launch(started.headers["location"])
        callback = consent_callback(pipeline.sandbox, authorize, key=account.key)
        CODES.append(query_of(callback)["code"])
        back = browser.back_from_klaviyo(callback)
    finally:
        browser.close()
    assert back.status_code == 302, back.text
    return str(back.headers["location"])


def _list_names(pipeline: Pipeline, account: Account) -> set[str]:
    """The default-list drop-down of the account API (web's process)."""
    shown = pipeline.stack.http.get(
        f"{pipeline.stack.web_url}/v1/accounts/{account.name}/klaviyo/lists",
        headers={"Authorization": f"Bearer {TOKEN}"})
    assert shown.status_code == 200, shown.text
    return {item["name"] for item in shown.json()}


def _wave(pipeline: Pipeline, account: Account, first: int, count: int) -> list[dict[str, object]]:
    return [pipeline.upsert(account, f"C{n}", 10 + n) for n in range(first, first + count)]


def test_an_oauth_account_syncs_over_expiring_tokens_and_waits_for_a_reconnection(
        pipeline: Pipeline, sandbox: SandboxClient) -> None:
    account = Account("oauth-acme", sandbox.new_key())
    assert _connect(pipeline, account) == RETURN_TO + "&connected=1"

    first = pipeline.sync(account, _wave(pipeline, account, 0, 12))  # 3 chunks
    sandbox.expire_access_tokens()  # and once more, by surprise, between batches
    second = pipeline.sync(account, _wave(pipeline, account, 12, 8))
    assert first["created"] + second["created"] == 20
    assert first.get("rejected", 0) == second.get("rejected", 0) == 0
    assert len(pipeline.profiles(account)) == 20
    assert sandbox.oauth()["counts"]["refresh_token"] >= 1
    assert sandbox.oauth()["grants"] == {"live": 1, "revoked": 0}  # no refresh was doubled

    sandbox.uninstall_app(account.key)
    pipeline.post(_wave(pipeline, account, 20, 5))
    state = keys.state(account.name)
    wait_until(lambda: pipeline.r.hget(state, "connection") == "reconnect_needed", 60,
               f"reconnect_needed ({pipeline.stack.output('worker')[-1500:]!r})")
    wait_until(lambda: not pipeline.r.hget(state, "running")
               and pipeline.r.zcard(keys.pending(account.name)) == 5, 60,
               "the refused batch's contacts back in pending")
    assert pipeline.r.hlen(keys.rejected(account.name)) == 0
    assert len(pipeline.profiles(account)) == 20
    shown_api = pipeline.stack.http.get(f"{pipeline.stack.web_url}/v1/accounts/{account.name}",
                                        headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert shown_api["connection"]["kind"] == "oauth"
    assert shown_api["connection"]["state"] == "reconnect_needed"
    status = json.loads(pipeline.cli("status", "--json").stdout)
    shown = next(a for a in status["accounts"] if a["account"] == account.name)
    assert shown["connection"]["state"] == "reconnect_needed" and shown["pending"] == 5

    assert _connect(pipeline, account) == RETURN_TO + "&connected=1"
    wait_until(lambda: len(pipeline.sandbox.profiles(account.key)) == 25, 90,
               "the waiting changes to arrive after the reconnection")
    assert pipeline.r.hget(state, "connection") is None
    assert pipeline.r.hlen(keys.rejected(account.name)) == 0

    tokens = read_tokens(pipeline.r, account.name, pipeline.stack.env["SYNC_SECRET_KEY"])
    assert tokens is not None
    secrets = (tokens.access_token, tokens.refresh_token, "sandbox-secret", *CODES)
    said = [pipeline.stack.output(name) for name in PROCESSES] + [json.dumps(status),
                                                                  json.dumps(shown_api)]
    plain = [str(pipeline.r.hgetall(keys.account_config(account.name))),
             str(pipeline.r.hgetall(state))]
    for secret in secrets:
        assert not any(secret in text for text in said + plain)
    web_log = pipeline.stack.output("web")  # the browser's two requests, query hidden
    assert "/v1/oauth/klaviyo/callback?(hidden)" in web_log and "state=" not in web_log


@pytest.fixture
def two_workers(process_stack: ProcessStack, sandbox: SandboxClient) -> Iterator[Pipeline]:
    """The stack with two worker processes, tokens that outlive the test, and Klaviyo's
    revoke endpoint out of reach (nothing listens there): a reconnection cannot kill the
    old grant's tokens, so a process could only keep using them from its own memory."""
    process_stack.env.update(oauth_env(sandbox.url, process_stack.env["SYNC_SECRET_KEY"]))
    process_stack.env.update(SYNC_API_TOKENS=TOKEN, SYNC_CHUNK_MAX_PROFILES="2",
                             KLAVIYO_OAUTH_REVOKE_URL=f"http://127.0.0.1:{free_port()}/revoke")
    sandbox.set_access_token_ttl(3600)
    start_all(process_stack, workers=2)
    running = Pipeline(process_stack, sandbox)
    yield running
    running.close()


def test_a_reconnected_account_writes_only_to_the_new_klaviyo_account_in_every_process(
        two_workers: Pipeline, sandbox: SandboxClient) -> None:
    pipeline = two_workers
    account = Account("oauth-moving", sandbox.new_key())
    old_key, new_key = account.key, sandbox.new_key()
    pipeline.create_list(account, "Old account's list")
    pipeline.create_list(Account(account.name, new_key), "New account's list")
    assert _connect(pipeline, account) == RETURN_TO + "&connected=1"
    first = pipeline.sync(account, _wave(pipeline, account, 0, 12))  # 6 chunks, 2 workers
    assert first["created"] == 12
    assert _list_names(pipeline, account) == {"Old account's list"}  # web holds its token

    account.key = new_key  # the user connects the same CRM account to another Klaviyo
    assert _connect(pipeline, account) == RETURN_TO + "&connected=1"
    assert "could not be revoked" in pipeline.stack.output("web")
    assert sandbox.oauth()["grants"] == {"live": 2, "revoked": 0}  # the old one still works
    second = pipeline.sync(account, _wave(pipeline, account, 12, 8))
    assert second["created"] == 8 and second.get("rejected", 0) == 0
    assert set(pipeline.profiles(account)) == {f"c{n}@example.com" for n in range(12, 20)}
    assert len(sandbox.profiles(old_key)) == 12  # nothing more went to the old account
    assert _list_names(pipeline, account) == {"New account's list"}
    assert len(pipeline.stack.processes["worker"]) == 2

    # with Klaviyo's revoke endpoint in reach, a reconnection revokes the grant it replaces
    del pipeline.stack.env["KLAVIYO_OAUTH_REVOKE_URL"]
    pipeline.stack.restart("web")
    assert _connect(pipeline, account) == RETURN_TO + "&connected=1"
    assert sandbox.oauth()["grants"] == {"live": 2, "revoked": 1}
    assert _list_names(pipeline, account) == {"New account's list"}
