"""Steps 2-4 of a batch plan (:mod:`shared.planning.planner`): which members the filters
let through, which have no valid email, which the bulk-export cap holds back.

Here, in the shared layer, because a batch, ``contact-sync preview`` and the account API's
preview must decide the same way: one implementation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shared.accounts import AccountConfig
from shared.emails import check_email
from shared.events import BULK_ORIGINS, MirroredContact


@dataclass(frozen=True)
class Member:
    contact_id: str
    occurred_at: float
    bulk: bool


def _norm(value: str | None) -> str:
    return (value or "").strip().casefold()


def matches_filters(account: AccountConfig, contact: MirroredContact) -> bool:
    roles, types = account.contact_roles, account.company_types
    if roles is not None and _norm(contact.contact.role) not in {_norm(r) for r in roles}:
        return False
    company_type = contact.contact.company.type if contact.contact.company else None
    return types is None or _norm(company_type) in {_norm(t) for t in types}


@dataclass
class Screened:
    """The members that are not deleted, by what steps 2-4 decided."""

    eligible: list[tuple[Member, MirroredContact, str]]
    excluded_filter: list[str]
    invalid: dict[str, str]
    held_back: list[str]


def screen(account: AccountConfig, members: Iterable[Member],
           contacts: Mapping[str, MirroredContact], initial: bool, taken: int = 0
           ) -> Screened:
    """Steps 2-4 over the members that are not deleted; ``taken`` places of the cap went
    to earlier slices of the batch (newer members: workers/push/plan/stream.py)."""
    out = Screened([], [], {}, [])
    capped: list[tuple[Member, MirroredContact, str]] = []
    for member in members:
        mirrored = contacts.get(member.contact_id)
        if mirrored is None or mirrored.deleted:
            continue
        if not matches_filters(account, mirrored):
            out.excluded_filter.append(member.contact_id)
            continue
        check = check_email(mirrored.contact.email)
        if check.email is None:
            out.invalid[member.contact_id] = check.reason or "invalid email"
            continue
        item = (member, mirrored, check.email)
        bulk = initial or member.bulk or mirrored.origin in BULK_ORIGINS
        (capped if bulk and account.max_bulk_export > 0 else out.eligible).append(item)
    capped.sort(key=lambda item: (-item[0].occurred_at, item[0].contact_id))
    room = max(0, account.max_bulk_export - taken)
    out.eligible.extend(capped[:room])
    out.held_back = [item[0].contact_id for item in capped[room:]]
    return out


@dataclass(frozen=True)
class Preview:
    matching: int
    """Contacts matching the filters (unsubscribed ones included)."""
    invalid_email: int
    over_cap: int

    @property
    def would_send(self) -> int:
        return self.matching - self.invalid_email - self.over_cap


def preview(account: AccountConfig, members: list[Member],
            contacts: Mapping[str, MirroredContact], initial: bool) -> Preview:
    """What a batch of ``members`` would send: counts only, no Klaviyo call."""
    screened = screen(account, members, contacts, initial)
    matching = len(screened.eligible) + len(screened.invalid) + len(screened.held_back)
    return Preview(matching, len(screened.invalid), len(screened.held_back))
