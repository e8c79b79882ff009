"""Email normalisation and validation: the ONE place that decides what an email is.

Klaviyo matches emails case-insensitively (klaviyo-api.md section 4), so an address is
normalised once, here: trimmed and lower-cased as a whole. Validation is syntax only
(``email-validator``, no DNS lookups), so a batch never waits on the network to decide.

Klaviyo refuses some addresses that email-validator accepts (klaviyo-api.md section 11.2),
and one refused row costs a whole bulk job a round trip: those are refused here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

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
    try:
        valid = validate_email(email, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as error:
        return EmailCheck(None, f"invalid email: {error}")
    if len(email) > KLAVIYO_MAX_LENGTH:
        return EmailCheck(None, TOO_LONG)
    if len(valid.ascii_domain.rsplit(".", 1)[-1]) == 1:
        return EmailCheck(None, ONE_LETTER_TLD)
    return EmailCheck(email)
