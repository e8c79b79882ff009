"""Through the real processes: a contact that stops matching the account's filters (its own
change, or the account's new filters) leaves the lists the sync put it in, its profile and
consent kept, and rejoins them when it matches again."""

from __future__ import annotations

import pytest

from tests.e2e.pipeline import Pipeline, summed

pytestmark = pytest.mark.xdist_group("test_contacts_leaving_the_filters_leave_the_lists")
"""The module shares one running stack (tests/e2e/conftest.py): keep it on one worker."""

ANN, BOB = "c-1@example.com", "c-2@example.com"


def test_a_contact_leaves_the_list_when_it_leaves_the_filters_and_rejoins_on_return(
        pipeline: Pipeline) -> None:
    acme = pipeline.add_account("--roles", "Buyer")
    newsletter = pipeline.create_list(acme, "Newsletter")
    pipeline.set_account(acme, "--default-list", newsletter)
    pipeline.sync(acme, [pipeline.upsert(acme, "C-1", 1, role="Buyer", marketing="subscribed"),
                         pipeline.upsert(acme, "C-2", 1, role="Buyer")])
    assert pipeline.members(acme, newsletter) == {ANN, BOB}
    consent = pipeline.profiles(acme)[ANN]["subscriptions"]

    moved = pipeline.sync(acme, [pipeline.upsert(acme, "C-1", 2, role="Engineer",
                                                 marketing="subscribed")])

    assert moved.get("left_filters") == 1 and moved.get("excluded_filter") == 1
    assert pipeline.members(acme, newsletter) == {BOB}
    assert pipeline.profiles(acme)[ANN]["subscriptions"] == consent, "consent untouched"

    back = pipeline.sync(acme, [pipeline.upsert(acme, "C-1", 3, role="Buyer",
                                                marketing="subscribed")])
    assert not back.get("left_filters")
    assert pipeline.members(acme, newsletter) == {ANN, BOB}


def test_new_account_filters_move_contacts_out_of_the_list(pipeline: Pipeline) -> None:
    acme = pipeline.add_account("--roles", "*")
    newsletter = pipeline.create_list(acme, "Newsletter")
    pipeline.set_account(acme, "--default-list", newsletter)
    pipeline.sync(acme, [pipeline.upsert(acme, "C-1", 1, role="Buyer"),
                         pipeline.upsert(acme, "C-2", 1, role="Engineer")])
    assert pipeline.members(acme, newsletter) == {ANN, BOB}

    pipeline.set_account(acme, "--roles", "Buyer")
    report = summed(pipeline.settle(acme))

    assert report.get("left_filters") == 1
    assert pipeline.members(acme, newsletter) == {ANN}
    assert BOB in pipeline.profiles(acme), "the profile is kept"
