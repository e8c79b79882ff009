"""A worker's heartbeat in the state, for a broker that keeps none: RabbitMQ.

Dramatiq's Redis broker writes each worker's heartbeat into its own Redis, and ``status``,
the console and ``healthcheck worker`` count those. RabbitMQ has no such record (it knows
its consumers' connections; a dead worker's unacknowledged messages go back to their queue
as its connection drops). So with RabbitMQ each worker process beats into the state's
process heartbeats (:mod:`shared.state.heartbeats`, kind ``worker``) from a thread started
as the worker boots, every :data:`~shared.state.heartbeats.BEAT_EVERY_S`, and leaves the set
as it shuts down. A Redis outage skips beats, never stops the worker.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

import redis
from dramatiq.broker import Broker
from dramatiq.middleware import Middleware

from shared.state.heartbeats import BEAT_EVERY_S, Heart
from workers.runtime.middleware.state_client import StateClient

log = logging.getLogger(__name__)


class WorkerHeartbeat(Middleware):
    """See the module docstring."""

    def __init__(self, state: StateClient) -> None:
        self.state = state
        self._stop = threading.Event()
        self._heart: Heart | None = None

    def after_worker_boot(self, broker: Broker, worker: Any) -> None:
        self._heart = Heart(self.state(), "worker")
        self._stop.clear()
        threading.Thread(target=self._beat, name="worker-heartbeat", daemon=True).start()

    def _beat(self) -> None:
        assert self._heart is not None
        while not self._stop.is_set():
            try:
                self._heart.beat()
            except redis.RedisError as error:
                log.warning("worker heartbeat not written: %s", type(error).__name__)
            self._stop.wait(BEAT_EVERY_S / 5)

    def before_worker_shutdown(self, broker: Broker, worker: Any) -> None:
        self._stop.set()
        if self._heart is not None:
            with contextlib.suppress(redis.RedisError):
                self._heart.stop()
