"""The seed's count: what a bulk export of an account would send, for its saved filters or
proposed ones (the settings page shows it before the user saves).

Decided by the same rules as a batch (:mod:`shared.screening`: filters, email validation,
the cap) over every mirrored contact of the account, treated as one bulk export -- the
initial import or the re-evaluation after a filter change -- so the cap applies. No
Klaviyo call. Today the count reads the account's mirror
(:mod:`shared.state.contact_mirror`); kept-as-they-change counts replace that read here,
behind :func:`preview_counts`, without its callers changing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis
from pydantic import ValidationError

from shared import constants as keys
from shared.account_service.accounts import existing
from shared.account_service.errors import field_errors
from shared.account_service.models import Excluded, PreviewCounts
from shared.accounts import AccountConfig, AccountOptions
from shared.events import MirroredContact
from shared.redis_text import as_text
from shared.screening import Member, matches_filters, preview
from shared.settings import Settings
from shared.state.contact_mirror import iter_mirrors


def _mirrored(client: redis.Redis, account: str) -> Iterator[MirroredContact]:
    ids = sorted(as_text(cid) for cid in client.smembers(keys.contact_index(account)))  # type: ignore[union-attr]
    return iter_mirrors(client, account, ids)


def with_proposal(config: AccountConfig, proposed: dict[str, Any]) -> AccountConfig:
    """The account as it would be with ``proposed`` (validated by the settings model)."""
    try:
        given = AccountOptions.model_validate(proposed)
    except ValidationError as error:
        raise field_errors(error) from None
    return config.model_copy(update={name: getattr(given, name)
                                     for name in given.model_fields_set})


def preview_counts(client: redis.Redis, settings: Settings, account: str,
                   proposed: dict[str, Any] | None = None) -> PreviewCounts:
    """The preview of ``account`` for its saved filters, or with ``proposed`` ones
    (``contact_roles``, ``company_types``, ``max_bulk_export``)."""
    config = existing(client, settings, account)
    if proposed:
        config = with_proposal(config, proposed)
    contacts = {m.contact.id: m for m in _mirrored(client, account)}
    members = [Member(cid, m.occurred_at.timestamp(), bulk=True) for cid, m in contacts.items()]
    result = preview(config, members, contacts, initial=True)
    alive = [m for m in contacts.values() if not m.deleted]
    inside = [m for m in alive if matches_filters(config, m)]
    return PreviewCounts(
        matching=result.matching,
        matching_unsubscribed=sum(m.contact.marketing == "unsubscribed" for m in inside),
        excluded=Excluded(invalid_email=result.invalid_email, over_cap=result.over_cap),
        would_send=result.would_send,
        contacts=len(contacts),
        deleted=len(contacts) - len(alive),
        excluded_filter=len(alive) - len(inside),
        max_bulk_export=config.max_bulk_export,
    )
