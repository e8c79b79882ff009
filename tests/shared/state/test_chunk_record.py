"""The chunk record's readers against a real Redis."""

from __future__ import annotations

import redis

from shared.state.chunk_record import ChunkField, ChunkStatus, chunk_id, chunk_key, not_done


def test_the_chunks_left_to_send_are_those_not_done_in_the_order_asked(
        r: redis.Redis) -> None:
    r.hset(chunk_key("acme", "b1", 0), ChunkField.STATUS, ChunkStatus.DONE)
    r.hset(chunk_key("acme", "b1", 1), ChunkField.STATUS, ChunkStatus.PLANNED)
    r.hset(chunk_key("acme", "b1", 3), ChunkField.STATUS, ChunkStatus.DONE)
    r.hset(chunk_key("other", "b1", 2), ChunkField.STATUS, ChunkStatus.DONE)

    asked = [chunk_id(index) for index in (2, 0, 1, 3)]
    assert not_done(r, "acme", "b1", asked) == [chunk_id(2), chunk_id(1)]
