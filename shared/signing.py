"""HMAC signing of request bodies: ``X-Sync-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``.

Pure functions shared by the inbound webhook (``producers.signature`` verifies) and the
reverse sync's POSTs to the CRM (``workers.reverse.crm_delivery`` signs), so both directions
sign exactly alike.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Sync-Signature"
SCHEME = "v1"


def compute(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>." + body`` under ``secret``."""
    message = b"%d." % timestamp + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value a sender puts in ``X-Sync-Signature``."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},{SCHEME}={compute(secret, t, body)}"
