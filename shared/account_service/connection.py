"""How an account reaches Klaviyo: its connection state, a new private key (tried once
against Klaviyo first), and its Klaviyo lists."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import redis

from shared.account_service.accounts import existing
from shared.account_service.changes import change_account, has_credentials, has_key
from shared.account_service.errors import Conflict, FieldError, Invalid, Unavailable, invalid_field
from shared.account_service.models import Connection, KlaviyoList
from shared.accounts import KEY_FIELD, AccountConfig
from shared.klaviyo.access import access_for
from shared.klaviyo.errors import AccountRefused, KlaviyoError, Rejected
from shared.klaviyo.lists import all_lists
from shared.klaviyo.oauth_flow import disconnect
from shared.klaviyo.oauth_http import OAuthNotConfigured, OAuthUnavailable
from shared.settings import Settings
from shared.state import account_health

KEY_PATTERN = r"^[!-~]+$"
"""A Klaviyo key is printable ASCII without spaces (it travels in an HTTP header)."""


def kind_of(config: AccountConfig) -> str:
    """``oauth`` while connected through OAuth, ``api_key`` once a private key is set (the
    sandbox stands in for ``default``'s), else ``none``."""
    if config.oauth_connected:
        return "oauth"
    return "api_key" if has_key(config) else "none"


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


def set_klaviyo_key(client: redis.Redis, settings: Settings, name: str,
                    api_key: str) -> AccountConfig:
    """Try ``api_key`` (with the account's default list) against Klaviyo once; store it
    (encrypted) when Klaviyo takes it. A refusal of the account clears at once."""
    existing(client, settings, name)
    if not api_key.strip():
        raise invalid_field("api_key", "the Klaviyo key is empty")
    if not re.match(KEY_PATTERN, api_key.strip()):
        raise invalid_field("api_key", "a Klaviyo key is printable ASCII without spaces")
    if not settings.secret_key:
        raise Unavailable("SYNC_SECRET_KEY is not set on the server: keys cannot be stored "
                          "encrypted")
    try:
        return change_account(client, settings, name, {KEY_FIELD: api_key.strip()}).after
    except Invalid as refused:  # the key's field is called api_key on the wire
        raise Invalid(refused.detail, code=refused.code, errors=[
            FieldError("api_key" if e.field == KEY_FIELD else e.field, e.message)
            for e in refused.errors]) from None


def require_key(config: AccountConfig) -> None:
    if not has_credentials(config):
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


@contextmanager
def revoking_the_grant() -> Iterator[None]:
    """Klaviyo's OAuth refusing to revoke an account's grant, as the service's refusals:
    OAuth not configured is a 409, Klaviyo out of reach a 503 (nothing forgotten)."""
    try:
        yield
    except OAuthNotConfigured as missing:
        raise Conflict(f"the account's OAuth grant cannot be revoked: {missing}") from None
    except OAuthUnavailable as error:
        raise Unavailable(f"the account's OAuth grant could not be revoked at Klaviyo "
                          f"({error}); nothing was forgotten, try again") from None


def disconnect_klaviyo(client: redis.Redis, settings: Settings, name: str) -> None:
    """Revoke the account's OAuth grant at Klaviyo (if any), then forget its tokens and
    key here (``DELETE .../klaviyo``, the console's *Disconnect*)."""
    existing(client, settings, name)
    with revoking_the_grant():
        disconnect(client, settings, name)
