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
SEP = r"[ .\-]"
PHONE = re.compile(
    r"(?<![\w+.\-])(?:"
    r"\+\d[\d ().\-]{5,}\d"                         # +44 20 7946 0958, +1 (415) 555-0100
    r"|\(?\d{3}\)?" + SEP + r"?\d{3}" + SEP + r"\d{4}"  # (415) 555-0100, 415.555.0100
    r"|[2-9]\d{2}[2-9]\d{6}"                           # 4155550100 (a NANP number)
    r"|\(?0\d{1,4}\)?(?:" + SEP + r"?\d{2,4}){1,3}"   # 020 7946 0958, 07700 900123
    r")(?![\w.\-]?\d)(?!\w)"
)
"""A phone number: E.164-like with its ``+`` (``+447700900123``, ``+1 (415) 555-0100``,
``(+44) 20 7946 0958``), or a national form: North American with separators or bare
(``415-555-0100``, ``415.555.0100``, ``4155550100``: area code and exchange 2-9, which no
epoch timestamp or count of ten digits starting with 1 is) and trunk-0 forms of 10 or 11
digits (``020 7946 0958``, ``07700 900123``). Other bare digit runs (ids, timestamps,
counts, dates) are left alone: :func:`_mask_phone` checks the number of digits."""
PHONE_DIGITS = {"+": range(7, 16), "0": range(10, 12), "": range(10, 11)}
KLAVIYO_KEY = re.compile(r"\bpk_[A-Za-z0-9_]{6,}")
"""A Klaviyo private API key (``pk_`` followed by its secret part)."""

BEARER = re.compile(r"\b(Bearer|refresh_token=|access_token=|code=)\s*[A-Za-z0-9._~+/=-]{8,}",
                    re.IGNORECASE)
"""An OAuth token as an ``Authorization`` value or a form field (``Bearer <token>``,
``refresh_token=...``): the token is masked, the word kept."""

MASKED_KEY = "pk_***"
MASKED_PHONE = "+***"


def mask_email(match: re.Match[str]) -> str:
    """``ann.lee@example.com`` -> ``a***@example.com``: the domain stays (it helps support)."""
    local, _, domain = match.group(0).rpartition("@")
    return f"{local[:1]}***@{domain}"


def _mask_phone(match: re.Match[str]) -> str:
    """``+***`` for a match with as many digits as its form has, else the text unchanged."""
    text = match.group(0)
    digits = sum(char.isdigit() for char in text)
    form = text.lstrip("(")[:1]
    allowed = PHONE_DIGITS.get(form if form in ("+", "0") else "", PHONE_DIGITS[""])
    return MASKED_PHONE if digits in allowed else text


def scrub_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with emails, phone numbers, Klaviyo keys, OAuth tokens and the given secret
    values masked."""
    for secret in secrets:
        if secret and len(secret) >= 6 and secret in text:
            text = text.replace(secret, "***")
    text = KLAVIYO_KEY.sub(MASKED_KEY, text)
    text = BEARER.sub(lambda found: f"{found.group(1)}***", text)
    text = EMAIL.sub(mask_email, text)
    return PHONE.sub(_mask_phone, text)


def has_personal_data(text: str) -> bool:
    """True when ``text`` still holds something :func:`scrub_text` would mask."""
    return scrub_text(text) != text
