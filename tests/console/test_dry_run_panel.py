"""The sync screen's dry-run panel in a real headless Chromium (JavaScript off) against a
real web, workers, Redis and the sandbox: the next sync's counts, as the account API's
``GET .../syncs/next`` gives them."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from shared import constants as keys
from tests.e2e.pipeline import Account, Pipeline
from tests.support.process_stack import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.xdist_group("console_dry_run")]


def test_the_sync_screen_shows_what_the_next_sync_would_do_without_javascript(
        console_pipeline: Pipeline, api: httpx.Client, browser: Any) -> None:
    pipeline = console_pipeline
    account = Account(f"acct-{uuid.uuid4().hex[:8]}", "")  # no key: no batch starts
    created = api.put(f"/v1/accounts/{account.name}", json={"contact_roles": ["Buyer"]})
    assert created.status_code == 201, created.text
    pipeline.post([pipeline.upsert(account, "C-buyer-1", 1, role="Buyer"),
                   pipeline.upsert(account, "C-buyer-2", 2, role="Buyer",
                                   marketing="unsubscribed"),
                   pipeline.upsert(account, "C-bad", 3, role="Buyer", email="not-an-email"),
                   pipeline.upsert(account, "C-intern", 4, role="Intern")])
    wait_until(lambda: pipeline.r.zcard(keys.pending(account.name)) == 4, 30,
               "the events collected")
    link = api.post(f"/v1/accounts/{account.name}/console-link").json()["url"]
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(link)
        page.click("nav >> text=Syncs")

        panel = page.locator("#dry-run-panel")
        shown = {row.get_attribute("data-kind"): row.locator("td").nth(1).text_content()
                 for row in panel.locator("#dry-run tbody tr").all()}
        excluded = {row.get_attribute("data-reason"): row.locator("td").nth(1).text_content()
                    for row in panel.locator("#dry-run-excluded tbody tr").all()}
        ids = panel.locator("#dry-run tr[data-kind=create] td").nth(2).text_content()
        html = page.content()
    finally:
        context.close()

    expected = api.get(f"/v1/accounts/{account.name}/syncs/next").json()
    assert shown == {kind: f"{expected[kind]:,}" for kind in shown}
    assert (shown["create"], shown["unsubscribe"], shown["list_join"]) == ("2", "1", "0")
    assert excluded["invalid_email"] == "1" and excluded["excluded_filter"] == "1"
    assert set(ids.split(", ")) == {"C-buyer-1", "C-buyer-2"}
    assert "@example.com" not in html
