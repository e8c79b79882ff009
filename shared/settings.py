"""Process configuration, read from the environment (12-factor).

The environment describes the account ``default``; other accounts and runtime changes
live in Redis (see :mod:`shared.accounts`) and win over these values.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.phones import check_phone_region

KLAVIYO_PRODUCTION_URL = "https://a.klaviyo.com"


def _split_csv(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",") if item.strip()]
        return items or None
    return value


class Settings(BaseSettings):
    """Every environment variable of the public contract (DESIGN.md section 3)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    klaviyo_api_key: str | None = Field(default=None, alias="KLAVIYO_API_KEY")
    klaviyo_base_url: str = Field(default=KLAVIYO_PRODUCTION_URL, alias="KLAVIYO_BASE_URL")
    webhook_secrets: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="SYNC_WEBHOOK_SECRET"
    )
    interval: float = Field(default=900, alias="SYNC_INTERVAL", ge=0)
    contact_roles: Annotated[list[str] | None, NoDecode] = Field(
        default=None, alias="SYNC_CONTACT_ROLES"
    )
    company_types: Annotated[list[str] | None, NoDecode] = Field(
        default=None, alias="SYNC_COMPANY_TYPES"
    )
    max_bulk_export: int = Field(default=0, alias="SYNC_MAX_BULK_EXPORT", ge=0)
    default_list_id: str | None = Field(default=None, alias="SYNC_DEFAULT_LIST_ID")
    phone_region: str | None = Field(default=None, alias="SYNC_PHONE_REGION")
    """ISO 3166 alpha-2 country in which phones written without ``+`` are read; ``None``:
    such phones are not sent."""
    list_discovery_at: str = Field(default="02:00", alias="SYNC_LIST_DISCOVERY_AT")
    list_pull_interval: float = Field(default=900, alias="SYNC_LIST_PULL_INTERVAL", ge=0)
    crm_webhook_url: str | None = Field(default=None, alias="SYNC_CRM_WEBHOOK_URL")
    crm_webhook_secret: str | None = Field(default=None, alias="SYNC_CRM_WEBHOOK_SECRET")
    api_tokens: Annotated[list[str], NoDecode] = Field(default_factory=list,
                                                       alias="SYNC_API_TOKENS")
    """Bearer tokens of the account API; none: the account API is off (404)."""
    secret_key: str | None = Field(default=None, alias="SYNC_SECRET_KEY")
    sentry_dsn: str | None = Field(default=None, alias="SENTRY_DSN")
    log_format: Literal["text", "json"] = Field(default="text", alias="SYNC_LOG_FORMAT")
    port: int = Field(default=8000, alias="PORT")
    # What an unauthenticated client may make the web process hold (docs/SECURITY.md).
    web_max_header_bytes: int = Field(default=32768, alias="SYNC_WEB_MAX_HEADER_BYTES", ge=1024)
    web_header_timeout: float = Field(default=10, alias="SYNC_WEB_HEADER_TIMEOUT", gt=0)
    web_body_timeout: float = Field(default=30, alias="SYNC_WEB_BODY_TIMEOUT", gt=0)
    web_max_requests: int = Field(default=32, alias="SYNC_WEB_MAX_REQUESTS", ge=1)
    web_max_connections: int = Field(default=512, alias="SYNC_WEB_MAX_CONNECTIONS", ge=1)

    @field_validator("webhook_secrets", "api_tokens", mode="before")
    @classmethod
    def _secrets(cls, value: object) -> object:
        return _split_csv(value) or []

    @field_validator("contact_roles", "company_types", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("phone_region", mode="before")
    @classmethod
    def _phone_region(cls, value: object) -> object:
        return check_phone_region(value)

    @field_validator("list_discovery_at")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        hours, _, minutes = value.partition(":")
        if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
            raise ValueError("SYNC_LIST_DISCOVERY_AT must be HH:MM (UTC)")
        return f"{int(hours):02d}:{int(minutes):02d}"

    @property
    def uses_sandbox(self) -> bool:
        """True when no Klaviyo key is configured: the sandbox stands in for Klaviyo."""
        return not self.klaviyo_api_key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()
