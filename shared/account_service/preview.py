"""The seed's count: what a bulk export of an account would send, for its saved filters or
proposed ones (the settings page shows it before the user saves).

Decided by the same rules as a batch (:mod:`shared.screening`: filters, email validation,
the cap) over every mirrored contact of the account, treated as one bulk export -- the
initial import or the re-evaluation after a filter change -- so the cap applies. No
Klaviyo call. :func:`preview_counts` answers from the counts the collector keeps as
contacts change (:mod:`shared.state.contact_facets`: one ``HGETALL`` and one ``ZCARD``,
whatever the account's size); :func:`counted_from_mirrors` reads and decides every mirror
(:mod:`shared.state.contact_mirror`) and is the reference the kept counts are tested against
(tests/shared/test_contact_facets.py). Every contact id the collector holds counts in
``contacts``; one whose stored state can no longer be read (stored before a rule was
tightened) is counted among ``deleted`` by the kept counts, and left out by the reference.
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
from shared.screening import Member, matches_filters, preview
from shared.settings import Settings
from shared.state import contact_facets as facets
from shared.state.contact_mirror import iter_mirrors, mirrored_ids


def _mirrored(client: redis.Redis, account: str) -> Iterator[MirroredContact]:
    return iter_mirrors(client, account, sorted(mirrored_ids(client, account)))


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
    (``contact_roles``, ``company_types``, ``max_bulk_export``), from the kept counts."""
    config = existing(client, settings, account)
    if proposed:
        config = with_proposal(config, proposed)
    kept = facets.preview_counts(client, account, config.contact_roles, config.company_types,
                                 config.max_bulk_export)
    known = int(client.zcard(keys.contact_times(account)))  # type: ignore[arg-type]
    return PreviewCounts(
        matching=kept.matching, matching_unsubscribed=kept.matching_unsubscribed,
        matching_consented=kept.matching_consented,
        excluded=Excluded(invalid_email=kept.excluded_invalid_email,
                          over_cap=kept.excluded_over_cap),
        would_send=kept.would_send, contacts=known, deleted=known - kept.contacts,
        excluded_filter=kept.contacts - kept.matching,
        max_bulk_export=config.max_bulk_export)


def counted_from_mirrors(client: redis.Redis, config: AccountConfig) -> PreviewCounts:
    """The same counts, by reading and deciding every mirror of ``config``'s account: the
    reference of :func:`preview_counts` (O(contacts): never on a request)."""
    account = config.name
    contacts = {m.contact.id: m for m in _mirrored(client, account)}
    members = [Member(cid, m.occurred_at.timestamp(), bulk=True) for cid, m in contacts.items()]
    result = preview(config, members, contacts, initial=True)
    alive = [m for m in contacts.values() if not m.deleted]
    inside = [m for m in alive if matches_filters(config, m)]
    return PreviewCounts(
        matching=result.matching,
        matching_unsubscribed=sum(m.contact.marketing == "unsubscribed" for m in inside),
        matching_consented=sum(m.contact.marketing == "subscribed"
                               and m.contact.marketing_consented_at is not None
                               for m in inside),
        excluded=Excluded(invalid_email=result.invalid_email, over_cap=result.over_cap),
        would_send=result.would_send,
        contacts=len(contacts),
        deleted=len(contacts) - len(alive),
        excluded_filter=len(alive) - len(inside),
        max_bulk_export=config.max_bulk_export,
    )
