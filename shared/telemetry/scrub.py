"""Masking personal data (emails, phone numbers) and secrets (Klaviyo keys) in text.

One place for the patterns, used by the log filter, Sentry's ``before_send`` and the
operator commands that print stored errors (``dlq``, ``rejected``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

EMAIL = re.compile(r"[^\s'\"<>(),;:\[\]{}]+@[^\s'\"<>(),;:\[\]{}]*[A-Za-z0-9]")
"""Anything shaped like an email address, valid or not (``ann@@example.com`` is what
Klaviyo quotes when it refuses one): a word with an ``@`` in it."""
PHONE = re.compile(
    r"(?<![\w+])(?:\+\d[\d ()\-]{5,}\d|\(?\d{3}\)?[ \-]\d{3}[ \-]\d{4}|0\d{3,4} ?\d{6})(?!\w)"
)
"""A phone number: E.164-like with its ``+`` (``+447700900123``, ``+1 (415) 555-0100``), or a
national form (``(415) 555-0100``, ``415-555-0100``, ``07700 900123``). Bare digit runs
(ids, epoch timestamps, counts) are left alone."""
KLAVIYO_KEY = re.compile(r"\bpk_[A-Za-z0-9_]{6,}")
"""A Klaviyo private API key (``pk_`` followed by its secret part)."""

MASKED_KEY = "pk_***"
MASKED_PHONE = "+***"


def mask_email(match: re.Match[str]) -> str:
    """``ann.lee@example.com`` -> ``a***@example.com``: the domain stays (it helps support)."""
    local, _, domain = match.group(0).rpartition("@")
    return f"{local[:1]}***@{domain}"


def scrub_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with emails, phone numbers, Klaviyo keys and the given secret values masked."""
    for secret in secrets:
        if secret and len(secret) >= 6 and secret in text:
            text = text.replace(secret, "***")
    text = KLAVIYO_KEY.sub(MASKED_KEY, text)
    text = EMAIL.sub(mask_email, text)
    return PHONE.sub(MASKED_PHONE, text)


def has_personal_data(text: str) -> bool:
    """True when ``text`` still holds something :func:`scrub_text` would mask."""
    return scrub_text(text) != text
