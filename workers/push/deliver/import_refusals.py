"""Reading Klaviyo's refusal of a whole bulk import job (docs/KLAVIYO.md, "one bad row").

Klaviyo validates a bulk import job when it is posted and refuses it whole for one
malformed row: a 400 with one error per bad row, each pointing at it
(``/data/attributes/profiles/data/<i>/attributes/<field>``). An answer may name only some
of the bad rows, so the caller strips the named ones and posts the rest again, round after
round. A 400 pointing at ``/data/relationships/lists`` is about the list (deleted in
Klaviyo), and one that points nowhere is about neither.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shared.klaviyo.errors import ApiError, Rejected

ROW_POINTER = re.compile(r"/profiles/data/(\d+)(?:/attributes/([A-Za-z_]+))?")
LIST_POINTER = "/data/relationships/lists"


@dataclass(frozen=True)
class RowRefusal:
    """Klaviyo's reason for refusing one row."""

    code: str
    title: str
    detail: str
    field: str
    """The attribute named by the pointer (``email``, ``phone_number``...); "" = the row."""

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "title": self.title, "detail": self.detail,
                "field": self.field}


@dataclass
class Refusal:
    """What a refused job's answer says: bad rows by index, or the list, or neither."""

    rows: dict[int, RowRefusal] = field(default_factory=dict)
    list_refused: bool = False


def read_refusal(refused: Rejected, row_count: int) -> Refusal:
    """The rows (indexes below ``row_count``) and list named by a 400's errors."""
    out = Refusal()
    errors = refused.errors or (ApiError(refused.code, refused.title, refused.detail),)
    for error in errors:
        match = ROW_POINTER.search(error.pointer)
        if match and int(match.group(1)) < row_count:
            index = int(match.group(1))
            out.rows.setdefault(index, RowRefusal(error.code, error.title, error.detail,
                                                  match.group(2) or ""))
        elif error.pointer.startswith(LIST_POINTER):
            out.list_refused = True
    return out
