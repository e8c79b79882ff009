"""An account's settings: read, create or replace, change some, forget; and every account
at a glance."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import redis
from pydantic import ValidationError

from shared.account_service.accounts import existing, store
from shared.account_service.connection import ask_klaviyo, connection_of, require_key
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
from shared.settings import Settings
from shared.state import account_health
from shared.state.account_purge import forget_account
from shared.state.account_status import account_statuses, known_accounts


def view(client: redis.Redis, config: AccountConfig) -> AccountSettings:
    data = config.model_dump(include=set(OPTION_FIELDS) | {"name", "updated_at"})
    return AccountSettings(**data, connection=connection_of(client, config),
                           syncable=config.unsyncable_reason is None,
                           why_not_syncable=config.unsyncable_reason)


def get_account(client: redis.Redis, settings: Settings, name: str) -> AccountSettings:
    return view(client, existing(client, settings, name))


def _options(changes: dict[str, Any]) -> dict[str, Any]:
    """The given option fields, validated by THE settings model (by field name)."""
    try:
        model = AccountOptions.model_validate(changes)
    except ValidationError as error:
        raise field_errors(error) from None
    return {name: getattr(model, name) for name in model.model_fields_set}


def _check_list(client: redis.Redis, config: AccountConfig, values: dict[str, Any]) -> None:
    """A new default list must exist in the account's Klaviyo (asked once)."""
    list_id = values.get("default_list_id")
    if not list_id or list_id == config.default_list_id:
        return
    require_key(config)
    ask_klaviyo(client, config, list_id)


def _store_changes(client: redis.Redis, settings: Settings, name: str,
                   values: dict[str, Any], *, create: bool) -> AccountConfig:
    accounts = store(client, settings)
    try:
        config = accounts.create(name, **values) if create else accounts.set(name, **values)
    except AccountError as error:
        raise invalid_field("account", str(error)) from None
    account_health.settings_changed(client, name, values, time.time())
    return config


def put_settings(client: redis.Redis, settings: Settings, name: str,
                 body: dict[str, Any]) -> tuple[AccountSettings, bool]:
    """Create (``True``) or replace the account's settings: a field left out takes its
    default (all roles, all company types, no cap, no list, 900 s, no phone region)."""
    values = _options(body)
    full = {field: getattr(AccountOptions(), field) for field in OPTION_FIELDS}
    full.update(values)
    accounts = store(client, settings)
    try:
        created = not accounts.exists(name)
        config = existing(client, settings, name) if not created else None
    except AccountError as error:
        raise invalid_field("account", str(error)) from None
    if config is None:
        try:
            config = AccountConfig(name=name, klaviyo_base_url=settings.klaviyo_base_url,
                                   configured=False)
        except ValidationError as error:
            raise field_errors(error) from None
    _check_list(client, config, full)
    stored = _store_changes(client, settings, name, full, create=created)
    return view(client, stored), created


def patch_settings(client: redis.Redis, settings: Settings, name: str,
                   body: dict[str, Any]) -> AccountSettings:
    """Change only the fields given (``{}`` changes nothing)."""
    config = existing(client, settings, name)
    values = _options(body)
    if not config.configured and name != DEFAULT_ACCOUNT:
        raise Conflict(f"account {name!r} is known from its events only: create it with "
                       f"PUT /v1/accounts/{name} first")
    if not values:
        return view(client, config)
    _check_list(client, config, values)
    return view(client, _store_changes(client, settings, name, values, create=False))


def delete_account(client: redis.Redis, settings: Settings, name: str) -> None:
    """Stop syncing the account and forget everything of it here (Klaviyo untouched). A
    batch running meanwhile ends at its next step without writing its records back."""
    existing(client, settings, name)
    if name == DEFAULT_ACCOUNT:
        raise Conflict("the account 'default' is defined by the environment and cannot be "
                       "deleted; PUT its settings instead")
    forget_account(client, name)


def _connection(status: dict[str, Any], name: str) -> Connection:
    seen = status["connection"]
    has_key = status["klaviyo_key"] or name == DEFAULT_ACCOUNT
    since = seen.get("since")
    return Connection(kind="api_key" if has_key else "none", state=seen["state"],
                      since=datetime.fromtimestamp(since, UTC) if since else None,
                      detail=seen.get("detail"), code=seen.get("code"))


def list_accounts(client: redis.Redis, settings: Settings) -> list[AccountSummary]:
    """Every account: connection, pending contacts, running batch, last sync -- read as
    ``contact-sync status`` reads them (:mod:`shared.state.account_status`, a few
    pipelined round trips for any number of accounts)."""
    found = []
    for status in account_statuses(client, known_accounts(client), time.time()):
        name = status["account"]
        running, last = status["running"], status["last_batch"]
        found.append(AccountSummary(
            name=name, connection=_connection(status, name),
            syncable=status["unsyncable"] is None, pending=status["pending"],
            running_batch=running["batch_id"] if running else None,
            last_sync=summary_of(last) if last else None))
    return found
