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
They, and the plan's progress, are kept by :mod:`shared.state.plan_record`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import redis

from shared.state import plan_record
from shared.state.batch_record import is_planned, mark_planned
from shared.state.plan_record import JoinEntry


def _patch_rows(rows: list[dict[str, Any]], joins: dict[str, list[JoinEntry]],
                shared: set[str]) -> tuple[dict[str, dict[str, str]], Counter[str]]:
    """Fold joining members into their rows, take shared phones off; the notes to add."""
    details: dict[str, dict[str, str]] = {}
    counts: Counter[str] = Counter()
    for row in rows:
        present = set(row["contact_ids"])
        for join in joins.get(row["email"], []):
            if join.contact_id in present:  # folded in by a run that stopped before its commit
                continue
            present.add(join.contact_id)
            row["contact_ids"].append(join.contact_id)
            row["first_time"] = row["first_time"] and join.first_time
            if join.sent_unsubscribed:
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
    joined, shared = plan_record.late_findings(client, account, batch_id, emails, phones)
    if not joined and not shared:
        return {}, Counter()
    joins = plan_record.joins_of(client, account, batch_id, joined)
    return _patch_rows(rows, joins, shared)


def finish(client: redis.Redis, account: str, batch_id: str, initial: bool) -> str:
    """Mark the batch planned and drop the claims of emails: ``done``, or ``lost`` (another
    delivery did)."""
    chunks, streamed = plan_record.written_chunks(client, account, batch_id)
    with client.pipeline(transaction=True) as pipe:
        try:
            plan_record.watch(pipe, account, batch_id)
            if (is_planned(pipe, account, batch_id)
                    or not plan_record.is_final(pipe, account, batch_id)):
                return "lost"
            pipe.multi()
            mark_planned(pipe, account, batch_id, chunks=chunks, initial=initial,
                         streamed=streamed)
            plan_record.drop_progress(pipe, account, batch_id)
            pipe.execute()
        except redis.WatchError:
            return "lost"
    return "done"
