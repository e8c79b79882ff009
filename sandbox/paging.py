"""Cursor pagination with the SDK's cursor quirks (docs/KLAVIYO.md §12)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

from sandbox.errors import ApiError, invalid

T = TypeVar("T")


def encode_cursor(offset: int) -> str:
    """An opaque cursor: base64 of ``next::<offset>``, like Klaviyo's."""
    return base64.urlsafe_b64encode(f"next::{offset}".encode()).decode().rstrip("=")


def _bad_cursor() -> ApiError:
    return invalid("Invalid cursor provided.", pointer="/data/")


def decode_cursor(raw: str) -> int:
    """The offset in a cursor; tolerates a leading '=' and a whole URL as the cursor."""
    raw = raw.strip()
    if "://" in raw or "page[cursor]" in raw or "page%5Bcursor%5D" in raw:
        query = urlsplit(raw).query if "://" in raw else raw.split("?", 1)[-1]
        found = parse_qs(query).get("page[cursor]")
        if not found:
            raise _bad_cursor()
        raw = found[0]
    if raw.startswith("="):
        raw = raw[1:]
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        kind, _, number = text.partition("::")
        offset = int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _bad_cursor() from None
    if kind != "next" or offset < 0:
        raise _bad_cursor()
    return offset


def page_size(query: dict[str, str], default: int, maximum: int) -> int:
    """``page[size]`` checked against the endpoint's bounds."""
    raw = query.get("page[size]")
    if raw is None or raw == "":
        return default
    try:
        size = int(raw)
    except ValueError:
        raise invalid("page[size] must be an integer.", parameter="page[size]") from None
    if size < 1 or size > maximum:
        raise invalid(f"page[size] must be between 1 and {maximum}.", parameter="page[size]")
    return size


def paginate(
    items: Sequence[T],
    query: dict[str, str],
    base: str,
    path: str,
    *,
    default: int = 20,
    maximum: int = 100,
) -> tuple[Sequence[T], dict[str, str]]:
    """One page of ``items`` and the collection's ``links`` (self, next, prev)."""
    size = page_size(query, default, maximum)
    cursor = query.get("page[cursor]")
    offset = decode_cursor(cursor) if cursor else 0
    page = items[offset : offset + size]
    kept = {k: v for k, v in query.items() if k != "page[cursor]"}
    link_base = f"{base}{path}/"
    self_link = f"{link_base}?{urlencode(query)}" if query else link_base
    links: dict[str, str] = {"self": self_link}  # next/prev only when there is such a page
    if offset + size < len(items):
        links["next"] = (
            f"{link_base}?{urlencode({**kept, 'page[cursor]': encode_cursor(offset + size)})}"
        )
    if offset > 0:
        prev_cursor = encode_cursor(max(0, offset - size))
        links["prev"] = f"{link_base}?{urlencode({**kept, 'page[cursor]': prev_cursor})}"
    return page, links
