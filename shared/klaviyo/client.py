"""The official SDK client (``KlaviyoAPI``) for one account, with retries handed to us.

The SDK retries 429/503/504 itself (sleeping in the calling thread), and urllib3 under it
retries idempotent requests that carry Retry-After, invisibly (docs/KLAVIYO.md §9). Both
are switched off here: ``max_retries=1`` (one attempt) and the pool manager's ``retries``
set to ``False``. Waiting is our rate limiter's and Dramatiq's job, never a worker thread's.
Responses are plain dicts (``USE_DICTIONARY_FOR_RESPONSE_DATA``): cheaper than models
for 10,000-profile payloads. Importing this module removes the reference cycle every SDK
call makes (:mod:`shared.klaviyo.sdk_frames`).
"""

from __future__ import annotations

import hashlib
from typing import Any

import urllib3
from klaviyo_api import KlaviyoAPI

from shared.accounts import AccountConfig
from shared.klaviyo import sdk_frames
from shared.settings import KLAVIYO_PRODUCTION_URL, KLAVIYO_READ_TIMEOUT

sdk_frames.install()

SANDBOX_KEY = "sandbox-key"
"""The key used for the ``default`` account when none is configured (the sandbox)."""
CONNECT_TIMEOUT = 5.0


OAUTH_PLACEHOLDER = "-"
"""The SDK client of an OAuth account is built before it has a token (see oauth_session)."""


def api_key_of(account: AccountConfig) -> str:
    key = account.klaviyo_api_key
    return key.get_secret_value() if key is not None else SANDBOX_KEY


def klaviyo_account_id(account: AccountConfig) -> str:
    """A stable, non-secret name of the Klaviyo account behind a key (for limiter keys):
    a short hash of base URL + key. Two CRM accounts sharing a key share its limits. An
    OAuth account's calls count against the app's own quota of that installation, apart
    from any private key's (docs/OAUTH.md): ``oauth-`` + a hash of base URL, name
    and connection id, so that a reconnected account gets new SDK clients and a quota of
    its own (its new installation's)."""
    if account.oauth_connected:
        digest = hashlib.sha256(f"{account.klaviyo_base_url}|oauth|{account.name}|"
                                f"{account.connection_id or ''}".encode())
        return "oauth-" + digest.hexdigest()[:16]
    digest = hashlib.sha256(f"{account.klaviyo_base_url}|{api_key_of(account)}".encode())
    return digest.hexdigest()[:16]


def build_client(api_key: str | None, base_url: str = KLAVIYO_PRODUCTION_URL,
                 read_timeout: float = KLAVIYO_READ_TIMEOUT, *,
                 access_token: str | None = None) -> KlaviyoAPI:
    """A ``KlaviyoAPI`` that makes exactly one HTTP request per call; ``read_timeout``
    (seconds, ``Tuning.klaviyo_read_timeout``) bounds each part of an answer; with
    ``access_token`` it sends ``Authorization: Bearer`` (the SDK's OAuth) instead of a key."""
    base = base_url.rstrip("/")
    test_host = "" if base == KLAVIYO_PRODUCTION_URL else base
    api = KlaviyoAPI(
        api_key,  # type: ignore[arg-type]  # the SDK takes None with access_token
        access_token=access_token,  # type: ignore[arg-type]
        max_delay=0.1,
        max_retries=1,
        test_host=test_host,
        options={"USE_DICTIONARY_FOR_RESPONSE_DATA": True},
    )
    pool: Any = api.api_client.rest_client.pool_manager
    pool.connection_pool_kw["retries"] = False
    pool.connection_pool_kw["timeout"] = urllib3.Timeout(
        connect=CONNECT_TIMEOUT,
        read=read_timeout,
    )
    return api


def client_for(account: AccountConfig, read_timeout: float = KLAVIYO_READ_TIMEOUT) -> KlaviyoAPI:
    """The SDK client of a contact-sync account (OAuth: its token is set before each call)."""
    if account.oauth_connected:
        return build_client(None, account.klaviyo_base_url, read_timeout,
                            access_token=OAUTH_PLACEHOLDER)
    return build_client(api_key_of(account), account.klaviyo_base_url, read_timeout)
