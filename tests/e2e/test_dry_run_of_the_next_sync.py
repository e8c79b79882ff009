"""Through the real processes: ``contact-sync preview --next`` says what the next batch
will do, changes nothing, and the batch then does exactly that."""

from __future__ import annotations

import json

import pytest

from shared import constants as keys
from tests.e2e.pipeline import Pipeline, at, summed
from tests.support.process_stack import contact_event, wait_until

pytestmark = pytest.mark.xdist_group("test_dry_run_of_the_next_sync")
"""The module shares one running stack (tests/e2e/conftest.py): keep it on one worker."""


def test_the_dry_run_foresees_the_next_batch_and_changes_nothing(pipeline: Pipeline) -> None:
    acme = pipeline.add_account("--roles", "Buyer")
    newsletter = pipeline.create_list(acme, "Newsletter")
    pipeline.set_account(acme, "--default-list", newsletter)
    pipeline.sync(acme, [pipeline.upsert(acme, f"C-{n}", 1, role="Buyer", job_title="Boss")
                         for n in (1, 2, 3, 5)])
    pipeline.set_account(acme, "--interval", "3600")  # the next batch waits for the test
    pipeline.post([
        pipeline.upsert(acme, "C-1", 2, role="Buyer", first_name="Ann"),  # update, clear
        pipeline.delete(acme, "C-2", 2),  # leaves the list
        contact_event(acme.name, "C-3", at(2), event_type="contact.erased"),
        pipeline.upsert(acme, "C-4", 2, role="Buyer"),  # new
        pipeline.upsert(acme, "C-5", 2, role="Engineer", job_title="Boss"),  # leaves filters
        pipeline.upsert(acme, "C-6", 2, role="Buyer", email="not-an-email"),
        pipeline.upsert(acme, "C-7", 2, role="Buyer", marketing="unsubscribed")])
    wait_until(lambda: pipeline.r.zcard(keys.pending(acme.name)) == 7, 60, "events collected")
    wait_until(lambda: pipeline.pull_settled(acme), 60, "the first reverse pull ended")
    before, calls = pipeline.account_state(acme), pipeline.sandbox.calls(acme.key)

    shown = json.loads(pipeline.cli("preview", "--next", "--account", acme.name,
                                    "--json").stdout)

    assert pipeline.account_state(acme) == before, "the dry run wrote nothing"
    assert pipeline.sandbox.calls(acme.key) == calls, "nor called Klaviyo"
    expected = {"contacts": 7, "create": 2, "update": 1, "list_join": 1, "list_leave": 2,
                "clear_fields": 1, "subscribe": 0, "unsubscribe": 1, "erase": 1}
    assert {kind: shown[kind] for kind in expected} == expected
    assert shown["excluded"]["excluded_filter"] == 1 and shown["excluded"]["invalid_email"] == 1
    assert shown["contact_ids"]["erase"] == ["C-3"]
    assert sorted(shown["contact_ids"]["list_leave"]) == ["C-2", "C-5"]

    pipeline.set_account(acme, "--interval", "1")
    report = summed(pipeline.settle(acme))
    assert (report.get("created"), report.get("updated")) == (shown["create"], shown["update"])
    assert report.get("removed_from_lists", 0) + report.get("left_filters", 0) \
        == shown["list_leave"]
    assert report.get("erased") == shown["erase"]
    assert report.get("cleared_fields") == shown["clear_fields"]
    assert report.get("unsubscribed") == shown["unsubscribe"]
    assert report.get("excluded_filter") == shown["excluded"]["excluded_filter"]
    assert report.get("invalid_email") == shown["excluded"]["invalid_email"]
