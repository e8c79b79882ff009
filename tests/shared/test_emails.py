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
