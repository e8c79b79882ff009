from hypothesis import given, settings
from hypothesis import strategies as st

from shared.emails import EMPTY_EMAIL, EmailCheck, check_email, judge_email, normalise_email


def test_case_and_spaces_do_not_make_a_different_email() -> None:
    assert check_email("  Ann.Lee@Example.COM ").email == "ann.lee@example.com"
    assert normalise_email("ANN@example.com") == normalise_email("ann@EXAMPLE.com ")


def test_empty_email_is_refused_with_a_reason() -> None:
    for raw in (None, "", "   "):
        check = check_email(raw)
        assert not check.valid
        assert check.reason == EMPTY_EMAIL


def test_invalid_email_is_refused_with_the_validators_reason() -> None:
    check = check_email("ann.example.com")
    assert not check.valid
    assert check.reason is not None and check.reason.startswith("invalid email:")
    assert "@" in check.reason


def test_validation_needs_no_dns() -> None:
    assert check_email("someone@domain-that-does-not-exist-5f1c.example").valid


def test_an_email_longer_than_klaviyos_100_characters_is_refused_without_quoting_it() -> None:
    local = "a" * 64
    fits = f"{local}@{'b' * (100 - 64 - 1 - 4)}.com"
    too_long = f"{local}@{'b' * (101 - 64 - 1 - 4)}.com"
    assert len(fits) == 100 and check_email(fits).valid
    check = check_email(too_long)
    assert len(too_long) == 101 and not check.valid
    assert check.reason == "invalid email: longer than Klaviyo's 100 characters"


def test_the_limit_counts_the_normalised_address_not_the_spaces_around_it() -> None:
    address = f"{'a' * 64}@{'b' * 31}.com"
    assert check_email(f"   {address}   ").email == address


def test_a_one_letter_top_level_domain_is_refused_as_klaviyo_does() -> None:
    for raw in ("user@domain.c", "User@Sub.Domain.C", "user@dömain.c"):
        check = check_email(raw)
        assert not check.valid
        assert check.reason == "invalid email: Klaviyo refuses a one-letter top-level domain"
    assert check_email("user@domain.co").valid
    assert check_email("user@c.com").valid  # one letter elsewhere in the domain is fine


LOCAL_CHARS = "abzAZ09_+-.!#'~é "
DOMAIN_CHARS = "abzAZ09-_.é"
label = st.text(DOMAIN_CHARS, min_size=0, max_size=8)
address = st.builds(
    lambda local, labels, tld: f"{local}@{'.'.join(labels)}{tld}",
    st.text(LOCAL_CHARS, min_size=0, max_size=12) | st.just("a" * 64) | st.just("a" * 65),
    st.lists(label | st.sampled_from(["xn--80ak6aa92e", "ab--cd", "-ab", "x" * 63,
                                      "x" * 64, "localhost", "test"]), max_size=4),
    st.sampled_from(["", ".com", ".c", ".co", ".123", ".test", ".onion", ".", ".x--y", ".é"]))


@settings(max_examples=3000, deadline=None)
@given(raw=address | st.text(max_size=30))
def test_the_shortcut_for_plain_addresses_gives_email_validators_verdict(raw: str) -> None:
    slow = (EmailCheck(None, EMPTY_EMAIL) if not raw.strip()
            else judge_email(normalise_email(raw)))
    assert check_email(raw) == slow


def test_an_address_is_judged_once_however_often_it_comes_back() -> None:
    check_email.cache_clear()
    for _ in range(3):
        assert check_email("Repeat.Me@Example.com").valid
    assert check_email.cache_info().hits == 2
