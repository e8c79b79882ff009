"""A Dramatiq app for the shutdown tests, run by the real ``dramatiq`` CLI:
``dramatiq tests.ops.slow_actor_app``. Configured by the environment: REDIS_URL,
SLOW_QUEUE (a unique queue name), SLOW_SECONDS, HEARTBEAT_MS."""

from __future__ import annotations

import os
import time

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from workers.runtime.middleware import ops_middleware

REDIS_URL = os.environ["REDIS_URL"]
QUEUE = os.environ.get("SLOW_QUEUE", "slow")
broker = RedisBroker(
    url=REDIS_URL,
    heartbeat_timeout=int(os.environ.get("HEARTBEAT_MS", "60000")),
    maintenance_chance=int(os.environ.get("MAINTENANCE_CHANCE", "1000")),
)
for middleware in ops_middleware():
    broker.add_middleware(middleware)
dramatiq.set_broker(broker)
state = redis.Redis.from_url(REDIS_URL, decode_responses=True)


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def slow(n: int) -> None:
    state.set(f"{QUEUE}:started:{n}", "1")
    time.sleep(float(os.environ.get("SLOW_SECONDS", "2")))
    state.rpush(f"{QUEUE}:done", n)
