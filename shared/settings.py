"""Process configuration, read from the environment (12-factor).

The environment describes the account ``default``; other accounts and runtime changes
live in Redis (see :mod:`shared.accounts`) and win over these values.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.phones import check_phone_region

KLAVIYO_PRODUCTION_URL = "https://a.klaviyo.com"
KLAVIYO_OAUTH_URLS = {"authorize": "https://www.klaviyo.com/oauth/authorize",
                      "token": f"{KLAVIYO_PRODUCTION_URL}/oauth/token",
                      "revoke": f"{KLAVIYO_PRODUCTION_URL}/oauth/revoke"}
KLAVIYO_READ_TIMEOUT = 60.0
"""Seconds the SDK waits for each part of Klaviyo's answer (``SYNC_KLAVIYO_READ_TIMEOUT``)."""
CRM_MAX_RETRIES = 20
CRM_MIN_BACKOFF_MS = 5_000
CRM_MAX_BACKOFF_MS = 3_600_000
CRM_TIMEOUT_MS = 10_000
CRM_MAX_TIMEOUT_MS = 300_000
"""The longest ``SYNC_CRM_TIMEOUT_MS`` accepted (the CRM actor's time limit leaves room)."""
_DAY_MS = 86_400_000
_CRM_BOUNDS = {
    "SYNC_CRM_MAX_RETRIES": (0, 1_000),
    "SYNC_CRM_MIN_BACKOFF_MS": (1, _DAY_MS),
    "SYNC_CRM_MAX_BACKOFF_MS": (1, 7 * _DAY_MS),
    "SYNC_CRM_TIMEOUT_MS": (1, CRM_MAX_TIMEOUT_MS),
}


def _split_csv(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",") if item.strip()]
        return items or None
    return value


def _whole_number(name: str, value: object) -> object:
    """``value`` of the variable ``name`` as an int within its bounds; the error names it."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return value
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    low, high = _CRM_BOUNDS[name]
    if not low <= number <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {number}")
    return number


class Tuning(BaseSettings):
    """The tuning knobs: tests, benchmarks and unusual deployments lower limits and
    timeouts with them; unset (or empty) = the built-in value. Read from the same flat
    environment variables as :class:`Settings` (``Settings().tuning``)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    chunk_max_profiles: int | None = Field(default=None, alias="SYNC_CHUNK_MAX_PROFILES", ge=1)
    """Profiles per bulk-import chunk; ``None``: Klaviyo's 10,000 (never more)."""
    chunk_max_bytes: int | None = Field(default=None, alias="SYNC_CHUNK_MAX_BYTES", ge=1)
    """JSON bytes per chunk; ``None``: 4,500,000, under Klaviyo's 5 MB (never more)."""
    chunk_max_deletes: int | None = Field(default=None, alias="SYNC_CHUNK_MAX_DELETES", ge=1)
    """CRM deletes per delete chunk; ``None``: 1,000, one list-removal call (never more)."""
    chunk_bodies_at_once: int = Field(default=1, alias="SYNC_CHUNK_BODIES_AT_ONCE", ge=1)
    """Chunk request bodies a worker process builds and posts at the same time (each
    ~150 MB for 10,000 profiles; workers/push/plan/chunking.py)."""
    plan_slice: int | None = Field(default=None, alias="SYNC_PLAN_SLICE", ge=1)
    """Batch members planned at once; ``None``: 5,000 (never more)."""
    plan_commit_members: int | None = Field(default=None, alias="SYNC_PLAN_COMMIT_MEMBERS",
                                            ge=1)
    """Batch members planned between two commits of the plan; ``None``: 50,000 (never
    more)."""
    dry_run_at_once: int = Field(default=10_000, alias="SYNC_DRY_RUN_AT_ONCE", ge=0)
    """Pending contacts up to which ``GET /v1/accounts/{a}/syncs/next`` plans the dry run
    within the request; above, it is computed once in the background (202, Retry-After)."""
    job_profile_pages: int = Field(default=3, alias="SYNC_JOB_PROFILE_PAGES", ge=0)
    """A finished import job's profiles (100 a page) are read back, to learn profile ids,
    only when they fit in this many pages; 0 = never."""
    klaviyo_read_timeout: float = Field(default=KLAVIYO_READ_TIMEOUT,
                                        alias="SYNC_KLAVIYO_READ_TIMEOUT", gt=0)
    crm_max_retries: int = Field(default=CRM_MAX_RETRIES, alias="SYNC_CRM_MAX_RETRIES")
    """Retries of one CRM delivery before it is dead-lettered (5 s doubling to 1 h:
    about 14 hours with the defaults)."""
    crm_min_backoff_ms: int = Field(default=CRM_MIN_BACKOFF_MS, alias="SYNC_CRM_MIN_BACKOFF_MS")
    crm_max_backoff_ms: int = Field(default=CRM_MAX_BACKOFF_MS, alias="SYNC_CRM_MAX_BACKOFF_MS")
    crm_timeout_ms: int = Field(default=CRM_TIMEOUT_MS, alias="SYNC_CRM_TIMEOUT_MS")
    """How long one POST to the CRM may take to connect, send or get each part of the
    answer."""

    @field_validator("crm_max_retries", "crm_min_backoff_ms", "crm_max_backoff_ms",
                     "crm_timeout_ms", mode="before")
    @classmethod
    def _crm(cls, value: object, info: ValidationInfo) -> object:
        return _whole_number(str(cls.model_fields[str(info.field_name)].alias), value)

    @field_validator("*", mode="before")  # defined last: runs first
    @classmethod
    def _empty_is_unset(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str) and not value.strip():
            field = cls.model_fields[str(info.field_name)]
            return field.get_default(call_default_factory=True)
        return value


class Settings(BaseSettings):
    """Every environment variable of the public contract (docs/ARCHITECTURE.md §1)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    broker_url_set: str | None = Field(default=None, alias="SYNC_BROKER_URL")
    """The Dramatiq broker's own Redis; unset: ``REDIS_URL`` (see shared/broker_redis.py)."""
    ingest_shards: int = Field(default=1, alias="SYNC_INGEST_SHARDS", ge=1, le=4096)
    """Ingest streams, by account (shared/ingest_shards.py); 1 = the one ``sync:events``."""
    ingest_replica_wait_ms: int = Field(default=1000, alias="SYNC_INGEST_REPLICA_WAIT_MS",
                                        ge=0)
    """On a Redis Cluster, how long the webhook waits (``WAIT 1``) for a replica to have the
    events before answering 202; 0 = do not wait. Ignored on one Redis."""
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
    phone_region: Annotated[str | None, BeforeValidator(check_phone_region)] = Field(
        default=None, alias="SYNC_PHONE_REGION")
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
    # The console in the browser (docs/CONSOLE.md): off without SYNC_CONSOLE_SECRET.
    console_secret: SecretStr | None = Field(default=None, alias="SYNC_CONSOLE_SECRET")
    """Signs console links, page and operator sessions and CSRF tokens (HMAC-SHA256)."""
    console_tokens: Annotated[list[str], NoDecode] = Field(default_factory=list,
                                                           alias="SYNC_CONSOLE_TOKENS")
    """Operators' login tokens; none: the operator's view is off."""
    console_frame_ancestors: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="SYNC_CONSOLE_FRAME_ANCESTORS")
    """Origins (the CRM's) allowed to frame an account's console pages; none: nowhere."""
    console_link_ttl: int = Field(default=300, alias="SYNC_CONSOLE_LINK_TTL", ge=10, le=3600)
    """Seconds a console link may be opened (once) after it is minted."""
    console_session_ttl: int = Field(default=3600, alias="SYNC_CONSOLE_SESSION_TTL", ge=60,
                                      le=86_400)
    """Seconds an opened account page, and an operator's login, stay valid."""
    sentry_dsn: str | None = Field(default=None, alias="SENTRY_DSN")
    log_format: Literal["text", "json"] = Field(default="text", alias="SYNC_LOG_FORMAT")
    port: int = Field(default=8000, alias="PORT")
    # What an unauthenticated client may make the web process hold (docs/SECURITY.md).
    web_max_header_bytes: int = Field(default=32768, alias="SYNC_WEB_MAX_HEADER_BYTES", ge=1024)
    web_header_timeout: float = Field(default=10, alias="SYNC_WEB_HEADER_TIMEOUT", gt=0)
    web_body_timeout: float = Field(default=30, alias="SYNC_WEB_BODY_TIMEOUT", gt=0)
    web_max_requests: int = Field(default=32, alias="SYNC_WEB_MAX_REQUESTS", ge=1)
    web_max_connections: int = Field(default=512, alias="SYNC_WEB_MAX_CONNECTIONS", ge=1)
    metrics_port: int | None = Field(default=9464, alias="SYNC_METRICS_PORT")
    """``web`` serves ``/metrics`` on this port of ``SYNC_METRICS_HOST`` only, not on the
    public port; empty: not served (docs/OPERATIONS.md, issue 19)."""
    metrics_host: str = Field(default="127.0.0.1", alias="SYNC_METRICS_HOST")
    metrics_account_series: int = Field(default=50, alias="SYNC_METRICS_ACCOUNT_SERIES",
                                        ge=0, le=1000)
    """Per-account gauges on ``/metrics`` for at most this many accounts (the busiest:
    due soonest, and rejecting); every account is counted in the totals."""
    environment: str = Field(default="production", alias="SYNC_ENVIRONMENT")
    """The environment Sentry files events under (empty: ``production``)."""
    worker_metrics_port: int | None = Field(default=None, alias="dramatiq_prom_port")
    """Set: each worker serves Dramatiq's Prometheus metrics on this port (Dramatiq's own
    variable; ``dramatiq_prom_host`` and ``dramatiq_prom_db`` go to Dramatiq as they are)."""
    tuning: Tuning = Field(default_factory=Tuning)
    """The tuning knobs (:class:`Tuning`), from the same environment."""

    @field_validator("environment", mode="before")
    @classmethod
    def _environment(cls, value: object) -> object:
        return value if value else "production"

    @field_validator("worker_metrics_port", "metrics_port", mode="before")
    @classmethod
    def _port(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value
    # OAuth (docs/OAUTH.md): unset client id = private keys only.
    oauth_client_id: str | None = Field(default=None, alias="KLAVIYO_OAUTH_CLIENT_ID")
    oauth_client_secret: SecretStr | None = Field(default=None,
                                                  alias="KLAVIYO_OAUTH_CLIENT_SECRET")
    public_url: str | None = Field(default=None, alias="SYNC_PUBLIC_URL")
    oauth_return_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="SYNC_OAUTH_RETURN_ORIGINS")
    oauth_authorize_url_set: str | None = Field(default=None,
                                                alias="KLAVIYO_OAUTH_AUTHORIZE_URL")
    oauth_token_url_set: str | None = Field(default=None, alias="KLAVIYO_OAUTH_TOKEN_URL")
    oauth_revoke_url_set: str | None = Field(default=None, alias="KLAVIYO_OAUTH_REVOKE_URL")

    @field_validator("webhook_secrets", "api_tokens", "oauth_return_origins", "console_tokens",
                     mode="before")
    @classmethod
    def _secrets(cls, value: object) -> object:
        return _split_csv(value) or []

    @field_validator("console_frame_ancestors", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        found = _split_csv(value.replace(" ", ",") if isinstance(value, str) else value) or []
        for origin in found if isinstance(found, list) else []:
            parts = urlsplit(str(origin))
            if parts.scheme not in ("http", "https") or not parts.netloc \
                    or parts.path not in ("", "/") or parts.query or ";" in str(origin):
                raise ValueError(f"SYNC_CONSOLE_FRAME_ANCESTORS: {origin!r} is not an origin "
                                 "(https://host[:port])")
        return [str(origin).rstrip("/") for origin in found] if isinstance(found, list) \
            else found

    @field_validator("contact_roles", "company_types", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("list_discovery_at")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        hours, _, minutes = value.partition(":")
        if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
            raise ValueError("SYNC_LIST_DISCOVERY_AT must be HH:MM (UTC)")
        return f"{int(hours):02d}:{int(minutes):02d}"

    def oauth_url(self, which: Literal["authorize", "token", "revoke"]) -> str:
        """Klaviyo's OAuth endpoint: as set, else Klaviyo's own, else (``KLAVIYO_BASE_URL``
        pointing at the sandbox) that base's ``/oauth/<which>``."""
        chosen = getattr(self, f"oauth_{which}_url_set")
        if chosen:
            return str(chosen)
        base = self.klaviyo_base_url.rstrip("/")
        return KLAVIYO_OAUTH_URLS[which] if base == KLAVIYO_PRODUCTION_URL else \
            f"{base}/oauth/{which}"

    @property
    def uses_sandbox(self) -> bool:
        """True when no Klaviyo key is configured: the sandbox stands in for Klaviyo."""
        return not self.klaviyo_api_key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()
