"""Finding an account for a request: the store, and the refusals of a bad or unknown name."""

from __future__ import annotations

import redis

from shared.account_service.errors import NotFound, invalid_field
from shared.accounts import AccountConfig, AccountError, AccountStore, UnknownAccount
from shared.settings import Settings


def store(client: redis.Redis, settings: Settings) -> AccountStore:
    return AccountStore(client, settings)


def existing(client: redis.Redis, settings: Settings, name: str) -> AccountConfig:
    """The account's configuration; :class:`NotFound` for a name never seen, a 422 on the
    ``account`` field for a name that cannot be one."""
    try:
        return store(client, settings).get(name)
    except UnknownAccount as error:
        raise NotFound(str(error)) from None
    except AccountError as error:
        raise invalid_field("account", str(error)) from None
