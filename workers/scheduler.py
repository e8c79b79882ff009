"""The scheduler: ticks, and starts a batch for each account that is due.

An account is due when it has pending contacts, no batch of it runs, and either it never
completed a batch, or its last batch completed at least its interval ago, or ``sync-now``
asked for one. An account whose Klaviyo refuses its credentials
(:mod:`shared.state.account_health`) waits at least 15 minutes between tries.
A tick looks only at the accounts the index of :mod:`shared.state.due_accounts` says are
due (O(accounts due), not O(accounts)); looking at one either starts its batch or moves
its next look to when there may be something to do. The first tick of a scheduler process
adds every known account to the indexes once (an existing deployment carries over).
Everything is decided from state in Redis, so a restarted scheduler carries on; a lock
(:data:`shared.constants.SCHEDULER_LOCK`) lets one scheduler tick at a time, and
``start_batch`` is atomic anyway, so even without it no account gets two batches.

Crash between starting a batch and enqueueing its actor: the batch is running but has no
``enqueued_at``; after ``reenqueue_after`` seconds any scheduler enqueues it again (the
batch actor is idempotent on its batch id).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable

import redis

from shared import constants as keys
from shared.accounts import AccountStore
from shared.redis_client import RedisOutage, client_address
from shared.redis_cluster import OUTAGE_ERRORS
from shared.state import account_health as health
from shared.state import due_accounts
from shared.state.account_state import StateField, account_state, mark_enqueued
from shared.state.batch_record import new_batch_id
from shared.state.heartbeats import Heart
from shared.token_lock import TOKEN_LOCK
from workers.push import lifecycle
from workers.push.batch import send_batch
from workers.reverse.schedule import ReverseSchedule

log = logging.getLogger(__name__)

Enqueue = Callable[[str, str], None]
ReverseHook = Callable[[float], None]
"""``hook(now)``: the reverse sync's turn on each tick (workers.reverse.schedule)."""
HEARTBEAT_MS = 30_000
"""How long a tick's heartbeat lasts: without a tick for this long, no scheduler runs."""
RUNNING_RECHECK_S = 300.0
"""A running batch's account is looked at again after this long (its end also sets it)."""
PROBLEM_RECHECK_S = 60.0
"""An account that cannot sync (no key, an error) is looked at again after this long."""


def scheduler_alive(client: redis.Redis) -> bool:
    """True when some scheduler ticked within :data:`HEARTBEAT_MS`."""
    return bool(client.exists(keys.SCHEDULER_HEARTBEAT))


class Scheduler:
    """Starts due batches; see the module docstring."""

    def __init__(
        self,
        redis_client: redis.Redis,
        accounts: AccountStore,
        enqueue: Enqueue = send_batch,
        clock: Callable[[], float] = time.time,
        *,
        lock_ms: int = 15_000,
        reenqueue_after: float = 30.0,
        reverse: ReverseHook | None = None,
    ) -> None:
        self.redis = redis_client
        self.accounts = accounts
        self.enqueue = enqueue
        self.clock = clock
        self.lock_ms = lock_ms
        self.reenqueue_after = reenqueue_after
        self.reverse = reverse
        self._problems: dict[str, str] = {}
        self._lock = TOKEN_LOCK.on(redis_client)
        self._indexed = False

    def tick(self) -> list[tuple[str, str]]:
        """One pass over the accounts due; returns the (account, batch id) pairs started.
        Does nothing when another scheduler holds the lock."""
        token = uuid.uuid4().hex
        if not self.redis.set(keys.SCHEDULER_LOCK, token, nx=True, px=self.lock_ms):
            return []
        started: list[tuple[str, str]] = []
        now = self.clock()
        self.redis.set(keys.SCHEDULER_HEARTBEAT, repr(now), px=HEARTBEAT_MS)
        try:
            if not self._indexed:
                due_accounts.rebuild(self.redis, self.accounts.names())
                self._indexed = True
            for account in due_accounts.due(self.redis, keys.DUE_PUSH, now):
                if not self._lock(keys=[keys.SCHEDULER_LOCK], args=[token, self.lock_ms]):
                    log.warning("scheduler lock lost mid-tick; stopping this tick")
                    break
                try:
                    batch = self._tick_account(account)
                except (redis.ConnectionError, redis.TimeoutError):
                    raise
                except Exception as error:
                    self._warn_once(account, f"{type(error).__name__}: {error}", error)
                    due_accounts.look_at(self.redis, account, now + PROBLEM_RECHECK_S,
                                         sooner_only=True)
                    continue
                if batch:
                    started.append((account, batch))
            if self.reverse is not None:
                self.reverse(self.clock())
        finally:
            self._lock(keys=[keys.SCHEDULER_LOCK], args=[token, 0])
        return started

    def _warn_once(self, account: str, problem: str, error: Exception | None = None) -> None:
        """Log a skipped account once per distinct problem, not on every tick."""
        if self._problems.get(account) != problem:
            self._problems[account] = problem
            log.warning("scheduler: account %s skipped: %s", account, problem, exc_info=error)

    def _tick_account(self, account: str) -> str | None:
        """Look at one account of the index: start its batch, or say when to look again."""
        now = self.clock()
        state = account_state(self.redis, account)
        running = state.get(StateField.RUNNING)
        if running:
            again = self._recover_enqueue(account, running, state, now)
            due_accounts.look_at(self.redis, account, again)
            return None
        if not self.redis.exists(keys.pending(account)):
            due_accounts.forget_if_idle(self.redis, account)
            return None
        if state.get(StateField.CONNECTION) == "reconnect_needed":
            self._warn_once(account, "Klaviyo refused its OAuth refresh: reconnect it "
                                     f"(contact-sync accounts connect {account})")
            due_accounts.look_at(self.redis, account, now + PROBLEM_RECHECK_S)
            return None
        config = self.accounts.get(account)
        if config.unsyncable_reason:
            self._warn_once(account, config.unsyncable_reason)
            due_accounts.look_at(self.redis, account, now + PROBLEM_RECHECK_S)
            return None
        self._problems.pop(account, None)
        completed_at = state.get(StateField.COMPLETED_AT)
        interval = config.interval
        if state.get(StateField.CONNECTION) == "refused":
            interval = max(interval, health.REFUSED_RETRY_S)
        if not state.get(StateField.FORCE) and completed_at is not None \
                and completed_at + interval > now:
            due_accounts.look_at(self.redis, account, completed_at + interval)
            return None
        batch_id = new_batch_id(now)
        # Looked at again if this process dies before the enqueue (the batch's end moves
        # it to the next interval anyway).
        due_accounts.look_at(self.redis, account, now + self.reenqueue_after)
        size = lifecycle.start_batch(self.redis, account, batch_id, now)
        if not size:
            return None
        log.info("scheduler: started batch %s of %s (%d contacts)", batch_id, account, size)
        self._enqueue(account, batch_id, now)
        return batch_id

    def _recover_enqueue(
        self, account: str, batch_id: str, state: dict[str, object], now: float
    ) -> float:
        """Enqueue a batch a crashed scheduler started but never handed over; returns when
        to look at the account again."""
        started_at = state.get(StateField.STARTED_AT)
        if StateField.ENQUEUED_AT in state or not isinstance(started_at, float):
            return now + RUNNING_RECHECK_S
        if now - started_at >= self.reenqueue_after:
            log.warning("scheduler: batch %s of %s was never enqueued; enqueueing it",
                        batch_id, account)
            self._enqueue(account, batch_id, now)
            return now + RUNNING_RECHECK_S
        return started_at + self.reenqueue_after

    def _enqueue(self, account: str, batch_id: str, now: float) -> None:
        self.enqueue(account, batch_id)
        mark_enqueued(self.redis, account, batch_id, now)

    def run_forever(self, stop_event: threading.Event, tick_seconds: float = 1.0) -> None:
        """Tick until ``stop_event`` is set (a tick in progress is finished first)."""
        log.info("scheduler started")
        heart = Heart(self.redis, "scheduler")
        if self.reverse is None:  # the real process: discovery and pulls too
            self.reverse = ReverseSchedule(self.redis)
        outage = RedisOutage("scheduler", client_address(self.redis), log)
        while not stop_event.is_set():
            try:
                heart.beat()
                self.tick()
                outage.recovered()
            except OUTAGE_ERRORS as error:  # a cluster's failover too
                stop_event.wait(outage.failed(error))  # logged once, growing waits
            stop_event.wait(tick_seconds)
        with contextlib.suppress(redis.RedisError):
            heart.stop()
        log.info("scheduler stopped")
