"""A resync (``POST /v1/accounts/{a}/resync``, ``contact-sync accounts resync``): every
contact of the account is planned again at the next batch, as a bulk export (the cap
applies), e.g. after a new field map. A contact whose profile comes out the same as what
was last sent stays ``unchanged`` (nothing to send); after a map change none does."""

from __future__ import annotations

import redis

from shared.account_service.accounts import existing, store
from shared.account_service.models import Resynced
from shared.settings import Settings


def resync(client: redis.Redis, settings: Settings, name: str) -> Resynced:
    """Queue every mirrored contact of ``name`` (a 404 for an unknown account)."""
    existing(client, settings, name)
    pending = store(client, settings).requeue_all(name)
    return Resynced(account=name, pending=pending,
                    detail=f"{pending} contact(s) pending; the next batch plans them again "
                           "(the bulk export cap applies)")
