"""The console driven in a real headless Chromium against a real web, collector, scheduler
and workers on a real Redis and the Klaviyo sandbox: what a CRM's user and an operator do
with it, and what it refuses."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from cli.demo.crm_inbox import CrmInbox
from producers.console import tokens
from shared import constants as keys
from tests.console.conftest import (
    CONSOLE_SECRET,
    CONSOLE_TOKEN,
    Sites,
    framed,
    no_horizontal_overflow,
    screenshot,
)
from tests.e2e.pipeline import Account, Pipeline
from tests.support.process_stack import wait_until
from tests.workers.dramatiq_harness import (
    DONE,
    FAIL_FLAG,
    dead_lettered,
    running_worker,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.xdist_group("console_browser")]

PERSONAL = re.compile(r"@example\.com|\bpk_[0-9a-f]{6}|Ann |Smith")


def _contacts(pipeline: Pipeline, account: Account) -> list[dict[str, Any]]:
    up = pipeline.upsert
    company = {"id": "CO-1", "name": "Acme Ltd", "type": "Customer"}
    return [
        up(account, "C-buyer-1", 1, role="Buyer", company=company, marketing="subscribed",
           first_name="Ann", last_name="Smith"),
        up(account, "C-buyer-2", 2, role="Buyer", company=company, marketing="unsubscribed"),
        up(account, "C-dm-1", 3, role="Decision Maker", company=company),
        up(account, "C-dm-bad", 4, role="Decision Maker", company=company, email="not-an-email"),
        up(account, "C-other", 5, role="Intern", company=company),
    ]


def _link(api: httpx.Client, account: str) -> str:
    answer = api.post(f"/v1/accounts/{account}/console-link")
    assert answer.status_code == 200, answer.text
    return str(answer.json()["url"])


def _no_personal_data(page: Any) -> None:
    html = page.content()
    found = PERSONAL.search(html)
    assert found is None, f"{page.url} shows {found.group(0)!r}"


def _login(page: Any, base: str, token: str = CONSOLE_TOKEN) -> Any:
    page.goto(f"{base}/console/login")
    page.fill("#token", token)
    page.click("button[type=submit]")
    return page


def test_the_settings_page_counts_before_saving_saves_syncs_and_shows_the_sync(
        console_pipeline: Pipeline, api: httpx.Client, page: Any, tmp_path: Path,
        sites: Sites) -> None:
    pipeline = console_pipeline
    account = Account(f"acct-{uuid.uuid4().hex[:8]}", pipeline.sandbox.new_key())
    created = api.put(f"/v1/accounts/{account.name}", json={"contact_roles": ["Buyer"]})
    assert created.status_code == 201, created.text  # before its events: none are taken before
    pipeline.post(_contacts(pipeline, account))
    wait_until(pipeline._stream_consumed, 30, "the collector to apply the events")

    opened = page.goto(_link(api, account.name))
    assert opened.status == 200
    assert f"frame-ancestors {sites.crm};" in opened.headers["content-security-policy"] + ";"
    assert page.url.split("?")[0].endswith(f"/console/accounts/{account.name}/settings")
    assert page.text_content("#matching") == "2"
    assert page.text_content("#would-send") == "2"
    assert "1 of them unsubscribed" in page.text_content("#counts")
    roles = page.eval_on_selector_all("#contact_roles option", "os => os.map(o => o.value)")
    assert roles == ["Buyer", "Decision Maker", "Intern"]  # the account's CRM data

    # The count follows the filters before anything is saved.
    page.select_option("#contact_roles", ["Buyer", "Decision Maker"])
    expect(page.locator("#matching")).to_have_text("4")
    assert "Invalid email" in page.text_content("#excluded")
    assert re.search(r"Invalid email\s*1", page.text_content("#excluded"))
    assert page.text_content("#would-send") == "3"
    assert api.get(f"/v1/accounts/{account.name}").json()["contact_roles"] == ["Buyer"]
    page.fill("#max_bulk_export", "2")
    expect(page.locator("#would-send")).to_have_text("2")
    page.fill("#max_bulk_export", "0")
    expect(page.locator("#would-send")).to_have_text("3")

    page.click("#save")
    assert page.text_content("#notice") == "Saved."
    saved = api.get(f"/v1/accounts/{account.name}").json()
    assert saved["contact_roles"] == ["Buyer", "Decision Maker"]
    assert page.text_content("#matching") == "4"  # the saved filters now

    page.fill("#api_key", account.key)
    page.click("#connection form.row button")
    assert page.text_content("#notice") == "Klaviyo key stored."
    assert api.get(f"/v1/accounts/{account.name}").json()["connection"]["kind"] == "api_key"
    assert account.key not in page.content()
    made = [pipeline.create_list(account, f"List {n:02d}") for n in range(12)]
    page.reload()
    listed = page.eval_on_selector_all("#default_list_id option", "os => os.map(o => o.value)")
    assert set(made) <= set(listed)  # both pages of Klaviyo's lists
    page.select_option("#default_list_id", made[11])
    page.click("#save")
    assert page.text_content("#notice") == "Saved."
    assert api.get(f"/v1/accounts/{account.name}").json()["default_list_id"] == made[11]
    _no_personal_data(page)
    no_horizontal_overflow(page)
    screenshot(page, "console-settings.png", tmp_path)
    screenshot(page, "console-settings-390.png", tmp_path, width=390)

    first = pipeline.settle(account)  # the key made the account syncable: its first sync
    assert sum(batch["report"].get("created", 0) for batch in first) == 3
    pipeline.post([pipeline.upsert(account, "C-buyer-3", 6, role="Buyer")])
    wait_until(pipeline._stream_consumed, 30, "the collector to apply the event")
    assert pipeline.r.zcard(keys.pending(account.name)) == 1  # waits for the 900 s interval

    page.click("nav >> text=Syncs")
    page.click("#sync-now")
    assert page.text_content("#notice").startswith("Sync requested")
    pipeline.settle(account)
    history = api.get(f"/v1/accounts/{account.name}/syncs", params={"limit": 100}).json()
    assert sum(item["counts"].get("created", 0) for item in history) == 4
    page.reload()
    rows = page.locator("#history tbody tr")
    assert rows.count() == len(history)
    newest = history[0]
    assert newest["counts"]["created"] == 1
    first_row = rows.first
    assert first_row.get_attribute("data-batch") == newest["batch_id"]
    assert "completed" in first_row.text_content()
    for name, value in newest["counts"].items():
        assert f"{name.replace('_', ' ')} {value:,}" in first_row.text_content()
    assert page.locator("#chart svg rect").count() == len(history)
    _no_personal_data(page)
    no_horizontal_overflow(page)
    screenshot(page, "console-syncs.png", tmp_path)

    rows.last.locator("a").click()  # the first sync: its exclusions, by CRM id
    outcomes = {row.locator("td").nth(0).text_content(): row.locator("td").nth(1).text_content()
                for row in page.locator("#contacts tbody tr").all()}
    assert outcomes == {"C-dm-bad": "invalid email", "C-other": "excluded filter"}
    _no_personal_data(page)
    no_horizontal_overflow(page)

    page.click("nav >> text=Settings")
    page.click("#connection >> text=Disconnect")
    assert page.text_content("#notice") == "Disconnected from Klaviyo."
    assert api.get(f"/v1/accounts/{account.name}").json()["connection"]["kind"] == "none"
    assert page.locator("#lists-unavailable").count() == 1


def test_an_operator_sees_every_account_and_replays_a_dead_letter(
        console_pipeline: Pipeline, page: Any, tmp_path: Path) -> None:
    stack = console_pipeline.stack
    actor = dead_lettered(stack.redis_url, ("acme", "b-console-1"))
    stack.redis.delete(FAIL_FLAG, DONE)

    _login(page, stack.web_url)
    assert page.url.endswith("/console/")
    for kind in ("web", "collector", "scheduler", "worker"):  # the stack's, and this test's
        assert re.search(rf"\b[1-9]\d* {kind}s?\b", page.text_content("#processes")), kind
    assert "default" in page.text_content("#account-table")
    assert page.locator(f"#queues >> text={actor.queue_name}").count() == 1
    _no_personal_data(page)
    no_horizontal_overflow(page)
    screenshot(page, "console-operator.png", tmp_path)
    page.click("#account-table th >> text=Pending")
    assert "sort=pending" in page.url and "dir=asc" in page.url
    page.click("#account-table th >> text=Pending")
    assert "dir=desc" in page.url
    assert page.get_attribute("#account-table th a[aria-sort]", "aria-sort") == "descending"

    page.goto(f"{stack.web_url}/console/dead-letters")
    row = page.locator("#letters tbody tr")
    assert row.count() == 1 and "b-console-1" in row.text_content()
    assert "ann@example.com" not in page.content()  # the error is masked
    no_horizontal_overflow(page)
    row.locator("input[type=checkbox]").check()
    page.click("#replay-picked")
    assert page.text_content("#notice") == "Replayed 1 dead letter(s)."
    assert page.locator("#no-letters").count() == 1
    with running_worker(actor.broker):
        wait_until(lambda: stack.redis.lrange(DONE, 0, -1), 30, "the replayed message to run")
    assert stack.redis.lrange(DONE, 0, -1) == ["acme/b-console-1"]


def test_an_expired_used_or_foreign_console_link_is_refused(
        console_pipeline: Pipeline, api: httpx.Client, page: Any) -> None:
    base = console_pipeline.stack.web_url
    ours, theirs = (f"acct-{uuid.uuid4().hex[:8]}" for _ in range(2))
    for name in (ours, theirs):
        assert api.put(f"/v1/accounts/{name}", json={}).status_code == 201

    link = _link(api, ours)
    assert page.goto(link).status == 200
    page_token = page.url.split("s=")[1]
    again = page.goto(link)
    assert again.status == 403 and "used already" in page.text_content("#refusal")

    foreign = page.goto(f"{base}/console/accounts/{theirs}/settings?s={page_token}")
    assert foreign.status == 403
    assert "another account" in page.text_content("#refusal")
    assert theirs not in page.text_content("main").replace("another account", "")

    expired = tokens.mint(CONSOLE_SECRET, "link", ours, ttl=-1)
    assert page.goto(f"{base}/console/open?t={expired}").status == 403
    assert "expired" in page.text_content("#refusal")
    forged = tokens.mint("not-the-server-secret", "link", ours, ttl=300)
    assert page.goto(f"{base}/console/open?t={forged}").status == 403
    assert "not signed by this server" in page.text_content("#refusal")
    stale_page = tokens.mint(CONSOLE_SECRET, "page", ours, ttl=-1)
    assert page.goto(f"{base}/console/accounts/{ours}/syncs?s={stale_page}").status == 403
    assert page.goto(f"{base}/console/accounts/{ours}/syncs").status == 401


def test_a_form_posted_without_its_csrf_token_is_refused(
        console_pipeline: Pipeline, api: httpx.Client, page: Any) -> None:
    name = f"acct-{uuid.uuid4().hex[:8]}"
    assert api.put(f"/v1/accounts/{name}", json={"max_bulk_export": 7}).status_code == 201
    page.goto(_link(api, name))
    page.fill("#max_bulk_export", "9")
    page.eval_on_selector("#settings-form input[name=csrf]", "e => e.remove()")
    page.click("#save")
    assert "CSRF" in page.text_content("#refusal")
    assert api.get(f"/v1/accounts/{name}").json()["max_bulk_export"] == 7
    page.go_back()
    page.reload()
    page.fill("#field_map", '{"title": "job_title"}')
    page.eval_on_selector("#field-map-form input[name=csrf]", "e => e.remove()")
    page.click("#save-field-map")
    assert "CSRF" in page.text_content("#refusal")
    assert api.get(f"/v1/accounts/{name}").json()["field_map"] is None

    _login(page, console_pipeline.stack.web_url)
    page.goto(f"{console_pipeline.stack.web_url}/console/dead-letters")
    answer = page.request.post(f"{console_pipeline.stack.web_url}/console/dead-letters/purge",
                               form={"confirm": "purge"})
    assert answer.status == 403 and "CSRF" in answer.text()


def test_the_operator_pages_are_refused_without_logging_in(
        console_pipeline: Pipeline, page: Any) -> None:
    base = console_pipeline.stack.web_url
    for path in ("/console/", "/console/dead-letters"):
        page.goto(base + path)
        assert page.url == f"{base}/console/login", path
        assert page.locator("#account-table, #letters").count() == 0
    refused = page.request.post(f"{base}/console/dead-letters/replay", form={"all": "1"})
    assert refused.status == 401
    opened = page.goto(f"{base}/console/login")
    assert "frame-ancestors 'none'" in opened.headers["content-security-policy"]
    _login(page, base, token="not-a-console-token")
    assert "not one of SYNC_CONSOLE_TOKENS" in page.text_content("main")
    cookies = {c["name"] for c in page.context.cookies()}
    assert "console_session" not in cookies
    _login(page, base)
    [session] = [c for c in page.context.cookies() if c["name"] == "console_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"


def test_the_settings_page_opens_in_the_crms_iframe_and_in_no_other_sites(
        console_pipeline: Pipeline, api: httpx.Client, page: Any, sites: Sites) -> None:
    name = f"acct-{uuid.uuid4().hex[:8]}"
    assert api.put(f"/v1/accounts/{name}", json={}).status_code == 201

    inside_crm = framed(page, sites.crm, _link(api, name))
    expect(page.frame_locator("#console").locator("#matching")).to_have_text("0")
    assert f"/console/accounts/{name}/settings" in inside_crm.url
    inside_crm.fill("#max_bulk_export", "5")  # htmx works inside the frame
    expect(page.frame_locator("#console").locator("#excluded")).to_contain_text("Over the cap")

    elsewhere = framed(page, sites.elsewhere, _link(api, name))
    page.wait_for_timeout(500)
    assert not elsewhere.url.startswith(console_pipeline.stack.web_url)
    assert page.frame_locator("#console").locator("#matching").count() == 0


def _new_account(api: httpx.Client) -> str:
    name = f"acct-{uuid.uuid4().hex[:8]}"
    assert api.put(f"/v1/accounts/{name}", json={}).status_code == 201
    return name


def test_a_field_map_set_in_the_page_is_the_one_the_account_api_gives(
        console_pipeline: Pipeline, api: httpx.Client, page: Any, tmp_path: Path) -> None:
    name = _new_account(api)
    page.goto(_link(api, name))
    assert "No map: the default profile" in page.text_content("#field-map-panel")
    assert page.input_value("#field_map") == ""

    mapping = {"title": "job_title", "organization": "company.name",
               "properties.Lifetime Value": {"from": "properties.ltv", "type": "number"}}
    page.fill("#field_map", json.dumps(mapping))
    page.click("#save-field-map")
    assert page.text_content("#notice") == "Field map saved."
    assert api.get(f"/v1/accounts/{name}").json()["field_map"] == mapping
    rows = [[cell.text_content() for cell in row.locator("td").all()]
            for row in page.locator("#field-map tbody tr").all()]
    assert rows == [["title", "job_title", "as sent"],
                    ["organization", "company.name", "as sent"],
                    ["properties.Lifetime Value", "properties.ltv", "number"]]
    assert json.loads(page.input_value("#field_map")) == mapping
    no_horizontal_overflow(page)
    screenshot(page, "console-field-map.png", tmp_path, only="#field-map-panel")

    page.fill("#field_map", "")  # empty: back to the default profile
    page.click("#save-field-map")
    assert page.text_content("#notice") == "Field map saved."
    assert api.get(f"/v1/accounts/{name}").json()["field_map"] is None


def test_a_bad_field_map_shows_the_account_apis_422_and_saves_nothing(
        console_pipeline: Pipeline, api: httpx.Client, page: Any) -> None:
    name = _new_account(api)
    kept = {"title": "job_title"}
    assert api.patch(f"/v1/accounts/{name}", json={"field_map": kept}).status_code == 200
    bad = {"title": "job_title", "favourite_colour": "properties.colour"}
    refused = api.patch(f"/v1/accounts/{name}", json={"field_map": bad})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "field_map"

    page.goto(_link(api, name))
    typed = json.dumps(bad, indent=1)
    page.fill("#field_map", typed)
    with page.expect_navigation() as answer:
        page.click("#save-field-map")
    assert answer.value.status == 422
    shown = page.text_content("#field-map-error")
    assert shown == refused.json()["detail"]
    assert shown.startswith("field_map: ") and "favourite_colour" in shown
    assert page.input_value("#field_map") == typed  # what the person typed is not lost
    assert api.get(f"/v1/accounts/{name}").json()["field_map"] == kept

    page.fill("#field_map", '{"title": job_title}')
    with page.expect_navigation() as answer:
        page.click("#save-field-map")
    assert answer.value.status == 422
    assert page.text_content("#field-map-error").startswith("field_map: not JSON")
    assert api.get(f"/v1/accounts/{name}").json()["field_map"] == kept


def test_an_unsubscribe_in_klaviyo_delivered_to_the_crm_shows_in_the_consent_panel(
        console_pipeline: Pipeline, api: httpx.Client, page: Any, crm: CrmInbox,
        tmp_path: Path) -> None:
    pipeline = console_pipeline
    account = Account(f"acct-{uuid.uuid4().hex[:8]}", pipeline.sandbox.new_key())
    assert api.put(f"/v1/accounts/{account.name}", json={}).status_code == 201
    keyed = api.put(f"/v1/accounts/{account.name}/klaviyo-key", json={"api_key": account.key})
    assert keyed.status_code == 200, keyed.text
    pipeline.post([pipeline.upsert(account, "C-stays", 1, first_name="Ann",
                                   last_name="Smith"),
                   pipeline.upsert(account, "C-leaves", 2)])
    pipeline.settle(account)
    page.goto(_link(api, account.name))
    page.click("nav >> text=Syncs")
    assert page.locator("#no-consent-changes").count() == 1

    profile = pipeline.profiles(account)["c-leaves@example.com"]["id"]
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    pipeline.sandbox.change_consent(profile, "unsubscribe", at=at, key=account.key)
    wait_until(lambda: [d for d in crm.consent_changes() if d["account"] == account.name],
               60, "the consent pull to deliver the unsubscribe to the CRM")

    page.reload()
    rows = page.locator("#consent-deliveries tbody tr")
    assert rows.count() == 1
    cells = [cell.text_content().strip() for cell in rows.first.locator("td").all()]
    assert cells[:5] == ["C-leaves", "email", "unsubscribed", "unsubscribe",
                         at.strftime("%Y-%m-%d %H:%M:%S")]
    assert cells[5].startswith("delivered ")
    [delivered] = [d for d in crm.consent_changes() if d["account"] == account.name]
    assert rows.first.get_attribute("data-entry") == delivered["id"]
    _no_personal_data(page)
    no_horizontal_overflow(page)
    screenshot(page, "console-consent.png", tmp_path, only="#consent-deliveries-panel")
