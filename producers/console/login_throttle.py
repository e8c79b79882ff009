"""At most :data:`FAILURES_ALLOWED` failed operator logins per client address per
:data:`WINDOW_S`: a console token cannot be guessed by trying (docs/SECURITY.md).

Counted in Redis, so every web process counts alike; keyed by a hash of the address the
web sees (behind a proxy, the proxy's unless uvicorn is told to trust its
``X-Forwarded-For``: ``--forwarded-allow-ips``). A client over the limit gets a 429 with
``Retry-After`` before its token is even compared; a successful login does not reset the
count (a guesser who also holds a token gains nothing)."""

from __future__ import annotations

import hashlib

import redis
from fastapi import Request

from shared import constants as keys

FAILURES_ALLOWED = 10
WINDOW_S = 600


def _client(request: Request) -> str:
    address = request.client.host if request.client else "unknown"
    return hashlib.sha256(address.encode()).hexdigest()[:16]


def wait_s(client: redis.Redis, request: Request) -> int:
    """Seconds this client must wait before trying again; 0: it may try now."""
    key = keys.console_login_failures(_client(request))
    failures = client.get(key)
    if failures is None or int(failures) < FAILURES_ALLOWED:
        return 0
    return max(1, int(client.ttl(key)))


def failed(client: redis.Redis, request: Request) -> None:
    """Count a failed login of this client (the window starts at its first failure)."""
    key = keys.console_login_failures(_client(request))
    with client.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, WINDOW_S, nx=True)
        pipe.execute()
