"""``phonenumbers.is_valid_number``, the same answer in a fraction of the time.

The library decides validity by matching the national number against up to ten patterns of
its region one after another (``_number_type_helper``), twice for a country code several
regions share (+44: GB, GG, IM, JE): about 60 microseconds a number, most of the planning
time of a first sync. Here the patterns of a region that can apply to a number of that
length are joined into one alternation, compiled once: a number is valid when it matches
the region's general pattern and the joined one, which is exactly when one of the
library's patterns matches (a full match of ``(?:a)|(?:b)`` is a full match of ``a`` or of
``b``). ``tests/shared/test_phone_validity.py`` holds the two to the same answers.
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE, country_code_for_valid_region

NON_GEO_REGION = "001"
"""``phonenumbers``' region code of non-geographic numbers (+800, +808, ...)."""

TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager",
         "uan", "voicemail", "fixed_line", "mobile")
"""The number types of ``_number_type_helper``; a number of none of them is invalid."""
_Patterns = tuple["re.Pattern[str] | None", "re.Pattern[str] | None"]
_compiled: dict[tuple[int, int], _Patterns] = {}


def _applies(desc: Any, length: int) -> bool:
    """``_is_number_matching_desc`` before its pattern: a desc with a pattern whose lengths
    (none listed = any) allow this one."""
    return (desc is not None and bool(desc.national_number_pattern)
            and (not desc.possible_length or length in desc.possible_length))


def _patterns(metadata: Any, length: int) -> _Patterns:
    key = (id(metadata), length)  # metadata objects live as long as the library
    if key not in _compiled:
        general = metadata.general_desc
        types = [desc.national_number_pattern for name in TYPES
                 if _applies(desc := getattr(metadata, name), length)]
        _compiled[key] = (
            re.compile(general.national_number_pattern) if _applies(general, length) else None,
            re.compile("|".join(f"(?:{p})" for p in types)) if types else None)
    return _compiled[key]


def _known_type(national: str, metadata: Any) -> bool:
    """``_number_type_helper(national, metadata) != UNKNOWN``."""
    general, types = _patterns(metadata, len(national))
    return (general is not None and types is not None and general.fullmatch(national) is not None
            and types.fullmatch(national) is not None)


def _region(number: PhoneNumber, national: str) -> str | None:
    """``region_code_for_number``."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(number.country_code or 0)
    if not regions:
        return None
    if len(regions) == 1:
        return str(regions[0])
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            if re.match(metadata.leading_digits, national):
                return str(region)
        elif _known_type(national, metadata):
            return str(region)
    return None


def is_valid_number(number: PhoneNumber) -> bool:
    """What ``phonenumbers.is_valid_number(number)`` answers."""
    national = phonenumbers.national_significant_number(number)
    region = _region(number, national)
    if region is None:
        return False
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(number.country_code or 0,
                                                                 region.upper())
    if metadata is None or (region != NON_GEO_REGION
                            and number.country_code != country_code_for_valid_region(region)):
        return False
    return _known_type(national, metadata)
