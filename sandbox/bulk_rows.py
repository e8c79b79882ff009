"""The rules one row of a bulk import job must meet, and the all-or-nothing refusal.

Klaviyo validates a bulk import job synchronously: one malformed row makes the whole POST a
400 naming the bad rows by pointer, and no job is created (docs/KLAVIYO.md §1). The same
rules serve the asynchronous mode, where a bad row becomes an import-error instead.
"""

from __future__ import annotations

from typing import Any

import orjson

from sandbox.errors import ApiError, error_object
from sandbox.identity import RowError, clean_attributes, require_identifier
from sandbox.store import PassedRows

MAX_PROFILE_BYTES = 100 * 1024
"""100 KB per profile [SPEC], measured on the row's JSON (102,400 bytes)."""
MAX_EXTERNAL_ID = 255
ROW_POINTER = "/data/attributes/profiles/data/{i}"
Checked = tuple[dict[str, Any], str | None]
"""A row ready to upsert: ``checked_row``'s answer."""


def row_pointer(i: int, field: str | None) -> str:
    """Where a row's problem is: the row (``None``), its attributes (``""``) or one field."""
    pointer = ROW_POINTER.format(i=i)
    if field is None:
        return pointer
    return f"{pointer}/attributes/{field}" if field else f"{pointer}/attributes"


def _invalid(detail: str, field: str | None) -> RowError:
    return RowError("invalid", "Invalid input.", detail, field)


def checked_row(row: Any, *, lowercase: bool, refused_domains: tuple[str, ...] = ()
                ) -> Checked:
    """A row's attributes ready to upsert (nulls and ``_kx`` dropped) and its profile id.

    Raises ``RowError`` naming the row's first problem: its shape, its size, an unknown or
    mistyped field, an email Klaviyo refuses, a phone number not in E.164 (never silently
    dropped here), an ``external_id`` over 255 characters, or no identifier at all.
    """
    _row_json(row)
    return _checked_fields(row, lowercase, refused_domains)


def _row_json(row: Any) -> bytes:
    """The row as JSON, once its shape and size are checked (the first two problems)."""
    if not isinstance(row, dict) or not isinstance(row.get("attributes"), dict):
        raise _invalid("Each profile must be an object with 'attributes'.", None)
    encoded = orjson.dumps(row)
    if len(encoded) > MAX_PROFILE_BYTES:
        raise _invalid("A profile must be at most 100 KB", None)
    return encoded


def _checked_fields(row: dict[str, Any], lowercase: bool, refused_domains: tuple[str, ...]
                    ) -> Checked:
    """``checked_row`` past the shape and size checks."""
    clean, _partial = clean_attributes(
        row["attributes"], allow_kx=True, lowercase=lowercase, strict_phone=True, drop_nulls=True
    )
    clean.pop("_kx", None)
    email = clean.get("email")  # a string or absent by now, as the other identifiers
    if refused_domains and email is not None and email.rpartition("@")[2] in refused_domains:
        raise _invalid("Invalid email address", "email")
    external = clean.get("external_id")
    if external is not None and len(external) > MAX_EXTERNAL_ID:
        raise _invalid(f"external_id must be at most {MAX_EXTERNAL_ID} characters", "external_id")
    if not (email or external or clean.get("phone_number")):
        require_identifier(clean)  # raises
    profile_id = row.get("id")
    return clean, profile_id if isinstance(profile_id, str) else None


def checked_rows(rows: list[Any], *, lowercase: bool, name_bad_rows: int,
                 refused_domains: tuple[str, ...] = (), passed: PassedRows | None = None,
                 ) -> tuple[list[Checked], ApiError | None]:
    """Every row checked once: each row ready to upsert and None, or the 400 refusing the job.

    The refusal has one entry per bad row, in row order; only the first ``name_bad_rows``
    when that is above 0 (whether Klaviyo names every bad row is unknown, so a client must
    resubmit until accepted). Entries carry ``status`` as the string ``"400"``, as in a peer's
    recorded bulk-import refusal, while code, title and pointer follow Klaviyo's envelope.
    An accepted job keeps the checked rows, so its processing does not check them again.

    ``passed`` (the account's): a refused client resubmits the same rows minus the bad ones,
    so a refusal keeps the rows that passed, by their JSON (computed anyway for the size
    check), and the next POST takes each of those rows as checked instead of checking its
    fields again. The check depends only on the row and on the settings, which are part of
    the key; each kept row is handed out once (a job may mutate its attributes).
    """
    settings = (lowercase, refused_domains)
    known = passed.take(settings) if passed is not None else {}
    kept: dict[bytes, Checked] = {}
    checked: list[Checked] = []
    entries: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        try:
            encoded = _row_json(row)
            item = known.pop(encoded, None) or _checked_fields(row, lowercase, refused_domains)
        except RowError as err:
            entry = error_object(
                400, err.detail, code="invalid", title="Invalid input.",
                pointer=row_pointer(i, err.field),
            )
            entry["status"] = "400"
            entries.append(entry)
            if name_bad_rows and len(entries) >= name_bad_rows:
                break
            continue
        checked.append(item)
        kept[encoded] = item
    if not entries:
        return checked, None
    if passed is not None:
        passed.settings, passed.rows = settings, kept
    refused = ApiError(400, entries[0]["detail"])
    refused.body["errors"] = entries
    return [], refused
