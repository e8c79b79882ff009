"""Dead letters of the real Dramatiq Redis broker: a failed message is listed with its
error, replayed atomically onto its queue, processed, and gone from the dead set."""

from __future__ import annotations

import time
from typing import Any

import dramatiq
import redis
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware

from shared import constants as keys
from shared.state.dead_letters import DeadLetters
from shared.telemetry.metrics import DEAD_LETTERED, field
from tests.support.redis_reads import hash_fields
from tests.workers.dramatiq_harness import (
    DONE,
    FAIL_FLAG,
    dead_lettered,
    flaky_actor,
    make_broker,
    running_worker,
    wait_for,
)


def _failing_actor(r: redis.Redis, redis_url: str
                   ) -> tuple[RedisBroker, dramatiq.Actor[Any, Any], DeadLetters]:
    """A broker, an actor on it that fails for good (until :data:`FAIL_FLAG` is cleared),
    and the dead letters' reader."""
    broker = make_broker(redis_url)
    actor = flaky_actor(broker, redis_url)
    r.set(FAIL_FLAG, "1")
    return broker, actor, DeadLetters(r)


def test_a_message_that_fails_for_good_is_listed_with_its_masked_error(
        r: redis.Redis, redis_url: str) -> None:
    broker, actor, letters = _failing_actor(r, redis_url)
    with running_worker(broker):
        sent = actor.send("acme", "b-1")
        [letter] = wait_for(letters.list)
    assert letter.queue == actor.queue_name
    assert letter.actor == actor.actor_name
    assert letter.message.message_id == sent.message_id
    assert letter.message.args == ("acme", "b-1")
    assert letter.retries == 1
    assert letter.error == "RuntimeError: Klaviyo refused the chunk of a***@example.com in b-1"
    assert "ann@example.com" not in letter.traceback
    assert letter.failed_at <= time.time()
    assert letters.count() == {actor.queue_name: 1}
    assert letters.get(sent.message_id) == letter  # found by Dramatiq's message id too
    counted = field(DEAD_LETTERED, {"queue": actor.queue_name, "actor": actor.actor_name})
    assert float(hash_fields(r, keys.METRICS)[counted]) == 1


class ReadsTheDeadSetAtOnce(Middleware):
    """Test harness: reads the dead letters the moment the nack has made one (added last, its
    ``after_nack`` runs before every other middleware's)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.seen: list[str] = []

    def after_nack(self, broker: dramatiq.Broker, message: Any) -> None:
        self.seen += [letter.error for letter in DeadLetters(self.client).list()]


def test_a_dead_letter_carries_its_error_the_moment_it_is_visible(
        r: redis.Redis, redis_url: str) -> None:
    broker = make_broker(redis_url)
    actor = flaky_actor(broker, redis_url)
    reader = ReadsTheDeadSetAtOnce(r)
    broker.add_middleware(reader)
    r.set(FAIL_FLAG, "1")
    with running_worker(broker):
        actor.send("acme", "b-2")
        wait_for(lambda: reader.seen)
    assert reader.seen == ["RuntimeError: Klaviyo refused the chunk of a***@example.com in b-2"]


def test_a_replayed_message_runs_and_leaves_the_dead_set(r: redis.Redis, redis_url: str) -> None:
    broker, actor, letters = _failing_actor(r, redis_url)
    with running_worker(broker):
        actor.send("acme", "b-2")
        [letter] = wait_for(letters.list)
        r.delete(FAIL_FLAG)  # the cause is fixed
        assert letters.replay(letter)
        assert letters.list() == []
        assert wait_for(lambda: r.lrange(DONE, 0, -1)) == ["acme/b-2"]
    assert not letters.replay(letter), "a letter is replayed once, never twice"
    assert r.hlen(keys.dramatiq_queue_messages(actor.queue_name)) == 0


def test_replay_puts_the_message_on_its_queue_in_one_step_young_and_without_retries(
    r: redis.Redis, redis_url: str
) -> None:
    broker, actor, letters = _failing_actor(r, redis_url)
    with running_worker(broker):
        actor.send("acme", "b-3")
        [letter] = wait_for(letters.list)
    assert letters.replay(letter, now=2_000_000_000)
    queue = actor.queue_name
    assert r.zscore(keys.dramatiq_dead(queue), letter.id) is None
    assert not r.hexists(keys.dramatiq_dead_messages(queue), letter.id)
    assert r.lrange(keys.dramatiq_queue(queue), 0, -1) == [letter.id]
    live = Message.decode(hash_fields(r, keys.dramatiq_queue_messages(queue))[letter.id].encode())
    assert live.message_timestamp == 2_000_000_000_000
    assert "retries" not in live.options and "traceback" not in live.options
    assert live.options["redis_message_id"] == letter.id


def test_a_message_killed_by_its_age_limit_runs_once_replayed(
        r: redis.Redis, redis_url: str) -> None:
    broker = make_broker(redis_url)
    actor = flaky_actor(broker, redis_url, max_age=60_000)
    letters = DeadLetters(r)
    old = actor.message("acme", "b-4")
    broker.enqueue(old.copy(message_timestamp=old.message_timestamp - 3_600_000))
    with running_worker(broker):
        [letter] = wait_for(letters.list)
        assert letter.error.startswith("SkipMessage: not run (its age limit was exceeded")
        assert r.lrange(DONE, 0, -1) == []
        assert letters.replay_all(queue=actor.queue_name, actor=actor.actor_name) == 1
        assert wait_for(lambda: r.lrange(DONE, 0, -1)) == ["acme/b-4"]
    assert letters.list() == []


def test_purge_deletes_the_dead_letters_of_one_queue_or_all(r: redis.Redis, redis_url: str) -> None:
    broker = make_broker(redis_url)
    first, second = flaky_actor(broker, redis_url), flaky_actor(broker, redis_url)
    r.set(FAIL_FLAG, "1")
    letters = DeadLetters(r)
    with running_worker(broker):
        first.send("acme", "b-5")
        second.send("acme", "b-6")
        second.send("acme", "b-7")
        wait_for(lambda: len(letters.list()) == 3)
    assert letters.purge(first.queue_name) == 1
    assert [letter.queue for letter in letters.list()] == [second.queue_name] * 2
    assert letters.purge() == 2
    assert letters.list() == [] and letters.queues() == []


def test_dead_letters_are_read_with_a_bytes_client_too(redis_url: str, r: redis.Redis) -> None:
    actor = dead_lettered(redis_url, ("acme", "b-8"))
    raw = redis.Redis.from_url(redis_url)
    [letter] = DeadLetters(raw).list()
    assert letter.actor == actor.actor_name
