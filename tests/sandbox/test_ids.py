"""Profile and import-error ids: 26 Crockford characters, time then counter then random."""

from __future__ import annotations

import itertools
import random
from types import SimpleNamespace

import pytest

from sandbox import ids


def _crockford(value: int, width: int) -> str:
    """The low ``5 * width`` bits of ``value``, a character at a time."""
    return "".join("0123456789ABCDEFGHJKMNPQRSTVWXYZ"[value >> 5 * i & 31]
                   for i in reversed(range(width)))


@pytest.mark.parametrize("seconds", [0.0, 1_800_000_000.123, 2.0**41])
def test_a_ulid_is_its_millisecond_counter_and_random_bits_in_crockford_base32(
    monkeypatch: pytest.MonkeyPatch, seconds: float
) -> None:
    monkeypatch.setattr(ids, "time", SimpleNamespace(time=lambda: seconds))
    monkeypatch.setattr(ids, "_counter", itertools.count(2**40 - 1))
    monkeypatch.setattr(ids, "_rand", random.Random(7))
    expected = random.Random(7)
    made = [ids.ulid() for _ in range(3)]
    ms = int(seconds * 1000)
    assert made == [
        _crockford(ms, 10) + _crockford(count, 8) + _crockford(expected.getrandbits(40), 8)
        for count in (2**40 - 1, 2**40, 2**40 + 1)
    ]


def test_ulids_made_one_after_another_sort_in_creation_order() -> None:
    made = [ids.ulid() for _ in range(1000)]
    assert sorted(made) == made and len(set(made)) == 1000
