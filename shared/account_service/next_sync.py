"""The dry run of an account's next sync for the account API and the console
(``GET /v1/accounts/{a}/syncs/next``): what :func:`shared.planning.dry_run.next_sync`
finds, as a :class:`NextSyncPlan`.

Up to ``SYNC_DRY_RUN_AT_ONCE`` pending contacts (10,000 by default: a few seconds) it is
planned within the request, and nothing is written. Above, no request waits for it: the
first starts one thread of the web process that plans it, under the account's lock (one
at a time per account and Klaviyo connection, however many web processes), and stores
it for a few minutes (:mod:`shared.state.dry_run_cache`); that request, and those while
it runs, get a :class:`NextSyncComputing` (202 with ``Retry-After``). A later request gets
the stored result with its ``computed_at``, for as long as the account's pending
contacts, settings and batch state are still those it was computed from; otherwise it is
computed again. Logs name the account and counts only.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from datetime import UTC, datetime

import redis

from shared import constants as keys
from shared.account_service.accounts import existing
from shared.account_service.models import NextSyncComputing, NextSyncPlan
from shared.accounts import AccountConfig
from shared.planning.dry_run import next_sync
from shared.settings import Settings
from shared.state import dry_run_cache as cache

log = logging.getLogger(__name__)

PLANNED_PER_S = 5_000
"""Pending contacts the dry run plans a second, roughly (docs/PERFORMANCE.md, "Dry run of
the next batch"): what a 202's ``Retry-After`` is worked out from."""
RETRY_AFTER_MAX_S = 60


def next_sync_plan(client: redis.Redis, settings: Settings,
                   account: str) -> NextSyncPlan | NextSyncComputing:
    """The dry run of ``account``'s next batch, or that it is being computed (see the
    module docstring); :class:`shared.account_service.errors.NotFound` for an unknown
    account."""
    config = existing(client, settings, account)
    pending = int(client.zcard(keys.pending(account)))
    if pending <= settings.tuning.dry_run_at_once:
        return _planned(client, config)
    signature = cache.signature(client, config)
    kept = cache.read(client, config)
    if kept is not None and kept.signature == signature:
        return NextSyncPlan.model_validate({**kept.result, "computed_at": kept.computed_at})
    token = secrets.token_hex(8)
    if cache.take_lock(client, config, token):
        threading.Thread(target=_compute, args=(client, config, token, signature),
                         name=f"dry-run:{account}", daemon=True).start()
    wait = min(RETRY_AFTER_MAX_S, max(1, math.ceil(pending / PLANNED_PER_S)))
    return NextSyncComputing(
        account=account, contacts=pending, retry_after=wait,
        detail=f"{pending} pending contacts: the dry run is being computed; ask again in "
               f"{wait} s")


def _planned(client: redis.Redis, config: AccountConfig, token: str | None = None
             ) -> NextSyncPlan:
    """The dry run planned now (renewing ``token``'s lock after each slice, when given)."""
    renew = None if token is None else (lambda _done: cache.renew_lock(client, config, token))
    found = next_sync(client, config, on_slice=renew)
    return NextSyncPlan.model_validate({**found.as_dict(), "computed_at": datetime.now(UTC)})


def _compute(client: redis.Redis, config: AccountConfig, token: str, signature: str) -> None:
    """In a thread of its own: the dry run planned and stored, then the lock released."""
    started = time.monotonic()
    try:
        plan = _planned(client, config, token)
        result = plan.model_dump(mode="json", exclude={"computed_at"})
        cache.store(client, config, cache.Kept(signature, plan.computed_at, result))
        log.info("account %s: the next sync's dry run planned %d pending contacts in "
                 "%.1f s", config.name, plan.contacts, time.monotonic() - started)
    except Exception as error:  # a thread's end: logged, and the lock freed below
        log.error("account %s: the next sync's dry run failed (%s); the next request "
                  "starts it again", config.name, type(error).__name__)
    finally:
        cache.release_lock(client, config, token)
