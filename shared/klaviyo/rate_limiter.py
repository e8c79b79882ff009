"""One rate limiter per (Klaviyo account, operation), shared in Redis by every worker.

Klaviyo counts calls per account and endpoint in fixed windows: a burst window of one
second and a steady window of one minute (docs/KLAVIYO.md §9). :meth:`RateLimiter.take`
counts a call in both windows (one Lua script, ``rate_limiter.lua``) or answers how long to
wait. After a 429, :meth:`RateLimiter.block` stops every worker from calling that account's
operation until ``Retry-After`` has passed. Windows are aligned on wall-clock seconds and
minutes of the caller's clock (the workers' clocks are assumed NTP-synced).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis

from shared import constants as keys
from shared.lua_scripts import lua_script
from shared.redis_text import as_text


@dataclass(frozen=True)
class Limit:
    burst: int
    """calls per second"""
    steady: int
    """calls per minute"""


SMALL = Limit(10, 150)
LARGE = Limit(75, 750)
LIMITS: dict[str, Limit] = {
    "create_profile": LARGE,
    "get_profiles": LARGE,
    "get_profile": LARGE,
    "update_profile": LARGE,
    "create_or_update_profile": LARGE,
    "bulk_import_profiles": SMALL,
    "get_bulk_import_profiles_job": SMALL,
    "get_errors_for_bulk_import_profiles_job": SMALL,
    "get_profiles_for_bulk_import_profiles_job": SMALL,
    "get_lists": LARGE,
    "get_list": LARGE,
    "get_profiles_for_list": LARGE,
    "get_profile_ids_for_list": LARGE,
    "create_list": SMALL,
    "add_profiles_to_list": SMALL,
    "remove_profiles_from_list": SMALL,
    "bulk_subscribe_profiles": LARGE,
    "bulk_unsubscribe_profiles": LARGE,
    "bulk_suppress_profiles": LARGE,
    "request_profile_deletion": Limit(3, 60),
}
"""Klaviyo's published limits per SDK operation (spec revision 2026-07-15)."""
DEFAULT_LIMIT = SMALL
"""For an operation not in the table: the strictest tier."""


TAKE = lua_script(__file__, "rate_limiter.lua")


class RateLimiter:
    """The shared limiter; ``klaviyo_account`` is a non-secret account id."""

    def __init__(self, client: redis.Redis, limits: dict[str, Limit] | None = None) -> None:
        self.redis = client
        self.limits = LIMITS if limits is None else limits
        self._script = TAKE.on(client)

    def take(self, klaviyo_account: str, operation: str, now: float | None = None) -> float:
        """Count one call; 0.0 = go now, otherwise the seconds to wait (nothing counted)."""
        limit = self.limits.get(operation, DEFAULT_LIMIT)
        now_ms = int((time.time() if now is None else now) * 1000)
        second, minute = now_ms // 1000, now_ms // 60_000
        wait_ms = self._script(
            keys=[
                keys.rate_limit(klaviyo_account, operation, f"s{second}"),
                keys.rate_limit(klaviyo_account, operation, f"m{minute}"),
                keys.rate_limit_block(klaviyo_account, operation),
            ],
            args=[limit.burst, limit.steady, 1000 - now_ms % 1000,
                  60_000 - now_ms % 60_000],
        )
        return int(wait_ms) / 1000.0

    def block(self, klaviyo_account: str, operation: str, seconds: float) -> None:
        """Nobody calls this account's operation for ``seconds`` (after a 429)."""
        if seconds > 0:
            now = time.time()
            pipe = self.redis.pipeline(transaction=False)
            pipe.set(keys.rate_limit_block(klaviyo_account, operation), "1",
                     px=max(1, int(seconds * 1000)))
            pipe.zremrangebyscore(keys.RATE_LIMIT_BLOCKS, "-inf", now)
            pipe.zadd(keys.RATE_LIMIT_BLOCKS,
                      {f"{klaviyo_account}\t{operation}": now + seconds})
            pipe.execute()


class Unlimited(RateLimiter):
    """A limiter that never waits (benchmarks against a sandbox with its limits off)."""

    def take(self, klaviyo_account: str, operation: str, now: float | None = None) -> float:
        return 0.0


def blocked_now(client: redis.Redis, now: float | None = None) -> list[dict[str, Any]]:
    """Klaviyo (account, operation) pairs waiting out a 429's Retry-After right now, as
    ``contact-sync status`` and the console's operator view show them."""
    now = time.time() if now is None else now
    found: list[Any] = client.zrangebyscore(  # type: ignore[assignment]
        keys.RATE_LIMIT_BLOCKS, now, "+inf", withscores=True)
    blocked = []
    for member, until in found:
        klaviyo_account, _, operation = as_text(member).partition("\t")
        blocked.append({"klaviyo_account": klaviyo_account, "operation": operation,
                        "seconds_left": max(0.0, float(until) - now)})
    return sorted(blocked, key=lambda item: (item["klaviyo_account"], item["operation"]))
