from shared.emails import EMPTY_EMAIL, check_email, normalise_email


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
