"""``phonenumbers.parse`` for a phone written ``+`` and digits, the same answer in a fraction
of the time.

A first sync reads every contact's phone once (100,000 distinct numbers: the cache of
``shared/phones.py`` never hits), and ``phonenumbers.parse`` takes 35 to 60 microseconds a
number, most of it spent on text a clean phone does not have: a per-character Unicode digit
look-up (``normalize_digits_only``), extension, RFC 3966 and vanity-letter searches, trying
the number again without its ``+``. Almost every phone a shop holds is written ``+`` and
digits, often spaced (``+44 7911 123456``), and for that text every one of those steps is
known in advance. Here only that text is read; anything else is ``None`` and goes the
library's way, unchanged.

Why the answer is the library's, step by step of ``parse`` for ``+`` then ASCII digits,
spaces, dashes, dots and parentheses (at least three digits, at most 250 characters):
the text is its own possible number (no ``;phone-context=``, ``;isub=``, ``/`` or ``\\``;
trailing punctuation it trims is punctuation it would drop anyway); it is viable (``+``,
three or more digits, punctuation the library allows); no extension pattern can match
(each needs a letter, ``#``, ``,``, ``;``, ``~`` or ``x``); the region is never needed
(there is a ``+``); after the ``+`` the library keeps the digits alone, which cannot be
TOO_SHORT_AFTER_IDD (three or more). The country code is the first one to three digits
that are a code (codes are prefix-free, as in ``_extract_country_code``); with none, and no
metadata for the region, the library's second try without the ``+`` finds none either
(INVALID_COUNTRY_CODE); with region metadata that try might strip the region's
international prefix, so that case goes the library's way. The rest -- TOO_SHORT_NSN, the
national prefix (the library's own ``_maybe_strip_national_prefix_carrier_code``, kept only
when ``_test_number_length`` allows the result; skipped when the region's prefix pattern
does not match the start, as then the library strips nothing), TOO_LONG, the leading zeros
-- is the library's code in the library's order.

This mirrors ``parse`` of the ``phonenumbers`` in ``uv.lock`` (9.0.43):
``tests/shared/test_phone_parse.py`` holds the two to the same numbers and errors, and is
the test to re-run when the library is upgraded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumber
from phonenumbers.phonenumberutil import (
    _MAX_INPUT_STRING_LENGTH,
    _MAX_LENGTH_FOR_NSN,
    _MIN_LENGTH_FOR_NSN,
    COUNTRY_CODE_TO_REGION_CODE,
    ValidationResult,
    _maybe_strip_national_prefix_carrier_code,
    _set_italian_leading_zeros_for_phone_number,
    _test_number_length,
)

_PUNCTUATION = str.maketrans("", "", " -.()")
"""What a clean phone may be spaced with: in the library's ``_VALID_PUNCTUATION``, and in
none of its extension or second-number patterns."""
_MIN_DIGITS = 3
"""Fewer digits after a ``+`` are not viable to the library (NOT_A_NUMBER); left to it."""
_KEEP_UNSTRIPPED = (ValidationResult.TOO_SHORT, ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
                    ValidationResult.INVALID_LENGTH)


@dataclass(frozen=True)
class _Code:
    """What ``parse`` looks up for a country code once it has one."""

    code: int
    length: int
    region: str
    """``region_code_for_country_code``: the main region of the code (``001`` for +800)."""
    metadata: PhoneMetadata | None
    """The metadata ``parse`` reads the national number with unless the caller's region is
    ``region`` (then the caller's region's own, as the library does)."""


_CODES: dict[str, _Code] = {}
_NATIONAL_PREFIXES: dict[int, re.Pattern[str] | None] = {}


def _code(digits: str) -> _Code | None:
    """``_extract_country_code``: the first one to three digits that are a country code
    (none begins with 0, and none is the start of another)."""
    if digits[0] == "0":
        return None
    for length in (1, 2, 3):
        if (found := _CODES.get(digits[:length])) is not None:
            return found
        if (code := int(digits[:length])) in COUNTRY_CODE_TO_REGION_CODE:
            region = phonenumbers.region_code_for_country_code(code)
            metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
            found = _CODES[digits[:length]] = _Code(code, length, region, metadata)
            return found
    return None


def _national_prefix(metadata: PhoneMetadata) -> re.Pattern[str] | None:
    """The region's ``national_prefix_for_parsing``, compiled as the library compiles it;
    ``None`` when the region has none."""
    key = id(metadata)  # metadata objects live as long as the library
    if key not in _NATIONAL_PREFIXES:
        pattern = metadata.national_prefix_for_parsing
        _NATIONAL_PREFIXES[key] = re.compile(pattern) if pattern else None
    return _NATIONAL_PREFIXES[key]


def parse_international(text: str, region: str | None) -> PhoneNumber | None:
    """What ``phonenumbers.parse(text, region)`` returns or raises, for ``text`` written
    ``+`` and digits; ``None`` for any other text (read it with the library)."""
    if text[:1] != "+" or len(text) > _MAX_INPUT_STRING_LENGTH:
        return None
    digits = text[1:]
    if not (digits.isascii() and digits.isdigit()):
        digits = digits.translate(_PUNCTUATION)
        if not (digits.isascii() and digits.isdigit()):
            return None
    if len(digits) < _MIN_DIGITS:
        return None
    found = _code(digits)
    if found is None:
        if region is not None and PhoneMetadata.metadata_for_region(region.upper()) is not None:
            return None  # the library tries again without the +, reading the region's IDD
        raise NumberParseException(NumberParseException.INVALID_COUNTRY_CODE,
                                   "Could not interpret numbers after plus-sign.")
    national = digits[found.length:]
    metadata = (PhoneMetadata.metadata_for_region(region.upper(), None)
                if region is not None and found.region == region else found.metadata)
    if len(national) < _MIN_LENGTH_FOR_NSN:
        raise NumberParseException(NumberParseException.TOO_SHORT_NSN,
                                   "The string supplied is too short to be a phone number.")
    if metadata is not None and (prefix := _national_prefix(metadata)) is not None \
            and prefix.match(national):  # else the library strips nothing
        _, stripped, _ = _maybe_strip_national_prefix_carrier_code(national, metadata)
        if _test_number_length(stripped, metadata) not in _KEEP_UNSTRIPPED:
            national = stripped
    if len(national) > _MAX_LENGTH_FOR_NSN:
        raise NumberParseException(NumberParseException.TOO_LONG,
                                   "The string supplied is too long to be a phone number.")
    number = PhoneNumber(country_code=found.code, national_number=int(national))
    _set_italian_leading_zeros_for_phone_number(national, number)
    return number
