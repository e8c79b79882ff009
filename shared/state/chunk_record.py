"""The chunk record: the hash :func:`shared.constants.chunk`, its fields, its shapes and
its reads.

Each chunk of a batch goes ``planned`` -> ``submitted`` (a Klaviyo job is posted) ->
``committed`` (its outcome is recorded) -> ``done`` (``chunk_done.lua`` counted it); a
chunk that sends no import job (delete, leave, erase, clear) skips ``submitted``. The Lua
scripts write the same words: :class:`ChunkStatus` is the one list of them on the Python
side, :class:`ChunkField` the one list of its fields, and chunk ids are built here only.

Who writes what, in the order a chunk lives:

- the planner creates it (``workers/push/plan/``) as an import chunk (:func:`import_chunk`),
  a delete chunk (:func:`delete_chunk`; a leave or an erase chunk has the same shape, its
  ``kind`` apart) or a clear chunk (:func:`clear_chunk`); an import chunk turns
  into its phone-only stage once Klaviyo took its profiles (:func:`phone_stage`);
- its delivery (``workers/push/deliver/``) moves it on under its ``version``
  (``chunk_records.write_if_unchanged``) and adds its counts (``c:<count>``,
  :data:`COUNT_PREFIX`);
- ``workers/push/chunk_done.lua`` marks it ``done`` and drops its ``payload``;
- the batch's end deletes it (``workers/push/lifecycle.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import orjson
import redis

from shared import constants as keys
from shared.redis_text import as_text, as_texts


class ChunkStatus(StrEnum):
    PLANNED = "planned"
    SUBMITTED = "submitted"
    COMMITTED = "committed"
    DONE = "done"


class ChunkKind(StrEnum):
    IMPORT = "import"
    """Profiles for one bulk import job (then, maybe, its phone-only job)."""
    DELETE = "delete"
    """Contacts deleted in the CRM, to take out of the lists the sync put them in."""
    LEAVE = "leave"
    """Contacts that stopped matching the account's filters: out of the lists, as a delete,
    but not marked deleted (counted ``left_filters``)."""
    ERASE = "erase"
    """Contacts erased in the CRM, to erase in Klaviyo and forget in Redis."""
    CLEAR = "clear"
    """Profiles whose fields the CRM cleared, to clear in Klaviyo too."""


class ChunkStage(StrEnum):
    PROFILES = "profiles"
    """The profile rows (the stage of a chunk without ``stage``)."""
    PHONES = "phones"
    """The phone-only job, once Klaviyo took the profiles."""


class ChunkField(StrEnum):
    """The chunk hash's fields (the counts are :data:`COUNT_PREFIX` + a name)."""

    KIND = "kind"
    STATUS = "status"
    STAGE = "stage"
    LIST_ID = "list_id"
    """The list its profiles join ("" for none)."""
    ROWS = "rows"
    """JSON: the planned rows (of a delete chunk: the contact ids)."""
    PAYLOAD = "payload"
    """JSON: the profiles of the request body; dropped once the chunk is done."""
    VERSION = "version"
    """Moved on by every guarded write, so two deliveries never both write a step."""
    JOB_ID = "job_id"
    POLLS = "polls"
    SUBMITTED_AT = "submitted_at"
    COMPLETE_JOB = "complete_job"
    """JSON: a complete job's answer, kept while the batch is still planned."""
    RESUBMITTED = "resubmitted"
    """The id of a job that expired or was cancelled, whose rows were posted again."""
    UNSUB_DONE = "unsub_done"
    """How many of the chunk's email-marketing unsubscribes are sent."""
    LOOKUP = "lookup"
    """A delete chunk: JSON, the emails whose profile id it looks up."""
    LOOKUP_DONE = "lookup_done"
    LISTS_DONE = "lists_done"
    """A delete chunk: JSON, the (list, offset) removal calls already answered."""
    ERASE_DONE = "erase_done"
    """An erase chunk: how many of its contacts Klaviyo took the deletion of."""
    CLEAR_DONE = "clear_done"
    """A clear chunk: how many of its profiles are cleared."""


COUNT_PREFIX = "c:"
"""Fields ``c:<count>`` hold the counts a chunk adds to its batch's report."""

FINISHED_CHUNK = frozenset({ChunkStatus.COMMITTED, ChunkStatus.DONE})
"""A chunk in one of these has nothing left to send to Klaviyo."""

ChunkFields = dict[str, Any]
"""One shape of a new chunk, ready for ``HSET ... mapping=``."""


def chunk_id(index: int) -> str:
    """The id of a batch's chunk number ``index``: ``c00000``, ``c00001``..."""
    return f"c{index:05d}"


def chunk_key(account: str, batch_id: str, index: int) -> str:
    """The key of a batch's chunk number ``index``."""
    return keys.chunk(account, batch_id, chunk_id(index))


def import_chunk(list_id: str, payload: bytes, rows: bytes) -> ChunkFields:
    """A planned import chunk: ``payload`` and ``rows`` are JSON arrays, one item a profile."""
    return {ChunkField.KIND: ChunkKind.IMPORT, ChunkField.STATUS: ChunkStatus.PLANNED,
            ChunkField.LIST_ID: list_id, ChunkField.PAYLOAD: payload, ChunkField.ROWS: rows}


def delete_chunk(contact_ids: Sequence[str], kind: ChunkKind = ChunkKind.DELETE
                 ) -> ChunkFields:
    """A planned chunk of these contacts that sends no import job: a delete chunk, or (by
    ``kind``) a leave or an erase chunk."""
    return {ChunkField.KIND: kind, ChunkField.STATUS: ChunkStatus.PLANNED,
            ChunkField.LIST_ID: "", ChunkField.ROWS: orjson.dumps(list(contact_ids))}


def clear_chunk(clearings: Sequence[dict[str, Any]]) -> ChunkFields:
    """A planned clear chunk: ``clearings`` are the profiles' fields to clear, as JSON
    (``shared.planning.clearing.Clearing.to_json``)."""
    return {ChunkField.KIND: ChunkKind.CLEAR, ChunkField.STATUS: ChunkStatus.PLANNED,
            ChunkField.LIST_ID: "", ChunkField.ROWS: orjson.dumps(list(clearings))}


def phone_stage(rows: list[dict[str, Any]], payload: list[dict[str, Any]]) -> ChunkFields:
    """The fields that turn an import chunk into its phone-only job, planned again."""
    return {ChunkField.STAGE: ChunkStage.PHONES, ChunkField.STATUS: ChunkStatus.PLANNED,
            ChunkField.LIST_ID: "", ChunkField.POLLS: 0, ChunkField.ROWS: orjson.dumps(rows),
            ChunkField.PAYLOAD: orjson.dumps(payload)}


def read_chunk(client: redis.Redis, key: str, *left_out: ChunkField) -> dict[str, str]:
    """The chunk's fields as text, without ``left_out``: a chunk's ``payload`` and ``rows``
    are megabytes, and only the thread that needs them should hold them."""
    if not left_out:
        raw: Any = client.hgetall(key)
        return as_texts(raw)
    every: list[Any] = client.hkeys(key)
    names = [name for name in map(as_text, every) if name not in left_out]
    values: list[Any] = client.hmget(key, names) if names else []
    return {n: as_text(v) for n, v in zip(names, values, strict=True) if v is not None}


def not_done(client: redis.Redis, account: str, batch_id: str,
             chunk_ids: Sequence[str]) -> list[str]:
    """The chunks among ``chunk_ids`` whose status is not ``done`` (one pipelined read)."""
    pipe = client.pipeline(transaction=False)
    for chunk in chunk_ids:
        pipe.hget(keys.chunk(account, batch_id, chunk), ChunkField.STATUS)
    statuses: list[Any] = pipe.execute()
    return [chunk for chunk, status in zip(chunk_ids, statuses, strict=True)
            if status is None or as_text(status) != ChunkStatus.DONE]


def chunk_counts(client: redis.Redis, key: str) -> dict[str, int]:
    """The counts a chunk gathered so far."""
    return {name[len(COUNT_PREFIX):]: int(value)
            for name, value in read_chunk(client, key).items()
            if name.startswith(COUNT_PREFIX)}


def version_of(fields: dict[str, str]) -> str:
    """The chunk's version as read (``"0"`` before its first guarded write)."""
    return fields.get(ChunkField.VERSION) or "0"
