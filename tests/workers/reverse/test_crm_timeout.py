"""A CRM that answers after ``SYNC_CRM_TIMEOUT_MS`` counts as a failure: retries come with
growing backoff, and the entry is delivered once the CRM is fast again."""

from __future__ import annotations

import threading
from itertools import pairwise
from typing import Any

import pytest
import redis

from shared.settings import Settings
from shared.state.dead_letters import DeadLetters
from tests.workers.dramatiq_harness import wait_for
from tests.workers.push_harness import push_worker
from tests.workers.reverse.crm_receiver import CrmReceiver, Document, configure_crm
from tests.workers.reverse.reverse_harness import ReverseAccount
from workers.reverse.actors import pull_list_members

TIMEOUT_MS = 300
MIN_BACKOFF_MS = 200
SLOW_S = 1.5


def first_answers_slow(count: int) -> Any:
    """``slow`` for a CrmReceiver: the first ``count`` requests take :data:`SLOW_S`."""
    seen = [0]
    lock = threading.Lock()

    def slow(_document: Document) -> float:
        with lock:
            seen[0] += 1
            return SLOW_S if count < 0 or seen[0] <= count else 0.0
    return slow


def one_sign_up(acct: ReverseAccount) -> None:
    list_id = acct.create_list("Newsletter")
    acct.sign_up(list_id, acct.people(1))
    acct.discover()
    pull_list_members.send(acct.name)


def test_a_crm_slower_than_the_timeout_is_retried_with_growing_gaps_then_gets_the_entry(
        monkeypatch: Any, redis_url: str, r: redis.Redis, acct: ReverseAccount) -> None:
    with CrmReceiver(slow=first_answers_slow(3)) as crm:
        configure_crm(monkeypatch, crm.url, retries=10, min_backoff_ms=MIN_BACKOFF_MS,
                      max_backoff_ms=10_000, timeout_ms=TIMEOUT_MS)
        with push_worker(redis_url):
            one_sign_up(acct)
            wait_for(lambda: crm.accepted, timeout=60)
        wait_for(lambda: len(crm.log) >= 4)  # the last slow answer ends after the fast one
        attempts = sorted(crm.log, key=lambda attempt: attempt.arrived)

    assert [a.late for a in attempts] == [True, True, True, False]
    assert len(crm.documents()) == 1
    for retry, (before, after) in enumerate(pairwise(attempts)):
        # the POST gave up after the timeout, then Dramatiq waited >= min backoff * 2^retry
        least = (TIMEOUT_MS + MIN_BACKOFF_MS * 2 ** retry) / 1000
        assert after.arrived - before.arrived >= least, (retry, after.arrived - before.arrived)
    assert DeadLetters(r).list(actor="deliver_to_crm") == []


def test_a_crm_that_stays_slow_leaves_a_dead_letter_saying_it_did_not_answer_in_time(
        monkeypatch: Any, redis_url: str, r: redis.Redis, acct: ReverseAccount) -> None:
    with CrmReceiver(slow=first_answers_slow(-1)) as crm:
        configure_crm(monkeypatch, crm.url, retries=1, timeout_ms=TIMEOUT_MS)
        with push_worker(redis_url):
            one_sign_up(acct)
            wait_for(lambda: DeadLetters(r).list(actor="deliver_to_crm"), timeout=60)
    [letter] = DeadLetters(r).list(actor="deliver_to_crm")
    assert "did not answer entry" in letter.error
    assert "within 0.3 s" in letter.error
    assert crm.accepted == []


@pytest.mark.parametrize(("value", "said"), [("soon", "a whole number, got 'soon'"),
                                             ("0", "between 1 and 300000, got 0")])
def test_a_bad_timeout_setting_is_refused_naming_the_variable(
        monkeypatch: Any, value: str, said: str) -> None:
    monkeypatch.setenv("SYNC_CRM_TIMEOUT_MS", value)
    with pytest.raises(ValueError, match=f"SYNC_CRM_TIMEOUT_MS must be {said}"):
        Settings()
