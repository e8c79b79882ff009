"""The fast read of a phone written + and digits gives what phonenumbers.parse gives: the
same number or the same error, and so the same E.164 or reason."""

from __future__ import annotations

import random
from collections.abc import Callable

import phonenumbers
import pytest
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumber, PhoneNumberType
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from shared import phones
from shared.phone_parse import parse_international

CODES = sorted(COUNTRY_CODE_TO_REGION_CODE)
REGIONS = (None, "GB", "US", "IT", "DE", "BR", "RU", "XX", "001", "gb")
"""The caller's regions tried: none, ones sharing or not a code with the number, one
unknown to the library, the non-geographic one, and one not upper-cased."""
Outcome = PhoneNumber | int | None


def _outcome(parse: Callable[[str, str | None], PhoneNumber | None], text: str,
             region: str | None) -> Outcome:
    """The number ``parse`` reads, or the type of the error it raises."""
    try:
        return parse(text, region)
    except NumberParseException as error:
        return error.error_type


def _read_as_the_library_reads(text: str, region: str | None) -> bool:
    """Asserts the fast way and the library's agree on ``text``; whether the fast path
    answered (rather than handing the text to the library)."""
    written = text.strip()
    written = "+" + written[2:] if written.startswith("00") else written  # as read_phone does
    assert _outcome(phones.parse_phone, written, region) == _outcome(
        phonenumbers.parse, written, region), (text, region)
    assert phones.read_phone(text, region) == phones.read_phone(
        text, region, phonenumbers.parse), (text, region)
    return _outcome(parse_international, written, region) is not None


def _example_numbers() -> list[tuple[str, str]]:
    """(region, national significant number) of every example number of every type."""
    examples = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in vars(PhoneNumberType).values():
            if isinstance(kind, int) and (
                    example := phonenumbers.example_number_for_type(region, kind)) is not None:
                examples.append((region, phonenumbers.national_significant_number(example)))
    return examples


def test_every_example_number_of_every_region_and_type_in_e164_is_read_as_the_library_reads_it(
) -> None:
    fast = 0
    examples = _example_numbers()
    for region, national in examples:
        code = phonenumbers.country_code_for_region(region)
        for text in (f"+{code}{national}", f"00{code}{national}",
                     f"+{code} {national[:3]} {national[3:]}", f"+{code} ({national[:2]}) "
                     f"{national[2:5]}-{national[5:]}", f"+{code}.{national}"):
            for caller in (None, region, "US"):
                fast += _read_as_the_library_reads(text, caller)
    assert len(examples) > 1000 and fast == len(examples) * 15  # all of them the fast way


def test_an_example_number_with_a_trunk_prefix_after_its_code_is_read_as_the_library_reads_it(
) -> None:
    stripped = 0
    for region, national in _example_numbers():
        code = phonenumbers.country_code_for_region(region)
        metadata = PhoneMetadata.metadata_for_region(region)
        assert metadata is not None
        for prefix in sorted({metadata.national_prefix or "0", "0", "1", "8"}):
            text = f"+{code}{prefix}{national}"
            for caller in (None, region):
                assert _read_as_the_library_reads(text, caller)
            check = phones.read_phone(text, None)
            stripped += check.e164 == f"+{code}{national}"
    assert stripped > 500  # the library drops the trunk prefix of many, and so does this


@pytest.mark.parametrize("text", [
    "+390612345678", "+39 06 1234 5678", "+39 0039 0612345678", "+3900612345678",
    "+39000000", "+3900", "+390", "+3903", "+39 335 123 4567", "+378 0549 123456",
    "+225 07 12 34 56 78", "+7 8 495 123 45 67", "+44 (0) 20 7946 0123", "+1 1 415 555 0100",
])
def test_a_number_with_leading_zeros_is_read_as_the_library_reads_it(text: str) -> None:
    for region in REGIONS:
        assert _read_as_the_library_reads(text, region)


def test_too_short_and_too_long_numbers_of_every_country_code_are_read_as_the_library_reads_them(
) -> None:
    reasons = set()
    for code in CODES:
        for length in (*range(21), 100, 246, 247, 248):  # 250 characters at most
            for digit in "019":
                text = f"+{code}{digit * length}"
                for region in (None, "GB"):
                    _read_as_the_library_reads(text, region)
                reasons.add(phones.read_phone(text, None).reason)
    assert {phones.TOO_SHORT, phones.TOO_LONG, phones.NOT_VALID, phones.NOT_A_PHONE} <= reasons


def test_unknown_country_codes_are_refused_as_the_library_refuses_them() -> None:
    unknown = [code for code in range(100, 1000)  # no known code is the start of these
               if not any(str(code).startswith(str(known)) for known in CODES)]
    assert len(unknown) > 50
    for code in unknown:
        for text in (f"+{code}123456789", f"+0{code}123456789", f"+00{code}7911123456",
                     f"+011{code}4155550100", "+00447911123456", "+011 44 7911 123456"):
            for region in REGIONS:
                _read_as_the_library_reads(text, region)
    assert phones.read_phone("+999 1234 5678", None).reason == phones.UNKNOWN_COUNTRY_CODE


def test_twenty_thousand_random_plus_and_digit_strings_are_read_as_the_library_reads_them(
) -> None:
    rng = random.Random(20261203)
    fast = 0
    for _ in range(20_000):
        text = "+" + "".join(rng.choices("0123456789", k=rng.randint(2, 18)))
        fast += _read_as_the_library_reads(text, rng.choice(REGIONS))
    assert fast > 15_000


def test_random_spaced_dashed_dotted_and_bracketed_numbers_are_read_as_the_library_reads_them(
) -> None:
    rng = random.Random(3)
    for _ in range(5_000):
        digits = "".join(rng.choices("0123456789", k=rng.randint(2, 16)))
        text = "+" + "".join(
            rng.choice(["", "", "", " ", "-", ".", "(", ")", " (", ") ", "  "]) + digit
            for digit in digits) + rng.choice(["", "", ")", " ", "."])
        _read_as_the_library_reads(text, rng.choice(REGIONS))


@pytest.mark.parametrize("text", [
    "+44 7911 123456 ext. 12", "+44 7911 123456 x12", "+44 7911 123456#", "+44/7911123456",
    "+\uff14\uff14\uff17\uff19\uff11\uff11", "+44\u00a07911123456", "++447911123456",
    "+44 7911 ABC", "+4", "+44", "+447911123456;ext=1", "tel:+447911123456", " +447911123456",
    "+" + "1" * 250,
    "+44\u06f7911123456", "+44\t7911123456", "+-", "+()",
])
def test_anything_not_written_plus_and_digits_goes_the_librarys_way(text: str) -> None:
    for region in REGIONS:
        assert parse_international(text, region) is None
        _read_as_the_library_reads(text, region)
