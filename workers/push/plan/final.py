"""What only the whole batch knows, applied to a chunk's rows when its profile job is
recorded; and the last step of a streamed plan (:mod:`workers.push.plan.stream`).

Two things can only be known once every member was read: the members of a shared email
that a later slice met (``plan:joins``: they join the claimed row's ``contact_ids``), and
phones a row of an earlier slice claimed that another row then shared (``plan:phones``:
that row's phone is not sent, the contacts are noted ``phone_shared``). Neither changes
what a chunk posts in its profile job (the attributes), only what is recorded once Klaviyo
answered and the phone stage after it. So the chunks are never rewritten:
:func:`apply_late_findings` folds both into the rows in memory when the profile job is
recorded (:mod:`workers.push.deliver.chunk`), which waits for the plan to be complete. That is
what lets a first sync post its chunks while later slices are still being planned.
Both records stay until the batch ends (``_retire`` drops them); both are rare and small.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
import redis

from shared import constants as keys
from shared.planning.claims import Join
from shared.state.batch_record import is_planned, mark_planned

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


def apply_late_findings(client: redis.Redis, account: str, batch_id: str,
                        rows: list[dict[str, Any]]
                        ) -> tuple[dict[str, dict[str, str]], Counter[str]]:
    """Fold the batch's joins into ``rows`` and take its shared phones off them (in place,
    idempotent); the details and counts to record with them."""
    emails = [row["email"] for row in rows]
    phones = [row["phone"] for row in rows if row.get("phone")]
    if not rows:
        return {}, Counter()
    with client.pipeline(transaction=False) as pipe:
        pipe.smismember(keys.batch_plan_joined_emails(account, batch_id), emails)
        if phones:
            pipe.smismember(keys.batch_plan_shared_phones(account, batch_id), phones)
        flags: list[Any] = pipe.execute()
    joined = [e for e, f in zip(emails, flags[0], strict=True) if f]
    shared = ({p for p, f in zip(phones, flags[1], strict=True) if f} if phones else set())
    if not joined and not shared:
        return {}, Counter()
    joins = _joins_of(client, keys.batch_plan_joins(account, batch_id), joined)
    return _patch_rows(rows, joins, shared)


def finish(client: redis.Redis, account: str, batch_id: str, initial: bool) -> str:
    """Mark the batch planned and drop the claims of emails: ``done``, or ``lost`` (another
    delivery did)."""
    plan_key = keys.batch_plan(account, batch_id)
    chunks, streams = client.hmget(plan_key, ["chunks", "streams"])
    batch_key = keys.batch(account, batch_id)
    with client.pipeline(transaction=True) as pipe:
        watched: Any = pipe
        try:
            watched.watch(plan_key, batch_key)
            if (is_planned(pipe, account, batch_id)
                    or pipe.hget(plan_key, "stage") != "final"):
                return "lost"
            pipe.multi()
            mark_planned(pipe, account, batch_id, chunks=int(chunks or 0), initial=initial,
                         streamed=streams in (b"1", "1"))
            pipe.delete(plan_key, keys.batch_plan_emails(account, batch_id))
            pipe.execute()
        except redis.WatchError:
            return "lost"
    return "done"
