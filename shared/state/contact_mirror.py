"""The contact mirror: the newest state of each contact the CRM sent, one key per contact
(:func:`shared.constants.contact`), written only by the collector's ``apply_event.lua``.

Every reader goes through :func:`read_mirrors`, so the stored form can change in one place.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import redis
from pydantic import ValidationError

from shared import constants as keys
from shared.events import MirroredContact

READ_STEP = 5000
"""Contacts per MGET: bounded replies, few round trips."""


def decode_mirror(value: bytes | str) -> MirroredContact:
    """One stored mirror value (raises :class:`pydantic.ValidationError` if unreadable)."""
    return MirroredContact.model_validate_json(value)


def unreadable_reason(error: ValidationError) -> str:
    """Why a stored mirror cannot be read any more (stored before a rule was tightened)."""
    return "its stored state is no longer valid: " + "; ".join(
        ".".join(str(p) for p in e["loc"]) for e in error.errors()[:3])


def read_mirrors(client: redis.Redis, account: str, ids: Sequence[str]
                 ) -> tuple[dict[str, MirroredContact], dict[str, str]]:
    """The mirrored states of ``ids`` (absent ones left out) and, apart, the ids whose
    stored state cannot be read with the reason: one contact must never stall the account."""
    contacts: dict[str, MirroredContact] = {}
    unreadable: dict[str, str] = {}
    for start in range(0, len(ids), READ_STEP):
        part = ids[start:start + READ_STEP]
        raw: list[Any] = client.mget([keys.contact(account, cid) for cid in part])
        for cid, value in zip(part, raw, strict=True):
            if value is None:
                continue
            try:
                contacts[cid] = decode_mirror(value)
            except ValidationError as error:
                unreadable[cid] = unreadable_reason(error)
    return contacts, unreadable


def iter_mirrors(client: redis.Redis, account: str, ids: Sequence[str]
                 ) -> Iterator[MirroredContact]:
    """The readable mirrors of ``ids``, a slice at a time (bounded memory)."""
    for start in range(0, len(ids), READ_STEP):
        contacts, _ = read_mirrors(client, account, ids[start:start + READ_STEP])
        yield from contacts.values()
