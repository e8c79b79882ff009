"""Klaviyo-looking identifiers: 26-char ULID-style ids (monotonic), 6-char list ids and opaque
base64-like job ids."""

from __future__ import annotations

import itertools
import random
import secrets
import string
import time
from datetime import UTC, datetime

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_counter = itertools.count()
_rand = random.Random()


def _b32(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def ulid() -> str:
    """A 26-char id that sorts in creation order within this process (time + counter)."""
    return (
        _b32(int(time.time() * 1000), 10) + _b32(next(_counter), 8) + _b32(_rand.getrandbits(40), 8)
    )


def list_id() -> str:
    """A 6-char alphanumeric list id, e.g. ``Y6nRLr``."""
    return "".join(_rand.choices(string.ascii_letters + string.digits, k=6))


def job_id() -> str:
    """An opaque job id: urlsafe base64 of 18 random bytes (24 chars, no padding).

    Real job ids are opaque strings (a peer's fixture shows a base64-like one); unlike ULIDs
    they do not sort in creation order, so a client must not rely on that.
    """
    return secrets.token_urlsafe(18)


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with offset, or None."""
    return value.isoformat() if value is not None else None
