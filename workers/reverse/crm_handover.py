"""The subscribers stream as the CRM delivery's outbox: no entry is left behind.

A consumer group (:data:`CRM_GROUP`) on ``sync:{account}:subscribers`` remembers which
entries were handed to ``deliver_to_crm``. :func:`hand_over` reads the new ones, sends one
message per entry and acknowledges it afterwards, so a crash between reading and sending
leaves the entry pending; a later hand-over claims entries pending for
:data:`CLAIM_AFTER_MS` and sends them again (the delivery skips entries the CRM already
accepted). The group starts at the stream's beginning: entries published before
``SYNC_CRM_WEBHOOK_URL`` was set are delivered once it is.

Each entry joins its member's queue (:mod:`workers.reverse.crm_order`) and gets a message
only when it is the member's head; a later entry of a member whose earlier entry is still
being delivered is sent by that earlier entry's delivery once it is settled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis

from shared import constants as keys
from shared.redis_text import as_text, as_texts
from workers.reverse.crm_order import MemberOrder

CRM_GROUP = "crm"
CONSUMER = "hand-over"
CLAIM_AFTER_MS = 600_000
READ_COUNT = 500


def _ensure_group(client: redis.Redis, stream: str) -> None:
    try:
        client.xgroup_create(stream, CRM_GROUP, id="0", mkstream=True)
    except redis.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise


def _entries(found: Any) -> list[tuple[str, dict[str, str]]]:
    return [(as_text(entry_id), as_texts(fields))
            for entry_id, fields in found if fields is not None]


def hand_over(client: redis.Redis, account: str, send: Callable[[str, str], None],
              claim_after_ms: int = CLAIM_AFTER_MS) -> int:
    """Send ``send(account, entry_id)`` for every entry not handed over yet (and for those
    left pending by a crash) that is its member's head; returns how many were sent."""
    stream = keys.subscribers_stream(account)
    _ensure_group(client, stream)
    claimed: Any = client.xautoclaim(stream, CRM_GROUP, CONSUMER, claim_after_ms,
                                     start_id="0-0", count=READ_COUNT)
    entries = _entries(claimed[1])  # redis-py: [next id, entries, deleted ids]
    for deleted in claimed[2] if len(claimed) > 2 else []:
        client.xack(stream, CRM_GROUP, as_text(deleted))  # trimmed while pending
    while True:
        found: Any = client.xreadgroup(CRM_GROUP, CONSUMER, {stream: ">"}, count=READ_COUNT)
        page = found[0][1] if found else []
        if not page:
            break
        entries += _entries(page)
    order = MemberOrder(client, account)
    sent = 0
    for entry_id, fields in entries:
        if order.join(entry_id, fields):
            send(account, entry_id)
            sent += 1
        client.xack(stream, CRM_GROUP, entry_id)
    return sent
