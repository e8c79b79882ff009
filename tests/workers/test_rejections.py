"""Rejected contacts go back into pending in one step, and only once."""

from __future__ import annotations

import redis

from shared import constants as keys
from shared.state.rejections import list_rejections, record_rejection, replay_rejections


def _reject(r: redis.Redis, contact_id: str, at: float = 100.0) -> None:
    record_rejection(r, "acme", contact_id, code="invalid", title="Invalid input.",
                     detail="Invalid phone number +447700900123", batch_id="b-1", at=at)


def test_rejections_are_listed_newest_first_with_klaviyos_reason_masked(r: redis.Redis) -> None:
    _reject(r, "C-1", at=100)
    _reject(r, "C-2", at=200)
    [newest, oldest] = list_rejections(r, "acme")
    assert (newest.contact_id, oldest.contact_id) == ("C-2", "C-1")
    assert newest.code == "invalid" and newest.batch_id == "b-1"
    assert newest.detail == "Invalid phone number +***"


def test_replay_moves_chosen_contacts_from_rejected_into_pending(r: redis.Redis) -> None:
    _reject(r, "C-1")
    _reject(r, "C-2")
    assert replay_rejections(r, "acme", ["C-1", "C-9"], now=500) == ["C-1"]
    assert r.zscore(keys.pending("acme"), "C-1") == 500
    assert r.hkeys(keys.rejected("acme")) == ["C-2"]
    assert replay_rejections(r, "acme", ["C-1"], now=600) == [], "replayed once only"


def test_replay_all_keeps_the_score_of_a_contact_already_pending(r: redis.Redis) -> None:
    _reject(r, "C-1")
    _reject(r, "C-2")
    r.zadd(keys.pending("acme"), {"C-2": 42})  # changed again in the CRM meanwhile
    assert sorted(replay_rejections(r, "acme", None, now=500)) == ["C-1", "C-2"]
    assert r.zrange(keys.pending("acme"), 0, -1, withscores=True) == [("C-2", 42), ("C-1", 500)]
    assert r.hlen(keys.rejected("acme")) == 0
