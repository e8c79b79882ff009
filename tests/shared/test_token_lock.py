"""A token's lock against a real Redis: only its holder extends or frees it."""

from __future__ import annotations

import redis

from shared import token_lock


def test_only_the_tokens_holder_extends_or_frees_its_lock(r: redis.Redis) -> None:
    r.set("lock", "mine", nx=True, px=1_000)

    assert not token_lock.extend(r, "lock", "theirs", 60_000)
    assert not token_lock.release(r, "lock", "theirs")
    assert r.get("lock") == "mine" and r.pttl("lock") <= 1_000

    assert token_lock.extend(r, "lock", "mine", 60_000)
    assert r.pttl("lock") > 1_000
    assert token_lock.release(r, "lock", "mine")
    assert not r.exists("lock")
    assert not token_lock.release(r, "lock", "mine"), "a freed lock is not freed twice"
