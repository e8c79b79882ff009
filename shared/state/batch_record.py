"""The batch record: the hash :func:`shared.constants.batch`, its fields, its one reader and
the writes Python makes to it.

Who writes what, in the order a batch lives:

- ``workers/start_batch.lua`` creates it: ``status`` running, ``started_at``, ``size``
  (members), ``bulk`` (members of a bulk import);
- the planner (``workers/actors/plan_stream.py``, ``plan_final.py``) through
  :func:`add_counts`, :func:`set_chunks_total`, :func:`set_chunks_sent` and
  :func:`mark_planned`; ``sync_batch`` through :func:`set_email_changes_done`;
- ``workers/actors/chunk_done.lua`` adds a finished chunk's counts and ``chunks_done``;
- ``workers/complete_batch.lua`` ends it: ``status`` completed or failed,
  ``completed_at``, ``report`` (JSON: the counts, or ``{"error": reason}``).

Everything reads it as a :class:`Batch` (:func:`read_batch`, :meth:`Batch.from_hash`), so
no reader walks the raw hash: a field the record does not declare is never shown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import redis

from shared import constants as keys
from shared.redis_text import as_text, as_texts
from shared.state.batch_records import BatchStatus

COUNT_PREFIX = "n:"
"""Fields ``n:<count>`` hold the report counts while the batch runs."""

REPORT_COUNTS = ("contacts", "created", "updated", "unchanged", "excluded_filter",
                 "invalid_email", "held_back", "rejected", "conflicts", "unsubscribed",
                 "removed_from_lists", "left_filters", "erased", "cleared_fields",
                 "mapping_error", "unencodable", "phone_dropped", "phone_shared",
                 "import_rounds", "consent_subscribed", "consent_older_than_klaviyo",
                 "consent_hard_bounced", "sms_subscribed", "sms_unsubscribed", "sms_excluded")
"""The counts of a completed batch's report, in the order they are shown."""


class BatchField(StrEnum):
    """The batch hash's fields (the counts are :data:`COUNT_PREFIX` + a name)."""

    STATUS = "status"
    STARTED_AT = "started_at"
    SIZE = "size"
    BULK = "bulk"
    PLANNED = "planned"
    """``1`` once every member is planned (what the plan found late is known)."""
    INITIAL = "initial"
    """``1``: the account's first batch (contacts join the default list)."""
    STREAMED = "streamed"
    """``1``: a first sync whose chunks were sent while it was planned."""
    CHUNKS_TOTAL = "chunks_total"
    CHUNKS_SENT = "chunks_sent"
    """How many chunks (from the first) a streamed plan has already sent."""
    CHUNKS_DONE = "chunks_done"
    EMAIL_CHANGES_DONE = "email_changes_done"
    COMPLETED_AT = "completed_at"
    REPORT = "report"


def _int(raw: Mapping[str, str], name: str) -> int:
    return int(raw.get(name) or 0)


def _float(raw: Mapping[str, str], name: str) -> float | None:
    value = raw.get(name)
    return None if value is None else float(value)


@dataclass(frozen=True)
class Batch:
    """One batch as its hash holds it."""

    batch_id: str
    status: BatchStatus | None
    started_at: float | None = None
    size: int = 0
    bulk: int = 0
    planned: bool = False
    initial: bool = False
    streamed: bool = False
    chunks_total: int = 0
    chunks_sent: int = 0
    chunks_done: int = 0
    email_changes_done: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    """The running counts (``n:`` fields), by name."""
    completed_at: float | None = None
    report: dict[str, Any] | None = None

    @classmethod
    def from_hash(cls, batch_id: str, raw: Mapping[str, str]) -> Batch:
        status = raw.get(BatchField.STATUS)
        report = raw.get(BatchField.REPORT)
        return cls(
            batch_id=batch_id,
            status=BatchStatus(status) if status else None,
            started_at=_float(raw, BatchField.STARTED_AT),
            size=_int(raw, BatchField.SIZE),
            bulk=_int(raw, BatchField.BULK),
            planned=bool(raw.get(BatchField.PLANNED)),
            initial=raw.get(BatchField.INITIAL) == "1",
            streamed=raw.get(BatchField.STREAMED) == "1",
            chunks_total=_int(raw, BatchField.CHUNKS_TOTAL),
            chunks_sent=_int(raw, BatchField.CHUNKS_SENT),
            chunks_done=_int(raw, BatchField.CHUNKS_DONE),
            email_changes_done=_int(raw, BatchField.EMAIL_CHANGES_DONE),
            counts={name[len(COUNT_PREFIX):]: int(value) for name, value in raw.items()
                    if name.startswith(COUNT_PREFIX)},
            completed_at=_float(raw, BatchField.COMPLETED_AT),
            report=json.loads(report) if report else None,
        )

    def final_report(self) -> dict[str, int]:
        """The counts a completed batch reports: every one of :data:`REPORT_COUNTS`."""
        return {name: self.counts.get(name, 0) for name in REPORT_COUNTS}

    def progress(self) -> dict[str, int]:
        """What a running batch has done so far: its chunks and its non-zero counts."""
        done: dict[str, int] = {}
        if self.chunks_total or self.planned:
            done |= {BatchField.CHUNKS_TOTAL.value: self.chunks_total,
                     BatchField.CHUNKS_DONE.value: self.chunks_done}
        return done | {name: value for name, value in self.counts.items() if value}

    def summary(self) -> dict[str, Any]:
        """``{batch_id, status, started_at, size, bulk, completed_at?, report?}``: what the
        CLI and the account API show of a batch."""
        info: dict[str, Any] = {"batch_id": self.batch_id, "status": self.status,
                                "started_at": self.started_at, "size": self.size,
                                "bulk": self.bulk}
        if self.completed_at is not None:
            info["completed_at"] = self.completed_at
        if self.report is not None:
            info["report"] = self.report
        return info


def batch_from_raw(batch_id: str, raw: Mapping[Any, Any]) -> Batch | None:
    """A batch from an ``HGETALL`` answer (bytes or text); None when it is empty."""
    return Batch.from_hash(batch_id, as_texts(dict(raw))) if raw else None


def read_batch(client: redis.Redis, account: str, batch_id: str) -> Batch | None:
    """The batch, or None when it is unknown (never started, or past the history kept)."""
    raw: dict[Any, Any] = client.hgetall(keys.batch(account, batch_id))  # type: ignore[assignment]
    return batch_from_raw(batch_id, raw)


def batch_status(client: Any, account: str, batch_id: str) -> BatchStatus | None:
    """The batch's status alone (``client`` may be a watching pipeline)."""
    value = client.hget(keys.batch(account, batch_id), BatchField.STATUS)
    return BatchStatus(as_text(value)) if value else None


def is_running(client: Any, account: str, batch_id: str) -> bool:
    """The batch runs (not completed, failed or unknown: a late redelivery has nothing to do)."""
    return batch_status(client, account, batch_id) == BatchStatus.RUNNING


def is_planned(client: Any, account: str, batch_id: str) -> bool:
    """Every member planned (``client`` may be a watching pipeline)."""
    return bool(client.hget(keys.batch(account, batch_id), BatchField.PLANNED))


def chunks_total(client: redis.Redis, account: str, batch_id: str) -> int:
    return int(client.hget(keys.batch(account, batch_id), BatchField.CHUNKS_TOTAL) or 0)


# --- writes (each into a pipeline or client the caller executes) ---------------------------

def add_counts(pipe: Any, account: str, batch_id: str, counts: Mapping[str, int]) -> None:
    """Add to the running counts (zeros are skipped)."""
    for name, value in counts.items():
        if value:
            pipe.hincrby(keys.batch(account, batch_id), COUNT_PREFIX + name, int(value))


def count_args(counts: Mapping[str, int]) -> list[Any]:
    """Counts as the field/increment pairs ``chunk_done.lua`` adds."""
    args: list[Any] = []
    for name, value in counts.items():
        args += [COUNT_PREFIX + name, int(value)]
    return args


def set_chunks_total(pipe: Any, account: str, batch_id: str, total: int) -> None:
    pipe.hset(keys.batch(account, batch_id), BatchField.CHUNKS_TOTAL, total)


def set_chunks_sent(pipe: Any, account: str, batch_id: str, sent: int) -> None:
    pipe.hset(keys.batch(account, batch_id), BatchField.CHUNKS_SENT, sent)


def set_email_changes_done(pipe: Any, account: str, batch_id: str, done: int) -> None:
    pipe.hset(keys.batch(account, batch_id), BatchField.EMAIL_CHANGES_DONE, done)


def mark_planned(pipe: Any, account: str, batch_id: str, *, chunks: int, initial: bool,
                 streamed: bool) -> None:
    """The plan is whole: ``chunks`` chunks, none done yet unless already counted."""
    key = keys.batch(account, batch_id)
    pipe.hset(key, mapping={BatchField.PLANNED: "1", BatchField.CHUNKS_TOTAL: chunks,
                            BatchField.EMAIL_CHANGES_DONE: 0,
                            BatchField.INITIAL: int(initial),
                            BatchField.STREAMED: int(streamed)})
    pipe.hsetnx(key, BatchField.CHUNKS_DONE, 0)


__all__ = ["COUNT_PREFIX", "REPORT_COUNTS", "Batch", "BatchField", "add_counts",
           "batch_from_raw", "batch_status", "chunks_total", "count_args", "is_planned",
           "is_running",
           "mark_planned", "read_batch", "set_chunks_sent", "set_chunks_total",
           "set_email_changes_done"]
