"""When discovery and pulls are due (injected clock), and the scheduler's tick enqueueing
them once however often it ticks."""

from __future__ import annotations

from datetime import UTC, datetime

import redis
from cryptography.fernet import Fernet

from shared.accounts import AccountStore
from shared.settings import Settings
from workers.reverse.schedule import ReverseSchedule, discovery_due, pull_due
from workers.reverse.state import KnownList, end_pull, save_lists
from workers.scheduler import Scheduler

SETTINGS = Settings(SYNC_LIST_DISCOVERY_AT="02:30", SYNC_LIST_PULL_INTERVAL=900,
                    SYNC_SECRET_KEY=Fernet.generate_key().decode())


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_discovery_is_due_once_the_nightly_time_has_passed_and_not_before() -> None:
    assert not discovery_due({}, at("2026-11-22T02:29:59"), "02:30")
    assert discovery_due({}, at("2026-11-22T02:30:00"), "02:30")
    assert discovery_due({}, at("2026-11-22T23:00:00"), "02:30")


def test_discovery_is_not_due_again_the_same_day_but_is_the_next_night() -> None:
    state = {"discovery_enqueued_on": "2026-11-22"}
    assert not discovery_due(state, at("2026-11-22T23:59:00"), "02:30")
    assert not discovery_due(state, at("2026-11-23T01:00:00"), "02:30")
    assert discovery_due(state, at("2026-11-23T02:31:00"), "02:30")


def test_a_pull_is_due_an_interval_after_the_previous_pull_ended() -> None:
    ended = {"pull_ended_at": "1000.0"}
    assert pull_due({}, 0, 900, has_lists=True)
    assert not pull_due(ended, 1899, 900, has_lists=True)
    assert pull_due(ended, 1900, 900, has_lists=True)


def test_no_pull_while_one_runs_or_before_any_list_is_known() -> None:
    assert not pull_due({}, 5000, 900, has_lists=False)
    running = {"pull_ended_at": "1000.0", "pull_running_since": "1900.0"}
    assert not pull_due(running, 2500, 900, has_lists=True)
    assert pull_due(running, 1900 + 3600, 900, has_lists=True)  # presumed dead


def test_the_scheduler_enqueues_each_discovery_and_pull_once_however_often_it_ticks(
        r: redis.Redis) -> None:
    sent: list[tuple[str, str]] = []
    clock = Clock(at("2026-11-22T02:45:00"))
    hook = ReverseSchedule(r, SETTINGS, send_discovery=lambda a: sent.append(("discover", a)),
                           send_pull=lambda a: sent.append(("pull", a)))
    schedulers = [Scheduler(r, AccountStore(r, SETTINGS), lambda a, b: None, clock,
                            reverse=hook) for _ in range(2)]

    for scheduler in schedulers:
        scheduler.tick()
    clock.now += 86_400  # the next night, after 02:30
    for scheduler in schedulers:
        scheduler.tick()
    save_lists(r, "default", [KnownList(id="Y6nRLr", name="News", found_at=clock.now)])
    for scheduler in schedulers:
        scheduler.tick()
    clock.now += 60
    for scheduler in schedulers:
        scheduler.tick()

    assert sent == [("discover", "default"), ("pull", "default")]


def test_starting_the_scheduler_after_the_nightly_time_waits_for_the_next_night(
        r: redis.Redis) -> None:
    sent: list[str] = []
    clock = Clock(at("2026-11-22T21:00:00"))
    hook = ReverseSchedule(r, SETTINGS, send_discovery=sent.append, send_pull=lambda a: None)
    scheduler = Scheduler(r, AccountStore(r, SETTINGS), lambda a, b: None, clock, reverse=hook)

    scheduler.tick()
    clock.now = at("2026-11-23T02:29:00")
    scheduler.tick()
    clock.now = at("2026-11-23T02:30:00")
    scheduler.tick()

    assert sent == ["default"]


def test_the_next_pull_follows_the_end_of_the_previous_one(r: redis.Redis) -> None:
    sent: list[str] = []
    clock = Clock(at("2026-11-22T12:00:00"))
    hook = ReverseSchedule(r, SETTINGS, send_discovery=lambda a: None, send_pull=sent.append)
    scheduler = Scheduler(r, AccountStore(r, SETTINGS), lambda a, b: None, clock, reverse=hook)
    save_lists(r, "default", [KnownList(id="Y6nRLr", name="News", found_at=clock.now)])

    scheduler.tick()
    clock.now += 300  # the pull ran for 5 minutes
    ended = clock.now
    end_pull(r, "default", ended, 900)
    clock.now += 899
    scheduler.tick()
    clock.now += 1
    scheduler.tick()

    assert sent == ["default", "default"]
    assert hook.next_pull_at("default") == ended + 900
