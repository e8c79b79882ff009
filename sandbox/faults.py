"""Fault injection per operation: shares of 429/500/503 and of CDN-challenge 403s, added
latency, dropped connections, and 429s without ``Retry-After``."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

from sandbox.config import FaultSpec

SHARES = ("status_429", "status_500", "status_503", "status_403_html", "drop", "omit_retry_after")
"""The FaultSpec fields that are shares of calls (0..1); the others are whole numbers."""
WHOLE = ("latency_ms", "retry_after")


@dataclass
class Fault:
    """What to do to one call: answer ``status`` (or None), sleep ``latency_ms``, or drop.

    ``status`` 403 is a CDN challenge (HTML); ``omit_retry_after`` applies to any 429 of this
    call, injected or from the rate limiter.
    """

    status: int | None
    latency_ms: int
    drop: bool
    retry_after: int
    omit_retry_after: bool = False


class Faults:
    """The fault table; ``*`` applies to every operation without its own entry."""

    def __init__(self, table: dict[str, FaultSpec] | None = None, seed: int | None = None) -> None:
        self.table: dict[str, FaultSpec] = dict(table or {})
        self._rand = random.Random(seed)

    def set(self, operation: str, spec: FaultSpec) -> None:
        """Set the faults of one operation (or ``*``)."""
        self.table[operation] = spec

    def clear(self) -> None:
        """No faults at all."""
        self.table.clear()

    def describe(self) -> dict[str, dict[str, Any]]:
        """The table as JSON."""
        return {op: asdict(spec) for op, spec in self.table.items()}

    def draw(self, operation: str) -> Fault | None:
        """Roll the dice for one call; None when nothing is configured."""
        spec = self.table.get(operation) or self.table.get("*")
        if spec is None:
            return None
        omit = self._rand.random() < spec.omit_retry_after
        if self._rand.random() < spec.drop:
            return Fault(None, spec.latency_ms, True, spec.retry_after, omit)
        roll = self._rand.random()
        status: int | None = None
        edge = 0.0
        for share, code in (
            (spec.status_429, 429),
            (spec.status_500, 500),
            (spec.status_503, 503),
            (spec.status_403_html, 403),
        ):
            edge += share
            if roll < edge:
                status = code
                break
        return Fault(status, spec.latency_ms, False, spec.retry_after, omit)


_NAMES = {
    "429": "status_429",
    "500": "status_500",
    "503": "status_503",
    "403html": "status_403_html",
    "latency": "latency_ms",
    "drop": "drop",
    "retry_after": "retry_after",
    "no_retry_after": "omit_retry_after",
}


def parse_fault(text: str) -> tuple[str, FaultSpec]:
    """``op=429:0.3,500:0.1,403html:0.2,latency:50,drop:0.05,retry_after:1,no_retry_after:1``
    (the CLI's ``--fault``); the FaultSpec field names are accepted too."""
    operation, _, rest = text.partition("=")
    if not operation or not rest:
        raise ValueError(f"fault {text!r}: expected op=spec, e.g. bulk_import_profiles=429:0.3")
    spec = FaultSpec()
    for part in rest.split(","):
        name, _, value = part.partition(":")
        name = name.strip()
        attr = _NAMES.get(name) or (name if name in SHARES + WHOLE else None)
        if attr is None:
            raise ValueError(
                f"fault {text!r}: unknown item {name!r} (use 429, 500, 503, 403html,"
                " latency, drop, retry_after, no_retry_after)"
            )
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"fault {text!r}: {name!r} needs a number, got {value!r}") from None
        if attr in SHARES and not 0 <= number <= 1:
            raise ValueError(f"fault {text!r}: {name!r} must be a share in 0..1")
        if number < 0:
            raise ValueError(f"fault {text!r}: {name!r} must not be negative")
        setattr(spec, attr, int(number) if attr in WHOLE else number)
    return operation.strip(), spec
