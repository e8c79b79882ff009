"""The signature check on its own: what passes, and what each refusal says."""

from __future__ import annotations

import pytest

from producers.signature import SignatureError, compute, sign, verify

BODY = b'{"events": []}'
NOW = 1_800_000_000


def test_a_header_made_by_sign_verifies_under_the_same_secret() -> None:
    verify(sign("s3cret", BODY, NOW), BODY, ["s3cret"], now=NOW)


def test_the_hmac_covers_the_timestamp_a_dot_and_the_raw_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"k", f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert compute("k", NOW, BODY) == expected
    assert sign("k", BODY, NOW) == f"t={NOW},v1={expected}"


def test_uppercase_hex_and_spaces_around_parts_are_accepted() -> None:
    header = f" t={NOW} , v1={compute('k', NOW, BODY).upper()} "
    verify(header, BODY, ["k"], now=NOW)


def test_a_timestamp_at_the_edge_of_the_tolerance_passes_and_one_second_more_fails() -> None:
    verify(sign("k", BODY, NOW - 300), BODY, ["k"], now=NOW)
    with pytest.raises(SignatureError, match="301 s away"):
        verify(sign("k", BODY, NOW - 301), BODY, ["k"], now=NOW)


def test_a_refusal_never_shows_the_secret_or_the_expected_signature() -> None:
    with pytest.raises(SignatureError) as refused:
        verify(sign("wrong", BODY, NOW), BODY, ["the-real-secret"], now=NOW)
    message = str(refused.value)
    assert "the-real-secret" not in message
    assert compute("the-real-secret", NOW, BODY) not in message


@pytest.mark.parametrize(("header", "says"), [
    (None, "missing"), ("", "missing"), ("  ", "missing"),
    ("t=abc,v1=" + "a" * 64, "t must be the unix time"),
    ("t=1,v1=xyz", "64 hex digits"),
    (f"v1={'a' * 64}", "expected t=<unix seconds>"),
    (f"t={NOW}", "expected t=<unix seconds>"),
    ("garbage", "expected t=<unix seconds>"),
])
def test_each_malformed_header_gets_its_own_message(header: str | None, says: str) -> None:
    with pytest.raises(SignatureError, match=says):
        verify(header, BODY, ["k"], now=NOW)
