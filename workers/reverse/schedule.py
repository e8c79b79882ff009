"""When the reverse sync runs: the scheduler calls :class:`ReverseSchedule` for each account
on every tick (under its lock).

Accounts that cannot sync (no Klaviyo key) are skipped.

* **Discovery** is due once the day's ``SYNC_LIST_DISCOVERY_AT`` (UTC) has passed and that
  day's discovery has not been enqueued yet (``discovery_enqueued_on`` in Redis, so a
  restarted scheduler or a second one does not double it). On-demand discoveries do not
  count: the nightly one still runs. An account the scheduler sees for the first time
  after that day's time waits for the next night (or ``contact-sync lists discover``):
  starting the processes does not fire a discovery.
* **A pull** is due when discovery knows at least one list, no pull of the account is
  running (one that has run for :data:`STALE_PULL_S` is presumed dead), and
  ``SYNC_LIST_PULL_INTERVAL`` seconds have passed since the end of the previous pull.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import redis

from shared import constants as keys
from shared.accounts import AccountError, AccountStore
from shared.settings import Settings, get_settings
from workers.reverse.state import optional_float, pull_state, utc_day

STALE_PULL_S = 3600.0
Send = Callable[[str], None]


def discovery_due(state: dict[str, str], now: float, discovery_at: str) -> bool:
    """True when today's nightly discovery time has passed and it was not enqueued today."""
    moment = datetime.fromtimestamp(now, UTC)
    hours, minutes = (int(part) for part in discovery_at.split(":"))
    if (moment.hour, moment.minute) < (hours, minutes):
        return False
    return state.get("discovery_enqueued_on") != utc_day(now)


def pull_due(state: dict[str, str], now: float, interval: float, has_lists: bool) -> bool:
    """True when a pull of the account should start now (see the module docstring)."""
    if not has_lists:
        return False
    running = optional_float(state.get("pull_running_since"))
    if running is not None and now - running < STALE_PULL_S:
        return False
    ended = optional_float(state.get("pull_ended_at"))
    return ended is None or ended + interval <= now


def _send_discovery(account: str) -> None:
    from workers.actors.lists import discover_lists

    discover_lists.send(account)


def _send_pull(account: str) -> None:
    from workers.actors.lists import pull_list_members

    pull_list_members.send(account)


class ReverseSchedule:
    """The scheduler's reverse-sync hook: ``hook(account, now)``."""

    def __init__(self, client: redis.Redis, settings: Settings | None = None,
                 send_discovery: Send = _send_discovery, send_pull: Send = _send_pull) -> None:
        self.redis = client
        self.settings = settings or get_settings()
        self.send_discovery = send_discovery
        self.send_pull = send_pull

    def _syncable(self, account: str) -> bool:
        try:
            config = AccountStore(self.redis, self.settings).get(account)
        except AccountError:
            return False
        return config.unsyncable_reason is None

    def __call__(self, account: str, now: float) -> None:
        if not self._syncable(account):  # no Klaviyo key: the push side says why
            return
        state = pull_state(self.redis, account)
        state_key = keys.pull_state(account)
        if discovery_due(state, now, self.settings.list_discovery_at):
            self.redis.hset(state_key, "discovery_enqueued_on", utc_day(now))
            if "discovery_enqueued_on" in state:  # not the first tick that sees the account
                self.send_discovery(account)
        has_lists = bool(self.redis.hlen(keys.lists(account)))
        if pull_due(state, now, self.settings.list_pull_interval, has_lists):
            self.redis.hset(state_key, "pull_running_since", repr(now))
            self.send_pull(account)

    def next_pull_at(self, account: str) -> float | None:
        """When the account's next pull is due (``None``: no list known yet)."""
        if not self.redis.hlen(keys.lists(account)):
            return None
        ended = optional_float(pull_state(self.redis, account).get("pull_ended_at"))
        return None if ended is None else ended + self.settings.list_pull_interval
