"""Redis answers as text: one helper for the bytes-or-str values redis-py returns.

A client made with ``decode_responses=True`` answers ``str``, one without answers
``bytes``; tests, benchmarks and the CLI use both, so every reader goes through these.
A leaf module (standard library only): anything may import it without an import cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def as_text(value: object) -> str:
    """``value`` as ``str`` (bytes decoded as UTF-8)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def as_texts(raw: Mapping[Any, Any] | None) -> dict[str, str]:
    """A Redis hash (``HGETALL``, stream entry fields) with its fields and values as text;
    ``None`` reads as ``{}``."""
    return {as_text(field): as_text(value) for field, value in (raw or {}).items()}


def optional_float(value: str | None) -> float | None:
    """A Redis field as a float, ``None`` when absent or empty."""
    return float(value) if value not in (None, "") else None
