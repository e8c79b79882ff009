"""The consent changes made in Klaviyo that the sync delivers to the CRM, newest first, as
the console's sync screen shows them: by CRM contact id, never an email or phone.

Read from where the delivery keeps them (docs/REVERSE_SYNC.md): the ``consent.changed``
entries of the account's stream :func:`shared.constants.subscribers_stream` (list sign-ups
share it), and for each entry shown its delivery state from the records of the per-member
delivery order (``workers/reverse/crm_order.lua``):

* *delivered*: the CRM accepted it (:func:`shared.constants.crm_delivered`, with when);
* *pending*: in its member's queue (:func:`shared.constants.crm_member_queue`: being sent,
  waiting for a retry or behind the member's earlier entry), or not handed over yet;
* *not delivered*: settled without the CRM accepting it (the member's newest settled entry,
  :func:`shared.constants.crm_member_last`, is this one or later): retries spent and
  dead-lettered, or superseded by a later change of the same person;
* *unknown*: older than the 30 days those records are kept.

Bounded whatever the account's size: one ``XREVRANGE`` of at most ``scan`` entries, then
one pipelined round trip of two reads per change shown.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import redis

from shared import constants as keys
from shared.consent.ledger import CONSENT_CHANGED
from shared.redis_text import as_text, as_texts

SCAN = 2_000
"""Newest stream entries read per page (list sign-ups share the stream)."""
SHOWN = 50
"""Consent changes shown per page."""
RECORDS_KEPT_S = 30 * 86_400
"""How long the delivery remembers accepted and settled entries (``KEEP_S`` of
``workers/reverse/crm_order.py``); older entries' state is unknown."""
State = Literal["delivered", "pending", "not_delivered", "unknown"]


@dataclass(frozen=True)
class ConsentDelivery:
    """One ``consent.changed`` entry and where its delivery stands."""

    entry_id: str
    contact_id: str
    channel: str
    consent: str
    reason: str | None
    occurred_at: str | None
    """Klaviyo's time of the change (ISO 8601)."""
    state: State
    delivered_at: datetime | None = None


@dataclass(frozen=True)
class ConsentPage:
    changes: list[ConsentDelivery]
    older: str | None
    """The stream id to read the next (older) page before, or ``None``: nothing older."""


def _ms(entry_id: str) -> tuple[int, int]:
    stamp, _, seq = entry_id.partition("-")
    return int(stamp), int(seq or 0)


def _state(entry_id: str, delivered: object, queued: object, last: object,
           now: float) -> State:
    if delivered is not None:
        return "delivered"
    if queued is not None:
        return "pending"
    if last is not None and _ms(entry_id) <= _ms(as_text(last)):
        return "not_delivered"
    if _ms(entry_id)[0] / 1000 < now - RECORDS_KEPT_S:
        return "unknown"
    return "pending"


def consent_deliveries(client: redis.Redis, account: str, before: str | None = None,
                       scan: int = SCAN, shown: int = SHOWN) -> ConsentPage:
    """The newest ``consent.changed`` entries (at most ``shown``) among the ``scan``
    stream entries before ``before`` (exclusive; ``None``: the newest)."""
    stream = keys.subscribers_stream(account)
    top = f"({before}" if before else "+"
    entries = client.xrevrange(stream, max=top, min="-", count=scan) or []
    found: list[tuple[str, dict[str, str]]] = []
    for raw_id, raw in entries:
        fields = as_texts(raw)
        if fields.get("type") == CONSENT_CHANGED:
            found.append((as_text(raw_id), fields))
            if len(found) == shown:
                break
    last_read = found[-1][0] if len(found) == shown else (
        as_text(entries[-1][0]) if len(entries) == scan else None)
    pipe = client.pipeline(transaction=False)
    for entry_id, fields in found:
        list_id, profile = fields.get("list_id", ""), fields.get("profile_id", "")
        pipe.zscore(keys.crm_delivered(account), entry_id)
        pipe.lpos(keys.crm_member_queue(account, list_id, profile), entry_id)
        pipe.get(keys.crm_member_last(account, list_id, profile))
    answers = pipe.execute() if found else []
    now = time.time()
    changes = []
    for n, (entry_id, fields) in enumerate(found):
        delivered, queued, last = answers[3 * n: 3 * n + 3]
        changes.append(ConsentDelivery(
            entry_id=entry_id, contact_id=fields.get("contact_id", ""),
            channel=fields.get("channel", ""), consent=fields.get("consent", ""),
            reason=fields.get("reason") or None,
            occurred_at=fields.get("occurred_at") or None,
            state=_state(entry_id, delivered, queued, last, now),
            delivered_at=(datetime.fromtimestamp(float(delivered), UTC)
                          if delivered is not None else None)))
    return ConsentPage(changes, last_read)
