"""POSTing one published stream entry to the CRM, signed like the inbound webhook.

``X-Sync-Signature: t=<unix s>,v1=<HMAC-SHA256 of "<t>." + body>`` under
``SYNC_CRM_WEBHOOK_SECRET``. Anything but a 2xx raises :class:`CrmDeliveryError` (no
personal data in it), so Dramatiq retries the message with backoff and dead-letters it when
the retries are spent (``contact-sync dlq`` shows and replays it). An entry the CRM
accepted is recorded, so a redelivered message does not POST it twice.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import httpx
import redis

from shared import constants as keys
from shared.signing import HEADER, sign
from workers.reverse.publish import crm_body, entry_fields

TIMEOUT_S = 10.0
KEEP_DELIVERED_S = 30 * 86_400.0
"""How long accepted entry ids are remembered (redeliveries come much sooner)."""
log = logging.getLogger(__name__)


class CrmDeliveryError(Exception):
    """The CRM did not accept the entry (status or transport); retried, then dead-lettered."""


@dataclass(frozen=True)
class RetryPolicy:
    """Dramatiq retry options of ``deliver_to_crm`` messages (milliseconds)."""

    max_retries: int = 20
    min_backoff: int = 5_000
    max_backoff: int = 3_600_000

    @classmethod
    def from_env(cls) -> RetryPolicy:
        """``SYNC_CRM_MAX_RETRIES``, ``SYNC_CRM_MIN_BACKOFF_MS``, ``SYNC_CRM_MAX_BACKOFF_MS``
        override the defaults (20 retries, 5 s doubling up to 1 h: about 14 hours)."""
        default = cls()
        return cls(
            max_retries=int(os.environ.get("SYNC_CRM_MAX_RETRIES", default.max_retries)),
            min_backoff=int(os.environ.get("SYNC_CRM_MIN_BACKOFF_MS", default.min_backoff)),
            max_backoff=int(os.environ.get("SYNC_CRM_MAX_BACKOFF_MS", default.max_backoff)),
        )


def deliver(client: redis.Redis, http: httpx.Client, account: str, entry_id: str,
            url: str, secret: str | None) -> str:
    """POST one entry; returns ``"delivered"``, ``"already"`` or ``"missing"``."""
    done_key = keys.crm_delivered(account)
    if client.zscore(done_key, entry_id) is not None:
        return "already"
    fields = entry_fields(client, account, entry_id)
    if fields is None:
        log.warning("CRM delivery of %s/%s: the stream entry is gone (trimmed)", account,
                    entry_id)
        return "missing"
    if not secret:
        raise CrmDeliveryError("SYNC_CRM_WEBHOOK_SECRET is not set: nothing is sent unsigned")
    body = crm_body(entry_id, fields)
    headers = {"Content-Type": "application/json", HEADER: sign(secret, body)}
    try:
        answer = http.post(url, content=body, headers=headers, timeout=TIMEOUT_S)
    except httpx.HTTPError as error:
        raise CrmDeliveryError(f"CRM unreachable: {type(error).__name__}") from None
    if not 200 <= answer.status_code < 300:
        raise CrmDeliveryError(f"CRM answered {answer.status_code} for entry {entry_id}")
    now = time.time()
    pipe = client.pipeline()
    pipe.zadd(done_key, {entry_id: now})
    pipe.zremrangebyscore(done_key, "-inf", now - KEEP_DELIVERED_S)
    pipe.execute()
    return "delivered"
