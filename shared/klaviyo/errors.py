"""One exception hierarchy for every Klaviyo call (raised by :mod:`shared.klaviyo.gateway`).

What the caller should do is the class, not the HTTP status::

    KlaviyoError            anything that went wrong talking to Klaviyo
    +-- RateLimited         wait ``retry_in`` seconds, then send the same call again
    |                       (our limiter said so, or Klaviyo answered 429)
    +-- Transient           5xx, timeout, dropped connection: retry with backoff
    |                       (an HTML 403 from Klaviyo's CDN, ``cf-mitigated``, too)
    +-- Rejected            4xx: Klaviyo refused this request; retrying won't help
        +-- Conflict        409 duplicate_profile: an identifier belongs to another profile
        |                   (``duplicate_profile_id`` when Klaviyo names it)
        +-- AccountRefused  401/403: the account's credentials are refused (wrong or
            |               revoked key, missing scope). Not a contact problem: the
            |               account is parked, its contacts wait.
            +-- ReconnectNeeded  an OAuth account whose refresh Klaviyo refused
                            (``invalid_grant``) or that has no tokens: it waits for a new
                            connection.

``Rejected.errors`` holds every error of Klaviyo's answer (:class:`ApiError`: code, title,
detail, pointer); a refused bulk job names its bad rows there by pointer.

Messages hold the operation, status and Klaviyo's code/title -- never the request body,
so no email or phone reaches logs or Sentry through them. ``detail`` (Klaviyo's sentence,
which may quote a value) is an attribute, not part of ``str(error)``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ApiError:
    """One entry of a JSON:API ``errors`` array."""

    code: str
    title: str
    detail: str
    pointer: str = ""


class KlaviyoError(Exception):
    """A Klaviyo call failed."""

    def __init__(self, operation: str, message: str) -> None:
        super().__init__(f"{operation}: {message}")
        self.operation = operation


class RateLimited(KlaviyoError):
    """Not now: try again in ``retry_in`` seconds."""

    def __init__(self, operation: str, retry_in: float, *, by_klaviyo: bool = False) -> None:
        source = "Klaviyo answered 429" if by_klaviyo else "rate limiter"
        super().__init__(operation, f"{source}: retry in {retry_in:.2f} s")
        self.retry_in = retry_in
        self.by_klaviyo = by_klaviyo


class Transient(KlaviyoError):
    """A failure that a later retry may not meet (5xx, timeout, connection dropped)."""

    def __init__(self, operation: str, message: str, status: int | None = None) -> None:
        super().__init__(operation, message)
        self.status = status


class Rejected(KlaviyoError):
    """Klaviyo refused the request (4xx other than 429)."""

    def __init__(
        self, operation: str, status: int, code: str, title: str = "", detail: str = "",
        errors: tuple[ApiError, ...] = (),
    ) -> None:
        super().__init__(operation, f"{status} {code}: {title}".rstrip(": "))
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = errors


class Conflict(Rejected):
    """409 duplicate_profile: the identifier is another profile's."""

    def __init__(
        self, operation: str, code: str, title: str, detail: str,
        duplicate_profile_id: str | None,
    ) -> None:
        super().__init__(operation, 409, code, title, detail)
        self.duplicate_profile_id = duplicate_profile_id


class AccountRefused(Rejected):
    """401/403: Klaviyo refuses the account's credentials (``code``: ``not_authenticated``,
    ``authentication_failed`` or ``permission_denied``)."""


class ReconnectNeeded(AccountRefused):
    """An OAuth account that cannot get an access token: Klaviyo refused its refresh token
    (``invalid_grant``: the app was uninstalled or the grant revoked), or it holds none."""

    def __init__(self, operation: str, detail: str) -> None:
        super().__init__(operation, 401, "invalid_grant", "Klaviyo refused the OAuth refresh",
                         detail)
