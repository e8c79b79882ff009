"""The scheduler: the first batch starts at once, the next one an interval after the
previous completed, one batch per account however many schedulers tick, sync-now, and
recovery when a scheduler died before enqueueing."""

from __future__ import annotations

import threading

import redis
from cryptography.fernet import Fernet

from shared import constants as keys
from shared.accounts import AccountStore
from shared.redis_client import connect
from shared.settings import Settings
from tests.support.redis_reads import sorted_members
from tests.workers.collector_helpers import event, publish
from workers.intake.collector import Collector
from workers.push import lifecycle
from workers.scheduler import Scheduler


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


SECRET = Fernet.generate_key().decode()


def store(r: redis.Redis, interval: float = 60) -> AccountStore:
    settings = Settings(SYNC_INTERVAL=interval, SYNC_SECRET_KEY=SECRET)
    return AccountStore(r, settings)


def change(r: redis.Redis, *contact_ids: str, at: float = 100, account: str = "default") -> None:
    publish(r, *[event(c, at, account=account) for c in contact_ids])
    collector = Collector(r, "c", block_ms=0)
    while collector.run_once():
        pass


def members(r: redis.Redis, account: str, batch_id: str) -> list[str]:
    return sorted_members(r, keys.batch_members(account, batch_id))


def test_the_first_batch_starts_at_once_and_is_enqueued(r: redis.Redis) -> None:
    sent: list[tuple[str, str]] = []
    scheduler = Scheduler(r, store(r), lambda a, b: sent.append((a, b)), clock=Clock())
    assert scheduler.tick() == []  # nothing pending: nothing to do
    change(r, "C-1", "C-2")
    started = scheduler.tick()
    assert started == sent and len(started) == 1
    account, batch_id = started[0]
    assert account == "default"
    assert members(r, account, batch_id) == ["C-1", "C-2"]
    assert lifecycle.account_state(r, account)["enqueued_at"] == 1_000.0


def test_the_next_batch_waits_an_interval_after_the_previous_completed(r: redis.Redis) -> None:
    clock = Clock()
    sent: list[tuple[str, str]] = []
    scheduler = Scheduler(r, store(r, interval=60), lambda a, b: sent.append((a, b)), clock)
    change(r, "C-1")
    [(_, first)] = scheduler.tick()
    clock.now = 1_500.0
    change(r, "C-2", at=200)  # arrives while the first batch runs
    assert scheduler.tick() == []
    lifecycle.complete_batch(r, "default", first, {"created": 1}, now=clock.now, interval=60)
    change(r, "C-3", at=300)
    clock.now = 1_559.0
    assert scheduler.tick() == []
    clock.now = 1_560.0
    [(_, second)] = scheduler.tick()
    assert r.hget(keys.batch("default", first), "size") == "1"  # C-1 alone
    assert members(r, "default", first) == []  # dropped when the batch completed
    assert members(r, "default", second) == ["C-2", "C-3"]
    assert [b for _, b in sent] == [first, second]


def test_an_interval_change_applies_to_the_waiting_account(r: redis.Redis) -> None:
    clock = Clock()
    accounts = store(r, interval=900)
    scheduler = Scheduler(r, accounts, lambda a, b: None, clock)
    change(r, "C-1")
    [(_, first)] = scheduler.tick()
    lifecycle.complete_batch(r, "default", first, {}, now=1_000.0)
    change(r, "C-2", at=200)
    clock.now = 1_100.0
    assert scheduler.tick() == []
    accounts.set("default", interval=100)
    assert len(scheduler.tick()) == 1


def test_two_schedulers_ticking_at_once_start_one_batch_per_account(
    r: redis.Redis, redis_url: str,
) -> None:
    accounts = [f"acct{n}" for n in range(10)]
    for account in accounts:
        store(r).add(account, "pk_test_key")
        change(r, "C-1", account=account)
    change(r, "C-1")  # and the default account
    started: list[tuple[str, str]] = []
    sent: list[tuple[str, str]] = []
    gate = threading.Barrier(2)

    def run() -> None:
        client = connect(redis_url)
        scheduler = Scheduler(client, store(client), lambda a, b: sent.append((a, b)))
        gate.wait()
        for _ in range(20):
            started.extend(scheduler.tick())
        client.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a for a, _ in started) == sorted([*accounts, "default"])
    assert sorted(sent) == sorted(started)
    for account in [*accounts, "default"]:
        assert r.llen(keys.batches(account)) == 1


def test_sync_now_starts_a_batch_before_the_interval_but_never_during_one(
    r: redis.Redis,
) -> None:
    clock = Clock()
    scheduler = Scheduler(r, store(r, interval=900), lambda a, b: None, clock)
    change(r, "C-1")
    [(_, first)] = scheduler.tick()
    change(r, "C-2", at=200)
    lifecycle.request_sync_now(r, "default")
    assert scheduler.tick() == []  # the first batch still runs
    lifecycle.complete_batch(r, "default", first, {}, now=1_010.0)
    clock.now = 1_020.0
    [(_, second)] = scheduler.tick()  # 10 s after completion, not 900
    assert members(r, "default", second) == ["C-2"]
    assert "force" not in lifecycle.account_state(r, "default")


def test_a_batch_started_but_never_enqueued_is_enqueued_again(r: redis.Redis) -> None:
    clock = Clock()
    sent: list[tuple[str, str]] = []

    def crash(account: str, batch_id: str) -> None:
        raise RuntimeError("scheduler died before enqueueing")

    change(r, "C-1")
    assert Scheduler(r, store(r), crash, clock).tick() == []  # started, then "crashed"
    batch_id = lifecycle.running_batch(r, "default")
    assert batch_id is not None
    survivor = Scheduler(r, store(r), lambda a, b: sent.append((a, b)), clock,
                         reenqueue_after=30)
    clock.now += 29
    survivor.tick()
    assert sent == []
    clock.now += 1
    survivor.tick()
    assert sent == [("default", batch_id)]
    survivor.tick()
    assert sent == [("default", batch_id)]  # marked enqueued: only once


def test_an_account_without_a_klaviyo_key_is_skipped_until_it_gets_one(r: redis.Redis) -> None:
    accounts = store(r)
    scheduler = Scheduler(r, accounts, lambda a, b: None, Clock())
    change(r, "C-1", account="newco")
    assert scheduler.tick() == []
    assert r.zcard(keys.pending("newco")) == 1  # waits, nothing lost
    reason = accounts.get("newco").unsyncable_reason
    assert reason is not None and "accounts add newco" in reason
    accounts.add("newco", "pk_newco_key")
    assert [a for a, _ in scheduler.tick()] == ["newco"]


def test_another_schedulers_lock_makes_a_tick_do_nothing(r: redis.Redis) -> None:
    change(r, "C-1")
    r.set(keys.SCHEDULER_LOCK, "someone-else", px=60_000)
    scheduler = Scheduler(r, store(r), lambda a, b: None, Clock())
    assert scheduler.tick() == []
    assert r.get(keys.SCHEDULER_LOCK) == "someone-else"  # not released by a non-owner
    r.delete(keys.SCHEDULER_LOCK)
    assert len(scheduler.tick()) == 1
    assert not r.exists(keys.SCHEDULER_LOCK)
