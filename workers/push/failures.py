"""How a push actor's failure ends its batch, so that its account goes on.

The push actors (``sync_batch``, ``upsert_chunk``, ``poll_import_job``) take the account and
the batch id as their first two arguments. Three failures give their batch up; in each its
contacts go back to pending (nobody is marked rejected) and the account's next batch is due
later, as after any batch:

* Klaviyo refuses the account's credentials: the account is parked
  (:mod:`shared.state.account_health`) and retried no sooner than its interval or 15 minutes
  (:func:`stops_on_account_problems`);
* Klaviyo refuses a request of the batch for a reason that is neither a contact's nor the
  credentials' (:class:`BatchRefused`);
* the message runs out of retries and becomes a dead letter (:func:`fail_on_dead_letter`,
  run by :class:`workers.runtime.middleware.dead_letter_hooks.DeadLetterHooks`). Without it
  the account would stay "running" for good and no later change would ever sync. The dead
  letter itself stays, for inspection (``contact-sync dlq``); replaying it once the batch is
  failed does nothing.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, ParamSpec

import redis

from shared.klaviyo.errors import AccountRefused, ReconnectNeeded
from shared.settings import get_settings
from shared.state import account_health as health
from workers.push.lifecycle import fail_batch
from workers.runtime.actor_context import account_config, redis_for_actors, state_redis
from workers.runtime.broker import current_redis_url
from workers.runtime.middleware.dead_letter_hooks import on_dead_letter

BATCH_ACTORS = ("sync_batch", "upsert_chunk", "poll_import_job")
P = ParamSpec("P")
log = logging.getLogger(__name__)


class BatchRefused(Exception):
    """Klaviyo refused a request of the batch for a reason that is neither a contact's nor
    the account's credentials (a 400 that names no row): the batch is given up, its
    contacts go back to pending. The message holds Klaviyo's code and title only."""



def stops_on_account_problems(fn: Callable[P, None]) -> Callable[P, None]:
    """For push actors whose first two arguments are (account, batch id): a refusal of the
    account's credentials parks the account (:mod:`shared.state.account_health`) and stops the
    batch, a :class:`BatchRefused` gives the batch up; in both cases its contacts go back to
    pending and nobody is marked rejected."""

    @functools.wraps(fn)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            fn(*args, **kwargs)
        except AccountRefused as refused:
            account, batch_id = str(args[0]), str(args[1])
            client = redis_for_actors()
            now = time.time()
            if not isinstance(refused, ReconnectNeeded):  # that one is parked already
                health.park_refused(client, account, refused.code, refused.detail, now)
            log.warning("account %s: Klaviyo refused its credentials (%s %s); batch %s "
                        "stopped, its contacts wait", account, refused.status, refused.code,
                        batch_id)
            interval = max(health.REFUSED_RETRY_S, _interval(client, account))
            fail_batch(client, account, batch_id, f"account refused: {refused.code}", now,
                       interval=interval)
        except BatchRefused as refused:
            account, batch_id = str(args[0]), str(args[1])
            client = redis_for_actors()
            log.error("account %s: batch %s given up: %s", account, batch_id, refused)
            fail_batch(client, account, batch_id, str(refused), time.time())

    return guarded


def _interval(client: redis.Redis, account: str) -> float:
    try:
        return account_config(client, account).interval
    except Exception:  # removed meanwhile: the default pace
        return get_settings().interval


@on_dead_letter(*BATCH_ACTORS)
def fail_on_dead_letter(message: Any) -> None:
    """Fail the batch of a push message that failed for good."""
    url = current_redis_url()
    if len(message.args) < 2 or url is None:
        return
    account, batch_id = str(message.args[0]), str(message.args[1])
    if fail_batch(state_redis(url), account, batch_id,
                  f"{message.actor_name} failed for good (see contact-sync dlq list)",
                  time.time()):
        log.error("batch %s of %s failed for good in %s; its contacts wait for the next "
                  "batch", batch_id, account, message.actor_name)
