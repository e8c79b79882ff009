"""Through the real processes: the account's filters and email validation
decide what is sent (counted, with reasons), ``contact-sync preview`` says so beforehand, and
the cap limits bulk exports only. Filters and cap are changed at runtime with
``contact-sync accounts set``; several accounts with different settings run side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.pipeline import Pipeline, summed

pytestmark = pytest.mark.xdist_group("test_filters_preview_and_cap_decide_what_is_sent")
"""The module shares one running stack (tests/e2e/conftest.py): keep it on one worker."""

CUSTOMER = {"id": "CO-1", "name": "Acme Ltd", "type": "Customer"}
PARTNER = {"id": "CO-2", "name": "Partner plc", "type": "Partner"}


def test_only_contacts_matching_both_filters_are_sent_and_invalid_emails_are_counted(
    pipeline: Pipeline,
) -> None:
    strict = pipeline.add_account("--roles", "Decision Maker,Buyer",
                                  "--company-types", "Customer")
    everyone = pipeline.add_account()
    contacts: list[tuple[str, dict[str, Any]]] = [
        ("C-match", dict(role="Decision Maker", company=CUSTOMER)),
        ("C-case", dict(role="  buyer ", company=CUSTOMER)),
        ("C-role", dict(role="Intern", company=CUSTOMER)),
        ("C-type", dict(role="Buyer", company=PARTNER)),
        ("C-nocompany", dict(role="Buyer")),
        ("C-invalid", dict(role="Buyer", company=CUSTOMER, email="not-an-email")),
        ("C-empty", dict(role="Buyer", company=CUSTOMER, email=None)),
    ]
    events = [pipeline.upsert(acct, cid, 1, **fields)
              for acct in (strict, everyone) for cid, fields in contacts]
    pipeline.post(events)

    [batch] = pipeline.settle(strict)
    report = batch["report"]
    assert (report["created"], report["excluded_filter"], report["invalid_email"]) == (2, 3, 2)
    assert set(pipeline.profiles(strict)) == {"c-match@example.com", "c-case@example.com"}
    details = pipeline.details(strict, batch)
    assert {cid for cid, d in details.items() if d["outcome"] == "excluded_filter"} == {
        "C-role", "C-type", "C-nocompany"}
    assert details["C-invalid"]["outcome"] == "invalid_email"
    assert details["C-invalid"]["reason"] and details["C-empty"]["reason"]
    assert "not-an-email" not in json.dumps(details), "no email in the stored reasons"

    [other] = pipeline.settle(everyone)
    assert (other["report"]["created"], other["report"]["invalid_email"]) == (5, 2)
    assert other["report"].get("excluded_filter", 0) == 0

    pipeline.set_account(strict, "--roles", "*")
    report = pipeline.sync(strict, [])
    assert report.get("created") == 1, "the Intern at a Customer matches now"
    assert set(pipeline.profiles(strict)) == {"c-match@example.com", "c-case@example.com",
                                              "c-role@example.com"}


def _preview(pipeline: Pipeline, account: str) -> dict[str, int]:
    result: dict[str, int] = json.loads(
        pipeline.cli("preview", "--account", account, "--json").stdout)
    return result


def test_preview_counts_matches_unsubscribed_and_exclusions(pipeline: Pipeline) -> None:
    acct = pipeline.add_account("--roles", "Buyer", "--max-bulk-export", "2")
    events = [pipeline.upsert(acct, f"C-{n}", n, role="Buyer") for n in range(1, 4)]
    events += [pipeline.upsert(acct, "C-unsub", 4, role="Buyer", marketing="unsubscribed"),
               pipeline.upsert(acct, "C-bad", 5, role="Buyer", email="bad@"),
               pipeline.upsert(acct, "C-intern", 6, role="Intern")]
    pipeline.post(events)
    [batch] = pipeline.settle(acct)

    preview = _preview(pipeline, acct.name)
    assert {k: preview[k] for k in ("matching", "unsubscribed", "invalid_email", "over_cap",
                                    "would_send", "excluded_filter")} == {
        "matching": 5, "unsubscribed": 1, "invalid_email": 1, "over_cap": 2, "would_send": 2,
        "excluded_filter": 1}
    report = batch["report"]
    assert (report["created"], report["held_back"], report["invalid_email"],
            report["excluded_filter"]) == (2, 2, 1, 1), "the initial import did as previewed"
    shown = pipeline.cli("preview", "--account", acct.name).stdout
    assert "match the filters" in shown and "over the cap" in shown


def _csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    lines = ["id,email,role,occurred_at"]
    lines += [f"{cid},{cid.lower()}@example.com,Buyer,{when}" for cid, when in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_cap_limits_a_bulk_import_but_not_later_single_changes(
    pipeline: Pipeline, tmp_path: Path,
) -> None:
    acct = pipeline.add_account("--max-bulk-export", "2")
    pipeline.post([pipeline.upsert(acct, f"C-{n}", n, role="Buyer") for n in range(1, 5)])
    [initial] = pipeline.settle(acct)
    assert (initial["report"]["created"], initial["report"]["held_back"]) == (2, 2)
    assert set(pipeline.profiles(acct)) == {"c-3@example.com", "c-4@example.com"}, (
        "the most recently changed go first")
    assert {cid for cid, d in pipeline.details(acct, initial).items()
            if d["outcome"] == "held_back"} == {"C-1", "C-2"}

    report = pipeline.sync(acct, [pipeline.upsert(acct, f"C-{n}", 10 + n, role="Buyer")
                                  for n in (1, 2, 5)])
    assert (report.get("created"), report.get("held_back", 0)) == (3, 0), (
        "one-by-one changes always go through")

    export = _csv(tmp_path / "export.csv", [("C-6", "2026-11-22T11:00:01Z"),
                                            ("C-7", "2026-11-22T11:00:02Z"),
                                            ("C-8", "2026-11-22T11:00:03Z")])
    pipeline.cli("import", str(export), "--account", acct.name)
    report = summed(pipeline.settle(acct))
    assert (report.get("created"), report.get("held_back")) == (2, 1), "a file import is capped"
    assert "c-6@example.com" not in pipeline.profiles(acct)

    pipeline.set_account(acct, "--roles", "Buyer,Intern")
    report = summed(pipeline.settle(acct))
    assert (report.get("held_back"), report.get("unchanged")) == (6, 2), (
        "the re-evaluation after a filter change is capped too: the 2 newest go on")

    pipeline.set_account(acct, "--max-bulk-export", "0")
    pipeline.set_account(acct, "--roles", "*")
    report = summed(pipeline.settle(acct))
    assert (report.get("held_back", 0), report.get("created")) == (0, 1), (
        "without a cap the next re-evaluation sends what was held back")
    assert len(pipeline.profiles(acct)) == 8
