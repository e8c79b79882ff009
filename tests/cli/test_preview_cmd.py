"""``contact-sync preview``: counts over the contacts the collector holds, on a real Redis.

Contacts go in the way the CRM's do: ``publish()`` onto the events stream, then the real
collector applies them."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from typer.testing import CliRunner

from cli.main import app
from producers.publish import publish
from workers.collector import Collector

runner = CliRunner()


def event(cid: str, at: str, *, email: str | None = "x", role: str = "Buyer",
          company_type: str = "Customer", marketing: str = "unknown",
          kind: str = "contact.upserted", account: str = "default",
          **consent: str) -> dict[str, Any]:
    return {"event_id": f"evt-{cid}-{at}", "account_id": account, "type": kind,
            "occurred_at": f"2026-11-22T10:{at}:00Z",
            "contact": {"id": cid, "email": f"{cid.lower()}@example.com" if email == "x"
                        else email, "role": role, "marketing": marketing,
                        "company": {"id": "CO-1", "type": company_type}, **consent}}


def collect(redis_url: str, r: redis.Redis, events: list[dict[str, Any]]) -> None:
    publish(events, redis_url)
    collector = Collector(r, "test-collector", block_ms=0)
    while collector.run_once():
        pass


@pytest.fixture
def feed(redis_url: str, r: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("SYNC_CONTACT_ROLES", "Buyer,Decision Maker")
    monkeypatch.setenv("SYNC_COMPANY_TYPES", "Customer")
    monkeypatch.setenv("SYNC_MAX_BULK_EXPORT", "3")
    collect(redis_url, r, [
        event("C-1", "01", marketing="subscribed",
              marketing_consented_at="2026-11-20T10:00:00Z"), event("C-2", "02"),
        event("C-3", "03", marketing="unsubscribed"),
        event("C-4", "04", marketing="unsubscribed"), event("C-5", "05"),
        event("C-6", "06", email=None), event("C-7", "07", email="not-an-email"),
        event("C-8", "08", role="Intern"), event("C-9", "09", company_type="Competitor"),
        event("C-10", "10"), event("C-10", "11", kind="contact.deleted"),
        # an older state arriving later changes nothing: C-2 stays inside the filters
        event("C-2", "00", role="Intern"),
    ])


def test_preview_counts_matching_unsubscribed_excluded_and_sent_contacts(feed: None) -> None:
    result = runner.invoke(app, ["preview", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "account": "default", "contacts": 10, "deleted": 1, "excluded_filter": 2,
        "matching": 7, "unsubscribed": 2, "consented": 1, "invalid_email": 2, "over_cap": 2,
        "would_send": 3, "max_bulk_export": 3,
    }


def test_preview_prints_a_table_naming_each_count(feed: None) -> None:
    result = runner.invoke(app, ["preview"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    lines = {line.strip("│ ").split("│")[0].strip(): line.split("│")[-2].strip()
             for line in result.output.splitlines() if line.count("│") == 3}
    assert lines["match the filters"] == "7"
    assert lines["of which unsubscribed (sent, kept out of the list)"] == "2"
    assert lines["of which consented with a time (subscribed when sent)"] == "1"
    assert lines["excluded: empty or invalid email"] == "2"
    assert lines["excluded: over the cap (held back)"] == "2"
    assert lines["would be sent"] == "3"
    assert "cap 3" in result.output


def test_preview_of_another_account_uses_its_stored_filters(
        redis_url: str, r: redis.Redis, test_account: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    collect(redis_url, r, [event("A-1", "01", account="acme"),
                           event("A-2", "02", account="acme", role="Intern")])
    # an account created without settings: no filters
    result = runner.invoke(app, ["preview", "--account", "acme", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["matching"], report["would_send"]) == (2, 2)


def test_preview_of_an_unknown_account_says_how_to_add_it(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    result = runner.invoke(app, ["preview", "--account", "nobody"])
    assert result.exit_code == 1
    assert "unknown account 'nobody'" in result.output
    assert "contact-sync accounts add nobody" in result.output
