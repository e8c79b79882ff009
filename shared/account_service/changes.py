"""Changing a stored account: THE path of ``PATCH /v1/accounts/{a}``, ``PUT
.../klaviyo-key`` and ``contact-sync accounts set``.

The changes are validated by the settings model; a new key, base URL or default list is
tried against Klaviyo once with the account as it would be (``check=False`` skips that:
the CLI's ``--no-check``); then they are stored, each logged with its time, and the sync
reacts (:func:`shared.state.account_health.settings_changed`: a refusal cleared, owed
list members re-queued).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis
from pydantic import SecretStr, ValidationError

from shared.account_service.accounts import existing, store
from shared.account_service.errors import (
    Conflict,
    FieldError,
    Invalid,
    Unavailable,
    field_errors,
    invalid_field,
)
from shared.account_service.klaviyo_check import Checked, CheckFailed, check_with_klaviyo
from shared.accounts import DEFAULT_ACCOUNT, KEY_FIELD, AccountChanges, AccountConfig, AccountError
from shared.secrets_box import SecretKeyInvalid, SecretKeyMissing
from shared.settings import Settings
from shared.state import account_health

API_HINT = "send another one"
ASKED = {KEY_FIELD, "klaviyo_base_url", "default_list_id"}


@dataclass(frozen=True)
class Change:
    before: AccountConfig
    after: AccountConfig
    checked: Checked | None = None
    """What Klaviyo confirmed (``None``: not asked)."""
    list_id: str | None = None
    """The default list Klaviyo was asked about."""


def validated(changes: dict[str, Any]) -> dict[str, Any]:
    """The given fields as validated values (a 422 naming each refused field)."""
    try:
        model = AccountChanges.model_validate(changes)
    except ValidationError as error:
        raise field_errors(error) from None
    return {name: getattr(model, name) for name in model.model_fields_set}


def has_key(config: AccountConfig) -> bool:
    """A private key is set (the sandbox stands in for ``default``'s)."""
    return config.klaviyo_api_key is not None or config.name == DEFAULT_ACCOUNT


def has_credentials(config: AccountConfig) -> bool:
    """Klaviyo can be asked for the account: a key, or an OAuth connection."""
    return config.oauth_connected or has_key(config)


def ask_klaviyo(client: redis.Redis, config: AccountConfig, list_id: str | None,
                hint: str = API_HINT) -> Checked:
    """Klaviyo's answer about the key (and list); its refusal as a 422 naming the field
    and Klaviyo's code, Klaviyo out of reach as a 503."""
    try:
        return check_with_klaviyo(client, config, list_id, hint=hint)
    except CheckFailed as failed:
        if not failed.code:
            raise Unavailable(str(failed)) from None
        raise Invalid(str(failed), errors=[FieldError(failed.field, str(failed))],
                      code=failed.code) from None


def _trial(before: AccountConfig, values: dict[str, Any]) -> AccountConfig:
    update: dict[str, Any] = {}
    if values.get(KEY_FIELD) is not None:
        update[KEY_FIELD] = SecretStr(values[KEY_FIELD].get_secret_value())
        update["oauth_connected"] = False  # a new key replaces a connection: it is tried
    if values.get("klaviyo_base_url"):
        update["klaviyo_base_url"] = values["klaviyo_base_url"]
    return before.model_copy(update=update)


def _list_to_ask(before: AccountConfig, values: dict[str, Any]) -> str | None:
    """The list Klaviyo must know: a new one, or the current one under a new key/URL."""
    if "default_list_id" in values:
        new = values["default_list_id"]
        return new if new != before.default_list_id or (ASKED - {"default_list_id"}) & set(
            values) else None
    return before.default_list_id if (ASKED - {"default_list_id"}) & set(values) else None


def check_changes(client: redis.Redis, before: AccountConfig, values: dict[str, Any],
                  hint: str = API_HINT) -> tuple[Checked | None, str | None]:
    """Ask Klaviyo about what ``values`` change of the key, base URL or list."""
    if not ASKED & set(values):
        return None, None
    trial = _trial(before, values)
    list_id = _list_to_ask(before, values)
    if not has_credentials(trial):
        if list_id:
            raise Conflict(f"account {before.name!r} has no Klaviyo key yet: set one with "
                           f"PUT /v1/accounts/{before.name}/klaviyo-key first")
        return None, None
    if KEY_FIELD not in values and "klaviyo_base_url" not in values and not list_id:
        return None, None
    return ask_klaviyo(client, trial, list_id, hint), list_id


def change_account(client: redis.Redis, settings: Settings, name: str,
                   changes: dict[str, Any], *, check: bool = True,
                   hint: str = API_HINT) -> Change:
    """Validate, (ask Klaviyo,) store and react; ``{}`` changes nothing. An account known
    from its events only is created by its first change."""
    before = existing(client, settings, name)
    values = validated(changes)
    if not values:
        return Change(before, before)
    checked, list_id = check_changes(client, before, values, hint) if check else (None, None)
    accounts = store(client, settings)
    try:
        if before.configured:
            after = accounts.set(name, **values)
        else:
            after = accounts.create(name, **values)
    except (SecretKeyMissing, SecretKeyInvalid) as error:
        raise Unavailable(str(error)) from None
    except AccountError as error:
        raise invalid_field("account", str(error)) from None
    account_health.settings_changed(client, name, values, time.time())
    return Change(before, after, checked, list_id)
