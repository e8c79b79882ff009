"""Rate limits per (account, operation): fixed windows, burst per second, steady per minute.

The values are the spec's ``x-klaviyo-ratelimit`` (docs/KLAVIYO.md §9). A scale shrinks or
grows them (0.1 = ten times smaller, never below 1); mode ``off`` disables them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

# operation -> (burst per second, steady per minute, daily or 0)
S = (75, 750, 0)
M = (10, 150, 0)
XS = (3, 60, 0)
_TABLE: dict[str, tuple[int, int, int]] = {
    "create_profile": S,
    "get_profiles": S,
    "get_profile": S,
    "update_profile": S,
    "create_or_update_profile": S,
    "bulk_import_profiles": M,
    "get_bulk_import_profiles_jobs": M,
    "get_bulk_import_profiles_job": M,
    "get_errors_for_bulk_import_profiles_job": M,
    "get_profiles_for_bulk_import_profiles_job": M,
    "get_profile_ids_for_bulk_import_profiles_job": M,
    "get_list_for_bulk_import_profiles_job": M,
    "get_list_ids_for_bulk_import_profiles_job": M,
    "get_lists": S,
    "get_list": S,
    "get_profiles_for_list": S,
    "get_profile_ids_for_list": S,
    "create_list": (10, 150, 150),
    "add_profiles_to_list": M,
    "remove_profiles_from_list": M,
    "bulk_subscribe_profiles": S,
    "bulk_unsubscribe_profiles": S,
    "bulk_suppress_profiles": S,
    "get_bulk_suppress_profiles_job": S,
    "get_bulk_suppress_profiles_jobs": S,
    "get_lists_for_profile": XS,
    "get_list_ids_for_profile": XS,
    "request_profile_deletion": XS,
}
# variants with their own, smaller limits (operation plus a query marker)
VARIANTS: dict[str, tuple[int, int, int]] = {
    "get_profiles:predictive_analytics": M,
    "get_profile:include_lists": (1, 15, 0),
    "get_list:profile_count": (1, 15, 0),
    "get_profiles_for_list:predictive_analytics": M,
}


def limits_for(operation: str) -> tuple[int, int, int]:
    """(burst, steady, daily) of an operation; unknown operations get the smallest tier."""
    return VARIANTS.get(operation) or _TABLE.get(operation, M)


@dataclass
class Decision:
    """The outcome of one check: allowed, or the seconds to wait; headers for the steady window."""

    allowed: bool
    limit: int
    remaining: int
    reset: int
    retry_after: int


class RateLimiter:
    """Fixed-window counters keyed by (key, operation, window)."""

    def __init__(self, mode: str = "on", scale: float = 1.0) -> None:
        self.mode = mode
        self.scale = scale
        self._windows: dict[tuple[str, str, int], tuple[int, int]] = {}

    def configure(self, mode: str, scale: float) -> None:
        """Switch on/off or rescale; the counters start afresh."""
        self.mode = mode
        self.scale = scale
        self._windows.clear()

    def _scaled(self, value: int) -> int:
        return max(1, int(value * self.scale))

    def check(self, key: str, operation: str) -> Decision | None:
        """Count one call; None when limits are off."""
        if self.mode == "off":
            return None
        burst, steady, daily = limits_for(operation)
        now = time.time()
        windows = [(1, self._scaled(burst)), (60, self._scaled(steady))]
        if daily:
            windows.append((86400, self._scaled(daily)))
        starts: list[tuple[tuple[str, str, int], int, int, int]] = []
        for length, limit in windows:
            start = int(now // length) * length
            slot = (key, operation, length)
            prev_start, count = self._windows.get(slot, (start, 0))
            if prev_start != start:
                count = 0
            if count >= limit:
                wait = max(1, math.ceil(start + length - now))
                return Decision(False, limit, 0, wait, wait)
            starts.append((slot, start, count, limit))
        for slot, start, count, _limit in starts:
            self._windows[slot] = (start, count + 1)
        _steady_slot, steady_start, steady_count, steady_limit = starts[1]
        reset = max(1, math.ceil(steady_start + 60 - now))
        return Decision(True, steady_limit, steady_limit - steady_count - 1, reset, 0)
