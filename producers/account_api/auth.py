"""Bearer tokens of the account API: one of ``SYNC_API_TOKENS`` (several at once while
rotating), compared in constant time. A missing or wrong one is a 401 problem; the token is
never logged or echoed."""

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


def bearer_check(tokens: list[str]) -> Callable[[Request], None]:
    configured = list(tokens)

    def check(request: Request) -> None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
        if not token_matches(given.strip(), configured):
            raise Unauthorized("the bearer token is not one of SYNC_API_TOKENS")

    return check
