"""Start-up configuration of the sandbox (the Klaviyo emulator)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.oauth_grants import DEFAULT_CLIENTS, DEFAULT_REDIRECT_URIS


@dataclass
class FaultSpec:
    """Share of injected answers for one operation (or ``*`` for all).

    ``status_403_html`` answers a CDN challenge (403, ``text/html``, ``cf-mitigated:
    challenge``) instead of Klaviyo's JSON; ``omit_retry_after`` is the share of 429s, injected
    or from the rate limiter, sent without ``Retry-After`` (docs/KLAVIYO.md §9).
    """

    status_429: float = 0.0
    status_500: float = 0.0
    status_503: float = 0.0
    status_403_html: float = 0.0
    latency_ms: int = 0
    drop: float = 0.0
    retry_after: int = 1
    omit_retry_after: float = 0.0


KEY_STATES = ("ok", "revoked", "no_scope")
"""What a key can be: working, revoked (401 ``authentication_failed``, its data kept) or
lacking every scope (403 ``permission_denied``)."""


@dataclass
class SandboxConfig:
    """Everything the app needs at start-up; the inspection API changes most of it later.

    ``rate_limits`` is ``"on"``, ``"off"`` or a float scale applied to Klaviyo's limits
    (0.1 = ten times smaller). ``job_mode`` is ``"async"`` (a background task keeps the bulk
    job ``queued`` for ``job_delay_ms``, then ``processing`` for ``job_processing_ms``) or
    ``"instant"`` (processed before the 202 is sent).

    The strictness switches (docs/KLAVIYO.md), each on by default:
    ``bulk_validation`` ``"sync"`` refuses a whole bulk import job with a 400 naming its bad
    rows (``name_bad_rows`` of them, 0 = all), ``"async"`` turns bad rows into import-errors;
    ``phone_identity`` matches profiles by phone number too; ``one_list_per_job`` refuses a
    job with several lists; ``opaque_job_ids`` gives jobs base64-like ids instead of ULIDs.
    ``key_states`` maps keys to one of ``KEY_STATES``. ``refused_email_domains``: emails at
    these domains are refused like invalid ones (an emulator control standing for the rules
    of Klaviyo's address check that no client can know in advance).
    ``oauth_clients`` are the OAuth apps (client id -> secret); ``access_token_ttl_s`` is how
    long an access token lives (Klaviyo: an hour; seconds in tests, so refreshes happen);
    ``oauth_redirect_uris`` the redirect URIs registered for the apps.
    """

    keys: tuple[str, ...] = ("sandbox-key",)
    rate_limits: str | float = "on"
    faults: dict[str, FaultSpec] = field(default_factory=dict)
    public_url: str | None = None
    job_mode: str = "async"
    job_delay_ms: int = 0
    job_processing_ms: int = 0
    retry_after_on_429: bool = True
    lowercase_emails: bool = True
    default_opt_in: str = "single_opt_in"
    bulk_validation: str = "sync"
    name_bad_rows: int = 0
    phone_identity: bool = True
    one_list_per_job: bool = True
    opaque_job_ids: bool = True
    key_states: dict[str, str] = field(default_factory=dict)
    refused_email_domains: tuple[str, ...] = ()
    oauth_clients: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CLIENTS))
    access_token_ttl_s: float = 3600.0
    oauth_redirect_uris: tuple[str, ...] = DEFAULT_REDIRECT_URIS
