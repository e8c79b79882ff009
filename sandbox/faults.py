"""Fault injection per operation: shares of 429/500/503, added latency, dropped connections."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

from sandbox.config import FaultSpec


@dataclass
class Fault:
    """What to do to one call: answer ``status`` (or None), sleep ``latency_ms``, or drop."""

    status: int | None
    latency_ms: int
    drop: bool
    retry_after: int


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
        roll = self._rand.random()
        if roll < spec.drop:
            return Fault(None, spec.latency_ms, True, spec.retry_after)
        roll = self._rand.random()
        status: int | None = None
        edge = spec.status_429
        if roll < edge:
            status = 429
        elif roll < (edge := edge + spec.status_500):
            status = 500
        elif roll < edge + spec.status_503:
            status = 503
        return Fault(status, spec.latency_ms, False, spec.retry_after)


def parse_fault(text: str) -> tuple[str, FaultSpec]:
    """``op=429:0.3,500:0.1,latency:50,drop:0.05,retry_after:1`` (the CLI's ``--fault``)."""
    operation, _, rest = text.partition("=")
    if not operation or not rest:
        raise ValueError(f"fault {text!r}: expected op=spec, e.g. bulk_import_profiles=429:0.3")
    spec = FaultSpec()
    names = {
        "429": "status_429",
        "500": "status_500",
        "503": "status_503",
        "latency": "latency_ms",
        "latency_ms": "latency_ms",
        "drop": "drop",
        "retry_after": "retry_after",
    }
    for part in rest.split(","):
        name, _, value = part.partition(":")
        attr = names.get(name.strip())
        if attr is None:
            raise ValueError(
                f"fault {text!r}: unknown item {name!r}"
                " (use 429, 500, 503, latency, drop, retry_after)"
            )
        number = float(value)
        setattr(spec, attr, int(number) if attr in ("latency_ms", "retry_after") else number)
    return operation.strip(), spec
