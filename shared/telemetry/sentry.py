"""Sentry for every process, when ``SENTRY_DSN`` is set -- with no personal data in events.

Call :func:`init_sentry` at process start, and in a worker BEFORE the Dramatiq broker is
created: sentry-sdk's ``DramatiqIntegration`` patches ``Broker.__init__`` to add its
middleware (it reports failed messages with their arguments -- ids only, by design).

Every event and transaction goes through :func:`scrub_event`, which walks the whole event
(messages, exception values, breadcrumbs, extra...) and masks emails, phone numbers,
Klaviyo keys (``pk_...``) and every configured secret value. Names have no shape a pattern
could recognise, so what may carry them is not collected at all (:data:`DATA_COLLECTION`):
no user info, cookies, request headers (``x-sync-signature``) or bodies, no Redis command
arguments (the webhook's ``EVALSHA`` carries the whole batch), no queue payloads and no
stack locals. sentry-sdk 2.x fills every field left out of an explicit ``data_collection``
with its "collect" default, hence every field is spelled out; and, should an integration
collect anyway, :func:`scrub_event` keeps only a request's method and path and a Redis
breadcrumb's or span's command name.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import sentry_sdk
from sentry_sdk.integrations.dramatiq import DramatiqIntegration

from shared.settings import Settings
from shared.telemetry.logs import secrets_of
from shared.telemetry.scrub import scrub_text

if TYPE_CHECKING:
    from sentry_sdk._types import DataCollectionUserOptions

MAX_DEPTH = 50
KEPT_AS_IS = ("release", "environment", "event_id", "timestamp", "sdk")
DATA_COLLECTION: DataCollectionUserOptions = {
    "user_info": False, "cookies": {"mode": "off"}, "http_headers": {"request": {"mode": "off"}},
    "http_bodies": [], "url_query_params": {"mode": "off"},
    "graphql": {"document": False, "variables": False},
    "gen_ai": {"inputs": False, "outputs": False}, "database_query_data": False,
    "queues": False, "stack_frame_variables": False,
}
"""Everything sentry-sdk could collect beyond the error itself, off (see the docstring)."""
REQUEST_KEPT = ("method", "url")


def release() -> str:
    """``contact-sync@<package version>``."""
    try:
        return f"contact-sync@{version('contact-sync')}"
    except PackageNotFoundError:
        return "contact-sync@unknown"


def scrub_string(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` masked; a text with ``%`` escapes is masked in its decoded form too, twice
    decoded (issue 19: an httplib breadcrumb's ``http.query`` keeps ``ann%40example.com``,
    which no pattern matches): when that finds something, the decoded text, masked, is
    what Sentry gets."""
    masked = scrub_text(text, secrets)
    if "%" not in text:
        return masked
    decoded = unquote(unquote(text))
    decoded_masked = scrub_text(decoded, secrets)
    return decoded_masked if decoded_masked != decoded else masked


def without_query(url: str) -> str:
    """``url`` without its query string and fragment."""
    return url.split("?", 1)[0].split("#", 1)[0]


def scrub_value(value: Any, secrets: Iterable[str] = (), depth: int = 0) -> Any:
    """``value`` with every string in it (keys of mappings too) masked."""
    if depth > MAX_DEPTH:
        return "[deep value removed]"
    if isinstance(value, str):
        return scrub_string(value, secrets)
    if isinstance(value, dict):
        return {
            scrub_value(key, secrets, depth + 1) if isinstance(key, str) else key:
            scrub_value(item, secrets, depth + 1) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(scrub_value(item, secrets, depth + 1) for item in value)
    if isinstance(value, bytes | bytearray):
        return scrub_string(bytes(value).decode("utf-8", "replace"), secrets)
    return value


def _command_only(entry: dict[str, Any], text_field: str, command: Any) -> None:
    """A Redis breadcrumb or span reduced to its command name (no key, no arguments)."""
    if isinstance(command, str) and command:
        entry[text_field] = command
    else:
        entry.pop(text_field, None)
    data = entry.get("data")
    if isinstance(data, dict):
        entry["data"] = {k: v for k, v in data.items()
                         if k in ("redis.command", "db.operation", "db.system", "redis.is_cluster")}


URL_DATA_DROPPED = ("http.query", "http.fragment")


def _url_only(entry: dict[str, Any], text_field: str) -> None:
    """An HTTP breadcrumb or span (``httplib``, ``http.client``) without the query string
    and fragment of its URL: Klaviyo filters carry emails and phones there."""
    data = entry.get("data")
    if isinstance(data, dict):
        for name in URL_DATA_DROPPED:
            data.pop(name, None)
        for name in ("url", "http.url"):
            if isinstance(data.get(name), str):
                data[name] = without_query(data[name])
    text = entry.get(text_field)
    if isinstance(text, str) and ("?" in text or "#" in text):
        entry[text_field] = " ".join(without_query(word) if "://" in word or
                                     word.startswith("/") else word
                                     for word in text.split(" "))


def strip_collected(event: dict[str, Any]) -> dict[str, Any]:
    """Drop what may carry personal data no pattern recognises: the user block, a request's
    headers, cookies, body and query string, Redis arguments in breadcrumbs and spans, the
    query string and fragment of every other breadcrumb's and span's URL, and the command
    line's arguments (``--klaviyo-key ...``)."""
    event.pop("user", None)
    request = event.get("request")
    if isinstance(request, dict):
        event["request"] = {k: request[k] for k in REQUEST_KEPT if k in request}
        if isinstance(event["request"].get("url"), str):
            event["request"]["url"] = without_query(event["request"]["url"])
    crumbs = event.get("breadcrumbs")
    values = crumbs.get("values") if isinstance(crumbs, dict) else crumbs
    for crumb in values if isinstance(values, list) else []:
        if isinstance(crumb, dict) and crumb.get("category") == "redis":
            data = crumb.get("data")
            _command_only(crumb, "message",
                          data.get("redis.command") if isinstance(data, dict) else None)
        elif isinstance(crumb, dict):
            _url_only(crumb, "message")
    for span in event.get("spans") or []:
        if isinstance(span, dict) and str(span.get("op", "")).startswith(("db", "cache")):
            data = span.get("data")
            _command_only(span, "description",
                          data.get("db.operation") if isinstance(data, dict) else None)
        elif isinstance(span, dict):
            _url_only(span, "description")
    extra = event.get("extra")
    if isinstance(extra, dict) and isinstance(extra.get("sys.argv"), list):
        extra["sys.argv"] = extra["sys.argv"][:2]
    return event


def scrub_event(event: dict[str, Any], secrets: Iterable[str] = ()) -> dict[str, Any]:
    """The whole event stripped (:func:`strip_collected`), then masked."""
    cleaned: dict[str, Any] = strip_collected(scrub_value(event, tuple(secrets)))
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
        environment=settings.environment,
        integrations=[DramatiqIntegration()],
        # The successor of send_default_pii=False (deprecated in sentry-sdk 2.7x); every
        # field explicit, since an omitted one means "collect" (module docstring).
        data_collection=DATA_COLLECTION,
        before_send=before_send,
        before_send_transaction=before_send,
        max_request_body_size="never",
        # No sentry-trace/baggage headers on calls to Klaviyo or the CRM: third parties
        # get no trace ids, release or environment of ours (issue 19, finding 9).
        trace_propagation_targets=[],
    )
    sentry_sdk.set_tag("process", process_name)
    return True
