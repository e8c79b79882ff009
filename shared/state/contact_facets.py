"""Counts of an account's live contacts by facet, kept as they change, for the preview.

A facet is ``[role, company type, marketing code, email valid]`` of one contact
(:func:`shared.state.contact_mirror.facet_json`); the hash
:func:`shared.constants.contact_facets` holds how many live (not deleted) mirrored contacts
have each. The collector's ``apply_event.lua`` keeps it, in the same script that replaces
the mirror (the replaced state's facet counted down, the new one up), so a killed
collector cannot skew it; the email verdict is judged when the change is collected (so a
later tightening of the rules of :mod:`shared.emails` reaches a contact's count when the
contact next changes; the batch itself always judges by the current rules).

:func:`preview_counts` answers ``contact-sync preview`` and the account API's preview from
that hash alone: its cost grows with the number of distinct facets (a few hundred at most
in practice), not with the contacts. The filters are applied to the facets exactly as the
batch planner applies them to contacts (``shared.planning.planner.matches_filters``: trimmed,
case-insensitive, ``None`` = all).

Mirrors stored before the compact form were never counted: :func:`count_old_mirrors`
rewrites them compactly and counts them, once per account (``~ready`` marks an account
whose every mirror is counted; an account first seen by this release has it from its
first event).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import redis

from shared import constants as keys
from shared.consent.mirror_part import CONSENTED, facet_marketing
from shared.emails import check_email
from shared.events import BULK_ORIGINS
from shared.lua_scripts import lua_script
from shared.redis_text import as_text
from shared.state.contact_mirror import (
    MARKETING_CODES,
    READ_STEP,
    UnreadableMirror,
    decode_mirror,
    encode_mirror,
    facet_json,
    is_compact,
    mirrored_ids,
)

UPGRADE_MIRROR = lua_script(__file__, "upgrade_mirror.lua")
READY = "~ready"
"""Field of the facets hash: every mirror of the account is counted."""


@dataclass(frozen=True)
class PreviewCounts:
    """What a bulk export of the account would do (``cli/preview_cmd.py``'s semantics)."""

    matching: int
    """Live contacts inside the filters, unsubscribed ones included."""
    matching_unsubscribed: int
    matching_consented: int
    """Of ``matching``: subscribed with a consent time (subscribed in Klaviyo when sent)."""
    excluded_invalid_email: int
    excluded_over_cap: int
    would_send: int
    contacts: int
    """Live contacts, inside the filters or not."""


def _norm(value: str | None) -> str:
    return (value or "").strip().casefold()


def _allowed(values: Iterable[str] | None) -> set[str] | None:
    return None if values is None else {_norm(v) for v in values}


def _pages(ids: Iterable[str]) -> Iterator[list[str]]:
    page: list[str] = []
    for cid in ids:
        page.append(cid)
        if len(page) == READ_STEP:
            yield page
            page = []
    if page:
        yield page


def count_old_mirrors(client: redis.Redis, account: str) -> int:
    """Rewrite compactly, and count, every mirror of ``account`` stored before the compact
    form; then mark the account ready. Safe beside a running collector and when run twice
    (each rewrite happens only if the key still holds what was read). Unreadable mirrors
    stay as they are, uncounted, as the preview never counted them. Returns how many."""
    facets = keys.contact_facets(account)
    rewritten = 0
    for ids in _pages(mirrored_ids(client, account)):
        values: list[Any] = client.mget([keys.contact(account, cid) for cid in ids])
        pipe = client.pipeline(transaction=False)
        for contact_id, value in zip(ids, values, strict=True):
            if value is None or is_compact(value):
                continue
            try:
                mirrored = decode_mirror(contact_id, value)
            except UnreadableMirror:
                continue
            person = mirrored.contact
            valid = not mirrored.deleted and check_email(person.email).valid
            compact = encode_mirror(
                mirrored.occurred_at.timestamp(), bulk=mirrored.origin in BULK_ORIGINS,
                deleted=mirrored.deleted, origin=mirrored.origin,
                contact=person.model_dump(), email_valid=valid)
            facet = b"" if mirrored.deleted else facet_json(
                person.role, person.company.type if person.company else None,
                facet_marketing(person.model_dump()), valid)
            UPGRADE_MIRROR(pipe, keys=[facets, keys.contact(account, contact_id)],
                           args=[value, compact, facet])
        rewritten += sum(int(r) for r in pipe.execute())
    client.hset(facets, READY, 1)
    return rewritten


def preview_counts(client: redis.Redis, account: str, contact_roles: Iterable[str] | None,
                   company_types: Iterable[str] | None, max_bulk_export: int
                   ) -> PreviewCounts:
    """The preview of a bulk export of ``account`` under these filters and cap (``None`` =
    all), from the kept counts: one HGETALL of the facets hash (after counting the old
    mirrors once, if the account has not been counted yet)."""
    raw: dict[Any, Any] = client.hgetall(keys.contact_facets(account))
    if not raw or (READY not in raw and READY.encode() not in raw):
        count_old_mirrors(client, account)
        raw = client.hgetall(keys.contact_facets(account))
    roles, types = _allowed(contact_roles), _allowed(company_types)
    matching = unsubscribed = consented = invalid = alive = 0
    for field, value in raw.items():
        name = as_text(field)
        if name == READY:
            continue
        role, company_type, marketing, valid = orjson.loads(name)
        count = int(value)
        alive += count
        if roles is not None and _norm(role) not in roles:
            continue
        if types is not None and _norm(company_type) not in types:
            continue
        matching += count
        unsubscribed += count if marketing == MARKETING_CODES["unsubscribed"] else 0
        consented += count if marketing == MARKETING_CODES[CONSENTED] else 0
        invalid += 0 if valid else count
    valid_count = matching - invalid
    over_cap = max(0, valid_count - max_bulk_export) if max_bulk_export > 0 else 0
    return PreviewCounts(matching=matching, matching_unsubscribed=unsubscribed,
                         matching_consented=consented,
                         excluded_invalid_email=invalid, excluded_over_cap=over_cap,
                         would_send=matching - invalid - over_cap, contacts=alive)


@dataclass(frozen=True)
class FacetValues:
    """The roles and company types the account's live contacts have, each with how many
    contacts have it (the settings page's drop-downs): read from the facets hash, like
    :func:`preview_counts`, so it costs the distinct facets, not the contacts."""

    contact_roles: dict[str, int]
    company_types: dict[str, int]


def _tally(found: dict[str, dict[str, int]], value: str | None, count: int) -> None:
    if value and value.strip():
        spellings = found.setdefault(_norm(value), {})
        spellings[value.strip()] = spellings.get(value.strip(), 0) + count


def _shown(found: dict[str, dict[str, int]]) -> dict[str, int]:
    """One entry per value as the filters compare them (trimmed, case-insensitive), under
    its most frequent spelling, with the contacts of every spelling."""
    merged = {max(spellings, key=lambda s: (spellings[s], s)): sum(spellings.values())
              for spellings in found.values()}
    return dict(sorted(merged.items(), key=lambda item: item[0].casefold()))


def facet_values(client: redis.Redis, account: str) -> FacetValues:
    """Every role and company type seen among ``account``'s live contacts (a contact
    without one is left out: it matches only the filter "all")."""
    raw: dict[Any, Any] = client.hgetall(keys.contact_facets(account))
    roles: dict[str, dict[str, int]] = {}
    types: dict[str, dict[str, int]] = {}
    for field, value in raw.items():
        name = as_text(field)
        if name == READY or int(value) <= 0:
            continue
        role, company_type, _marketing, _valid = orjson.loads(name)
        _tally(roles, role, int(value))
        _tally(types, company_type, int(value))
    return FacetValues(contact_roles=_shown(roles), company_types=_shown(types))
