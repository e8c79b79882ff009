"""The pull side parks an account whose credentials Klaviyo refuses (401/403), as the push
side does (:func:`workers.actors.common.stops_on_account_problems`): the refusal is
recorded (:mod:`shared.state.account_health`: the account's status and the refused-accounts
gauge show it), the message is not retried (a retry cannot help), and the next pull is
due no sooner than :data:`shared.state.account_health.REFUSED_RETRY_S` later. Fixing the
key (settings change) clears it, as for the push side."""

from __future__ import annotations

import logging
import time

import redis

from shared.klaviyo.errors import AccountRefused, ReconnectNeeded
from shared.settings import get_settings
from shared.state import account_health as health
from workers.reverse.state import end_pull

log = logging.getLogger(__name__)


def park_pulls(client: redis.Redis, account: str, refused: AccountRefused, what: str) -> None:
    """Record the refusal and put the account's next pull off (``what``: for the log)."""
    now = time.time()
    if not isinstance(refused, ReconnectNeeded):  # that one is parked already
        health.park_refused(client, account, refused.code, refused.detail, now)
    log.warning("account %s: Klaviyo refused its credentials (%s %s); %s stopped, the "
                "account is parked", account, refused.status, refused.code, what)
    if what == "pull":
        end_pull(client, account, now,
                 max(health.REFUSED_RETRY_S, get_settings().list_pull_interval))
