"""The scheduler looks only at the accounts that are due (shared/state/due_accounts.py): an
idle tick costs a handful of Redis commands however many accounts there are, and no
account with pending contacts is ever left out of the index."""

from __future__ import annotations

import redis

from shared import constants as keys
from shared.state import due_accounts
from tests.workers.test_scheduler import Clock, change, store
from workers.push import lifecycle
from workers.reverse.schedule import ReverseSchedule
from workers.scheduler import Scheduler

ACCOUNTS = 2_000


def _commands(r: redis.Redis) -> int:
    return int(r.info("stats")["total_commands_processed"])


def _configured(r: redis.Redis, count: int) -> None:
    accounts = store(r)
    for i in range(count):
        accounts.add(f"acct-{i}", f"pk_{i}")


def test_an_idle_tick_costs_the_same_few_commands_with_two_thousand_accounts(
        r: redis.Redis) -> None:
    _configured(r, ACCOUNTS)
    clock = Clock()
    scheduler = Scheduler(r, store(r), lambda a, b: None, clock,
                          reverse=ReverseSchedule(r, store(r).settings,
                                                  send_discovery=lambda a: None,
                                                  send_pull=lambda a: None))
    while scheduler.tick() or r.zcount(keys.DUE_PUSH, "-inf", clock.now) \
            or r.zcount(keys.DUE_REVERSE, "-inf", clock.now):
        clock.now += 1  # the first ticks look at every account once (1,000 a tick)
    clock.now += 1
    before = _commands(r)
    scheduler.tick()
    idle = _commands(r) - before - 1  # not counting INFO itself
    assert idle <= 10, f"an idle tick ran {idle} Redis commands"


def test_an_account_with_changes_is_looked_at_and_its_batch_starts(r: redis.Redis) -> None:
    _configured(r, 50)
    clock = Clock()
    started: list[tuple[str, str]] = []
    scheduler = Scheduler(r, store(r), lambda a, b: started.append((a, b)), clock)
    scheduler.tick()
    assert r.zcard(keys.DUE_PUSH) == 0, "accounts with nothing pending leave the index"
    change(r, "C-1", account="acct-7")
    clock.now += 1
    assert [account for account, _ in scheduler.tick()] == ["acct-7"]
    assert [account for account, _ in started] == ["acct-7"]


def test_an_account_waiting_for_its_interval_is_looked_at_when_it_ends(
        r: redis.Redis) -> None:
    clock = Clock()
    scheduler = Scheduler(r, store(r, interval=900), lambda a, b: None, clock)
    change(r, "C-1")
    [(_, first)] = scheduler.tick()
    lifecycle.complete_batch(r, "default", first, {}, now=1_010.0)
    change(r, "C-2", at=200)
    clock.now = 1_100.0
    assert scheduler.tick() == []
    assert r.zscore(keys.DUE_PUSH, "default") == 1_910.0
    clock.now = 1_910.0
    assert len(scheduler.tick()) == 1


def test_a_change_arriving_while_the_scheduler_forgets_the_account_keeps_it_indexed(
        r: redis.Redis) -> None:
    due_accounts.note_pending(r, "acme")
    # The writer added its contact (and its ZADD NX found the entry still there) just
    # before the scheduler, which had seen nothing pending, takes the account out.
    r.zadd(keys.pending("acme"), {"C-1": 1.0})
    due_accounts.note_pending(r, "acme")
    due_accounts.forget_if_idle(r, "acme")
    assert r.zscore(keys.DUE_PUSH, "acme") == due_accounts.ASAP
    r.delete(keys.pending("acme"))
    due_accounts.forget_if_idle(r, "acme")
    assert r.zscore(keys.DUE_PUSH, "acme") is None


def test_an_account_whose_batch_runs_is_looked_at_again_only_after_the_recheck(
        r: redis.Redis) -> None:
    clock = Clock()
    scheduler = Scheduler(r, store(r), lambda a, b: None, clock, reenqueue_after=30)
    change(r, "C-1")
    scheduler.tick()
    change(r, "C-2", at=200)
    clock.now += 31
    assert scheduler.tick() == []
    assert r.zscore(keys.DUE_PUSH, "default") == clock.now + 300
