"""Contacts that Klaviyo refused (bad email, bad phone...), and re-sending them.

The batch actors record each refusal in the account's ``rejected`` hash: contact id ->
JSON ``{code, title, detail, field, batch_id, at}`` (Klaviyo's own error code and text, and
the attribute its pointer named, e.g. ``email``). Once the
CRM fixed the contact, ``replay`` moves it back into ``pending`` (``rejected_replay.lua``,
one step), so the next batch sends it again from its newest mirrored state.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import redis

from shared import constants as keys
from shared.lua_scripts import lua_script
from shared.redis_text import as_text
from shared.state import due_accounts
from shared.telemetry.scrub import scrub_text

REJECTED_REPLAY = lua_script(__file__, "rejected_replay.lua")


@dataclass(frozen=True)
class Rejection:
    """Klaviyo's refusal of one contact (texts masked: Klaviyo may quote the bad value)."""

    contact_id: str
    code: str
    title: str
    detail: str
    batch_id: str
    at: float
    field: str = ""
    """The profile attribute Klaviyo named (``email``, ``phone_number``...), "" = the row."""

    @classmethod
    def parse(cls, contact_id: str, raw: str) -> Rejection:
        try:
            data: dict[str, Any] = json.loads(raw)
        except ValueError:
            data = {"detail": raw}
        return cls(
            contact_id=contact_id,
            code=str(data.get("code") or ""),
            title=scrub_text(str(data.get("title") or "")),
            detail=scrub_text(str(data.get("detail") or "")),
            batch_id=str(data.get("batch_id") or ""),
            at=float(data.get("at") or 0),
            field=str(data.get("field") or ""),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def refusal_reason(error: dict[str, Any] | Any) -> str:
    """One line for a batch's details: Klaviyo's code and its (masked) detail or title."""
    code = str(error.get("code") or "refused")
    said = scrub_text(str(error.get("detail") or error.get("title") or ""))[:300]
    return f"{code}: {said}" if said else code


def mark_rejecting(client: redis.Redis, account: str) -> None:
    """The account has (or is about to have) contacts Klaviyo refused: it joins the set
    ``/metrics`` reads. Called before the refusals are written (:func:`reject`), on its own:
    the set is a global key, on another slot than the account's on a Redis Cluster, so it
    cannot be in the account's MULTI. A refusal that is then not written (another delivery
    wrote it, or the worker died) leaves the account in the set with nothing to count."""
    client.sadd(keys.REJECTING_ACCOUNTS, account)


def reject(pipe: Any, account: str, rejections: Mapping[str, str]) -> None:
    """Queue on ``pipe``: these contacts were refused by Klaviyo (contact id -> the refusal
    as JSON: code, title, detail, batch id, time). The account is marked first
    (:func:`mark_rejecting`)."""
    if rejections:
        pipe.hset(keys.rejected(account), mapping=dict(rejections))


def forget_rejections(pipe: Any, account: str, contact_ids: Iterable[str]) -> None:
    """Queue on ``pipe``: these contacts are no longer refused (Klaviyo took them)."""
    ids = list(contact_ids)
    if ids:
        pipe.hdel(keys.rejected(account), *ids)


def record_rejection(
    client: redis.Redis, account: str, contact_id: str, *, code: str, title: str,
    detail: str, batch_id: str, at: float | None = None,
) -> None:
    """Store Klaviyo's refusal of a contact (for the actors, and tests)."""
    entry = {"code": code, "title": title, "detail": detail, "batch_id": batch_id,
             "at": time.time() if at is None else at}
    pipe = client.pipeline(transaction=False)
    pipe.hset(keys.rejected(account), contact_id, json.dumps(entry))
    pipe.sadd(keys.REJECTING_ACCOUNTS, account)
    pipe.execute()


def list_rejections(client: redis.Redis, account: str) -> list[Rejection]:
    """Every rejected contact of the account, newest refusal first."""
    raw: dict[Any, Any] = client.hgetall(keys.rejected(account))
    found = [Rejection.parse(as_text(cid), as_text(data)) for cid, data in raw.items()]
    return sorted(found, key=lambda item: (-item.at, item.contact_id))


def replay_rejections(
    client: redis.Redis, account: str, contact_ids: list[str] | None = None,
    now: float | None = None,
) -> list[str]:
    """Move the given rejected contacts (``None`` = all) back into pending; returns the ids
    moved (ids that were not rejected are skipped)."""
    if contact_ids is not None and not contact_ids:
        return []
    moved = REJECTED_REPLAY(
        client,
        keys=[keys.rejected(account), keys.pending(account)],
        args=[repr(time.time() if now is None else now), *(contact_ids or [])],
    )
    if moved:
        due_accounts.note_pending(client, account)
    return [as_text(item) for item in moved]
