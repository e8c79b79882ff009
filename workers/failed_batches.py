"""A batch whose message failed for good is given up, so its account goes on.

When a push actor's message (``sync_batch``, ``upsert_chunk``, ``poll_import_job``: their
first two arguments are the account and the batch id) runs out of retries and becomes a
dead letter, :class:`FailBatchOnDeadLetter` marks the batch failed: its contacts go back
to pending and the account's next batch is due one interval later, as after any batch.
Without it the account would stay "running" for good and no later change would ever sync.
The dead letter itself stays, for inspection (``contact-sync dlq``); replaying it once the
batch is failed does nothing.
"""

from __future__ import annotations

import logging
import time
from functools import cache
from typing import Any

import redis
from dramatiq.broker import Broker
from dramatiq.middleware import Middleware

from shared.redis_client import connect
from workers.batch_lifecycle import fail_batch
from workers.broker import current_redis_url

BATCH_ACTORS = frozenset({"sync_batch", "upsert_chunk", "poll_import_job"})
log = logging.getLogger(__name__)


@cache
def _client(url: str) -> redis.Redis:
    return connect(url)


class FailBatchOnDeadLetter(Middleware):
    """See the module docstring."""

    def after_nack(self, broker: Broker, message: Any) -> None:
        url = current_redis_url()
        if message.actor_name not in BATCH_ACTORS or len(message.args) < 2 or url is None:
            return
        account, batch_id = str(message.args[0]), str(message.args[1])
        if fail_batch(_client(url), account, batch_id,
                      f"{message.actor_name} failed for good (see contact-sync dlq list)",
                      time.time()):
            log.error("batch %s of %s failed for good in %s; its contacts wait for the next "
                      "batch", batch_id, account, message.actor_name)
