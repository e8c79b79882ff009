"""The reverse-sync actors: ``discover_lists``, ``pull_list_members``, ``deliver_to_crm``.

Messages carry ids only (account, stream entry id); entries reach ``deliver_to_crm``
through the stream's outbox group (:mod:`workers.reverse.crm_handover`). Rate limits re-send the
same message after the wait (nothing sleeps); other failures raise and Dramatiq retries.
"""

from __future__ import annotations

import logging
import time

import dramatiq

from shared import constants as keys
from shared.klaviyo.errors import AccountRefused, RateLimited, Rejected
from shared.settings import get_settings
from workers.reverse.consent_pull import pull_consent
from workers.reverse.crm_delivery import enqueue_delivery
from workers.reverse.crm_handover import hand_over
from workers.reverse.crm_outbox import Publisher
from workers.reverse.discovery import discover
from workers.reverse.members import find_removals, pull_list
from workers.reverse.parking import park_pulls
from workers.reverse.state import end_pull, known_lists, pull_state, utc_day
from workers.runtime.actor_context import account_config, klaviyo_for, redis_for_actors, resend

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
