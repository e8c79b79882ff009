"""Email normalisation and validation: the ONE place that decides what an email is.

Klaviyo matches emails case-insensitively (docs/KLAVIYO.md §2), so an address is
normalised once, here: trimmed and lower-cased as a whole. Validation is syntax only
(``email-validator``, no DNS lookups), so a batch never waits on the network to decide.

Klaviyo refuses some addresses that email-validator accepts (docs/KLAVIYO.md §2),
and one refused row costs a whole bulk job a round trip: those are refused here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

EMPTY_EMAIL = "empty email"
KLAVIYO_MAX_LENGTH = 100
"""Characters per email that Klaviyo accepts (its profile docs)."""
TOO_LONG = f"invalid email: longer than Klaviyo's {KLAVIYO_MAX_LENGTH} characters"
ONE_LETTER_TLD = "invalid email: Klaviyo refuses a one-letter top-level domain"
CACHE_SIZE = 65_536
"""Distinct addresses whose verdict is kept per process (~15 MB at most): the collector
judges each address of a contact's every change, the planner each member's, and the same
addresses come back change after change (email-validator costs ~25 us an address)."""


@dataclass(frozen=True)
class EmailCheck:
    """The outcome for one raw address: ``email`` (normalised) when valid, else ``reason``."""

    email: str | None
    reason: str | None = None

    @property
    def valid(self) -> bool:
        return self.email is not None


PLAIN_EMAIL = re.compile(
    r"[a-z0-9_+-]{1,64}(?:\.[a-z0-9_+-]+)*@"
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
"""A plain address (lower-case ASCII letters, digits, ``_+-`` and single dots before the @;
lower-case labels of letters, digits and inner hyphens, a top-level domain of 2 or more
letters after it) that email-validator and Klaviyo's rules accept whenever it is also at
most :data:`KLAVIYO_MAX_LENGTH` long, at most 64 before the @, free of ``--`` (IDNA's
rules) and outside the special-use domains. Such an address is accepted without
email-validator's ~25 us; anything else goes through it (tests/shared/test_emails.py
holds both to the same verdicts)."""
_SPECIAL_USE = tuple("." + d for d in SPECIAL_USE_DOMAIN_NAMES)
"""Each special-use domain with a dot before it: ``"." + domain`` ends with one of them
when the domain is one or under one (one ``endswith`` call, not a loop: the webhook judges
every new address, for the facets of the mirror it writes)."""
LOCAL_MAX_LENGTH = 64
"""Characters before the @ (RFC 5321)."""


def _plain(email: str) -> bool:
    if len(email) > KLAVIYO_MAX_LENGTH or "--" in email or not PLAIN_EMAIL.fullmatch(email):
        return False
    local, _, domain = email.partition("@")
    return len(local) <= LOCAL_MAX_LENGTH and not ("." + domain).endswith(_SPECIAL_USE)


def normalise_email(raw: str) -> str:
    """The form in which emails are compared and stored: trimmed, lower-cased."""
    return raw.strip().lower()


@lru_cache(maxsize=CACHE_SIZE)
def check_email(raw: str | None) -> EmailCheck:
    """Normalise and validate, by email-validator's rules and then by Klaviyo's stricter
    ones; the reason says why an address is refused (no address in it beyond what
    email-validator's message names). Judged once per distinct ``raw`` (an LRU cache of
    :data:`CACHE_SIZE`): the verdict depends on nothing else."""
    if raw is None or not raw.strip():
        return EmailCheck(None, EMPTY_EMAIL)
    email = normalise_email(raw)
    return EmailCheck(email) if _plain(email) else judge_email(email)


def judge_email(email: str) -> EmailCheck:
    """The verdict of email-validator and Klaviyo's rules on a normalised address."""
    try:
        valid = validate_email(email, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as error:
        return EmailCheck(None, f"invalid email: {error}")
    if len(email) > KLAVIYO_MAX_LENGTH:
        return EmailCheck(None, TOO_LONG)
    if len(valid.ascii_domain.rsplit(".", 1)[-1]) == 1:
        return EmailCheck(None, ONE_LETTER_TLD)
    return EmailCheck(email)
