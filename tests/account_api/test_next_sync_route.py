"""``GET /v1/accounts/{a}/syncs/next`` through a real web, workers, Redis and the sandbox:
the dry run ``contact-sync preview --next`` prints, at once for a small account, computed
in the background for a big one (here: more than :data:`AT_ONCE` pending contacts)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from sandbox.app import ASGIApp
from shared import constants as keys
from tests.account_api.conftest import TOKEN
from tests.e2e.pipeline import Account, Pipeline, running_pipeline
from tests.support.process_stack import wait_until

pytestmark = pytest.mark.xdist_group("test_next_sync_route")

AT_ONCE = 5
"""``SYNC_DRY_RUN_AT_ONCE`` of this module's web: above it, the dry run is a 202 first."""


@pytest.fixture(scope="module")
def api_pipeline(tmp_path_factory: pytest.TempPathFactory,
                 contract_middleware: Callable[[ASGIApp], ASGIApp]) -> Iterator[Pipeline]:
    env = {"SYNC_API_TOKENS": TOKEN, "SYNC_DRY_RUN_AT_ONCE": str(AT_ONCE)}
    with running_pipeline(tmp_path_factory.mktemp("stack"), contract_middleware,
                          env=env) as pipeline:
        yield pipeline


def _next(api: httpx.Client, account: str) -> httpx.Response:
    return api.get(f"/v1/accounts/{account}/syncs/next")


def _unsyncable(api_pipeline: Pipeline, api: httpx.Client, contacts: int) -> Account:
    """An account without a Klaviyo key (no batch ever starts) with ``contacts`` pending."""
    account = Account(f"acct-{uuid.uuid4().hex[:10]}", "")
    assert api.put(f"/v1/accounts/{account.name}", json={}).status_code == 201
    api_pipeline.post([api_pipeline.upsert(account, f"C-{n}", n) for n in range(contacts)])
    wait_until(lambda: api_pipeline.r.zcard(keys.pending(account.name)) == contacts, 30,
               "the events collected")
    return account


def test_the_route_answers_what_preview_next_prints_and_writes_nothing(
        api_pipeline: Pipeline, api: httpx.Client) -> None:
    acme = api_pipeline.add_account("--roles", "Buyer")
    api_pipeline.sync(acme, [api_pipeline.upsert(acme, f"C-{n}", 1, role="Buyer",
                                                 job_title="Boss") for n in (1, 2, 3)])
    api_pipeline.set_account(acme, "--interval", "3600")  # the next batch waits for the test
    api_pipeline.post([
        api_pipeline.upsert(acme, "C-1", 2, role="Buyer"),  # an update clearing its title
        api_pipeline.delete(acme, "C-2", 2),
        api_pipeline.upsert(acme, "C-4", 2, role="Buyer"),
        api_pipeline.upsert(acme, "C-5", 2, role="Buyer", email="not-an-email")])
    wait_until(lambda: api_pipeline.r.zcard(keys.pending(acme.name)) == 4, 60,
               "the events collected")
    wait_until(lambda: api_pipeline.pull_settled(acme), 60, "the first reverse pull ended")
    before = api_pipeline.account_state(acme)

    answer = _next(api, acme.name)

    assert answer.status_code == 200, answer.text
    assert api_pipeline.account_state(acme) == before, "the dry run wrote nothing"
    shown: dict[str, Any] = answer.json()
    assert shown.pop("computed_at")
    printed = json.loads(api_pipeline.cli("preview", "--next", "--account", acme.name,
                                          "--json").stdout)
    assert shown == printed
    assert (shown["contacts"], shown["create"], shown["update"]) == (4, 1, 1)
    assert shown["excluded"]["invalid_email"] == 1
    assert shown["contact_ids"]["clear_fields"] == ["C-1"]
    assert "@" not in answer.text, "contact ids only, never an email"


def test_a_big_account_is_computed_once_in_the_background_then_served(
        api_pipeline: Pipeline, api: httpx.Client) -> None:
    big = _unsyncable(api_pipeline, api, AT_ONCE + 3)

    asked = _next(api, big.name)

    assert asked.status_code == 202, asked.text
    assert int(asked.headers["Retry-After"]) >= 1
    assert asked.json()["status"] == "computing" and asked.json()["contacts"] == AT_ONCE + 3
    done = wait_until(lambda: (r := _next(api, big.name)).status_code == 200 and r, 30,
                      "the dry run computed")
    found = done.json()
    assert (found["contacts"], found["create"]) == (AT_ONCE + 3, AT_ONCE + 3)
    again = _next(api, big.name)
    assert again.status_code == 200 and again.json() == found, "served as computed"

    api_pipeline.post([api_pipeline.upsert(big, "C-new", 100)])
    wait_until(lambda: api_pipeline.r.zcard(keys.pending(big.name)) == AT_ONCE + 4, 30,
               "the change collected")
    changed = wait_until(lambda: (r := _next(api, big.name)).status_code == 200 and r, 30,
                         "the dry run computed again")
    assert changed.json()["contacts"] == AT_ONCE + 4, "a result of other pending contacts "\
        "is not served"
    assert api.delete(f"/v1/accounts/{big.name}").status_code == 204
    assert not list(api_pipeline.r.scan_iter(match=keys.account_key(big.name, "*"))), \
        "the account is forgotten with its dry run"


def test_the_route_refuses_an_unknown_account_and_a_caller_without_a_token(
        api_pipeline: Pipeline, api: httpx.Client) -> None:
    unknown = _next(api, "nobody-here")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    anonymous = httpx.get(f"{api_pipeline.stack.web_url}/v1/accounts/default/syncs/next")
    assert anonymous.status_code == 401
