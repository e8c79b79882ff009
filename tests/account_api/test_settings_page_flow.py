"""The CRM's settings page, call by call, against a real ``web`` (and the rest of the
Procfile) on real Redis and the Klaviyo sandbox."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.account_api.conftest import OLD_TOKEN, TOKEN
from tests.e2e.pipeline import Account, Pipeline
from tests.support.process_stack import wait_until


def _contacts(pipeline: Pipeline, account: Account) -> list[dict[str, Any]]:
    up = pipeline.upsert
    company = {"id": "CO-1", "name": "Acme", "type": "Customer"}
    return [
        up(account, "C-buyer-1", 1, role="Buyer", company=company, marketing="subscribed"),
        up(account, "C-buyer-2", 2, role="Buyer", company=company, marketing="unsubscribed"),
        up(account, "C-dm-1", 3, role="Decision Maker", company=company),
        up(account, "C-dm-bad", 4, role="Decision Maker", company=company, email="not-an-email"),
        up(account, "C-other", 5, role="Intern", company=company),
    ]


def test_the_settings_page_creates_keys_previews_saves_and_sees_its_sync(
        api_pipeline: Pipeline, api: httpx.Client) -> None:
    account = Account(f"acct-{uuid.uuid4().hex[:8]}", api_pipeline.sandbox.new_key())
    created = api.put(f"/v1/accounts/{account.name}",
                      json={"contact_roles": ["Buyer"], "interval_seconds": 1})
    assert created.status_code == 201, created.text
    assert created.json()["contact_roles"] == ["Buyer"]
    assert created.json()["connection"] == {"kind": "none", "state": "ok", "since": None,
                                            "detail": created.json()["connection"]["detail"],
                                            "code": None}
    again = api.put(f"/v1/accounts/{account.name}",
                    json={"contact_roles": ["Buyer"], "interval_seconds": 1})
    assert again.status_code == 200
    # The CRM's contacts arrive once the account exists (events for others are refused).
    api_pipeline.post(_contacts(api_pipeline, account))
    wait_until(api_pipeline._stream_consumed, 30, "the collector to apply the events")

    saved = api.get(f"/v1/accounts/{account.name}/preview").json()
    assert (saved["matching"], saved["matching_unsubscribed"], saved["would_send"]) == (2, 1, 2)
    proposed = api.get(f"/v1/accounts/{account.name}/preview",
                       params={"contact_roles": "Buyer,Decision Maker",
                               "max_bulk_export": "3"}).json()
    assert proposed["matching"] == 4 and proposed["matching_unsubscribed"] == 1
    assert proposed["excluded"] == {"invalid_email": 1, "over_cap": 0}
    assert proposed["would_send"] == 3

    keyed = api.put(f"/v1/accounts/{account.name}/klaviyo-key", json={"api_key": account.key})
    assert keyed.status_code == 200, keyed.text
    assert keyed.json()["connection"]["kind"] == "api_key" and keyed.json()["syncable"]
    assert account.key not in keyed.text

    made = [api_pipeline.create_list(account, f"List {n:02d}") for n in range(12)]
    lists = api.get(f"/v1/accounts/{account.name}/klaviyo/lists")
    assert lists.status_code == 200
    assert {item["id"] for item in lists.json()} == set(made)  # two pages of Klaviyo's 10
    assert all(item["created"] for item in lists.json())

    save = api.patch(f"/v1/accounts/{account.name}",
                     json={"contact_roles": ["Buyer", "Decision Maker"],
                           "default_list_id": made[0]})
    assert save.status_code == 200, save.text
    assert save.json()["default_list_id"] == made[0]
    assert save.json()["interval_seconds"] == 1

    assert api.post(f"/v1/accounts/{account.name}/syncs").status_code == 202
    api_pipeline.settle(account)

    history = api.get(f"/v1/accounts/{account.name}/syncs", params={"limit": 100}).json()
    assert history and all(item["status"] == "completed" for item in history)
    assert sum(item["counts"].get("created", 0) for item in history) == 3
    newest = history[0]
    assert newest["duration_s"] is not None and newest["counts"]["contacts"] >= 1
    assert set(api_pipeline.profiles(account)) == {
        "c-buyer-1@example.com", "c-buyer-2@example.com", "c-dm-1@example.com"}
    details = [api.get(f"/v1/accounts/{account.name}/syncs/{item['batch_id']}").json()
               for item in history]
    outcomes = {(c["contact_id"], c["outcome"]) for d in details for c in d["contacts"]}
    assert ("C-dm-bad", "invalid_email") in outcomes
    assert ("C-other", "excluded_filter") in outcomes
    shown = str(details)
    assert "example.com" not in shown and "not-an-email" not in shown  # ids, never emails

    listed = {item["name"]: item for item in api.get("/v1/accounts").json()}
    assert listed[account.name]["last_sync"]["batch_id"] == newest["batch_id"]
    assert listed[account.name]["pending"] == 0

    rotated = httpx.get(f"{api_pipeline.stack.web_url}/v1/accounts/{account.name}",
                        headers={"Authorization": f"Bearer {OLD_TOKEN}"})
    assert rotated.status_code == 200  # a second token works while rotating

    logs = "".join(api_pipeline.stack.output(name)
                   for name in ("web", "collector", "scheduler", "worker"))
    assert account.key not in logs and TOKEN not in logs and OLD_TOKEN not in logs
