"""One member's entries reach the CRM in stream order, through a real Dramatiq worker and a
real CRM HTTP server: a removal waits while its member's sign-up is being retried, other
members do not wait, a given-up sign-up lets the removal through and is not POSTed after it
when replayed."""

from __future__ import annotations

from typing import Any

import redis

from shared import constants as keys
from shared.state.dead_letters import DeadLetters
from tests.workers.dramatiq_harness import wait_for
from tests.workers.push_harness import push_worker
from tests.workers.reverse.crm_receiver import CrmReceiver, Document, configure_crm
from tests.workers.reverse.reverse_harness import ReverseAccount
from workers.reverse.actors import pull_list_members


def pull(acct: ReverseAccount, again: bool = False) -> None:
    """Send a pull; ``again``: once the previous one has ended, with the day's removal
    pass once more."""
    if again:
        state = keys.pull_state(acct.name)
        wait_for(lambda: acct.r.hget(state, "pull_ended_at"))
        acct.r.hdel(state, "pull_ended_at", "removals_on")
    pull_list_members.send(acct.name)


def is_entry(document: Document, kind: str, profile_id: str) -> bool:
    return bool(document["type"] == kind and document["profile"]["id"] == profile_id)


def test_a_removal_waits_for_its_members_retried_sign_up_while_other_members_go_ahead(
        monkeypatch: Any, redis_url: str, acct: ReverseAccount) -> None:
    list_id = acct.create_list("Newsletter")
    ann, bob = acct.people(2)
    acct.sign_up(list_id, [ann])
    acct.discover()

    def removal_published() -> bool:
        return any(e["type"] == "subscriber.removed" for e in acct.events())

    def refuse(document: Document) -> bool:
        """Ann's sign-up fails until her removal is published and Bob got through."""
        bob_in = any(is_entry(d, "subscriber.added", bob) for d in crm.documents())
        return is_entry(document, "subscriber.added", ann) and not (
            removal_published() and bob_in)

    with CrmReceiver(refuse=refuse) as crm:
        configure_crm(monkeypatch, crm.url, retries=40, min_backoff_ms=50, max_backoff_ms=400)
        with push_worker(redis_url):
            pull(acct)  # the first pull: ann's sign-up, refused
            wait_for(lambda: crm.attempts >= 1)
            acct.leave(list_id, [ann])
            acct.sign_up(list_id, [bob])
            pull(acct, again=True)  # bob's sign-up and ann's removal
            wait_for(lambda: any(is_entry(d, "subscriber.removed", ann)
                                 for d in crm.documents()), timeout=60)
        documents = crm.documents()

    ann_seen = [d["type"] for d in documents if d["profile"]["id"] == ann]
    assert ann_seen == ["subscriber.added", "subscriber.removed"]
    assert [d["type"] for d in documents if d["profile"]["id"] == bob] == ["subscriber.added"]
    removal = next(d["id"] for d in documents if d["type"] == "subscriber.removed")
    assert all(a.document["type"] == "subscriber.added" for a in crm.log
               if a.answer == 503), "the removal was never tried while the sign-up failed"
    assert len(crm.attempts_of(removal)) == 1


def test_a_given_up_sign_up_lets_the_removal_through_and_is_not_posted_after_it_on_replay(
        monkeypatch: Any, redis_url: str, r: redis.Redis, acct: ReverseAccount) -> None:
    list_id = acct.create_list("Newsletter")
    [ann] = acct.people(1)
    acct.sign_up(list_id, [ann])
    acct.discover()
    with CrmReceiver(refuse=lambda d: d["type"] == "subscriber.added") as crm:
        configure_crm(monkeypatch, crm.url, retries=1)
        with push_worker(redis_url):
            pull(acct)
            wait_for(lambda: len(DeadLetters(r).list(actor="deliver_to_crm")) == 1)
            acct.leave(list_id, [ann])
            pull(acct, again=True)
            wait_for(lambda: crm.documents())
            [letter] = DeadLetters(r).list(actor="deliver_to_crm")
            sign_up = letter.message.args[1]
            assert DeadLetters(r).replay(letter)
            queued = keys.dramatiq_queue_messages("default")
            wait_for(lambda: not r.hexists(queued, letter.id))
        documents = crm.documents()

    assert [d["type"] for d in documents] == ["subscriber.removed"]
    assert len(crm.attempts_of(sign_up)) == 2  # first try + 1 retry; the replay is skipped
    assert DeadLetters(r).list(actor="deliver_to_crm") == []
