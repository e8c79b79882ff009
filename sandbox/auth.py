"""Who is calling: Klaviyo's three account errors, kept apart from contact errors.

No or a malformed ``Authorization`` scheme is 401 ``not_authenticated``; a wrong or revoked key
is 401 ``authentication_failed``; a key without the scope is 403 ``permission_denied``
(klaviyo-api.md §11.8). A client must not take any of them for a bad contact.
"""

from __future__ import annotations

from sandbox.errors import ApiError
from sandbox.store import Account, Store

NOT_AUTHENTICATED = "Authentication credentials were not provided."
AUTHENTICATION_FAILED = "Incorrect authentication credentials."
PERMISSION_DENIED = "You do not have permission to perform this action."

_KEY_SCHEME = "klaviyo-api-key"
_BEARER = "bearer"


def not_authenticated() -> ApiError:
    """401 ``not_authenticated``: no credentials, or not in a scheme Klaviyo knows."""
    return ApiError(
        401, NOT_AUTHENTICATED, code="not_authenticated", title=NOT_AUTHENTICATED
    )


def authentication_failed() -> ApiError:
    """401 ``authentication_failed``: a well-formed but wrong or revoked key."""
    return ApiError(
        401, AUTHENTICATION_FAILED, code="authentication_failed", title=AUTHENTICATION_FAILED
    )


def permission_denied() -> ApiError:
    """403 ``permission_denied``: the key lacks the operation's scope."""
    return ApiError(403, PERMISSION_DENIED, code="permission_denied", title=PERMISSION_DENIED)


def credentials(header: str | None) -> tuple[str, str] | None:
    """``(scheme, token)`` of an ``Authorization`` header (scheme lower-cased), or None when
    it is missing or malformed (no token, unknown scheme)."""
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    if not token or scheme.lower() not in (_KEY_SCHEME, _BEARER):
        return None
    return scheme.lower(), token


def authenticate(store: Store, header: str | None) -> tuple[Account | None, str, ApiError | None]:
    """The caller's account, the key to count the call under, and the refusal (if any).

    A Bearer token is a well-formed credential the sandbox never issued (it has no OAuth),
    so it fails authentication rather than being "not provided".
    """
    found = credentials(header)
    if found is None:
        return None, "", not_authenticated()
    scheme, token = found
    account = store.accounts.get(token) if scheme == _KEY_SCHEME else None
    if account is None:
        return None, token, authentication_failed()
    if account.state == "revoked":
        return None, token, authentication_failed()
    if account.state == "no_scope":
        return None, token, permission_denied()
    return account, token, None
