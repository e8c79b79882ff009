"""The fast validity check answers what phonenumbers.is_valid_number answers."""

from __future__ import annotations

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from shared.phone_validity import is_valid_number

CODES = sorted(COUNTRY_CODE_TO_REGION_CODE)


def test_every_example_number_of_every_region_and_type_gets_the_librarys_answer() -> None:
    checked = valid = 0
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in vars(PhoneNumberType).values():
            if not isinstance(kind, int):
                continue
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            national = example.national_number or 0
            for number in (example, phonenumbers.PhoneNumber(
                    country_code=example.country_code, national_number=national // 10),
                    phonenumbers.PhoneNumber(country_code=example.country_code,
                                             national_number=national * 10 + 7)):
                expected = phonenumbers.is_valid_number(number)
                assert is_valid_number(number) == expected, (region, kind, number)
                checked += 1
                valid += expected
    assert valid > 1000 and checked - valid > 1000  # both answers were put to the test


@settings(max_examples=3000, deadline=None)
@given(code=st.sampled_from(CODES), digits=st.text("0123456789", min_size=2, max_size=15),
       leading_zero=st.booleans())
def test_random_numbers_of_every_country_code_get_the_librarys_answer(
        code: int, digits: str, leading_zero: bool) -> None:
    number = phonenumbers.PhoneNumber(country_code=code, national_number=int(digits),
                                      italian_leading_zero=leading_zero or None)
    assert is_valid_number(number) == phonenumbers.is_valid_number(number)
