"""The chunk record: the hash :func:`shared.constants.chunk`, its id and its statuses.

Each chunk of a batch goes ``planned`` -> ``submitted`` (a Klaviyo job is posted) ->
``committed`` (its outcome is recorded) -> ``done`` (``chunk_done.lua`` counted it); a
delete chunk skips ``submitted``. The Lua scripts write the same words: this enum is the
one list of them on the Python side, and chunk ids are built here only.
"""

from __future__ import annotations

from enum import StrEnum

from shared import constants as keys


class ChunkStatus(StrEnum):
    PLANNED = "planned"
    SUBMITTED = "submitted"
    COMMITTED = "committed"
    DONE = "done"


FINISHED_CHUNK = frozenset({ChunkStatus.COMMITTED, ChunkStatus.DONE})
"""A chunk in one of these has nothing left to send to Klaviyo."""


def chunk_id(index: int) -> str:
    """The id of a batch's chunk number ``index``: ``c00000``, ``c00001``..."""
    return f"c{index:05d}"


def chunk_key(account: str, batch_id: str, index: int) -> str:
    """The key of a batch's chunk number ``index``."""
    return keys.chunk(account, batch_id, chunk_id(index))
