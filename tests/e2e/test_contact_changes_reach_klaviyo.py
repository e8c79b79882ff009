"""Through the real processes: the CRM's created, updated and deleted contacts,
posted to the signed webhook, reach each account's own Klaviyo account."""

from __future__ import annotations

import pytest

from tests.e2e.pipeline import STATE_SHAPES, Pipeline

__all__ = ["STATE_SHAPES"]
"""Every test here runs on one Redis and on a Redis Cluster (tests/e2e/conftest.py)."""

pytestmark = pytest.mark.xdist_group("test_contact_changes_reach_klaviyo")
"""The module shares one running stack (tests/e2e/conftest.py): keep it on one worker."""


def test_created_updated_and_deleted_contacts_reach_klaviyo(pipeline: Pipeline) -> None:
    acme, globex = pipeline.add_account(), pipeline.add_account()
    acme_list = pipeline.create_list(acme, "Newsletter")
    pipeline.set_account(acme, "--default-list", acme_list)

    pipeline.post([
        pipeline.upsert(acme, "C-1", 1, first_name="Ann", last_name="Lee",
                        company={"id": "CO-1", "name": "Acme Ltd", "type": "Customer"}),
        pipeline.upsert(acme, "C-2", 1, first_name="Bob"),
        pipeline.upsert(globex, "G-1", 1, first_name="Gil"),
    ])
    assert pipeline.settle(globex)
    created = pipeline.settle(acme)
    assert created[0]["report"]["created"] == 2

    profiles = pipeline.profiles(acme)
    assert set(profiles) == {"c-1@example.com", "c-2@example.com"}
    ann = profiles["c-1@example.com"]
    assert (ann["first_name"], ann["last_name"], ann["organization"]) == ("Ann", "Lee",
                                                                         "Acme Ltd")
    assert set(pipeline.profiles(globex)) == {"g-1@example.com"}
    assert pipeline.members(acme, acme_list) == {"c-1@example.com", "c-2@example.com"}

    report = pipeline.sync(acme, [pipeline.upsert(acme, "C-1", 2, first_name="Annie"),
                                  pipeline.delete(acme, "C-2", 2)])
    assert report.get("updated") == 1 and report.get("removed_from_lists") == 1

    profiles = pipeline.profiles(acme)
    assert profiles["c-1@example.com"]["first_name"] == "Annie"
    assert "c-2@example.com" in profiles, "a CRM delete never deletes the Klaviyo profile"
    assert pipeline.members(acme, acme_list) == {"c-1@example.com"}
    assert set(pipeline.profiles(globex)) == {"g-1@example.com"}


def test_a_repeated_delivery_changes_nothing_in_klaviyo(pipeline: Pipeline) -> None:
    acme = pipeline.add_account()
    first = pipeline.upsert(acme, "C-1", 1, first_name="Ann")
    assert pipeline.sync(acme, [first]).get("created") == 1
    before = pipeline.profiles(acme)

    report = pipeline.sync(acme, [first, first])
    assert report.get("created", 0) == 0 and report.get("updated", 0) == 0
    assert pipeline.profiles(acme) == before
