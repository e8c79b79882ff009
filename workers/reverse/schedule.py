"""When the reverse sync runs: the scheduler calls :class:`ReverseSchedule` on every tick
(under its lock). It looks only at the accounts whose next discovery or pull is due, from
the index :data:`shared.constants.DUE_REVERSE` (see :mod:`shared.state.due_accounts`), and
after looking at one it records when to look again. The end of a pull and newly found
lists bring that time forward.

Accounts that cannot sync (no Klaviyo key) leave the index until their settings change.

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
from shared.redis_text import optional_float
from shared.settings import Settings, get_settings
from shared.state import due_accounts
from workers.actors.lists import discover_lists, pull_list_members
from workers.reverse.state import pull_state, utc_day

STALE_PULL_S = 3600.0
Send = Callable[[str], None]


def discovery_due(state: dict[str, str], now: float, discovery_at: str) -> bool:
    """True when today's nightly discovery time has passed and it was not enqueued today."""
    moment = datetime.fromtimestamp(now, UTC)
    hours, minutes = (int(part) for part in discovery_at.split(":"))
    if (moment.hour, moment.minute) < (hours, minutes):
        return False
    return state.get("discovery_enqueued_on") != utc_day(now)


def next_discovery(state: dict[str, str], now: float, discovery_at: str) -> float:
    """When the next nightly discovery is due: today's time, or tomorrow's once today's
    was enqueued (or, for an account seen for the first time after it, skipped)."""
    moment = datetime.fromtimestamp(now, UTC)
    hours, minutes = (int(part) for part in discovery_at.split(":"))
    today = moment.replace(hour=hours, minute=minutes, second=0, microsecond=0).timestamp()
    if state.get("discovery_enqueued_on") == utc_day(now):
        return today + 86_400
    return today


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
    discover_lists.send(account)


def _send_pull(account: str) -> None:
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

    def __call__(self, now: float) -> None:
        """The scheduler's turn: every account due for a discovery or a pull."""
        for account in due_accounts.due(self.redis, keys.DUE_REVERSE, now):
            self.look_at(account, now)

    def look_at(self, account: str, now: float) -> None:
        """Enqueue what is due for ``account`` and record when to look at it again."""
        if not self._syncable(account):  # no Klaviyo key: the push side says why
            due_accounts.forget_reverse(self.redis, account)
            return
        state = pull_state(self.redis, account)
        state_key = keys.pull_state(account)
        discovery_at = self.settings.list_discovery_at
        if discovery_due(state, now, discovery_at):
            self.redis.hset(state_key, "discovery_enqueued_on", utc_day(now))
            if "discovery_enqueued_on" in state:  # not the first tick that sees the account
                self.send_discovery(account)
            state["discovery_enqueued_on"] = utc_day(now)
        has_lists = bool(self.redis.hlen(keys.lists(account))
                         or self.redis.hlen(keys.consent_ledger(account)))  # consent pull
        interval = self.settings.list_pull_interval
        again = next_discovery(state, now, discovery_at)
        if pull_due(state, now, interval, has_lists):
            self.redis.hset(state_key, "pull_running_since", repr(now))
            self.send_pull(account)
            again = min(again, now + max(interval, 1.0))  # the pull's end brings it forward
        elif has_lists:
            running = optional_float(state.get("pull_running_since"))
            ended = optional_float(state.get("pull_ended_at"))
            if running is not None and now - running < STALE_PULL_S:
                again = min(again, running + STALE_PULL_S)
            elif ended is not None:
                again = min(again, ended + interval)
        due_accounts.reverse_at(self.redis, account, again)

    def next_pull_at(self, account: str) -> float | None:
        """When the account's next pull is due (``None``: no list known yet)."""
        if not self.redis.hlen(keys.lists(account)):
            return None
        ended = optional_float(pull_state(self.redis, account).get("pull_ended_at"))
        return None if ended is None else ended + self.settings.list_pull_interval
