"""Deleting an account while its batch runs: the batch ends, nothing of it comes back."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from shared import constants as keys
from tests.e2e.pipeline import Account, Pipeline
from tests.support.process_stack import wait_until


def _queues_idle(pipeline: Pipeline) -> bool:
    r = pipeline.r
    queues = [keys.dramatiq_queue(q) for q in ("default", "default.DQ")]
    return all(int(r.llen(q) if r.type(q) == "list" else r.zcard(q)) == 0
               for q in queues if r.exists(q))


def _account_keys(pipeline: Pipeline, name: str) -> list[Any]:
    return list(pipeline.r.scan_iter(match=f"sync:{{{name}}}:*", count=1000))


def test_an_account_deleted_mid_sync_is_forgotten_and_its_batch_ends(
        api_pipeline: Pipeline, api: httpx.Client) -> None:
    account = Account(f"acct-{uuid.uuid4().hex[:8]}", api_pipeline.sandbox.new_key())
    api.put(f"/v1/accounts/{account.name}", json={"interval_seconds": 1})
    api_pipeline.sandbox.set_jobs("async", 3000)  # the import job stays queued a while
    try:
        api.put(f"/v1/accounts/{account.name}/klaviyo-key", json={"api_key": account.key})
        api_pipeline.post([api_pipeline.upsert(account, f"C-{n}", n) for n in range(20)])
        wait_until(lambda: api_pipeline.r.hget(keys.state(account.name), "running"), 30,
                   "the account's batch to start")
        wait_until(lambda: api_pipeline.sandbox.requests(account.key), 30,
                   "the batch to submit its import job")

        assert api.delete(f"/v1/accounts/{account.name}").status_code == 204
        assert api.get(f"/v1/accounts/{account.name}").status_code == 404
        wait_until(lambda: _queues_idle(api_pipeline), 60, "the batch's messages to end")
    finally:
        api_pipeline.sandbox.set_jobs("async", 0)

    assert _account_keys(api_pipeline, account.name) == []
    assert not api_pipeline.r.sismember(keys.ACCOUNTS_SET, account.name)
    assert account.name not in {a["name"] for a in api.get("/v1/accounts").json()}
    assert api.delete(f"/v1/accounts/{account.name}").status_code == 404
