"""Split profile rows into bulk-import chunks within Klaviyo's limits, and a batch's deleted
contacts into delete chunks.

A bulk import job takes at most 10,000 profiles and 5 MB (docs/KLAVIYO.md). Whether 5 MB
means 5,000,000 or 5,242,880 bytes is not known, so chunks stay under 4,500,000 bytes of
JSON (peers keep under 4.6 MB). The size is measured: each profile's JSON bytes plus its
comma, plus a fixed allowance for the envelope.
``SYNC_CHUNK_MAX_PROFILES`` / ``SYNC_CHUNK_MAX_BYTES`` (:class:`shared.settings.Tuning`) lower
the limits (tests, benchmarks).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from shared.planning.clearing import Clearing
from shared.settings import Tuning, get_settings
from shared.state.chunk_record import ChunkKind, clear_chunk, delete_chunk, import_chunk

MAX_PROFILES = 10_000
MAX_BYTES = 4_500_000
ENVELOPE_BYTES = 512
"""Room for ``{"data": {"type": ..., "attributes": {"profiles": {"data": [...]}}, ...}}``."""
MAX_DELETES = 1000
"""Contacts per delete chunk (``SYNC_CHUNK_MAX_DELETES`` lowers it): one list-removal call
(Klaviyo takes 1,000 profiles a call) serves a chunk's members of a list."""
MAX_ERASURES = 100
"""Contacts per erase chunk: at Klaviyo's 60 deletion requests a minute, under two minutes
of calls."""
MAX_CLEARS = 500
"""Profiles per clear chunk (under a minute of calls at 750 a minute)."""


def limits(tuning: Tuning) -> tuple[int, int]:
    """(profiles, bytes) per chunk: Klaviyo's, or lower ones from the tuning knobs."""
    profiles = min(MAX_PROFILES, tuning.chunk_max_profiles or MAX_PROFILES)
    size = min(MAX_BYTES, tuning.chunk_max_bytes or MAX_BYTES)
    return profiles, size


def profile_resource(attributes: dict[str, Any]) -> dict[str, Any]:
    return {"type": "profile", "attributes": attributes}


def split(resources: Sequence[dict[str, Any]], max_profiles: int, max_bytes: int
          ) -> Iterator[tuple[int, int]]:
    """``(start, end)`` index ranges of ``resources``, each within both limits. A single
    profile over the byte limit still gets a chunk of its own (Klaviyo will say why)."""
    start, size = 0, ENVELOPE_BYTES
    for index, resource in enumerate(resources):
        item = len(orjson.dumps(resource)) + 1
        if index > start and (index - start >= max_profiles or size + item > max_bytes):
            yield start, index
            start, size = index, ENVELOPE_BYTES
        size += item
    if start < len(resources):
        yield start, len(resources)


class ChunkBuilder:
    """Fills one chunk at a time with profiles already encoded as JSON, by the rule of
    :func:`split`: a profile that would take the chunk over either limit starts the next
    one. The batch planner keeps one builder per target (with the default list, without),
    so rows of many slices fill whole chunks and only bytes are held, never row objects."""

    def __init__(self, list_id: str, max_profiles: int, max_bytes: int,
                 payload: Sequence[bytes] = (), rows: Sequence[bytes] = ()) -> None:
        self.list_id = list_id
        self.max_profiles, self.max_bytes = max_profiles, max_bytes
        self.payload: list[bytes] = []
        self.rows: list[bytes] = []
        self.size = ENVELOPE_BYTES
        for resource, row in zip(payload, rows, strict=True):
            self.add(resource, row)

    def add(self, resource: bytes, row: bytes) -> dict[str, Any] | None:
        """Add one profile; returns the chunk it completed (the one before it), if any."""
        item = len(resource) + 1
        full: dict[str, Any] | None = None
        if self.payload and (len(self.payload) >= self.max_profiles
                             or self.size + item > self.max_bytes):
            full = self.cut()
        self.payload.append(resource)
        self.rows.append(row)
        self.size += item
        return full

    def cut(self) -> dict[str, Any]:
        """The chunk hash of what the builder holds (it is then empty)."""
        chunk = import_chunk(self.list_id, join_json(self.payload), join_json(self.rows))
        self.payload, self.rows, self.size = [], [], ENVELOPE_BYTES
        return chunk


def join_json(items: Sequence[bytes]) -> bytes:
    """A JSON array of already encoded items."""
    return b"[" + b",".join(items) + b"]"


def split_json(array: bytes | str | None) -> list[bytes]:
    """The items of a JSON array, each encoded again on its own (inverse of
    :func:`join_json`)."""
    return [orjson.dumps(item) for item in orjson.loads(array)] if array else []


def delete_chunks(contact_ids: Sequence[str], kind: ChunkKind = ChunkKind.DELETE
                  ) -> Iterator[dict[str, Any]]:
    """The chunk hashes of a batch's deleted contacts (``kind`` ``leave``: of its contacts
    that left the filters), at most :data:`MAX_DELETES` each."""
    size = min(MAX_DELETES, get_settings().tuning.chunk_max_deletes or MAX_DELETES)
    for start in range(0, len(contact_ids), size):
        yield delete_chunk(contact_ids[start:start + size], kind)


def erase_chunks(contact_ids: Sequence[str]) -> Iterator[dict[str, Any]]:
    """The chunk hashes of a batch's erased contacts, at most :data:`MAX_ERASURES` each."""
    for start in range(0, len(contact_ids), MAX_ERASURES):
        yield delete_chunk(contact_ids[start:start + MAX_ERASURES], ChunkKind.ERASE)


def clear_chunks(clears: Sequence[Clearing]) -> Iterator[dict[str, Any]]:
    """The chunk hashes of a batch's clearings, at most :data:`MAX_CLEARS` each."""
    for start in range(0, len(clears), MAX_CLEARS):
        yield clear_chunk([c.to_json() for c in clears[start:start + MAX_CLEARS]])
