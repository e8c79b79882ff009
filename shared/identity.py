"""Who is who in Klaviyo, per account: CRM contact id -> profile id, email -> profile id.

Emails are keys in their normalised form (:mod:`shared.emails`). Maps are written only
after Klaviyo confirmed (a finished import job's profiles, a lookup, a PATCH), so they
never point at a profile that does not exist.

The one module that names the two hashes (:func:`shared.constants.identity_by_contact`,
:func:`shared.constants.identity_by_email`): a chunk's commit and a lookup learn through
:meth:`IdentityMap.learn`, an email change through :meth:`IdentityMap.move_email`, an
erasure forgets through :meth:`IdentityMap.forget`, and forgetting an account deletes
:meth:`IdentityMap.record_keys`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import redis

from shared import constants as keys
from shared.redis_text import as_text


class IdentityMap:
    def __init__(self, client: redis.Redis, account: str) -> None:
        self.redis = client
        self.account = account

    def _get(self, key: str, fields: list[str]) -> dict[str, str]:
        if not fields:
            return {}
        values: list[Any] = self.redis.hmget(key, fields)
        return {f: as_text(v) for f, v in zip(fields, values, strict=True) if v is not None}

    def profiles_of_contacts(self, contact_ids: Iterable[str]) -> dict[str, str]:
        return self._get(keys.identity_by_contact(self.account), list(contact_ids))

    def profiles_of_emails(self, emails: Iterable[str]) -> dict[str, str]:
        return self._get(keys.identity_by_email(self.account), list(emails))

    def profile_of(self, contact_id: str, email: str | None) -> str | None:
        """The profile learnt for the contact, else the one learnt for its email."""
        found = self.profiles_of_contacts([contact_id]).get(contact_id)
        if found is None and email:
            found = self.profiles_of_emails([email]).get(email)
        return found or None

    def profile_ids(self, step: int) -> Iterator[str]:
        """Every profile id of the email map (``step`` entries per round trip; repeats
        possible: one profile may have had several emails)."""
        for _, profile_id in self.redis.hscan_iter(keys.identity_by_email(self.account),
                                                   count=step):
            yield as_text(profile_id)

    def record_keys(self) -> tuple[str, str]:
        """The account's two identity hashes (deleted whole when the account is)."""
        return keys.identity_by_contact(self.account), keys.identity_by_email(self.account)

    def learn(self, *, contacts: Mapping[str, str] | None = None,
              emails: Mapping[str, str] | None = None,
              forget_emails: Iterable[str] = (), pipe: Any = None) -> None:
        """Record confirmed ids (in ``pipe`` when given, so it commits with the rest)."""
        target: Any = pipe if pipe is not None else self.redis.pipeline(transaction=True)
        forget = list(forget_emails)
        if forget:
            target.hdel(keys.identity_by_email(self.account), *forget)
        if contacts:
            target.hset(keys.identity_by_contact(self.account), mapping=dict(contacts))
        if emails:
            target.hset(keys.identity_by_email(self.account), mapping=dict(emails))
        if pipe is None:
            target.execute()

    def move_email(self, contact_id: str, old_email: str, new_email: str, profile_id: str,
                   pipe: Any = None) -> None:
        """Klaviyo took the profile's new email: the old one no longer names it."""
        self.learn(contacts={contact_id: profile_id}, emails={new_email: profile_id},
                   forget_emails=[old_email], pipe=pipe)

    def forget(self, pipe: Any, *, contact_ids: Iterable[str] = (),
               emails: Iterable[str] = ()) -> None:
        """Forget contacts and emails (erased ones), in ``pipe``."""
        for key, fields in ((keys.identity_by_contact(self.account), list(contact_ids)),
                            (keys.identity_by_email(self.account), list(emails))):
            if fields:
                pipe.hdel(key, *fields)
