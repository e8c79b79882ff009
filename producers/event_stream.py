"""The one place where accepted contact events are written to the events stream.

Every producer (webhook, import, ``publish()``) calls :func:`append_events` (the webhook
:func:`append_wire_events`); the collector reads exactly this format: one entry per event
on :data:`shared.constants.EVENTS_STREAM`, fields

* ``event`` (``ContactEvent.model_dump_json()``, or the same without the optional fields
  the CRM left out), ``origin`` (webhook, import, publish) and ``rules``
  (:data:`shared.wire_events.EVENT_RULES`: the rules it was validated by);
* ``account``, ``contact`` (its id) and :data:`shared.state.contact_mirror.MIRROR_FIELD`:
  the event as the collector stores it (the compact mirror, made here from the validated
  event). A collector of this release stores an entry stamped with its rules as it is,
  without parsing its JSON (that was most of its CPU per event); one of an older release
  still reads ``event``, so both can drain the stream during an upgrade.

The entries of one call are added by one Lua script (``append_events.lua``): like a
MULTI/EXEC transaction it is atomic -- no other client sees a half-stored request and a
request whose call fails (Redis down) stored nothing -- but it is one command instead of a
thousand, which cuts the producer's CPU per 1,000 events roughly tenfold (the webhook's
throughput is bound by it). redis-py reloads the script by itself after a Redis restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from shared import constants as keys
from shared import ingest_shards
from shared.events import ContactEvent, Origin
from shared.lua_scripts import lua_script
from shared.redis_cluster import is_cluster, on_master_with_replica
from shared.settings import get_settings
from shared.state.contact_mirror import MIRROR_FIELD, event_mirror
from shared.wire_events import EVENT_RULES, WireEvent, occurred_at_epoch, wire_json

APPEND_EVENTS = lua_script(__file__, "append_events.lua")


def append_events(client: redis.Redis, events: Sequence[ContactEvent], origin: Origin) -> int:
    """Append ``events`` to the events stream, all or none, and return how many were stored.

    No MAXLEN trimming here: the collector trims what it has acknowledged. Raises
    ``redis.RedisError`` when Redis is unreachable (then nothing was stored).
    """
    # The model's serializer directly: what model_dump_json() returns, without its wrapper.
    to_json = ContactEvent.__pydantic_serializer__.to_json
    args: list[str | bytes] = []
    for event in events:
        contact = event.contact
        args += (to_json(event), event.account_id, contact.id,
                 event_mirror(event.occurred_at.timestamp(), event.type, contact.model_dump(),
                              origin))
    return _append(client, args, origin)


def append_wire_events(client: redis.Redis, events: Sequence[WireEvent], origin: Origin
                       ) -> int:
    """:func:`append_events` for events validated into dicts (the webhook's fast path,
    :mod:`shared.wire_events`)."""
    args: list[str | bytes] = []
    for event in events:
        contact = event["contact"]
        args += (wire_json(event), event["account_id"], contact["id"],
                 event_mirror(occurred_at_epoch(event), event["type"], contact, origin))
    return _append(client, args, origin)


def _append(client: redis.Redis, args: list[str | bytes], origin: Origin) -> int:
    """One script call per ingest stream (one, unless ``SYNC_INGEST_SHARDS`` > 1):
    ``args`` holds four values per event (``append_events.lua``), the account second.
    With several shards a request is stored shard by shard: a failure part way stores
    some of its events, and the caller's retry stores them again, which the collector's
    newest-``occurred_at``-wins makes harmless."""
    if not args:
        return 0
    shards = ingest_shards.shard_count()
    if shards == 1:
        return _append_to(client, keys.EVENTS_STREAM, args, origin)
    by_stream: dict[str, list[str | bytes]] = {}
    for start in range(0, len(args), 4):
        account = args[start + 1]
        stream = ingest_shards.stream_of(
            account.decode() if isinstance(account, bytes) else account, shards)
        by_stream.setdefault(stream, []).extend(args[start:start + 4])
    return sum(_append_to(client, stream, part, origin) for stream, part in by_stream.items())


def _append_to(client: redis.Redis, stream: str, args: list[str | bytes], origin: Origin
               ) -> int:
    """On a Redis Cluster the call returns once a replica has the entries too
    (``SYNC_INGEST_REPLICA_WAIT_MS``; :class:`shared.redis_cluster.NotReplicated` if none
    confirmed in time), so a 202 survives the loss of the stream's master."""
    def write(target: Any) -> Any:
        return APPEND_EVENTS(target, keys=[stream],
                             args=[origin, EVENT_RULES, MIRROR_FIELD, *args])

    wait_ms = get_settings().ingest_replica_wait_ms
    if is_cluster(client) and wait_ms > 0:
        stored, = on_master_with_replica(client, stream, wait_ms, write)
    else:
        stored = write(client)  # one Redis: the one script call of before
    return int(stored)
