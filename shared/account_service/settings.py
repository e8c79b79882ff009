"""An account's settings: read, create or replace, change some, forget; and every account
at a glance."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import redis
from pydantic import ValidationError

from shared.account_service.accounts import existing, store, why_not_syncable
from shared.account_service.changes import change_account
from shared.account_service.connection import connection_of, revoking_the_grant
from shared.account_service.errors import Conflict, field_errors, invalid_field
from shared.account_service.models import AccountSettings, AccountSummary, Connection
from shared.account_service.syncs import summary_of
from shared.accounts import (
    DEFAULT_ACCOUNT,
    OPTION_FIELDS,
    AccountConfig,
    AccountError,
    AccountOptions,
)
from shared.klaviyo.oauth_flow import revoke_grant
from shared.settings import Settings
from shared.state import account_health
from shared.state.account_purge import forget_account
from shared.state.account_status import account_statuses, accounts_page


def view(client: redis.Redis, config: AccountConfig) -> AccountSettings:
    data = config.model_dump(include=set(OPTION_FIELDS) | {"name", "updated_at"})
    return AccountSettings(**data, connection=connection_of(client, config),
                           syncable=config.unsyncable_reason is None,
                           why_not_syncable=why_not_syncable(config))


def get_account(client: redis.Redis, settings: Settings, name: str) -> AccountSettings:
    return view(client, existing(client, settings, name))


def _options(changes: dict[str, Any]) -> dict[str, Any]:
    """The given option fields, validated by THE settings model (by field name); a key or
    a base URL is not a setting here."""
    try:
        model = AccountOptions.model_validate(changes)
    except ValidationError as error:
        raise field_errors(error) from None
    return {name: getattr(model, name) for name in model.model_fields_set}


def put_settings(client: redis.Redis, settings: Settings, name: str,
                 body: dict[str, Any]) -> tuple[AccountSettings, bool]:
    """Create (``True``) or replace the account's settings: a field left out takes its
    default (all roles, all company types, no cap, no list, 900 s, no phone region)."""
    full = {field: getattr(AccountOptions(), field) for field in OPTION_FIELDS}
    full.update(_options(body))
    accounts = store(client, settings)
    try:
        created = not accounts.exists(name)
        if created:
            if full["default_list_id"]:
                raise Conflict(f"account {name!r} has no Klaviyo key yet: create it, set "
                               f"its key, then its default list")
            config = accounts.create(name, **full)
            account_health.settings_changed(client, name, full, time.time())
            return view(client, config), True
    except AccountError as error:
        raise invalid_field("account", str(error)) from None
    return view(client, change_account(client, settings, name, full).after), False


def patch_settings(client: redis.Redis, settings: Settings, name: str,
                   body: dict[str, Any]) -> AccountSettings:
    """Change only the fields given (``{}`` changes nothing)."""
    config = existing(client, settings, name)
    if not config.configured and name != DEFAULT_ACCOUNT:
        raise Conflict(f"account {name!r} is known from its events only: create it with "
                       f"PUT /v1/accounts/{name} first")
    return view(client, change_account(client, settings, name, _options(body)).after)


def delete_account(client: redis.Redis, settings: Settings, name: str) -> None:
    """Stop syncing the account and forget everything of it here; its OAuth grant, if any,
    is revoked at Klaviyo first (Klaviyo unreachable: nothing is forgotten, 503). A batch
    running meanwhile ends at its next step without writing its records back."""
    existing(client, settings, name)
    if name == DEFAULT_ACCOUNT:
        raise Conflict("the account 'default' is defined by the environment and cannot be "
                       "deleted; PUT its settings instead")
    with revoking_the_grant():
        revoke_grant(client, settings, name)
    forget_account(client, name)


def _connection(status: dict[str, Any], name: str) -> Connection:
    seen = status["connection"]
    has_key = status["klaviyo_key"] or name == DEFAULT_ACCOUNT
    kind = "oauth" if status["oauth"] else "api_key" if has_key else "none"
    since = seen.get("since")
    return Connection(kind=kind, state=seen["state"],
                      since=datetime.fromtimestamp(since, UTC) if since else None,
                      detail=seen.get("detail"), code=seen.get("code"))


DEFAULT_PAGE = 100
"""``GET /v1/accounts``'s page size when the caller gives none."""
MAX_PAGE = 500


def list_accounts(client: redis.Redis, _settings: Settings, cursor: int = 0,
                  limit: int = DEFAULT_PAGE) -> tuple[list[AccountSummary], int]:
    """One page of accounts (about ``limit`` from ``cursor``) and the next cursor (0: the
    last page): connection, pending contacts, running batch, last sync -- read as
    ``contact-sync status`` reads them (:mod:`shared.state.account_status`), O(``limit``)
    per page whatever the number of accounts."""
    names, next_cursor = accounts_page(client, cursor, limit)
    return summaries(account_statuses(client, names, time.time())), next_cursor


def summaries(statuses: list[dict[str, Any]]) -> list[AccountSummary]:
    """:func:`shared.state.account_status.account_statuses` as the API shows them (the
    console's overview reads one page of accounts the same way)."""
    found = []
    for status in statuses:
        name = status["account"]
        running, last = status["running"], status["last_batch"]
        found.append(AccountSummary(
            name=name, connection=_connection(status, name),
            syncable=status["unsyncable"] is None, pending=status["pending"],
            running_batch=running["batch_id"] if running else None,
            last_sync=summary_of(last) if last else None))
    return found
