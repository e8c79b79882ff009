"""Phones into E.164: read with their country code, else in the account's region; what
cannot be read is left off with a reason that never quotes the number."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import phones
from shared.phones import PhoneCheck, check_phone_region, normalise_phone

REASONS = {phones.NO_REGION, phones.NOT_A_PHONE, phones.NOT_VALID,
           phones.UNKNOWN_COUNTRY_CODE, phones.TOO_SHORT, phones.TOO_LONG,
           phones.UNKNOWN_REGION}
E164 = re.compile(r"^\+[1-9]\d{1,14}$")


@pytest.mark.parametrize(("raw", "region", "e164"), [
    ("020 7946 0123", "GB", "+442079460123"),
    ("415.555.0100", "US", "+14155550100"),
    ("(415) 555-0100", "US", "+14155550100"),
    ("+44 20 7946 0123", None, "+442079460123"),
    ("+44 20 7946 0123", "US", "+442079460123"),
    ("0044 20 7946 0123", None, "+442079460123"),
    ("0044 20 7946 0123", "US", "+442079460123"),
    ("011 44 20 7946 0123", "US", "+442079460123"),
    ("+44 (0) 20 7946 0123", None, "+442079460123"),
    ("  +1 415 555 0100  ", None, "+14155550100"),
    ("020 7946 0123", "gb", "+442079460123"),
])
def test_readable_numbers_come_out_in_e164(raw: str, region: str | None, e164: str) -> None:
    assert normalise_phone(raw, region) == PhoneCheck(e164, None)


@pytest.mark.parametrize("raw", [None, "", "   ", "\t\n"])
def test_no_phone_is_neither_a_number_nor_a_problem(raw: str | None) -> None:
    assert normalise_phone(raw, "GB") == PhoneCheck(None, None)
    assert normalise_phone(raw, None) == PhoneCheck(None, None)


def test_a_number_without_country_code_needs_the_accounts_region() -> None:
    check = normalise_phone("020 7946 0123", None)
    assert check == PhoneCheck(None, "phone has no country code and the account has no "
                                     "phone region")


@pytest.mark.parametrize(("raw", "region", "reason"), [
    ("n/a", "GB", phones.NOT_A_PHONE),
    ("n/a", None, phones.NOT_A_PHONE),
    ("unknown", "US", phones.NOT_A_PHONE),
    ("12", "GB", phones.NOT_VALID),
    ("+1 555 0100", None, phones.NOT_VALID),
    ("+44 20 7946 012", None, phones.NOT_VALID),
    ("+999 1234 5678", None, phones.UNKNOWN_COUNTRY_CODE),
    ("1" * 40, "GB", phones.TOO_LONG),
    ("20100000000000", "DE", phones.TOO_LONG),  # valid to phonenumbers, 16 digits in E.164
])
def test_junk_and_impossible_numbers_are_left_off_with_a_reason(
    raw: str, region: str | None, reason: str,
) -> None:
    assert normalise_phone(raw, region) == PhoneCheck(None, reason)


def test_a_region_unknown_to_phonenumbers_cannot_read_a_national_number() -> None:
    assert normalise_phone("020 7946 0123", "XX") == PhoneCheck(None, phones.UNKNOWN_REGION)
    assert normalise_phone("+44 20 7946 0123", "XX").e164 == "+442079460123"


@settings(max_examples=500, deadline=None, database=None)
@given(raw=st.text(alphabet=st.sampled_from("0123456789+()-. /xetnNA"), max_size=30)
       | st.text(max_size=30),
       region=st.sampled_from([None, "GB", "US", "DE", "FR", "IN", "XX"]))
def test_every_answer_is_e164_or_a_known_reason_that_never_quotes_the_number(
    raw: str, region: str | None,
) -> None:
    check = normalise_phone(raw, region)
    if check.e164 is not None:
        assert check.reason is None and E164.match(check.e164)
    elif raw.strip():
        assert check.reason in REASONS
    else:
        assert check.reason is None


def test_a_batch_of_ten_thousand_local_numbers_all_read_in_the_accounts_region() -> None:
    numbers = [f"020 7946 {n % 1000:04d}" for n in range(10_000)]  # a shared 1,000
    checks = [normalise_phone(raw, "GB") for raw in numbers]
    assert all(check.e164 is not None for check in checks)


@pytest.mark.parametrize(("value", "region"), [
    ("GB", "GB"), ("gb", "GB"), (" us ", "US"), ("", None), ("  ", None), (None, None),
])
def test_a_phone_region_is_stored_upper_cased_and_empty_means_none(
    value: str | None, region: str | None,
) -> None:
    assert check_phone_region(value) == region


@pytest.mark.parametrize("value", ["XX", "UK", "GBR", "United Kingdom", "001", 44])
def test_a_phone_region_that_is_not_a_known_country_code_is_refused_clearly(
    value: object,
) -> None:
    with pytest.raises(ValueError, match="two-letter ISO 3166 country code"):
        check_phone_region(value)
