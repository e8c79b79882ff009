"""The scrubber masks phone numbers however they are written, and leaves ids, timestamps,
counts, dates and addresses alone (issue 11, item 2)."""

from __future__ import annotations

import pytest

from shared.telemetry.scrub import has_personal_data, scrub_text


@pytest.mark.parametrize("phone", [
    "020 7946 0958", "415.555.0100", "4155550100", "(+44) 20 7946 0958",
    "+44 (0)20 7946 0958", "+447700900123", "(415) 555-0100", "415-555-0100",
    "415 555 0100", "07700 900123", "07700900123", "0161 496 0000", "+1 555 0199 123",
])
def test_a_phone_written_any_common_way_is_masked(phone: str) -> None:
    masked = scrub_text(f"Klaviyo refused phone {phone}, row 3")
    assert masked.startswith("Klaviyo refused phone ") and masked.endswith("+***, row 3")
    assert not any(part in masked for part in phone.split() if len(part) >= 3)


@pytest.mark.parametrize("text", [
    "t=1796234500,v1=ab12", "epoch 1796234500123", "at 2026-11-22T10:00:00Z",
    "from 10.0.0.1", "sentry-sdk 2.75.0", "batch b-1234567890", "contact C-4155550100",
    "1000 events in 12.5 s", "id 12345678901", "2026-11-22 10:00:00,123", "port 46635",
    "sha 8065bbadc2a043a6fa4312fb13923f7204e269a6", "on 01-02-2026", "processed 0 of 3000",
    "uuid 123e4567-e89b-12d3-a456-426614174000",
])
def test_ids_timestamps_counts_and_dates_are_left_alone(text: str) -> None:
    assert scrub_text(text) == text
    assert not has_personal_data(text)


def test_oauth_tokens_are_masked_wherever_they_are_written() -> None:
    text = ("Authorization: Bearer a-Zx81_kq9Lm2-PQ sent; body grant_type=refresh_token&"
            "refresh_token=r-77aBcDeFgHiJ&code=c0De-1234567")
    masked = scrub_text(text)
    assert "a-Zx81_kq9Lm2-PQ" not in masked and "r-77aBcDeFgHiJ" not in masked
    assert "c0De-1234567" not in masked
    assert "Bearer***" in masked and "grant_type=refresh_token&" in masked
