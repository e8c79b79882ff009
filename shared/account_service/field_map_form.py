"""The field map as a person edits it in a form (the console's settings page): JSON text in,
the ``field_map`` setting out; the stored map back as text and as rows to read.

Only the text is read here: whether the map is usable is the settings model's word
(:func:`shared.field_map.parse_field_map`, through the account service), so a bad map is the
same 422 naming ``field_map`` as the account API gives. The text's size is bounded before it
gets here: web's request guard caps a console form at 64 KiB (a map of 200 targets is a
fraction of that).
"""

from __future__ import annotations

import json
from typing import Any

from shared.account_service.errors import invalid_field


def parse_text(text: str) -> object:
    """The ``field_map`` value of the form's text: empty (or ``null``) is no map (the
    default profile); anything else must be JSON (the service checks the map itself)."""
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise invalid_field("field_map", f"not JSON ({error.msg} at line {error.lineno}, "
                                         f"column {error.colno})") from None


def as_text(field_map: dict[str, Any] | None) -> str:
    """The stored map as the form shows it (empty: no map)."""
    return "" if field_map is None else json.dumps(field_map, indent=2, ensure_ascii=False)


def rows(field_map: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    """(Klaviyo target, CRM source, type or "as sent") per entry, in the map's order."""
    found = []
    for target, spec in (field_map or {}).items():
        if isinstance(spec, dict):
            found.append((target, str(spec.get("from", "")), str(spec.get("type") or "as sent")))
        else:
            found.append((target, str(spec), "as sent"))
    return found
