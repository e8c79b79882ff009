"""``deliver_to_crm``: POSTing one entry of the CRM's outbox to the CRM, signed like the
inbound webhook.

``X-Sync-Signature: t=<unix s>,v1=<HMAC-SHA256 of "<t>." + body>`` under
``SYNC_CRM_WEBHOOK_SECRET``. Anything but a 2xx, and no answer within
``SYNC_CRM_TIMEOUT_MS``, raises :class:`CrmDeliveryError` (no personal data in it), so
Dramatiq retries the message with growing backoff and dead-letters it when the retries are
spent (``contact-sync dlq`` shows and replays it). An entry the CRM accepted is recorded,
so a redelivered message does not POST it twice. One member's entries go out in stream
order (:mod:`workers.reverse.crm_order`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import dramatiq
import httpx
import redis
from dramatiq.middleware import CurrentMessage

from shared.settings import (
    CRM_MAX_BACKOFF_MS,
    CRM_MAX_RETRIES,
    CRM_MAX_TIMEOUT_MS,
    CRM_MIN_BACKOFF_MS,
    CRM_TIMEOUT_MS,
    Tuning,
    get_settings,
)
from shared.signing import HEADER, sign
from workers.reverse.crm_order import KEEP_S, MemberOrder
from workers.reverse.crm_outbox import crm_body, entry_fields
from workers.runtime.actor_context import redis_for_actors

MAX_TIMEOUT_MS = CRM_MAX_TIMEOUT_MS
"""The longest ``SYNC_CRM_TIMEOUT_MS`` accepted (the actor's time limit leaves room for it)."""
KEEP_DELIVERED_S = float(KEEP_S)
"""How long accepted entry ids are remembered (redeliveries come much sooner)."""
log = logging.getLogger(__name__)
Send = Callable[[str, str], None]


class CrmDeliveryError(Exception):
    """The CRM did not accept the entry (status, transport, timeout); retried, then
    dead-lettered."""


@dataclass(frozen=True)
class RetryPolicy:
    """How ``deliver_to_crm`` waits for the CRM and retries (milliseconds)."""

    max_retries: int = CRM_MAX_RETRIES
    min_backoff: int = CRM_MIN_BACKOFF_MS
    max_backoff: int = CRM_MAX_BACKOFF_MS
    timeout: int = CRM_TIMEOUT_MS
    """How long one POST may take to connect, send or get each part of the answer."""

    @classmethod
    def of(cls, tuning: Tuning) -> RetryPolicy:
        """The policy the tuning knobs ``SYNC_CRM_MAX_RETRIES``, ``SYNC_CRM_MIN_BACKOFF_MS``,
        ``SYNC_CRM_MAX_BACKOFF_MS``, ``SYNC_CRM_TIMEOUT_MS`` describe (20 retries, 5 s
        doubling up to 1 h: about 14 hours; 10 s per POST; bounds in
        :mod:`shared.settings`)."""
        return cls(max_retries=tuning.crm_max_retries, min_backoff=tuning.crm_min_backoff_ms,
                   max_backoff=tuning.crm_max_backoff_ms, timeout=tuning.crm_timeout_ms)


@dataclass(frozen=True)
class Delivery:
    """Where and how one entry is POSTed."""

    url: str | None
    secret: str | None
    timeout_s: float = RetryPolicy().timeout / 1000
    last_try: bool = False
    """True on the message's final attempt: a failure then gives the entry up, and the
    member's next entry goes ahead."""


def _post(http: httpx.Client, delivery: Delivery, entry_id: str, body: bytes) -> None:
    if not delivery.url:
        raise CrmDeliveryError("SYNC_CRM_WEBHOOK_URL is no longer set: the entry is kept")
    if not delivery.secret:
        raise CrmDeliveryError("SYNC_CRM_WEBHOOK_SECRET is not set: nothing is sent unsigned")
    headers = {"Content-Type": "application/json", HEADER: sign(delivery.secret, body)}
    try:
        answer = http.post(delivery.url, content=body, headers=headers,
                           timeout=delivery.timeout_s)
    except httpx.TimeoutException as error:
        raise CrmDeliveryError(f"CRM did not answer entry {entry_id} within "
                               f"{delivery.timeout_s:g} s ({type(error).__name__})") from None
    except httpx.HTTPError as error:
        raise CrmDeliveryError(f"CRM unreachable: {type(error).__name__}") from None
    if not 200 <= answer.status_code < 300:
        raise CrmDeliveryError(f"CRM answered {answer.status_code} for entry {entry_id}")


def deliver(client: redis.Redis, http: httpx.Client, account: str, entry_id: str,
            delivery: Delivery, send_next: Send) -> str:
    """POST one entry when it is its member's turn; returns ``"delivered"``,
    ``"already"``, ``"missing"``, ``"waiting"`` or ``"superseded"``. The member's next
    entry, if any, is handed to ``send_next(account, entry_id)`` once this one is settled."""
    fields = entry_fields(client, account, entry_id)
    if fields is None:
        log.warning("CRM delivery of %s/%s: the stream entry is gone (trimmed)", account,
                    entry_id)
        return "missing"
    order = MemberOrder(client, account)

    def settle(accepted: bool, again: bool = False) -> None:
        following = order.settle(entry_id, fields, time.time(), accepted, again)
        if following:
            send_next(account, following)

    turn = order.turn(entry_id, fields)
    if turn == "already":
        settle(accepted=False, again=True)
        return "already"
    if turn == "wait":
        log.info("CRM delivery of %s/%s waits for an earlier entry of the same member",
                 account, entry_id)
        return "waiting"
    if turn == "superseded":
        log.warning("CRM delivery of %s/%s skipped: a later entry of the same member was "
                    "settled first, and this older one would undo it", account, entry_id)
        settle(accepted=False)
        return "superseded"
    try:
        _post(http, delivery, entry_id, crm_body(entry_id, fields))
    except CrmDeliveryError:
        if delivery.last_try:
            log.warning("CRM delivery of %s/%s given up (dead-lettered); the member's later "
                        "entries go ahead", account, entry_id)
            settle(accepted=False)
        raise
    settle(accepted=True)
    return "delivered"


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


def enqueue_delivery(account: str, entry_id: str) -> None:
    """Send one ``deliver_to_crm`` message with the configured retry policy."""
    policy = RetryPolicy.of(get_settings().tuning)
    deliver_to_crm.send_with_options(args=(account, entry_id), max_retries=policy.max_retries,
                                     min_backoff=policy.min_backoff,
                                     max_backoff=policy.max_backoff)
