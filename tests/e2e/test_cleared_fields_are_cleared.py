"""Through the real processes: a field, property or phone the CRM clears is cleared in
Klaviyo at the next batch (bulk imports ignore nulls), and the rest is kept."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.pipeline import Pipeline

pytestmark = pytest.mark.xdist_group("test_cleared_fields_are_cleared")
"""The module shares one running stack (tests/e2e/conftest.py): keep it on one worker."""

PHONE = "+14155550123"


def update_calls(pipeline: Pipeline, key: str) -> int:
    calls: dict[str, dict[str, int]] = pipeline.sandbox.calls(key)
    return sum(calls.get("update_profile", {}).values())


def test_cleared_fields_and_phones_are_cleared_in_klaviyo_and_the_rest_kept(
        pipeline: Pipeline) -> None:
    acme = pipeline.add_account()
    full: dict[str, Any] = {"first_name": "Ann", "last_name": "Lee", "job_title": "Buyer",
                            "phone": PHONE, "properties": {"ltv": "1234.5", "tier": "gold"}}
    pipeline.sync(acme, [pipeline.upsert(acme, "C-1", 1, **full),
                         pipeline.upsert(acme, "C-3", 1, first_name="Cy")])
    before = pipeline.profiles(acme)["c-1@example.com"]
    assert (before["title"], before["phone_number"]) == ("Buyer", PHONE)
    calls = update_calls(pipeline, acme.key)

    report = pipeline.sync(acme, [
        pipeline.upsert(acme, "C-1", 2, first_name="Ann", last_name="Lee", job_title=None,
                        phone=None, properties={"tier": "gold"}),
        pipeline.upsert(acme, "C-3", 2, first_name="Cyrus")])

    assert report.get("cleared_fields") == 1
    ann = pipeline.profiles(acme)["c-1@example.com"]
    assert ann["title"] is None and ann["phone_number"] is None
    assert ann["properties"].get("tier") == "gold" and "ltv" not in ann["properties"]
    assert (ann["first_name"], ann["last_name"]) == ("Ann", "Lee")
    assert pipeline.profiles(acme)["c-3@example.com"]["first_name"] == "Cyrus"
    assert update_calls(pipeline, acme.key) == calls + 1, \
        "only the contact with something to clear costs a call"

    taken = pipeline.sync(acme, [pipeline.upsert(acme, "C-2", 3, phone=PHONE)])
    assert not taken.get("phone_shared"), "the cleared phone is free for its next owner"
    assert pipeline.profiles(acme)["c-2@example.com"]["phone_number"] == PHONE

    again = pipeline.sync(acme, [pipeline.upsert(acme, "C-1", 4, first_name="Ann",
                                                 last_name="Lee", properties={"tier": "gold"})])
    assert not again.get("cleared_fields"), "what is cleared is not cleared again"
