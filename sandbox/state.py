"""Everything the running sandbox holds: store, limits, faults, call counts, job timing,
strictness, key states and the OAuth server's grants."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from dataclasses import asdict, dataclass

from sandbox.config import KEY_STATES, SandboxConfig
from sandbox.faults import Faults
from sandbox.limits import RateLimiter
from sandbox.oauth_grants import OAuthServer
from sandbox.store import Store
from sandbox.strictness import Strictness


def _limiter(setting: str | float) -> RateLimiter:
    if setting == "off":
        return RateLimiter("off")
    if setting == "on":
        return RateLimiter("on")
    return RateLimiter("on", float(setting))


REQUEST_LOG_SIZE = 100_000
"""How many answered ``/api`` calls the request log keeps (oldest dropped first)."""


@dataclass(frozen=True)
class LoggedRequest:
    """One answered ``/api`` call: when it arrived and was answered (Unix seconds), its
    status (0 = connection dropped) and the ``Retry-After`` it was given (0 = none)."""

    key: str
    operation: str
    status: int
    arrived: float
    answered: float
    retry_after: int


class SandboxState:
    """Shared by the API handlers and the inspection API (one event loop, no locks)."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        bad = {key: st for key, st in config.key_states.items() if st not in KEY_STATES}
        if bad:
            raise ValueError(f"key states must be one of {', '.join(KEY_STATES)}; got {bad}")
        self.store = Store(config.keys)
        self.store.set_states(config.key_states)
        self.limiter = _limiter(config.rate_limits)
        self.faults = Faults(config.faults)
        self.job_mode = config.job_mode
        self.job_delay_ms = config.job_delay_ms
        self.job_processing_ms = config.job_processing_ms
        self.strictness = Strictness.from_config(config)
        self.oauth = OAuthServer(config.oauth_clients, config.access_token_ttl_s,
                                 config.oauth_redirect_uris)
        # key -> operation -> status -> count
        self.calls: defaultdict[str, defaultdict[str, defaultdict[int, int]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(int))
        )
        self.tasks: set[asyncio.Task[None]] = set()
        self.requests: deque[LoggedRequest] = deque(maxlen=REQUEST_LOG_SIZE)

    def count(self, key: str, operation: str, status: int, *, arrived: float | None = None,
              retry_after: int = 0) -> None:
        """Record one answered call (in the request log too when ``arrived`` is given)."""
        self.calls[key][operation][status] += 1
        if arrived is not None:
            self.requests.append(
                LoggedRequest(key, operation, status, arrived, time.time(), retry_after))

    def requests_json(self, key: str | None = None,
                      operation: str | None = None) -> list[dict[str, object]]:
        """The request log in arrival order, of one key and/or operation when given."""
        return [asdict(item) for item in self.requests
                if (key is None or item.key == key)
                and (operation is None or item.operation == operation)]

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
        """Drop all data, call counts and faults; keys stay; pending jobs are cancelled.

        OAuth grants and tokens are forgotten (the apps stay). Strictness, key states, the
        access-token lifetime and job timing go back to their start-up values."""
        for task in list(self.tasks):
            task.cancel()
        self.tasks.clear()
        self.store.reset(self.config.key_states)
        self.strictness = Strictness.from_config(self.config)
        self.job_mode = self.config.job_mode
        self.job_delay_ms = self.config.job_delay_ms
        self.job_processing_ms = self.config.job_processing_ms
        self.calls.clear()
        self.requests.clear()
        self.faults.clear()
        self.oauth.reset()
        self.oauth.access_token_ttl_s = self.config.access_token_ttl_s
        self.oauth.redirect_uris = self.config.oauth_redirect_uris
        self.limiter.configure(self.limiter.mode, self.limiter.scale)

    def spawn(self, coro: asyncio.Future[None] | object) -> None:
        """Run a background coroutine, keeping a reference until it ends."""
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
