"""Who is calling: Klaviyo's three account errors, kept apart from contact errors.

No or a malformed ``Authorization`` scheme is 401 ``not_authenticated``; a wrong or revoked key
is 401 ``authentication_failed``; a key without the scope is 403 ``permission_denied``
(docs/KLAVIYO.md §7). A client must not take any of them for a bad contact. Both
``Klaviyo-API-Key <key>`` and ``Bearer <OAuth access token>`` are credentials.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.errors import ApiError
from sandbox.oauth_grants import OAuthServer
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


@dataclass(frozen=True)
class Caller:
    """Who called: the account (None when refused), the name its calls are counted under
    (its key, also for a Bearer token of its account), the quota its calls draw from, and
    the refusal. A private key draws from the account's quota; an OAuth app gets its own
    per installation (docs/OAUTH.md), so its quota is ``oauth:<client>:<key>``."""

    account: Account | None
    key: str
    quota: str
    refused: ApiError | None


def authenticate(store: Store, oauth: OAuthServer, header: str | None) -> Caller:
    """The caller of an ``/api`` request.

    A Bearer token is an OAuth access token; one the sandbox never issued, an expired one
    and one whose grant was revoked are all 401 ``authentication_failed``, like a wrong key.
    """
    found = credentials(header)
    if found is None:
        return Caller(None, "", "", not_authenticated())
    scheme, token = found
    if scheme == _BEARER:
        grant, _ = oauth.bearer(token)
        account = store.accounts.get(grant.account_key) if grant is not None else None
        if grant is None or account is None:
            return Caller(None, token, token, authentication_failed())
        key, quota = account.key, f"oauth:{grant.client_id}:{account.key}"
    else:
        account = store.accounts.get(token)
        key = quota = token
    if account is None or account.state == "revoked":
        return Caller(None, key, quota, authentication_failed())
    if account.state == "no_scope":
        return Caller(None, key, quota, permission_denied())
    return Caller(account, key, quota, None)
