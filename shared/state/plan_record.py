"""The plan's records of one batch, kept while it is planned a slice at a time
(``workers/push/plan/stream.py``, ``final.py``): their fields, their one reader and the
writes made to them. No Lua script touches them.

- the progress hash :func:`shared.constants.batch_plan` (:class:`PlanField`, read as a
  :class:`PlanProgress`): the settings the whole plan uses, fixed by its first run
  (:func:`begin`), and how far it went, moved on by each commit of the plan
  (:func:`write_progress`) while the cursor is the one the commit started from
  (:func:`watch`, :func:`committed_cursor`);
- ``plan:emails`` (:func:`shared.constants.batch_plan_emails`): normalised email -> the
  text of the claim an earlier slice made on it (``Claim.encode``; :func:`add_claims`,
  :func:`claims_of`);
- ``plan:joins`` and ``plan:joined``: the members that join the row an earlier slice
  planned for their email, and those emails (:func:`add_joins`, :func:`joins_of`);
- ``plan:phones``: the phones that became shared while the batch was planned
  (:func:`add_shared_phones`);
- ``email_changes`` (:func:`shared.constants.batch_email_changes`): the email changes the
  plan found, in order (:func:`add_email_changes`), which ``sync_batch`` applies once it is
  planned (:func:`email_change_count`, :func:`email_change`; how far it went is the batch
  record's ``email_changes_done``).

Every commit of the plan keeps them all for :data:`SCRATCH_TTL_S` more (:func:`keep`; the
email changes from when they are written), so a plan never finished leaves nothing behind.
Its end (``final.finish``) drops the progress and the claims (:func:`drop_progress`); the
joins and shared phones are read when each chunk's profile job is recorded
(:func:`late_findings`, :func:`joins_of`) and stay until the batch ends, when
``workers/push/lifecycle.py`` deletes every key of :func:`shared.constants.batch_plan_keys`,
and the email changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import orjson
import redis

from shared import constants as keys
from shared.redis_text import as_text, as_texts

SCRATCH_TTL_S = 2 * 86_400
"""The planning records expire even if the batch is never planned to the end."""
CARRY_PREFIX = "carry:"
"""Fields ``carry:<target>:payload`` and ``carry:<target>:rows``: a partly filled chunk
carried to the next slice (JSON arrays)."""
FINAL_STAGE = "final"
SEP = b"\x00"


class PlanField(StrEnum):
    """The progress hash's fields (the partly filled chunks are :func:`carry_field`)."""

    LIST_ID = "list_id"
    """The default list the plan's chunks join ("" for none); present once it began."""
    INITIAL = "initial"
    """``1``: the account's first batch."""
    LIST_MISSING = "list_missing"
    """``1``: Klaviyo refused the default list when the plan began."""
    STREAMS = "streams"
    """``1``: a first sync, whose chunks are posted as they are committed."""
    CURSOR = "cursor"
    """Members (newest first) planned and committed."""
    CAP_TAKEN = "cap_taken"
    """Bulk members let through the cap so far."""
    CHUNKS = "chunks"
    """Chunks written so far."""
    STAGE = "stage"
    """``final`` once every member is planned and every chunk written."""


def carry_field(target: str, part: str) -> str:
    """The field of ``part`` (``payload`` or ``rows``) of ``target``'s partly filled chunk."""
    return f"{CARRY_PREFIX}{target}:{part}"


@dataclass(frozen=True)
class PlanProgress:
    """The progress hash as one run of the plan starts from it."""

    list_id: str = ""
    cursor: int = 0
    cap_taken: int = 0
    chunks: int = 0
    initial: bool = False
    list_missing: bool = False
    streams: bool = False
    final: bool = False
    carry: dict[str, str] = field(default_factory=dict)
    """:func:`carry_field` -> its JSON array."""

    @classmethod
    def from_hash(cls, raw: Mapping[str, str]) -> PlanProgress:
        return cls(list_id=raw.get(PlanField.LIST_ID, ""),
                   cursor=int(raw.get(PlanField.CURSOR, 0)),
                   cap_taken=int(raw.get(PlanField.CAP_TAKEN, 0)),
                   chunks=int(raw.get(PlanField.CHUNKS, 0)),
                   initial=raw.get(PlanField.INITIAL) == "1",
                   list_missing=raw.get(PlanField.LIST_MISSING) == "1",
                   streams=raw.get(PlanField.STREAMS) == "1",
                   final=raw.get(PlanField.STAGE, "") == FINAL_STAGE,
                   carry={name: value for name, value in raw.items()
                          if name.startswith(CARRY_PREFIX)})

    def carried(self, target: str, part: str) -> str | None:
        return self.carry.get(carry_field(target, part))


class Joining(Protocol):
    """A member that joins the row an earlier slice planned for its email."""

    @property
    def email(self) -> str: ...
    @property
    def contact_id(self) -> str: ...
    @property
    def first_time(self) -> bool: ...
    @property
    def owed(self) -> bool: ...
    @property
    def sent_unsubscribed(self) -> bool: ...


@dataclass(frozen=True)
class JoinEntry:
    """A joining member as ``plan:joins`` holds it (its email is the entry's prefix)."""

    contact_id: str
    first_time: bool
    owed: bool
    sent_unsubscribed: bool


# --- reads -------------------------------------------------------------------------------

def read_plan(client: redis.Redis, account: str, batch_id: str) -> PlanProgress | None:
    """The plan's progress, or None when no run began it."""
    found: dict[Any, Any] = client.hgetall(keys.batch_plan(account, batch_id))
    raw = as_texts(found)
    return PlanProgress.from_hash(raw) if PlanField.LIST_ID in raw else None


def has_begun(client: Any, account: str, batch_id: str) -> bool:
    """The plan's settings are fixed (``client`` may be a watching pipeline)."""
    return bool(client.hexists(keys.batch_plan(account, batch_id), PlanField.LIST_ID))


def committed_cursor(client: Any, account: str, batch_id: str) -> int:
    """How many members the plan committed (``client`` may be a watching pipeline)."""
    value = client.hget(keys.batch_plan(account, batch_id), PlanField.CURSOR)
    return int(as_text(value)) if value else 0


def is_final(client: Any, account: str, batch_id: str) -> bool:
    """Every member planned and every chunk written (``client`` may be a watching
    pipeline)."""
    value = client.hget(keys.batch_plan(account, batch_id), PlanField.STAGE)
    return value is not None and as_text(value) == FINAL_STAGE


def written_chunks(client: redis.Redis, account: str, batch_id: str) -> tuple[int, bool]:
    """The chunks the plan wrote, and whether they were posted as committed (``streams``)."""
    chunks, streams = client.hmget(keys.batch_plan(account, batch_id),
                                   [PlanField.CHUNKS, PlanField.STREAMS])
    return int(chunks or 0), streams in (b"1", "1")


def claims_of(client: redis.Redis, account: str, batch_id: str,
              emails: Sequence[str]) -> dict[str, str]:
    """Email -> the text of the claim an earlier slice made on it, for those claimed."""
    if not emails:
        return {}
    raw: list[Any] = client.hmget(keys.batch_plan_emails(account, batch_id), list(emails))
    return {e: as_text(v) for e, v in zip(emails, raw, strict=True) if v}


def email_change_count(client: redis.Redis, account: str, batch_id: str) -> int:
    return int(client.llen(keys.batch_email_changes(account, batch_id)))


def email_change(client: redis.Redis, account: str, batch_id: str,
                 index: int) -> dict[str, Any]:
    """The ``index``-th email change, as the fields of an ``EmailChange``."""
    raw: Any = client.lindex(keys.batch_email_changes(account, batch_id), index)
    found: dict[str, Any] = orjson.loads(raw or "{}")
    return found


def late_findings(client: redis.Redis, account: str, batch_id: str, emails: list[str],
                  phones: list[str]) -> tuple[list[str], set[str]]:
    """Those of ``emails`` that members of later slices join, and those of ``phones`` that
    became shared (one round trip)."""
    with client.pipeline(transaction=False) as pipe:
        pipe.smismember(keys.batch_plan_joined_emails(account, batch_id), emails)
        if phones:
            pipe.smismember(keys.batch_plan_shared_phones(account, batch_id), phones)
        flags: list[Any] = pipe.execute()
    joined = [e for e, f in zip(emails, flags[0], strict=True) if f]
    shared = ({p for p, f in zip(phones, flags[1], strict=True) if f} if phones else set())
    return joined, shared


def _tail(item: bytes | str) -> bytes:
    data = item.encode() if isinstance(item, str) else item
    return data.split(SEP, 1)[1]


def joins_of(client: redis.Redis, account: str, batch_id: str,
             emails: list[str]) -> dict[str, list[JoinEntry]]:
    """Email -> the members that join its row (one ZRANGEBYLEX per email)."""
    joins_key = keys.batch_plan_joins(account, batch_id)
    out: dict[str, list[JoinEntry]] = {}
    for email in emails:
        raw: list[Any] = client.zrangebylex(joins_key, b"[" + email.encode() + SEP,
                                            b"(" + email.encode() + b"\x01")
        out[email] = [JoinEntry(*orjson.loads(_tail(item))) for item in raw]
    return out


# --- writes (each into a pipeline the caller executes) -------------------------------------

def watch(pipe: Any, account: str, batch_id: str) -> None:
    """WATCH the progress and the batch record: a write of the plan is made only if no other
    delivery moved either."""
    pipe.watch(keys.batch_plan(account, batch_id), keys.batch(account, batch_id))


def begin(pipe: Any, account: str, batch_id: str, *, list_id: str, initial: bool,
          list_missing: bool, streams: bool) -> None:
    """Fix the settings the whole plan uses, its cursor at the start."""
    key = keys.batch_plan(account, batch_id)
    pipe.hset(key, mapping={PlanField.LIST_ID: list_id, PlanField.INITIAL: int(initial),
                            PlanField.LIST_MISSING: int(list_missing), PlanField.CURSOR: 0,
                            PlanField.STREAMS: int(streams)})
    pipe.expire(key, SCRATCH_TTL_S)


def write_progress(pipe: Any, account: str, batch_id: str, *, cursor: int, cap_taken: int,
                   chunks: int, carry: Mapping[str, bytes], final: bool) -> None:
    """Move the progress on; ``carry``: :func:`carry_field` -> its JSON array."""
    progress: dict[str, Any] = {PlanField.CURSOR: cursor, PlanField.CAP_TAKEN: cap_taken,
                                PlanField.CHUNKS: chunks, **carry}
    if final:
        progress[PlanField.STAGE] = FINAL_STAGE
    pipe.hset(keys.batch_plan(account, batch_id), mapping=progress)


def keep(pipe: Any, account: str, batch_id: str) -> None:
    """Every record of the plan lives :data:`SCRATCH_TTL_S` more."""
    for key in keys.batch_plan_keys(account, batch_id):
        pipe.expire(key, SCRATCH_TTL_S)


def add_claims(pipe: Any, account: str, batch_id: str, claims: Mapping[str, str]) -> None:
    """Email -> the text of the claim a slice made on it."""
    if claims:
        pipe.hset(keys.batch_plan_emails(account, batch_id), mapping=dict(claims))


def _entry(join: Joining) -> bytes:
    """``email NUL JSON``: sorted by email, so one ZRANGEBYLEX finds an email's joins."""
    return join.email.encode() + SEP + orjson.dumps(
        [join.contact_id, join.first_time, join.owed, join.sent_unsubscribed])


def add_joins(pipe: Any, account: str, batch_id: str, joins: Sequence[Joining]) -> None:
    if joins:
        pipe.zadd(keys.batch_plan_joins(account, batch_id), {_entry(j): 0 for j in joins})
        pipe.sadd(keys.batch_plan_joined_emails(account, batch_id), *{j.email for j in joins})


def add_shared_phones(pipe: Any, account: str, batch_id: str, phones: Iterable[str]) -> None:
    shared = list(phones)
    if shared:
        pipe.sadd(keys.batch_plan_shared_phones(account, batch_id), *shared)


def add_email_changes(pipe: Any, account: str, batch_id: str,
                      changes: Sequence[bytes]) -> None:
    """Append email changes (each the JSON of an ``EmailChange``), kept
    :data:`SCRATCH_TTL_S`."""
    if changes:
        key = keys.batch_email_changes(account, batch_id)
        pipe.rpush(key, *changes)
        pipe.expire(key, SCRATCH_TTL_S)


def drop_progress(pipe: Any, account: str, batch_id: str) -> None:
    """The plan is whole: its progress and claims are of no more use."""
    pipe.delete(keys.batch_plan(account, batch_id), keys.batch_plan_emails(account, batch_id))
