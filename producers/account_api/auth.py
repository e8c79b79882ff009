"""Bearer tokens of the account API: one of ``SYNC_API_TOKENS`` (several at once while
rotating), compared in constant time. A missing or wrong one is a 401 problem; the token is
never logged or echoed. :mod:`producers.request_guard` checks the header before a body is
read; the route dependency (:func:`bearer_check`) checks it again and documents it."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Request

from shared.account_service.errors import ServiceError


class Unauthorized(ServiceError):
    status = 401
    title = "Unauthorized"


def token_matches(given: str, tokens: list[str]) -> bool:
    """True when ``given`` is one of ``tokens``; every token is compared (constant time)."""
    found = False
    for token in tokens:
        found |= hmac.compare_digest(given.encode(), token.encode())
    return found


def refusal(authorization: str | None, tokens: list[str]) -> str | None:
    """Why the ``Authorization`` header value is refused; ``None``: one of ``tokens``."""
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return "missing bearer token: send 'Authorization: Bearer <token>'"
    if not token_matches(given.strip(), tokens):
        return "the bearer token is not one of SYNC_API_TOKENS"
    return None


def bearer_check(tokens: list[str]) -> Callable[[Request], None]:
    configured = list(tokens)

    def check(request: Request) -> None:
        refused = refusal(request.headers.get("authorization"), configured)
        if refused:
            raise Unauthorized(refused)

    return check
