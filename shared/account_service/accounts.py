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
    except UnknownAccount:
        raise NotFound(f"unknown account {name!r}: create it with PUT /v1/accounts/{name}",
                       cli_detail=f"unknown account {name!r}: add it with "
                                  f"'contact-sync accounts add {name}'") from None
    except AccountError as error:
        raise invalid_field("account", str(error)) from None


def why_not_syncable(config: AccountConfig) -> str | None:
    """:attr:`AccountConfig.unsyncable_reason` for an API caller: the route to call, not
    the command line's advice (issue 20, item 14)."""
    if config.unsyncable_reason is None:
        return None
    name = config.name
    if not config.configured:
        return (f"account {name!r} has events but no configuration: create it with "
                f"PUT /v1/accounts/{name}")
    return (f"account {name!r} has no Klaviyo key: PUT /v1/accounts/{name}/klaviyo-key, or "
            f"connect it with GET /v1/accounts/{name}/klaviyo/oauth/start")
