"""Sign-ups reach the CRM through a real Dramatiq worker: signed like the inbound webhook,
retried with backoff while the CRM fails, dead-lettered when it never recovers."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from producers.signature import HEADER, verify
from shared import constants as keys
from shared.state.dead_letters import DeadLetters
from tests.workers.dramatiq_harness import wait_for
from tests.workers.push_harness import push_worker
from tests.workers.reverse.crm_receiver import SECRET, CrmReceiver, configure_crm
from tests.workers.reverse.reverse_harness import ReverseAccount
from workers.reverse.actors import pull_list_members


def pull_now(acct: ReverseAccount) -> None:
    pull_list_members.send(acct.name)


@pytest.fixture
def signed_up(acct: ReverseAccount) -> tuple[str, list[str]]:
    """A discovered list with three form sign-ups."""
    list_id = acct.create_list("Newsletter")
    people = acct.people(3)
    acct.sign_up(list_id, people)
    acct.discover()
    return list_id, people


def test_new_members_reach_the_crm_signed_like_the_inbound_webhook(
        monkeypatch: Any, redis_url: str, acct: ReverseAccount,
        signed_up: tuple[str, list[str]]) -> None:
    list_id, people = signed_up
    with CrmReceiver() as crm:
        configure_crm(monkeypatch, crm.url)
        with push_worker(redis_url):
            pull_now(acct)
            wait_for(lambda: len(crm.accepted) >= 3)

        for headers, body in crm.accepted:
            verify(headers[HEADER], body, [SECRET])  # raises unless signed with the secret
        documents = crm.documents()
    assert sorted(d["profile"]["id"] for d in documents) == sorted(people)
    assert {d["type"] for d in documents} == {"subscriber.added"}
    assert {d["list"]["id"] for d in documents} == {list_id}
    assert all(d["profile"]["email"].endswith("@example.com") for d in documents)
    assert sorted(d["id"] for d in documents) == sorted(e["id"] for e in acct.events())


def test_a_crm_that_fails_for_a_while_gets_every_member_once_after_it_recovers(
        monkeypatch: Any, redis_url: str, acct: ReverseAccount,
        signed_up: tuple[str, list[str]]) -> None:
    _list_id, people = signed_up
    with CrmReceiver(failures=7) as crm:
        configure_crm(monkeypatch, crm.url)
        with push_worker(redis_url):
            pull_now(acct)
            wait_for(lambda: len(crm.accepted) >= 3)
            acct.r.hdel(keys.pull_state(acct.name), "pull_ended_at")
            pull_now(acct)  # a second pull publishes nothing new
            wait_for(lambda: acct.r.hget(keys.pull_state(acct.name), "pull_ended_at"))
        documents = crm.documents()
    assert crm.attempts == 7 + 3
    assert sorted(d["profile"]["id"] for d in documents) == sorted(people)


def test_a_crm_that_never_recovers_leaves_the_deliveries_in_the_dead_letter_queue(
        monkeypatch: Any, redis_url: str, r: redis.Redis, acct: ReverseAccount,
        signed_up: tuple[str, list[str]]) -> None:
    with CrmReceiver(failures=-1) as crm:
        configure_crm(monkeypatch, crm.url, retries=2)
        with push_worker(redis_url):
            pull_now(acct)
            wait_for(lambda: len(DeadLetters(r).list(actor="deliver_to_crm")) == 3)
    letters = DeadLetters(r).list(actor="deliver_to_crm")
    assert crm.attempts == 3 * 3  # first try + 2 retries each
    entry_ids = sorted(e["id"] for e in acct.events())
    assert sorted(letter.message.args[1] for letter in letters) == entry_ids
    for letter in letters:
        assert letter.message.args[0] == acct.name and len(letter.message.args) == 2
        assert "@" not in letter.arguments  # ids only, no email
        assert "503" in letter.error
