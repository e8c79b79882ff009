"""Every Klaviyo call goes through :meth:`Gateway.call`: limiter, SDK, metrics, errors.

``gateway.call("bulk_import_profiles", api.Profiles.bulk_import_profiles, body)``

1. takes one call from the shared limiter of (Klaviyo account, operation); when the budget
   is spent it raises :class:`RateLimited` at once (the caller re-enqueues; nobody sleeps);
2. calls the SDK (one HTTP request: see :mod:`shared.klaviyo.client`);
3. records the answer's status (``contact_sync_klaviyo_calls_total``; 429s also logged);
4. maps failures onto :mod:`shared.klaviyo.errors`; a 429 also blocks the operation for
   every worker until ``Retry-After`` has passed. A 429 without ``Retry-After`` (Klaviyo
   sends some) waits 1 s, then 2, 4 ... up to 60 s while they keep coming (counted per
   Klaviyo account and operation in Redis; forgotten at the next answer that is not a 429
   in the process that saw them, or after two quiet minutes).

For an OAuth account the gateway has a token source (:class:`CallAuth`, in practice
:class:`shared.klaviyo.oauth_session.OAuthSession`): it puts a fresh access token on the SDK
client before the call, and a 401 is answered by one refresh and one retry.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import redis
import urllib3.exceptions
from openapi_client.exceptions import ApiException

from shared import constants as keys
from shared.klaviyo.errors import (
    AccountRefused,
    ApiError,
    Conflict,
    KlaviyoError,
    RateLimited,
    ReconnectNeeded,
    Rejected,
    Transient,
)
from shared.klaviyo.rate_limiter import RateLimiter
from shared.telemetry.metrics import record_klaviyo_call

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_RETRY_AFTER = 1.0
"""Seconds to wait after a first 429 that carries no (integer) Retry-After."""
MAX_GUESSED_WAIT = 60.0
"""The longest wait guessed for 429s without Retry-After."""
STRIKES_TTL_S = 120
_struck: set[tuple[str, str]] = set()
"""(Klaviyo account, operation) pairs this process saw a 429 without Retry-After for."""
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    urllib3.exceptions.HTTPError,
    ConnectionError,
    TimeoutError,
)


def _errors(body: str | bytes | None) -> list[dict[str, Any]]:
    try:
        data = json.loads(body or "{}")
        errors = data.get("errors") or []
        return [item for item in errors if isinstance(item, dict)]
    except (ValueError, AttributeError, TypeError):
        return []


def _api_error(raw: dict[str, Any]) -> ApiError:
    source = raw.get("source")
    pointer = source.get("pointer") if isinstance(source, dict) else None
    return ApiError(str(raw.get("code") or ""), str(raw.get("title") or ""),
                    str(raw.get("detail") or ""), str(pointer or ""))


def retry_after_of(error: ApiException) -> float | None:
    """The integer ``Retry-After`` of a 429 in seconds, or None when it has none."""
    raw = (error.headers or {}).get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(int(raw)))
    except (TypeError, ValueError):
        return None


def is_cdn_challenge(error: ApiException) -> bool:
    """A 403 from Klaviyo's CDN (HTML body, ``cf-mitigated: challenge``): transient."""
    headers = error.headers or {}
    content_type = str(headers.get("Content-Type") or headers.get("content-type") or "")
    return bool(headers.get("cf-mitigated")) or content_type.startswith("text/html")


def map_api_exception(operation: str, error: ApiException) -> KlaviyoError:
    """The hierarchy's exception for an SDK ``ApiException`` (not 429: see :meth:`call`)."""
    status = int(error.status or 0)
    raw = _errors(error.body)
    first = raw[0] if raw else {}
    code = str(first.get("code") or "")
    title = str(first.get("title") or "")
    detail = str(first.get("detail") or "")
    if status in (401, 403) and is_cdn_challenge(error):
        return Transient(operation, f"{status} CDN challenge", status)
    if status in (401, 403):
        return AccountRefused(operation, status, code or f"http_{status}", title, detail)
    if status == 409:
        meta = first.get("meta") or {}
        duplicate = meta.get("duplicate_profile_id") if isinstance(meta, dict) else None
        return Conflict(operation, code or "duplicate_profile", title, detail,
                        str(duplicate) if duplicate else None)
    if status >= 500 or status == 0:
        return Transient(operation, f"{status} {code}".strip(), status)
    return Rejected(operation, status, code, title, detail,
                    tuple(_api_error(item) for item in raw))


class CallAuth(Protocol):
    """Where an OAuth account's SDK client gets its access token."""

    def prepare(self, operation: str) -> None: ...

    def after_refusal(self, operation: str) -> None: ...


class Gateway:
    """Klaviyo calls of one Klaviyo account (``klaviyo_account``: a non-secret id)."""

    def __init__(self, client: redis.Redis, klaviyo_account: str,
                 limiter: RateLimiter | None = None, *, auth: CallAuth | None = None) -> None:
        self.redis = client
        self.klaviyo_account = klaviyo_account
        self.limiter = limiter or RateLimiter(client)
        self.auth = auth

    def call(self, operation: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self.auth is None:
            return self._call(operation, fn, *args, **kwargs)
        self.auth.prepare(operation)
        try:
            return self._call(operation, fn, *args, **kwargs)
        except AccountRefused as refused:
            if refused.status != 401 or isinstance(refused, ReconnectNeeded):
                raise
        self.auth.after_refusal(operation)  # the token died early (revoked, clock): once
        return self._call(operation, fn, *args, **kwargs)

    def _call(self, operation: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        wait = self.limiter.take(self.klaviyo_account, operation)
        if wait > 0:
            raise RateLimited(operation, wait)
        try:
            result = fn(*args, **kwargs)
        except ApiException as error:
            status = int(error.status or 0)
            record_klaviyo_call(self.redis, operation, status)
            if status == 429:
                retry_in = retry_after_of(error)
                if retry_in is None:
                    retry_in = self._guessed_wait(operation)
                self.limiter.block(self.klaviyo_account, operation, retry_in)
                log.info("klaviyo %s throttled: retry in %.0f s", operation, retry_in)
                raise RateLimited(operation, retry_in, by_klaviyo=True) from None
            raise map_api_exception(operation, error) from None
        except TRANSPORT_ERRORS as error:
            record_klaviyo_call(self.redis, operation, 0)
            raise Transient(operation, type(error).__name__) from None
        record_klaviyo_call(self.redis, operation, 200)
        if (self.klaviyo_account, operation) in _struck:
            _struck.discard((self.klaviyo_account, operation))
            self.redis.delete(keys.rate_limit_strikes(self.klaviyo_account, operation))
        return result

    def _guessed_wait(self, operation: str) -> float:
        """1, 2, 4 ... 60 s for consecutive 429s that say nothing about when to come back."""
        key = keys.rate_limit_strikes(self.klaviyo_account, operation)
        pipe = self.redis.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, STRIKES_TTL_S)
        strikes = int(pipe.execute()[0])
        _struck.add((self.klaviyo_account, operation))
        return float(min(MAX_GUESSED_WAIT, DEFAULT_RETRY_AFTER * 2.0 ** (strikes - 1)))
