"""Everything the running sandbox holds: store, limits, faults, call counts, job timing."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from sandbox.config import SandboxConfig
from sandbox.faults import Faults
from sandbox.limits import RateLimiter
from sandbox.store import Store


def _limiter(setting: str | float) -> RateLimiter:
    if setting == "off":
        return RateLimiter("off")
    if setting == "on":
        return RateLimiter("on")
    return RateLimiter("on", float(setting))


class SandboxState:
    """Shared by the API handlers and the inspection API (one event loop, no locks)."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.store = Store(config.keys)
        self.limiter = _limiter(config.rate_limits)
        self.faults = Faults(config.faults)
        self.job_mode = config.job_mode
        self.job_delay_ms = config.job_delay_ms
        # key -> operation -> status -> count
        self.calls: defaultdict[str, defaultdict[str, defaultdict[int, int]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(int))
        )
        self.tasks: set[asyncio.Task[None]] = set()

    def count(self, key: str, operation: str, status: int) -> None:
        """Record one answered call."""
        self.calls[key][operation][status] += 1

    def calls_json(self, key: str | None = None) -> dict[str, dict[str, int]]:
        """``{operation: {status: count}}`` over all keys, or one key."""
        out: dict[str, dict[str, int]] = {}
        for k, ops in self.calls.items():
            if key is not None and k != key:
                continue
            for op, statuses in ops.items():
                slot = out.setdefault(op, {})
                for status, n in statuses.items():
                    slot[str(status)] = slot.get(str(status), 0) + n
        return out

    def reset(self) -> None:
        """Drop all data, call counts and faults; keys stay; pending jobs are cancelled."""
        for task in list(self.tasks):
            task.cancel()
        self.tasks.clear()
        self.store.reset()
        self.calls.clear()
        self.faults.clear()
        self.limiter.configure(self.limiter.mode, self.limiter.scale)

    def spawn(self, coro: asyncio.Future[None] | object) -> None:
        """Run a background coroutine, keeping a reference until it ends."""
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
