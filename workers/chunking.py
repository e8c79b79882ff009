"""Split profile rows into bulk-import chunks within Klaviyo's limits.

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

from shared.settings import Tuning

MAX_PROFILES = 10_000
MAX_BYTES = 4_500_000
ENVELOPE_BYTES = 512
"""Room for ``{"data": {"type": ..., "attributes": {"profiles": {"data": [...]}}, ...}}``."""


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
