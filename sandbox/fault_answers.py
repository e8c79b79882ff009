"""The bodies and headers of throttles, server errors and CDN challenges.

A 429 carries an integer ``Retry-After`` unless it is to be omitted: Klaviyo sometimes sends
none (docs/KLAVIYO.md §9), and then the detail says "Request was throttled." alone (no
wait known, ``retry_after`` 0) or with "Expected available in N second(s).". A CDN challenge
is a 403 in ``text/html`` with ``cf-mitigated: challenge`` (§11.9): not Klaviyo's JSON at all.
"""

from __future__ import annotations

from typing import Any

from sandbox.errors import ApiError

RATE_LIMIT_DOC = "https://developers.klaviyo.com/en/docs/rate_limits_and_error_handling"
CHALLENGE_HTML = (
    b"<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title>"
    b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\"></head>"
    b"<body><noscript>Enable JavaScript and cookies to continue</noscript></body></html>"
)


def throttled(seconds: int, with_retry_after: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """A 429: Klaviyo's envelope and, when asked, ``Retry-After: <seconds>``."""
    seconds = max(0, int(seconds))
    plural = "s" if seconds != 1 else ""
    detail = f"Request was throttled. Expected available in {seconds} second{plural}."
    if not with_retry_after and seconds == 0:
        detail = "Request was throttled."
    err = ApiError(429, detail, pointer="/data/")
    err.body["errors"][0]["links"] = {"type": RATE_LIMIT_DOC}
    return err.body, ({"Retry-After": str(seconds)} if with_retry_after else {})


def server_error(
    status: int, retry_after: int, with_retry_after: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    """A 500 or 503; a 503 may say when to come back (the SDK retries 503s, honouring it)."""
    err = ApiError(
        status,
        "A server error occurred." if status == 500 else "The service is temporarily unavailable.",
    )
    if status == 503 and with_retry_after:
        return err.body, {"Retry-After": str(max(0, int(retry_after)))}
    return err.body, {}


def cdn_challenge() -> tuple[bytes, dict[str, str]]:
    """A CDN challenge page: a 403 nobody at Klaviyo's API wrote; transient."""
    return CHALLENGE_HTML, {
        "content-type": "text/html; charset=UTF-8",
        "cf-mitigated": "challenge",
    }
