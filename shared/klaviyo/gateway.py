"""Every Klaviyo call goes through :meth:`Gateway.call`: limiter, SDK, metrics, errors.

``gateway.call("bulk_import_profiles", api.Profiles.bulk_import_profiles, body)``

1. takes one call from the shared limiter of (Klaviyo account, operation); when the budget
   is spent it raises :class:`RateLimited` at once (the caller re-enqueues; nobody sleeps);
2. calls the SDK (one HTTP request: see :mod:`shared.klaviyo.client`);
3. records the answer's status (``contact_sync_klaviyo_calls_total``; 429s also logged);
4. maps failures onto :mod:`shared.klaviyo.errors`; a 429 also blocks the operation for
   every worker until ``Retry-After`` has passed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import redis
import urllib3.exceptions
from openapi_client.exceptions import ApiException

from shared.klaviyo.errors import Conflict, KlaviyoError, RateLimited, Rejected, Transient
from shared.klaviyo.rate_limiter import RateLimiter
from shared.telemetry.metrics import record_klaviyo_call

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_RETRY_AFTER = 1.0
"""Seconds to wait after a 429 that carries no (integer) Retry-After."""
TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    urllib3.exceptions.HTTPError,
    ConnectionError,
    TimeoutError,
)


def _first_error(body: str | bytes | None) -> dict[str, Any]:
    try:
        data = json.loads(body or "{}")
        errors = data.get("errors") or [{}]
        first = errors[0]
        return first if isinstance(first, dict) else {}
    except (ValueError, AttributeError, TypeError):
        return {}


def retry_after_of(error: ApiException) -> float:
    raw = (error.headers or {}).get("Retry-After")
    if raw is None:
        return DEFAULT_RETRY_AFTER
    try:
        return max(0.0, float(int(raw)))
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER


def map_api_exception(operation: str, error: ApiException) -> KlaviyoError:
    """The hierarchy's exception for an SDK ``ApiException`` (not 429: see :meth:`call`)."""
    status = int(error.status or 0)
    first = _first_error(error.body)
    code = str(first.get("code") or "")
    title = str(first.get("title") or "")
    detail = str(first.get("detail") or "")
    if status == 409:
        meta = first.get("meta") or {}
        duplicate = meta.get("duplicate_profile_id") if isinstance(meta, dict) else None
        return Conflict(operation, code or "duplicate_profile", title, detail,
                        str(duplicate) if duplicate else None)
    if status >= 500 or status == 0:
        return Transient(operation, f"{status} {code}".strip(), status)
    return Rejected(operation, status, code, title, detail)


class Gateway:
    """Klaviyo calls of one Klaviyo account (``klaviyo_account``: a non-secret id)."""

    def __init__(self, client: redis.Redis, klaviyo_account: str,
                 limiter: RateLimiter | None = None) -> None:
        self.redis = client
        self.klaviyo_account = klaviyo_account
        self.limiter = limiter or RateLimiter(client)

    def call(self, operation: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
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
                self.limiter.block(self.klaviyo_account, operation, retry_in)
                log.info("klaviyo %s throttled: retry in %.0f s", operation, retry_in)
                raise RateLimited(operation, retry_in, by_klaviyo=True) from None
            raise map_api_exception(operation, error) from None
        except TRANSPORT_ERRORS as error:
            record_klaviyo_call(self.redis, operation, 0)
            raise Transient(operation, type(error).__name__) from None
        record_klaviyo_call(self.redis, operation, 200)
        return result
