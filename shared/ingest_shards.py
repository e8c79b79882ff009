"""The ingest stream in shards: ``SYNC_INGEST_SHARDS`` streams, each account's events on one.

One stream is one key, so on a Redis Cluster one master takes every webhook's write and
every collector's read. With N shards (:func:`shard_of`: a stable hash of the account) the
intake spreads over N streams (:func:`shared.constants.ingest_stream`, each on its own
slot, on different masters), each with its own collector consumer group
(:data:`shared.constants.COLLECTOR_GROUP`). One account's events always go to the same
shard, so their order within the account is the stream's order, as with one stream (the
collector keeps the newest ``occurred_at`` anyway).

The default, 1, is the one ``sync:events`` of before: nothing changes on one Redis.
Changing N moves accounts between streams: stop the producers (web, imports), let the
collectors drain every stream (``status``: ``events_backlog`` 0), then restart everything
with the new N (docs/OPERATIONS.md).
"""

from __future__ import annotations

import zlib

from shared import constants as keys
from shared.settings import get_settings


def shard_count() -> int:
    """``SYNC_INGEST_SHARDS`` (1 by default)."""
    return get_settings().ingest_shards


def shard_of(account: str, shards: int) -> int:
    """The shard of ``account`` (CRC-32 of its name, the same in every process)."""
    return zlib.crc32(account.encode()) % shards if shards > 1 else 0


def streams(shards: int | None = None) -> list[str]:
    """Every ingest stream, shard 0 first."""
    count = shard_count() if shards is None else shards
    return [keys.ingest_stream(shard, count) for shard in range(count)]


def stream_of(account: str, shards: int | None = None) -> str:
    """The ingest stream ``account``'s events go to."""
    count = shard_count() if shards is None else shards
    return keys.ingest_stream(shard_of(account, count), count)
