"""The reverse-sync actors: ``discover_lists``, ``pull_list_members``, ``deliver_to_crm``.

Messages carry ids only (account, stream entry id); entries reach ``deliver_to_crm``
through the stream's outbox group (:mod:`workers.reverse.outbox`). Rate limits re-send the
same message after the wait (nothing sleeps); other failures raise and Dramatiq retries.
"""

from __future__ import annotations

import logging
import time
from functools import cache

import dramatiq
import httpx
from dramatiq.middleware import CurrentMessage

from shared import constants as keys
from shared.klaviyo.errors import AccountRefused, RateLimited, Rejected
from shared.settings import get_settings
from workers.actors.common import account_config, klaviyo_for, redis_for_actors, resend
from workers.reverse.consent_pull import pull_consent
from workers.reverse.crm_delivery import MAX_TIMEOUT_MS, Delivery, RetryPolicy, deliver
from workers.reverse.discovery import discover
from workers.reverse.members import find_removals, pull_list
from workers.reverse.outbox import hand_over
from workers.reverse.parking import park_pulls
from workers.reverse.publish import Publisher
from workers.reverse.state import end_pull, known_lists, pull_state, utc_day

log = logging.getLogger(__name__)


@dramatiq.actor(max_retries=5, time_limit=10 * 60_000)
def discover_lists(account: str) -> None:
    """Discover the account's lists (every page)."""
    client = redis_for_actors()
    klaviyo = klaviyo_for(client, account_config(client, account))
    try:
        discover(client, klaviyo, account, time.time())
    except RateLimited as limited:
        resend(discover_lists, (account,), limited.retry_in)
    except AccountRefused as refused:
        park_pulls(client, account, refused, "discovery")
    except Rejected as refused:  # e.g. a key without lists:read: retrying will not help
        log.warning("discovery of %s refused by Klaviyo: %s", account, refused)


def enqueue_delivery(account: str, entry_id: str) -> None:
    """Send one ``deliver_to_crm`` message with the configured retry policy."""
    policy = RetryPolicy.of(get_settings().tuning)
    deliver_to_crm.send_with_options(args=(account, entry_id), max_retries=policy.max_retries,
                                     min_backoff=policy.min_backoff,
                                     max_backoff=policy.max_backoff)


@dramatiq.actor(max_retries=5, time_limit=30 * 60_000)
def pull_list_members(account: str) -> None:
    """Pull every known (not gone) list of the account, then, once a day, the full pass
    for removals; marks the account's pull ended (the scheduler counts the interval from
    there)."""
    client = redis_for_actors()
    klaviyo = klaviyo_for(client, account_config(client, account))
    to_crm = bool(get_settings().crm_webhook_url)
    started = time.time()
    state_key = keys.pull_state(account)
    client.hset(state_key, "pull_started_at", repr(started))
    today = utc_day(started)
    full_pass = pull_state(client, account).get("removals_on") != today
    try:
        pull_consent(client, klaviyo, account, started)
        for known in known_lists(client, account):
            if not known.active:
                continue
            publisher = Publisher(client, account, known.id, known.name, time.time)
            try:
                result = pull_list(client, klaviyo, publisher, started)
                if full_pass:
                    find_removals(client, klaviyo, publisher)
            except AccountRefused:
                raise  # the account's credentials, not this list: parked below
            except Rejected as refused:  # e.g. deleted since discovery: the others go on
                log.warning("pull of %s list %s refused by Klaviyo: %s", account, known.id,
                            refused)
                continue
            if result.published:
                log.info("pull of %s list %s: %d new members", account, known.id,
                         result.published)
            if to_crm:
                hand_over(client, account, enqueue_delivery)
    except RateLimited as limited:
        resend(pull_list_members, (account,), limited.retry_in)
        return
    except AccountRefused as refused:
        park_pulls(client, account, refused, "pull")
        return
    finally:
        if to_crm:  # removals too, and whatever a pull cut short had published
            hand_over(client, account, enqueue_delivery)
    end_pull(client, account, time.time(), get_settings().list_pull_interval,
             today if full_pass else None)


@cache
def _http() -> httpx.Client:
    return httpx.Client()


def _last_try() -> bool:
    """True when the running message's failure would dead-letter it (retries spent)."""
    message = CurrentMessage.get_current_message()
    if message is None:
        return False
    limit = message.options.get("max_retries", RetryPolicy().max_retries)
    return limit is not None and int(message.options.get("retries", 0)) >= int(limit)


@dramatiq.actor(max_retries=RetryPolicy().max_retries, time_limit=MAX_TIMEOUT_MS + 60_000)
def deliver_to_crm(account: str, entry_id: str) -> None:
    """POST one ``sync:{account}:subscribers`` entry to ``SYNC_CRM_WEBHOOK_URL``, in its
    member's order (:mod:`workers.reverse.crm_order`)."""
    settings = get_settings()  # no URL any more: retried, then dead-lettered (replayable)
    delivery = Delivery(settings.crm_webhook_url, settings.crm_webhook_secret,
                        timeout_s=settings.tuning.crm_timeout_ms / 1000, last_try=_last_try())
    deliver(redis_for_actors(), _http(), account, entry_id, delivery, enqueue_delivery)
