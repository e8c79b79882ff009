"""The last step of a streamed plan (:mod:`workers.actors.plan_stream`): fold what only the whole
batch knows into the chunks already written, then mark the batch planned.

Two things can only be known once every member was read: the members of a shared email
that a later slice met (``plan:joins``: they join the claimed row's ``contact_ids``), and
phones a row of an earlier slice claimed that another row then shared (``plan:phones``:
that row's phone is not sent, the contacts are noted ``phone_shared``). Both are rare; when
there are none the chunks are not read again. Otherwise each chunk is read once, patched
and written in one MULTI with the patch cursor, so a redelivery patches nothing twice.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import orjson
import redis

from shared import constants as keys
from shared.state.batch_records import chunk_key
from workers.actors.common import COUNT_PREFIX, hash_of, record_details
from workers.plan_claims import Join

SEP = b"\x00"


def encode_join(join: Join) -> bytes:
    """``email NUL JSON``: sorted by email, so one ZRANGEBYLEX finds an email's joins."""
    return join.email.encode() + SEP + orjson.dumps(
        [join.contact_id, join.first_time, join.owed, join.sent_unsubscribed])


def _joins_of(pipe: Any, joins_key: str, emails: list[str]) -> dict[str, list[list[Any]]]:
    out: dict[str, list[list[Any]]] = {}
    for email in emails:
        raw: list[Any] = pipe.zrangebylex(joins_key, b"[" + email.encode() + SEP,
                                          b"(" + email.encode() + b"\x01")
        out[email] = [orjson.loads(_tail(item)) for item in raw]
    return out


def _tail(item: bytes | str) -> bytes:
    data = item.encode() if isinstance(item, str) else item
    return data.split(SEP, 1)[1]


def _patch_rows(rows: list[dict[str, Any]], joins: dict[str, list[list[Any]]],
                shared: set[str]) -> tuple[dict[str, dict[str, str]], Counter[str]]:
    """Fold joining members into their rows, take shared phones off; the notes to add."""
    details: dict[str, dict[str, str]] = {}
    counts: Counter[str] = Counter()
    for row in rows:
        present = set(row["contact_ids"])
        for contact_id, first_time, _owed, sent_unsubscribed in joins.get(row["email"], []):
            if contact_id in present:  # folded in by a run that stopped before its commit
                continue
            present.add(contact_id)
            row["contact_ids"].append(contact_id)
            row["first_time"] = row["first_time"] and first_time
            if sent_unsubscribed:
                row["unsubscribe"] = False
        if row.get("phone") and row["phone"] in shared:
            row["phone"] = None
            for contact_id in row["contact_ids"]:
                details[contact_id] = {"outcome": "phone_shared", "reason":
                                       "the phone is shared by several contacts of the account"}
            counts["phone_shared"] += len(row["contact_ids"])
    return details, counts


def _patch(client: redis.Redis, account: str, batch_id: str, index: int) -> bool:
    plan_key = keys.batch_plan(account, batch_id)
    key = chunk_key(account, batch_id, index)
    with client.pipeline(transaction=True) as pipe:
        watched: Any = pipe
        try:
            watched.watch(plan_key)
            if int(pipe.hget(plan_key, "final_cursor") or 0) != index:
                return False
            kind, raw = pipe.hmget(key, ["kind", "rows"])
            details: dict[str, dict[str, str]] = {}
            counts: Counter[str] = Counter()
            rows: list[dict[str, Any]] = []
            if kind == "import" and raw:
                rows = orjson.loads(raw)
                emails = [row["email"] for row in rows]
                joined_key = keys.batch_plan_joined_emails(account, batch_id)
                flags = pipe.smismember(joined_key, emails) if emails else []
                joins = _joins_of(pipe, keys.batch_plan_joins(account, batch_id),
                                  [e for e, f in zip(emails, flags, strict=True) if f])
                phones = [row["phone"] for row in rows if row.get("phone")]
                phone_flags = pipe.smismember(
                    keys.batch_plan_shared_phones(account, batch_id), phones) if phones else []
                shared = {p for p, f in zip(phones, phone_flags, strict=True) if f}
                if joins or shared:
                    details, counts = _patch_rows(rows, joins, shared)
                else:
                    rows = []
            pipe.multi()
            if rows:
                pipe.hset(key, "rows", orjson.dumps(rows))
            record_details(pipe, account, batch_id, details)
            for name, value in counts.items():
                pipe.hincrby(keys.batch(account, batch_id), COUNT_PREFIX + name, value)
            pipe.hset(plan_key, "final_cursor", index + 1)
            pipe.execute()
            return True
        except redis.WatchError:
            return False


def finish(client: redis.Redis, account: str, batch_id: str, initial: bool,
           deadline: float) -> str:
    """Patch the chunks if needed, then mark the batch planned and drop the planning
    records: ``done``, ``more`` (out of time: re-send) or ``lost`` (another delivery)."""
    plan_key = keys.batch_plan(account, batch_id)
    progress = hash_of(client, plan_key)
    chunks = int(progress.get("chunks", 0))
    if client.exists(keys.batch_plan_joined_emails(account, batch_id),
                     keys.batch_plan_shared_phones(account, batch_id)):
        for index in range(int(progress.get("final_cursor", 0)), chunks):
            if not _patch(client, account, batch_id, index):
                return "lost"
            if index + 1 < chunks and time.monotonic() >= deadline:
                return "more"  # at least one chunk a run: every run moves the plan on
    batch_key = keys.batch(account, batch_id)
    with client.pipeline(transaction=True) as pipe:
        watched: Any = pipe
        try:
            watched.watch(plan_key, batch_key)
            if pipe.hget(batch_key, "planned") or pipe.hget(plan_key, "stage") != "final":
                return "lost"
            pipe.multi()
            pipe.hset(batch_key, mapping={"planned": "1", "chunks_total": chunks,
                                          "chunks_done": 0, "email_changes_done": 0,
                                          "initial": int(initial)})
            pipe.delete(*keys.batch_plan_keys(account, batch_id))
            pipe.execute()
        except redis.WatchError:
            return "lost"
    return "done"
