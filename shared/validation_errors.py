"""One wording for pydantic's validation errors: ``field.path: problem; ...``.

Used wherever a refusal must name the field (account settings, stream entries); the input
values are never echoed, since they may hold personal data.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ValidationError


def describe(error: ValidationError, *, root: str = "", detail: Literal["msg", "type"] = "msg"
             ) -> str:
    """Each error as ``dotted.location: message`` (``root`` names a top-level error)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in err['loc']) or root}: {err[detail]}"
        for err in error.errors(include_input=False)
    )
