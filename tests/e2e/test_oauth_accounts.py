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
from shared import constants as keys
from shared.klaviyo.oauth_tokens import read_tokens
from tests.e2e.pipeline import PROCESSES, Account, Pipeline
from tests.support.oauth import PUBLIC_URL, RETURN_TO, consent_callback, oauth_env, query_of
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
    """The CRM's page: start, the user's consent in Klaviyo, the browser's callback."""
    http, web = pipeline.stack.http, pipeline.stack.web_url
    started = http.get(f"{web}/v1/accounts/{account.name}/klaviyo/oauth/start",
                       params={"return_to": RETURN_TO},
                       headers={"Authorization": f"Bearer {TOKEN}"})
    assert started.status_code == 302, started.text
    callback = consent_callback(pipeline.sandbox, started.headers["location"], key=account.key)
    CODES.append(query_of(callback)["code"])
    back = http.get(callback.replace(PUBLIC_URL, web))
    assert back.status_code == 302, back.text
    return str(back.headers["location"])


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
