"""Sentry for every process, when ``SENTRY_DSN`` is set -- with no personal data in events.

Call :func:`init_sentry` at process start, and in a worker BEFORE the Dramatiq broker is
created: sentry-sdk's ``DramatiqIntegration`` patches ``Broker.__init__`` to add its
middleware (it reports failed messages with their arguments -- ids only, by design).

Every event and transaction goes through :func:`scrub_event`, which walks the whole event
(messages, exception values, stack locals, breadcrumbs, extra, request data...) and masks
emails, phone numbers, Klaviyo keys (``pk_...``) and every configured secret value.
No user info (IPs, cookies), no request bodies (``data_collection``, the successor of
``send_default_pii=False``) and no stack locals (``stack_frame_variables``: a frame's
locals may hold a whole contact, names included, which no pattern recognises) are collected.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.dramatiq import DramatiqIntegration

from shared.settings import Settings
from shared.telemetry.logs import secrets_of
from shared.telemetry.scrub import scrub_text

DEFAULT_ENVIRONMENT = "production"
MAX_DEPTH = 50
KEPT_AS_IS = ("release", "environment", "event_id", "timestamp", "sdk")


def release() -> str:
    """``contact-sync@<package version>``."""
    try:
        return f"contact-sync@{version('contact-sync')}"
    except PackageNotFoundError:
        return "contact-sync@unknown"


def scrub_value(value: Any, secrets: Iterable[str] = (), depth: int = 0) -> Any:
    """``value`` with every string in it (keys of mappings too) masked."""
    if depth > MAX_DEPTH:
        return "[deep value removed]"
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, dict):
        return {
            scrub_value(key, secrets, depth + 1) if isinstance(key, str) else key:
            scrub_value(item, secrets, depth + 1) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(scrub_value(item, secrets, depth + 1) for item in value)
    if isinstance(value, bytes | bytearray):
        return scrub_text(bytes(value).decode("utf-8", "replace"), secrets)
    return value


def scrub_event(event: dict[str, Any], secrets: Iterable[str] = ()) -> dict[str, Any]:
    """The whole event, masked; the user block (IP, email) dropped altogether."""
    cleaned: dict[str, Any] = scrub_value(event, tuple(secrets))
    cleaned.pop("user", None)
    for ours in KEPT_AS_IS:  # set by us, hold no personal data (``name@version`` looks
        if ours in event:    # like an email to the scrubber)
            cleaned[ours] = event[ours]
    return cleaned


def init_sentry(settings: Settings, process_name: str) -> bool:
    """Start Sentry for this process when ``SENTRY_DSN`` is set; True when started."""
    if not settings.sentry_dsn:
        return False
    secrets = tuple(secrets_of(settings))

    def before_send(event: Any, _hint: Any) -> Any:
        return scrub_event(event, secrets)

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        release=release(),
        environment=os.environ.get("SYNC_ENVIRONMENT") or DEFAULT_ENVIRONMENT,
        integrations=[DramatiqIntegration()],
        # The successor of send_default_pii=False (deprecated in sentry-sdk 2.7x): no user
        # info (IP, cookies), no request bodies, no stack locals -- a worker's frames hold
        # whole profiles (names, job titles, custom properties) that the pattern scrubber
        # cannot recognise. (With data_collection set, include_local_variables is ignored.)
        data_collection={"user_info": False, "http_bodies": [],
                         "stack_frame_variables": False},
        before_send=before_send,
        before_send_transaction=before_send,
        max_request_body_size="never",
    )
    sentry_sdk.set_tag("process", process_name)
    return True
