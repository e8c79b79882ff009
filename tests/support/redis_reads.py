"""Typed reads of the test Redis (decoded replies): redis-py types its replies as a union of
every kind of answer, so a test that reads a stream or a sorted set reads it here."""

from __future__ import annotations

from typing import Any

import redis

from shared.redis_text import as_text, as_texts

Entry = tuple[str, dict[str, str]]


def stream_entries(r: redis.Redis, key: str) -> list[Entry]:
    """Every entry of the stream ``key``, oldest first, as (id, fields)."""
    raw: Any = r.xrange(key)
    return [(as_text(entry_id), as_texts(fields)) for entry_id, fields in raw]


def read_group(r: redis.Redis, group: str, consumer: str, key: str, count: int) -> list[Entry]:
    """``XREADGROUP`` of new entries of one stream, as (id, fields)."""
    raw: Any = r.xreadgroup(group, consumer, {key: ">"}, count=count)
    return [(as_text(entry_id), as_texts(fields)) for _, entries in raw or []
            for entry_id, fields in entries]


def sorted_members(r: redis.Redis, key: str) -> list[str]:
    """The members of the sorted set ``key``, lowest score first."""
    raw: Any = r.zrange(key, 0, -1)
    return [as_text(member) for member in raw]


def hash_fields(r: redis.Redis, key: str) -> dict[str, str]:
    """The hash ``key`` as text (absent: ``{}``)."""
    raw: Any = r.hgetall(key)
    return as_texts(raw)
