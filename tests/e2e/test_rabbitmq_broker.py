"""The real processes with the Dramatiq queues on RabbitMQ (``SYNC_BROKER_URL=amqp://...``,
a private node of tests/support/rabbitmq.py) and the state on one Redis: the push reaches
Klaviyo and the default list, and what an operator reads -- ``status``, ``/metrics``, the
worker's health check, ``dlq`` -- works or says it does not, never showing the broker's
password. And, in this process on the same node, the service's RabbitMQ broker with a
message that fails for good: counted as a dead letter, its actor's hook run.

One module, so that a test process starts one RabbitMQ node (a few seconds of Erlang)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import redis

from shared import constants as keys
from shared.state.heartbeats import alive
from shared.state.status_report import build_status
from tests.conftest import Setting
from tests.e2e.pipeline import Pipeline
from tests.support.process_stack import wait_until
from tests.support.rabbitmq import RabbitNode
from tests.workers.dramatiq_harness import FAIL_FLAG, flaky_actor, running_worker, wait_for
from workers.runtime.broker import make_broker
from workers.runtime.middleware.dead_letter_hooks import on_dead_letter

STATE_SHAPES = ("rabbitmq",)
"""Every test here runs with the queues on RabbitMQ (tests/e2e/conftest.py)."""

pytestmark = pytest.mark.xdist_group("test_rabbitmq_broker")
"""The module shares one running stack (tests/e2e/conftest.py): keep it on one worker."""


def _status(pipeline: Pipeline) -> dict[str, Any]:
    return dict(json.loads(pipeline.cli("status", "--json").stdout))


def _default_queue(status: dict[str, Any]) -> dict[str, int]:
    return next(q for q in status["queues"] if q["queue"] == "default")


def test_contacts_reach_klaviyo_and_the_default_list_through_rabbitmq(
        pipeline: Pipeline) -> None:
    assert pipeline.stack.env["SYNC_BROKER_URL"].startswith("amqp://")
    acme = pipeline.add_account()
    newsletter = pipeline.create_list(acme, "Newsletter")
    pipeline.set_account(acme, "--default-list", newsletter)

    report = pipeline.sync(acme, [
        pipeline.upsert(acme, "C-1", 1, first_name="Ann"),
        pipeline.upsert(acme, "C-2", 1, first_name="Bob"),
        pipeline.upsert(acme, "C-3", 1, first_name="Cy"),
    ])
    assert report.get("created") == 3
    profiles = pipeline.profiles(acme)
    assert {email: p["first_name"] for email, p in profiles.items()} == {
        "c-1@example.com": "Ann", "c-2@example.com": "Bob", "c-3@example.com": "Cy"}
    assert pipeline.members(acme, newsletter) == set(profiles)

    report = pipeline.sync(acme, [pipeline.upsert(acme, "C-1", 2, first_name="Annie"),
                                  pipeline.delete(acme, "C-3", 2)])
    assert report.get("updated") == 1 and report.get("removed_from_lists") == 1
    assert pipeline.profiles(acme)["c-1@example.com"]["first_name"] == "Annie"
    assert pipeline.members(acme, newsletter) == {"c-1@example.com", "c-2@example.com"}


def test_a_batch_waits_in_rabbitmq_while_no_worker_runs_and_status_shows_it(
        pipeline: Pipeline) -> None:
    acme = pipeline.add_account()
    pipeline.stack.kill("worker")  # SIGKILL: a crashed worker container

    pipeline.post([pipeline.upsert(acme, "C-1", 1)])
    waiting = wait_until(lambda: _default_queue(_status(pipeline))["messages"] >= 1, 60,
                         "the batch's message to wait in RabbitMQ's queue")
    assert waiting
    metrics = httpx.get(f"{pipeline.stack.metrics_url}/metrics", timeout=30).text
    assert 'contact_sync_queue_messages{queue="default"} 0.0' not in metrics
    assert 'contact_sync_queue_messages{queue="default"}' in metrics

    pipeline.stack.restart("worker")
    assert pipeline.settle(acme)[-1]["report"]["created"] == 1
    assert set(pipeline.profiles(acme)) == {"c-1@example.com"}
    status = _status(pipeline)
    assert _default_queue(status) == {"queue": "default", "messages": 0, "delayed": 0,
                                      "dead": 0}
    assert status["processes"]["worker"] >= 1


def test_the_operator_tools_answer_and_never_show_the_brokers_password(
        pipeline: Pipeline) -> None:
    password = urlsplit(pipeline.stack.env["SYNC_BROKER_URL"]).password
    assert password
    health = pipeline.cli("healthcheck", "worker", "--pid", str(pipeline.stack.pid("worker")))
    assert health.stdout.strip() == "healthy: worker"

    dlq = pipeline.cli("dlq", "list", check=False)
    assert dlq.returncode == 1
    assert dlq.stderr.strip().splitlines() == [
        "Error: dead letters are not available with a RabbitMQ broker yet (SYNC_BROKER_URL "
        "is amqp://); the dead-letter counts are in 'contact-sync status' and /metrics, the "
        "letters themselves in RabbitMQ's '<queue>.XQ' queues (docs/OPERATIONS.md)"]

    status = pipeline.cli("status")
    said = [status.stdout, status.stderr, health.stdout, dlq.stdout, dlq.stderr,
            httpx.get(f"{pipeline.stack.metrics_url}/metrics", timeout=30).text]
    said += [pipeline.stack.output(name, i) for name, group in pipeline.stack.processes.items()
             for i in range(len(group))]
    assert not [text for text in said if password in text]


def test_a_message_failing_for_good_on_rabbitmq_is_a_counted_dead_letter_and_runs_its_hook(
        rabbitmq_node: RabbitNode, redis_url: str, r: redis.Redis, setting: Setting) -> None:
    queues = rabbitmq_node.fresh_url()
    setting("REDIS_URL", redis_url)
    setting("SYNC_BROKER_URL", queues)
    broker = make_broker(redis_url, queues)
    actor = flaky_actor(broker, redis_url)
    given_up: list[tuple[str, ...]] = []
    on_dead_letter(actor.actor_name)(lambda message: given_up.append(tuple(message.args)))
    r.set(FAIL_FLAG, "1")
    try:
        with running_worker(broker):
            wait_for(lambda: alive(r)["worker"] == 1)  # it beats into the state
            actor.send("acme", "b-1")
            wait_for(lambda: given_up == [("acme", "b-1")])
            depth = next(d for d in build_status(r)["queues"] if d["queue"] == actor.queue_name)
            assert depth == {"queue": actor.queue_name, "messages": 0, "delayed": 0, "dead": 1}
        assert alive(r)["worker"] == 0, "a stopped worker leaves the heartbeats at once"
        counted = r.hgetall(keys.METRICS)
        assert [v for k, v in counted.items() if "dead_lettered" in k
                and actor.actor_name in k] == ["1"]
    finally:
        broker.close()
