"""The names a batch and its chunks are known by, and the statuses they pass through.

A batch (hash :func:`shared.constants.batch`) is ``running`` from ``start_batch.lua`` until
``complete_batch.lua`` marks it ``completed`` or ``failed``. Each of its chunks (hash
:func:`shared.constants.chunk`) goes ``planned`` -> ``submitted`` (a Klaviyo job is posted)
-> ``committed`` (its outcome is recorded) -> ``done`` (``chunk_done.lua`` counted it); a
delete chunk skips ``submitted``. The Lua scripts write the same words: these enums are
the one list of them on the Python side, and ids are built here only.
"""

from __future__ import annotations

import time
import uuid
from enum import StrEnum

from shared import constants as keys


class BatchStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class ChunkStatus(StrEnum):
    PLANNED = "planned"
    SUBMITTED = "submitted"
    COMMITTED = "committed"
    DONE = "done"


FINISHED_CHUNK = frozenset({ChunkStatus.COMMITTED, ChunkStatus.DONE})
"""A chunk in one of these has nothing left to send to Klaviyo."""


BATCH_ID_PATTERN = r"^[0-9]{8}T[0-9]{6}-[0-9a-f]{8}$"
"""What :func:`new_batch_id` makes (the account API refuses any other ``batch_id``)."""


def new_batch_id(now: float) -> str:
    """Readable, sortable and unique: ``20261122T174000-3f9c2a1b``."""
    return f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(now))}-{uuid.uuid4().hex[:8]}"


def chunk_id(index: int) -> str:
    """The id of a batch's chunk number ``index``: ``c00000``, ``c00001``..."""
    return f"c{index:05d}"


def chunk_key(account: str, batch_id: str, index: int) -> str:
    """The key of a batch's chunk number ``index``."""
    return keys.chunk(account, batch_id, chunk_id(index))
