"""Phone normalisation: the ONE place that decides what a phone is (docs/ARCHITECTURE.md §1).

Klaviyo wants phones in E.164 (``+447946012300``); peers normalise with libphonenumber
before sending (docs/KLAVIYO.md §3), and so does this, through ``phonenumbers``.
A number written with a country code (a leading ``+``, or the international prefix ``00``)
is read as it is; one without is read in the account's phone region (an ISO 3166 alpha-2
code such as ``GB``), and without a region it cannot be read at all. A number that cannot
be read is left off the profile with a reason; the contact still syncs by its email.
A number written ``+`` and digits (most of them) is read by ``shared/phone_parse.py``,
``phonenumbers.parse``'s answer several times faster; validity is ``shared/phone_validity.py``.

Reasons never quote the number: they are counted and shown, and a phone is personal data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber

from shared.phone_parse import parse_international
from shared.phone_validity import is_valid_number

NO_REGION = "phone has no country code and the account has no phone region"
NOT_A_PHONE = "not a phone number"
NOT_VALID = "not a valid phone number"
UNKNOWN_COUNTRY_CODE = "not a valid phone number: unknown country code"
TOO_SHORT = "not a valid phone number: too short"
TOO_LONG = "not a valid phone number: too long"
E164_MAX_LENGTH = 16
"""``+`` and at most 15 digits (ITU-T E.164)."""
UNKNOWN_REGION = "the account's phone region is not a country known for phones"

PHONE_REGIONS: frozenset[str] = frozenset(phonenumbers.SUPPORTED_REGIONS)
"""The ISO 3166 alpha-2 codes that ``phonenumbers`` can read national numbers in."""
CACHE_SIZE = 65_536
"""Checks remembered per process: parsing and validating costs tens of microseconds, and
a batch holds up to 10,000 contacts, many sharing a number (a switchboard)."""

_PARSE_REASONS: dict[int, str] = {
    NumberParseException.NOT_A_NUMBER: NOT_A_PHONE,
    NumberParseException.INVALID_COUNTRY_CODE: UNKNOWN_COUNTRY_CODE,
    NumberParseException.TOO_SHORT_AFTER_IDD: TOO_SHORT,
    NumberParseException.TOO_SHORT_NSN: TOO_SHORT,
    NumberParseException.TOO_LONG: TOO_LONG,
}


@dataclass(frozen=True)
class PhoneCheck:
    """The outcome for one raw phone: ``e164`` when readable, else ``reason`` (``None``
    for both when there was no phone)."""

    e164: str | None
    reason: str | None


NO_PHONE = PhoneCheck(None, None)


def check_phone_region(value: object) -> str | None:
    """A phone region as stored: upper-cased, ``None`` when empty. Raises ``ValueError``
    for anything that is not an ISO 3166 alpha-2 code known to ``phonenumbers`` (used by
    the settings and the accounts, so both refuse the same values with the same words)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("must be a two-letter ISO 3166 country code, e.g. GB or US")
    region = value.strip().upper()
    if not region:
        return None
    if region not in PHONE_REGIONS:
        raise ValueError(f"must be a two-letter ISO 3166 country code known for phones, "
                         f"e.g. GB or US (not {region[:8]!r})")
    return region


def normalise_phone(raw: str | None, region: str | None) -> PhoneCheck:
    """``raw`` in E.164, read in ``region`` when it has no country code; or why not.

    Blank or ``None``: no phone, no reason. An extension (``ext. 12``) is not part of
    E.164 and is dropped."""
    if raw is None:
        return NO_PHONE
    return _normalise(raw, (region or "").strip().upper() or None)


@lru_cache(maxsize=CACHE_SIZE)
def _normalise(raw: str, region: str | None) -> PhoneCheck:
    return read_phone(raw, region)


Parse = Callable[[str, str | None], PhoneNumber]
"""How a phone's text is read into a number: ``phonenumbers.parse`` or ``parse_phone``."""


def parse_phone(text: str, region: str | None) -> PhoneNumber:
    """``phonenumbers.parse(text, region)``; a phone written ``+`` and digits is read by the
    fast path of ``shared/phone_parse.py`` (the same number or error, several times faster)."""
    number = parse_international(text, region)
    return phonenumbers.parse(text, region) if number is None else number


def read_phone(raw: str, region: str | None, parse: Parse = parse_phone) -> PhoneCheck:
    """``normalise_phone`` uncached, ``raw`` read with ``parse`` (the tests pass
    ``phonenumbers.parse`` to hold the fast path to the library's way)."""
    text = raw.strip()
    if not text:
        return NO_PHONE
    if text.startswith("00"):
        text = "+" + text[2:]  # the international prefix of most countries
    try:
        # With a country code the region is ignored; junk is refused before the region
        # is looked at, so "n/a" is "not a phone number" with or without a region.
        number = parse(text, region)
    except NumberParseException as error:
        return PhoneCheck(None, _parse_reason(error, text, region))
    if not is_valid_number(number):
        return PhoneCheck(None, NOT_VALID)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if len(e164) > E164_MAX_LENGTH:  # phonenumbers takes some numbers E.164 has no room for
        return PhoneCheck(None, TOO_LONG)
    return PhoneCheck(e164, None)


def _parse_reason(error: NumberParseException, text: str, region: str | None) -> str:
    if error.error_type == NumberParseException.INVALID_COUNTRY_CODE and not (
        "+" in text or "\uff0b" in text  # the full-width plus counts too
    ):
        # No country code written, so the region was needed.
        return NO_REGION if region is None else UNKNOWN_REGION
    return _PARSE_REASONS.get(error.error_type, NOT_A_PHONE)
