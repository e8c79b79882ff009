"""The outbox hands every published entry to the CRM delivery, including those a crash
left between reading and sending, and none twice once handed over."""

from __future__ import annotations

import pytest
import redis

from workers.reverse.crm_handover import hand_over
from workers.reverse.crm_outbox import Member, Publisher


def publish(r: redis.Redis, count: int, first: int = 0) -> list[str]:
    publisher = Publisher(r, "acme", "Y6nRLr", "News", lambda: 1.0)
    return [str(publisher.added(Member(profile_id=f"P{n}")))
            for n in range(first, first + count)]


def test_every_entry_is_handed_over_once(r: redis.Redis) -> None:
    first = publish(r, 3)
    sent: list[str] = []
    hand_over(r, "acme", lambda account, entry: sent.append(entry))
    later = publish(r, 2, first=3)
    hand_over(r, "acme", lambda account, entry: sent.append(entry))
    hand_over(r, "acme", lambda account, entry: sent.append(entry))

    assert sent == first + later


def test_entries_a_crash_left_unsent_are_sent_by_a_later_hand_over(r: redis.Redis) -> None:
    entries = publish(r, 3)
    sent: list[str] = []

    def crash_on_second(account: str, entry: str) -> None:
        if sent:
            raise ConnectionError("worker died while enqueueing")
        sent.append(entry)

    with pytest.raises(ConnectionError):
        hand_over(r, "acme", crash_on_second)
    hand_over(r, "acme", lambda account, entry: sent.append(entry), claim_after_ms=0)
    hand_over(r, "acme", lambda account, entry: sent.append(entry), claim_after_ms=0)

    assert sent == entries
