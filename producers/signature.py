"""The webhook's signature: ``X-Sync-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``.

The HMAC is computed with a shared secret over ``"<t>." + raw body``. Several secrets may
be active at once (rotation) and a header may carry several ``v1=`` values (the CRM signing
with the old and the new secret while they rotate). A timestamp further than
:data:`TOLERANCE_SECONDS` from now is refused, so a captured request cannot be replayed
later. Error messages say what is wrong, never a secret or an expected value.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Sequence

from shared.signing import HEADER, SCHEME, compute, sign

__all__ = ["HEADER", "SCHEME", "TOLERANCE_SECONDS", "SignatureError", "check_header", "compute",
           "parse", "sign", "verify"]

TOLERANCE_SECONDS = 300
_HEX = frozenset("0123456789abcdef")


class SignatureError(Exception):
    """The request's signature is missing, malformed, stale or matches no active secret."""


def parse(header: str) -> tuple[int, list[str]]:
    """``(timestamp, [v1 signatures])`` of a header value, or :class:`SignatureError`."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if name == "t":
            if not value.isascii() or not value.isdigit() or len(value) > 12:
                raise SignatureError(
                    f"malformed {HEADER} header: t must be the unix time in seconds"
                )
            timestamp = int(value)
        elif name == SCHEME:
            value = value.lower()
            if len(value) != 64 or not _HEX.issuperset(value):
                raise SignatureError(
                    f"malformed {HEADER} header: {SCHEME} must be 64 hex digits (HMAC-SHA256)"
                )
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError(
            f"malformed {HEADER} header: expected t=<unix seconds>,{SCHEME}=<hex HMAC-SHA256>"
        )
    return timestamp, signatures


def check_header(
    header: str | None, now: float | None = None, tolerance: int = TOLERANCE_SECONDS
) -> tuple[int, list[str]]:
    """What can be checked before the body is read: the header is there, well-formed and
    fresh. Returns :func:`parse`'s ``(timestamp, signatures)``; raises
    :class:`SignatureError`. The web refuses such a request without reading its body."""
    if not header or not header.strip():
        raise SignatureError(f"missing {HEADER} header")
    timestamp, signatures = parse(header)
    current = time.time() if now is None else now
    skew = abs(current - timestamp)
    if skew > tolerance:
        raise SignatureError(
            f"stale {HEADER}: timestamp is {int(skew)} s away from the server's clock "
            f"(at most {tolerance} s allowed); sign each request when it is sent"
        )
    return timestamp, signatures


def verify(
    header: str | None,
    body: bytes,
    secrets: Sequence[str],
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> None:
    """Raise :class:`SignatureError` unless ``header`` signs ``body`` with an active secret
    at a time within ``tolerance`` seconds of ``now``."""
    timestamp, signatures = check_header(header, now, tolerance)
    matched = False
    for secret in secrets:
        expected = compute(secret, timestamp, body).encode()
        for candidate in signatures:
            # Compare every pair (no early exit) so timing says nothing about which matched.
            matched |= hmac.compare_digest(expected, candidate.encode())
    if not matched:
        raise SignatureError(
            f"{HEADER} does not match the body under any active secret "
            "(wrong secret, or the body was changed after signing)"
        )
