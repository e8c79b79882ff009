"""What Klaviyo answered, as the account API shows it: refused contacts (and re-sending
them), and an account whose key Klaviyo refuses."""

from __future__ import annotations

import uuid

import httpx

from tests.e2e.pipeline import Account, Pipeline
from tests.support.process_stack import wait_until

STATE_SHAPES = ("redis", "cluster")
"""On one Redis and on a Redis Cluster. A refused contact once never settled on a cluster:
the chunk's MULTI also added the account to the global set of accounts with refusals, a key
of another slot, so every delivery of the chunk failed and its batch never ended (the
account now joins that set before the MULTI: workers/push/deliver/chunk_records.py)."""


def _connected(api_pipeline: Pipeline, api: httpx.Client) -> Account:
    account = Account(f"acct-{uuid.uuid4().hex[:8]}", api_pipeline.sandbox.new_key())
    assert api.put(f"/v1/accounts/{account.name}",
                   json={"interval_seconds": 1}).status_code == 201
    keyed = api.put(f"/v1/accounts/{account.name}/klaviyo-key", json={"api_key": account.key})
    assert keyed.status_code == 200, keyed.text
    return account


def test_a_contact_klaviyo_refuses_is_listed_with_its_code_and_replayed_once_fixed(
        api_pipeline: Pipeline, api: httpx.Client) -> None:
    account = _connected(api_pipeline, api)
    api_pipeline.sandbox.set_strictness(refused_email_domains=["refusing-mail.com"])
    try:
        api_pipeline.post([api_pipeline.upsert(account, "C-ok", 1),
                           api_pipeline.upsert(account, "C-bad", 2, email="ann@refusing-mail.com")])
        api_pipeline.settle(account)
    finally:
        api_pipeline.sandbox.set_strictness(refused_email_domains=[])
    [refused] = api.get(f"/v1/accounts/{account.name}/rejected").json()
    assert refused["contact_id"] == "C-bad" and refused["code"] and refused["batch_id"]
    detail = api.get(f"/v1/accounts/{account.name}/syncs/{refused['batch_id']}").json()
    assert detail["counts"]["rejected"] == 1
    assert {(c["contact_id"], c["outcome"]) for c in detail["contacts"]} == {
        ("C-bad", "rejected")}
    assert refused["code"] in detail["contacts"][0]["reason"]
    assert "ann@refusing-mail.com" not in str(detail) + str(refused)

    replayed = api.post(f"/v1/accounts/{account.name}/rejected/replay",
                        json={"contact_ids": ["C-bad", "C-never-rejected"]})
    assert replayed.json() == {"replayed": ["C-bad"], "not_rejected": ["C-never-rejected"]}
    api_pipeline.settle(account)
    assert api.get(f"/v1/accounts/{account.name}/rejected").json() == []
    assert "ann@refusing-mail.com" in api_pipeline.profiles(account)


def test_an_account_whose_key_klaviyo_refuses_shows_refused_until_a_key_works(
        api_pipeline: Pipeline, api: httpx.Client) -> None:
    account = _connected(api_pipeline, api)
    api_pipeline.sandbox.set_key_state("revoked", key=account.key)
    api_pipeline.post([api_pipeline.upsert(account, "C-1", 1)])

    def refused() -> dict[str, object] | None:
        found = api.get(f"/v1/accounts/{account.name}").json()["connection"]
        return found if found["state"] == "refused" else None

    connection = wait_until(refused, 60, "the account to show refused")
    assert connection["kind"] == "api_key" and connection["since"]
    assert connection["code"] == "authentication_failed"
    [summary] = [a for a in api.get("/v1/accounts").json() if a["name"] == account.name]
    assert summary["connection"]["state"] == "refused" and summary["pending"] == 1

    stopped = wait_until(lambda: [b for b in api.get(f"/v1/accounts/{account.name}/syncs")
                                  .json() if b["status"] == "failed"], 60, "the batch to stop")
    assert stopped[0]["error"] == "account refused: authentication_failed"
    account.seen_batches.update(b["batch_id"] for b in stopped)

    api_pipeline.sandbox.set_key_state("ok", key=account.key)
    again = api.put(f"/v1/accounts/{account.name}/klaviyo-key", json={"api_key": account.key})
    assert again.json()["connection"]["state"] == "ok"
    api_pipeline.settle(account)
    assert set(api_pipeline.profiles(account)) == {"c-1@example.com"}
