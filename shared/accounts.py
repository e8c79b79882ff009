"""Accounts: which Klaviyo account each CRM account syncs to, with its filters, cap, list,
interval and phone region.

The environment (:class:`shared.settings.Settings`) describes the account ``default``. Every
other account, and every runtime change of any account, is stored in Redis (hash
:func:`shared.constants.account_config`, one JSON value per field) and wins over the
environment from then on. Each change is logged with its time
(:func:`shared.constants.account_config_log`). Klaviyo keys are stored encrypted
(:mod:`shared.secrets_box`) and never shown.

An account that only appears in events (the collector registers it in
:data:`shared.constants.ACCOUNTS_SET`) is known but not *syncable* until a Klaviyo key is
added for it; its changes wait in pending meanwhile. The producers refuse events for such
accounts since issue 19 (:mod:`shared.configured_accounts`); only events stored before can
still make one.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any

import redis
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from redis.typing import EncodableT, FieldT

from shared import constants as keys
from shared import secrets_box
from shared.field_map import dump_field_map, parse_field_map
from shared.phones import check_phone_region
from shared.redis_cluster import transaction
from shared.redis_text import as_text
from shared.settings import Settings
from shared.state import due_accounts
from shared.validation_errors import describe

DEFAULT_ACCOUNT = "default"
ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
FILTER_FIELDS = ("contact_roles", "company_types")
KEY_FIELD = "klaviyo_api_key"
OAUTH_FIELD = "klaviyo_oauth"
CONNECTION_FIELD = "klaviyo_connection"
"""A random id of the account's current Klaviyo connection (not secret): a new one with
every OAuth connection, gone with a disconnect, a new key or the account. Per-process
caches of tokens and clients are keyed by it (:mod:`shared.klaviyo.oauth_tokens`)."""
"""The encrypted OAuth tokens (:mod:`shared.klaviyo.oauth_tokens`) in the config hash."""


class AccountError(ValueError):
    """A refused account operation; the message says why and what to do."""


class UnknownAccount(AccountError):
    """No account of that name is configured or has sent events."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"unknown account {name!r}: add it with "
            f"'contact-sync accounts add {name} --klaviyo-key ...'"
        )
        self.name = name


def _normalise_filter(value: object) -> object:
    """``None``/empty/``*`` mean "all"; a string is comma-separated."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [item for item in value.split(",")]
    if isinstance(value, list | tuple | set):
        items = sorted({str(item).strip() for item in value if str(item).strip()})
        if not items or items == ["*"]:
            return None
        return items
    return value


MAX_SETTING = 10**9
"""The most ``max_bulk_export`` and ``interval_seconds`` (about 31 years) may be: a bound,
so that no value is stored that reads back as something else (issue 19: ``1e999`` was
stored as Infinity and read back as ``null``)."""


class AccountOptions(BaseModel):
    """The settings of an account: THE one model of them, read from the environment (for
    ``default``), stored in Redis, set by ``contact-sync accounts`` and by the account API.

    ``interval`` is called ``interval_seconds`` on the wire (the API's JSON); both names are
    accepted on input."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    contact_roles: list[str] | None = None
    """Roles that sync; ``None`` = all."""
    company_types: list[str] | None = None
    """Company types that sync; ``None`` = all."""
    max_bulk_export: int = Field(default=0, ge=0, le=MAX_SETTING)
    """Cap per bulk export; 0 = none."""
    default_list_id: str | None = None
    interval: float = Field(default=900, ge=0, le=MAX_SETTING, allow_inf_nan=False,
                            alias="interval_seconds")
    """Seconds from a batch's completion to the next one's start."""
    phone_region: str | None = None
    """ISO 3166 alpha-2 country in which phones without ``+`` are read; ``None``: such
    phones are left off the profiles."""
    field_map: dict[str, Any] | None = None
    """Klaviyo target -> CRM source (:mod:`shared.field_map`); ``None``: the default
    profile."""

    @field_validator("contact_roles", "company_types", mode="before")
    @classmethod
    def _filters(cls, value: object) -> object:
        return _normalise_filter(value)

    @field_validator("default_list_id", mode="before")
    @classmethod
    def _list_id(cls, value: object) -> object:
        return _blank_is_none(value)

    @field_validator("field_map", mode="before")
    @classmethod
    def _field_map(cls, value: object) -> object:
        return dump_field_map(parse_field_map(value))

    @field_validator("phone_region", mode="before")
    @classmethod
    def _phone_region(cls, value: object) -> object:
        return check_phone_region(value)


OPTION_FIELDS = tuple(AccountOptions.model_fields)
"""``contact_roles``, ``company_types``, ``max_bulk_export``, ``default_list_id``,
``interval``, ``phone_region``, ``field_map``."""


def _blank_is_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value.strip() if isinstance(value, str) else value


class AccountConfig(AccountOptions):
    """The effective configuration of one account (env overlaid by what Redis stores)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    klaviyo_api_key: SecretStr | None = None
    """``None`` for ``default`` = the sandbox; for other accounts = not syncable."""
    klaviyo_base_url: str
    oauth_connected: bool = False
    """Connected through OAuth (tokens stored, :mod:`shared.klaviyo.oauth_tokens`): its
    calls use them, never the key."""
    connection_id: str | None = Field(default=None, exclude=True)
    """:data:`CONNECTION_FIELD` when read (OAuth connections): what SDK clients are kept by."""
    updated_at: datetime | None = None
    """When a stored change was last made (``None``: environment only)."""
    configured: bool = True
    """False for an account known only from its events (no stored configuration)."""

    @property
    def unsyncable_reason(self) -> str | None:
        """Why the scheduler skips this account, or ``None`` when it can sync."""
        return unsyncable_reason(self.name, self.configured,
                                 self.klaviyo_api_key is not None or self.oauth_connected)

    def public_view(self) -> dict[str, Any]:
        """Everything worth showing, with the key reduced to "set"/"not set"."""
        data = self.model_dump(mode="json", exclude={KEY_FIELD})
        data["klaviyo_key"] = "set" if self.klaviyo_api_key is not None else "not set"
        if self.name == DEFAULT_ACCOUNT and self.klaviyo_api_key is None:
            data["klaviyo_key"] = "not set (sandbox)"
        if self.oauth_connected:
            data["klaviyo_key"] = "connected (OAuth)"
        data["syncable"] = self.unsyncable_reason is None
        if self.unsyncable_reason:
            data["why_not_syncable"] = self.unsyncable_reason
        return data


def unsyncable_reason(name: str, configured: bool, has_key: bool) -> str | None:
    """Why an account cannot sync (no configuration, no Klaviyo key), or ``None``."""
    if name == DEFAULT_ACCOUNT or has_key:
        return None
    if not configured:
        return (f"account {name!r} has events but no configuration; add it with "
                f"'contact-sync accounts add {name} --klaviyo-key ...'")
    return f"account {name!r} has no Klaviyo key; set one with --klaviyo-key"


class AccountChanges(AccountOptions):
    """The settable fields, validated; only the fields given are changes."""

    klaviyo_api_key: SecretStr | None = None
    klaviyo_base_url: str | None = None

    @field_validator("klaviyo_base_url", mode="before")
    @classmethod
    def _base_url(cls, value: object) -> object:
        return _blank_is_none(value)

    @field_validator("klaviyo_base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL, e.g. https://a.klaviyo.com")
        return value.rstrip("/") if value else value

    @field_validator("klaviyo_api_key", mode="before")
    @classmethod
    def _key(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            raise ValueError("the Klaviyo key is empty")
        return value


def _validate_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """The changes as validated Python values; a clear error naming each bad field."""
    try:
        model = AccountChanges.model_validate(changes)
    except ValidationError as error:
        raise AccountError(f"invalid account settings: {describe(error)}") from None
    return {name: getattr(model, name) for name in model.model_fields_set}


def _default_of(field: str) -> Any:
    """A setting's value when nobody chose one (what a new account starts from)."""
    info = AccountConfig.model_fields.get(field)
    return None if info is None or info.is_required() else info.get_default(
        call_default_factory=True)


def filters_changed(before: AccountConfig, after: AccountConfig) -> bool:
    """True when the roles or company types differ (a bulk re-evaluation is due)."""
    return any(getattr(before, name) != getattr(after, name) for name in FILTER_FIELDS)


def _check_name(name: str) -> None:
    if not ACCOUNT_NAME.match(name):
        raise AccountError(
            f"invalid account name {name!r}: letters, digits, '_', '.', '-', at most 64, "
            "starting with a letter or digit"
        )


class AccountStore:
    """Reads and changes accounts in Redis (see the module docstring)."""

    def __init__(self, redis_client: redis.Redis, settings: Settings) -> None:
        self.redis = redis_client
        self.settings = settings

    # --- reading -------------------------------------------------------------------------
    def names(self) -> list[str]:
        """``default`` and every account stored or seen in events, sorted."""
        members: set[Any] = self.redis.smembers(keys.ACCOUNTS_SET)  # type: ignore[assignment]
        return sorted({as_text(name) for name in members} | {DEFAULT_ACCOUNT})

    def _base(self, name: str) -> dict[str, Any]:
        """What an account is before any stored change."""
        base: dict[str, Any] = {
            "name": name,
            "interval": self.settings.interval,
            "klaviyo_base_url": self.settings.klaviyo_base_url,
        }
        if name == DEFAULT_ACCOUNT:
            base.update(
                contact_roles=_normalise_filter(self.settings.contact_roles),
                company_types=_normalise_filter(self.settings.company_types),
                max_bulk_export=self.settings.max_bulk_export,
                default_list_id=self.settings.default_list_id or None,
                phone_region=self.settings.phone_region,
                klaviyo_api_key=self.settings.klaviyo_api_key or None,
            )
        return base

    def _stored(self, name: str) -> dict[str, Any]:
        """The stored fields of an account, decoded (the key decrypted)."""
        raw: dict[Any, Any] = self.redis.hgetall(keys.account_config(name))  # type: ignore[assignment]
        stored: dict[str, Any] = {}
        for field, value in ((as_text(f), as_text(v)) for f, v in raw.items()):
            if field == KEY_FIELD:
                stored[field] = secrets_box.decrypt(value, self.settings.secret_key)
            elif field == OAUTH_FIELD:  # the tokens are read where they are used
                stored["oauth_connected"] = True
            elif field == CONNECTION_FIELD:
                stored["connection_id"] = value
            elif field in AccountChanges.model_fields or field == "updated_at":
                stored[field] = json.loads(value)
        if "updated_at" in stored:
            stored["updated_at"] = datetime.fromtimestamp(float(stored["updated_at"]), UTC)
        return stored

    def exists(self, name: str) -> bool:
        """True when the account has a stored configuration (``default`` always does)."""
        return name == DEFAULT_ACCOUNT or bool(self.redis.exists(keys.account_config(name)))

    def get(self, name: str) -> AccountConfig:
        """The effective configuration; :class:`UnknownAccount` for a name never seen."""
        _check_name(name)
        configured = self.exists(name)
        if not configured and not self.redis.sismember(keys.ACCOUNTS_SET, name):
            raise UnknownAccount(name)
        return AccountConfig(**{**self._base(name), **self._stored(name)}, configured=configured)

    def change_log(self, name: str) -> list[dict[str, Any]]:
        """Every stored change of the account, oldest first."""
        lines: list[Any] = self.redis.lrange(keys.account_config_log(name), 0, -1)  # type: ignore[assignment]
        return [json.loads(line) for line in lines]

    # --- changing ------------------------------------------------------------------------
    def add(self, name: str, klaviyo_key: str, **options: Any) -> AccountConfig:
        """Store a new account with its (encrypted) Klaviyo key and options."""
        _check_name(name)
        if name == DEFAULT_ACCOUNT:
            raise AccountError(
                "the account 'default' is defined by the environment; change it with "
                "'contact-sync accounts set default ...'"
            )
        if self.exists(name):
            raise AccountError(
                f"account {name!r} already exists; change it with 'contact-sync accounts set'"
            )
        if not self.settings.secret_key:
            raise secrets_box.SecretKeyMissing()
        return self._apply(name, {**options, KEY_FIELD: klaviyo_key}, created=True)

    def create(self, name: str, **options: Any) -> AccountConfig:
        """Store a new account's settings without a Klaviyo key yet (the account API's
        settings page sets it next); such an account is known but not syncable."""
        _check_name(name)
        if name == DEFAULT_ACCOUNT or self.exists(name):
            raise AccountError(f"account {name!r} already exists")
        return self._apply(name, options, created=True)

    def set(self, name: str, **changes: Any) -> AccountConfig:
        """Change an account at runtime; each change is logged with its time. A change of the
        filters puts every mirrored contact of the account back into pending, as bulk."""
        _check_name(name)
        if not self.exists(name):
            raise UnknownAccount(name)
        if not changes:
            raise AccountError("nothing to change: give at least one option")
        return self._apply(name, changes, created=False)

    def _apply(self, name: str, changes: dict[str, Any], *, created: bool) -> AccountConfig:
        values = _validate_changes(changes)
        before = self.get(name) if not created else None
        now = time.time()
        stored: dict[FieldT, EncodableT] = {}
        log: list[str] = []
        for field, value in values.items():
            old = getattr(before, field) if before is not None else None
            if field == KEY_FIELD:
                plain = value.get_secret_value()
                if before is not None and old is not None and old.get_secret_value() == plain:
                    continue
                stored[field] = secrets_box.encrypt(plain, self.settings.secret_key)
                shown: tuple[Any, Any] = ("set" if old else "not set"), "set"
            else:
                if before is not None and old == value:
                    continue
                stored[field] = json.dumps(value)
                shown = old, value
                if before is None and value == _default_of(field):
                    continue  # a new account's default: stored, but nothing changed
            log.append(json.dumps({"at": now, "field": field, "before": shown[0],
                                   "after": shown[1]}))
        if not stored and before is not None:
            return before
        stored["updated_at"] = json.dumps(now)
        pipe = transaction(self.redis)
        pipe.hset(keys.account_config(name), mapping=stored)
        if KEY_FIELD in stored:  # a new key replaces an OAuth connection (newest wins)
            pipe.hdel(keys.account_config(name), OAUTH_FIELD, CONNECTION_FIELD)
        if log:
            pipe.rpush(keys.account_config_log(name), *log)
        if name != DEFAULT_ACCOUNT:
            pipe.sadd(keys.ACCOUNTS_SET, name)
        due_accounts.look_at(pipe, name, due_accounts.ASAP)  # a new interval or key may
        due_accounts.reverse_at(pipe, name, due_accounts.ASAP)  # make it due now
        pipe.execute()
        after = self.get(name)
        if before is not None and filters_changed(before, after):
            self.requeue_all(name)
        return after

    def requeue_all(self, name: str) -> int:
        """Put every mirrored contact back into pending as a bulk re-evaluation (the cap
        applies), keeping each one's occurred_at as its score. Returns the pending count."""
        times = keys.contact_times(name)
        pipe = transaction(self.redis)
        for target in (keys.pending(name), keys.pending_bulk(name)):
            pipe.zunionstore(target, [target, times], aggregate="MAX")
        pipe.zcard(keys.pending(name))
        due_accounts.note_pending(pipe, name)
        return int(pipe.execute()[-2])
