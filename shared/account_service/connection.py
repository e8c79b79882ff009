"""How an account reaches Klaviyo: its connection state, a new private key (tried once
against Klaviyo first), and its Klaviyo lists."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import redis
from pydantic import SecretStr

from shared.account_service.accounts import existing, store
from shared.account_service.errors import Conflict, FieldError, Invalid, Unavailable, invalid_field
from shared.account_service.klaviyo_check import CheckFailed, check_with_klaviyo
from shared.account_service.models import Connection, KlaviyoList
from shared.accounts import DEFAULT_ACCOUNT, AccountConfig
from shared.klaviyo.access import access_for
from shared.klaviyo.errors import AccountRefused, KlaviyoError, Rejected
from shared.klaviyo.lists import all_lists
from shared.secrets_box import SecretKeyInvalid, SecretKeyMissing
from shared.settings import Settings
from shared.state import account_health

API_HINT = "send another key"
KEY_PATTERN = r"^[!-~]+$"
"""A Klaviyo key is printable ASCII without spaces (it travels in an HTTP header)."""


def kind_of(config: AccountConfig) -> str:
    """``oauth`` while connected through OAuth, ``api_key`` once a private key is set (the
    sandbox stands in for ``default``'s), else ``none``."""
    if config.oauth_connected:
        return "oauth"
    has_key = config.klaviyo_api_key is not None or config.name == DEFAULT_ACCOUNT
    return "api_key" if has_key else "none"


def connection_of(client: redis.Redis, config: AccountConfig) -> Connection:
    """The account's connection as last seen by the sync (refusals park the account)."""
    kind = kind_of(config)
    seen = account_health.connection(client, config.name)
    if seen.state in ("refused", "reconnect_needed"):
        since = datetime.fromtimestamp(seen.since, UTC) if seen.since else None
        return Connection(kind=kind, state=seen.state,  # type: ignore[arg-type]
                          since=since,
                          detail=seen.detail or None, code=seen.code or None)
    detail = None if kind != "none" else "no Klaviyo key yet: PUT .../klaviyo-key"
    return Connection(kind=kind, state="ok", detail=detail)  # type: ignore[arg-type]


def ask_klaviyo(client: redis.Redis, config: AccountConfig, list_id: str | None) -> None:
    """Klaviyo's answer about the key (and list) as a refusal of the service."""
    try:
        check_with_klaviyo(client, config, list_id, hint=API_HINT)
    except CheckFailed as failed:
        if not failed.code:
            raise Unavailable(str(failed)) from None
        field = "default_list_id" if failed.field == "default_list_id" else "api_key"
        raise Invalid(str(failed), errors=[FieldError(field, str(failed))],
                      code=failed.code) from None


def set_klaviyo_key(client: redis.Redis, settings: Settings, name: str,
                    api_key: str) -> AccountConfig:
    """Try ``api_key`` (with the account's default list) against Klaviyo once; store it
    (encrypted) when Klaviyo takes it. A refusal of the account clears at once."""
    before = existing(client, settings, name)
    if not api_key.strip():
        raise invalid_field("api_key", "the Klaviyo key is empty")
    if not re.match(KEY_PATTERN, api_key.strip()):
        raise invalid_field("api_key", "a Klaviyo key is printable ASCII without spaces")
    if not settings.secret_key:
        raise Unavailable("SYNC_SECRET_KEY is not set on the server: keys cannot be stored "
                          "encrypted")
    trial = before.model_copy(update={"klaviyo_api_key": SecretStr(api_key.strip()),
                                      "oauth_connected": False})  # the key is tried
    ask_klaviyo(client, trial, before.default_list_id)
    accounts = store(client, settings)
    try:
        if accounts.exists(name):
            after = accounts.set(name, klaviyo_api_key=api_key.strip())
        else:  # known from its events only
            after = accounts.create(name, klaviyo_api_key=api_key.strip())
    except (SecretKeyMissing, SecretKeyInvalid) as error:
        raise Unavailable(str(error)) from None
    account_health.settings_changed(client, name, ["klaviyo_api_key"], time.time())
    return after


def require_key(config: AccountConfig) -> None:
    if kind_of(config) == "none":
        raise Conflict(f"account {config.name!r} has no Klaviyo key yet: set one with "
                       f"PUT /v1/accounts/{config.name}/klaviyo-key first")


def klaviyo_lists(client: redis.Redis, settings: Settings, name: str) -> list[KlaviyoList]:
    """Every list of the account's Klaviyo (every page followed)."""
    config = existing(client, settings, name)
    require_key(config)
    api, gateway = access_for(client, config, settings)
    try:
        found = all_lists(gateway, api)
    except AccountRefused as error:
        raise Conflict(f"Klaviyo refuses the account's key ({error.status} {error.code})",
                       code=error.code) from None
    except Rejected as error:
        raise Unavailable(f"Klaviyo refused ({error.status} {error.code})",
                           code=error.code) from None
    except KlaviyoError as error:
        raise Unavailable(f"Klaviyo could not be asked ({error})") from None
    return [KlaviyoList(id=item.id, name=item.name, created=item.created) for item in found]
