"""Regression: Sentry events carry no stack locals. A worker's frames hold whole contacts
(names, job titles, companies, custom properties); the scrubber masks emails, phones and
keys by their shape, but a last name has none, so locals must not be sent at all."""

from __future__ import annotations

import secrets
from typing import Any

import sentry_sdk

from shared.settings import Settings
from shared.telemetry.sentry import init_sentry
from tests.support.sentry_envelopes import Envelopes

LAST_NAME = f"Quillfeather-{secrets.token_hex(3)}"
"""Made at run time: a literal would be in the source lines Sentry sends around a frame."""


def submit_chunk(rows: list[dict[str, Any]]) -> None:
    payload = [{"attributes": {"last_name": row["last_name"]}} for row in rows]
    raise RuntimeError(f"bulk import refused {len(payload)} profiles")


def test_an_error_in_a_frame_holding_a_contact_reaches_sentry_without_its_name(
    envelopes: Envelopes,
) -> None:
    assert init_sentry(Settings.model_validate({"SENTRY_DSN": envelopes.dsn}), "worker")
    try:
        submit_chunk([{"last_name": LAST_NAME}])
    except RuntimeError as error:
        sentry_sdk.capture_exception(error)
    sentry_sdk.flush(timeout=10)
    text = envelopes.text()
    assert "bulk import refused 1 profiles" in text and "submit_chunk" in text
    assert LAST_NAME not in text
