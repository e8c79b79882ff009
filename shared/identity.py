"""Who is who in Klaviyo, per account: CRM contact id -> profile id, email -> profile id.

Emails are keys in their normalised form (:mod:`shared.emails`). Maps are written only
after Klaviyo confirmed (a finished import job's profiles, a lookup, a PATCH), so they
never point at a profile that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
