"""Member pulls against the sandbox: every page, incremental, the cursor's second, echoes,
removals, and members joining while pulls run."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from shared import constants as keys
from tests.workers.reverse.reverse_harness import ReverseAccount
from workers.reverse.echo import record_pushed

T0 = 1_800_000_000.0
STATE_SHAPES = ("redis", "cluster")
"""Every pull here runs on one Redis and on a Redis Cluster (tests/conftest.py)."""


def test_a_list_of_more_than_a_hundred_members_is_pulled_on_every_page_once(
        acct: ReverseAccount) -> None:
    list_id = acct.create_list("Newsletter")
    members = acct.people(130)
    acct.sign_up(list_id, members)
    acct.discover()

    first = acct.pull(started=T0)
    again = acct.pull(started=T0 + 900)

    assert first[list_id].read == 130 and first[list_id].published == 130
    assert again[list_id].published == 0
    assert sorted(acct.added(list_id)) == sorted(members)


def test_the_published_event_names_the_list_and_the_person(acct: ReverseAccount) -> None:
    list_id = acct.create_list("Spring promo")
    person = acct.person("Ann@Example.com", phone="+14155550100")
    acct.sign_up(list_id, [person], at="2026-11-20T10:00:00+00:00")
    acct.discover()

    acct.pull(started=T0)

    [event] = acct.events()
    assert event["type"] == "subscriber.added"
    assert event["account"] == acct.name
    assert (event["list_id"], event["list_name"]) == (list_id, "Spring promo")
    assert (event["profile_id"], event["phone"]) == (person, "+14155550100")
    assert event["email"].lower() == "ann@example.com"
    assert event["joined_group_at"].startswith("2026-11-20T10:00:00")
    assert event["consent"]  # Klaviyo's email marketing consent, e.g. NEVER_SUBSCRIBED


def test_members_joining_between_pulls_are_published_by_the_next_pull(
        acct: ReverseAccount) -> None:
    list_id = acct.create_list()
    early = acct.people(3)
    acct.sign_up(list_id, early)
    acct.discover()
    acct.pull(started=datetime.now(UTC).timestamp())

    later = acct.people(2)
    acct.sign_up(list_id, later)
    acct.pull(started=datetime.now(UTC).timestamp())

    added = acct.added(list_id)
    assert sorted(added[:3]) == sorted(early) and sorted(added[3:]) == sorted(later)


def test_a_member_joining_in_the_same_second_as_the_cursor_is_not_missed(
        acct: ReverseAccount) -> None:
    list_id = acct.create_list()
    cursor_second = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)
    first = acct.person()
    acct.sign_up(list_id, [first], at=cursor_second)
    acct.discover()
    acct.pull(started=cursor_second.timestamp() + 0.4, lookback=0)

    same_second = acct.person()
    acct.sign_up(list_id, [same_second], at=cursor_second + timedelta(milliseconds=700))
    result = acct.pull(started=cursor_second.timestamp() + 5, lookback=0)

    assert result[list_id].published == 1
    assert acct.added(list_id) == [first, same_second]


def test_a_list_created_between_two_discoveries_is_pulled_only_once_discovered(
        acct: ReverseAccount) -> None:
    old = acct.create_list("Old")
    acct.discover()
    new = acct.create_list("New")
    signed_up = acct.people(2)
    acct.sign_up(new, signed_up)

    before = acct.pull(started=T0)
    found = acct.discover(now=T0 + 100)
    after = acct.pull(started=T0 + 900)

    assert new not in before and old in before
    assert found.new == [new]
    assert after[new].published == 2
    assert sorted(acct.added(new)) == sorted(signed_up)


def test_members_the_push_side_put_in_the_list_are_not_echoed(acct: ReverseAccount) -> None:
    list_id = acct.create_list()
    pushed = acct.person("crm-contact@example.com")
    signed_up = acct.person("form-sign-up@example.com")
    record_pushed(acct.r, acct.name, list_id, ["CRM-Contact@example.com"])
    acct.sign_up(list_id, [pushed, signed_up])
    acct.discover()

    result = acct.pull(started=T0)

    assert acct.added(list_id) == [signed_up]
    assert result[list_id].echoes == 1


def test_a_member_who_leaves_is_published_as_removed_by_the_full_pass(
        acct: ReverseAccount) -> None:
    list_id = acct.create_list()
    stays, leaves = acct.people(2)
    acct.sign_up(list_id, [stays, leaves])
    acct.discover()
    acct.pull(started=T0)

    acct.leave(list_id, [leaves])
    acct.pull(started=T0 + 900, removals=True)
    acct.pull(started=T0 + 1800, removals=True)

    removed = [e for e in acct.events() if e["type"] == "subscriber.removed"]
    assert [(e["profile_id"], e["list_id"]) for e in removed] == [(leaves, list_id)]
    assert acct.r.smembers(keys.list_members(acct.name, list_id)) == {stays}


def test_members_added_while_pulls_run_are_all_published_exactly_once(
        acct: ReverseAccount) -> None:
    list_id = acct.create_list()
    people = acct.people(120)
    acct.discover()
    stop = threading.Event()

    def sign_ups() -> None:
        for start in range(0, len(people), 6):
            acct.sign_up(list_id, people[start:start + 6])
        stop.set()

    adder = threading.Thread(target=sign_ups)
    adder.start()
    pulls = 0
    while not stop.is_set() or pulls < 2:  # no lookback: the cursor alone must hold
        acct.pull(started=datetime.now(UTC).timestamp(), lookback=0)
        pulls += 1
    adder.join()
    acct.pull(started=datetime.now(UTC).timestamp(), lookback=0)

    added = acct.added(list_id)
    assert pulls >= 2
    assert sorted(added) == sorted(people)  # none missed, none twice
