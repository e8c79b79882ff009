"""Klaviyo's ``filter`` grammar: ``op(field,value)`` terms joined by commas or ``and(...)``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.errors import ApiError, invalid

OPERATORS = frozenset(
    {
        "equals",
        "any",
        "greater-than",
        "greater-or-equal",
        "less-than",
        "less-or-equal",
        "contains",
        "starts-with",
        "ends-with",
        "has",
    }
)


@dataclass(frozen=True)
class Term:
    """One ``op(field,value)``; ``value`` is a str, datetime, bool, number or a list."""

    op: str
    field: str
    value: Any


def _bad(detail: str) -> ApiError:
    return invalid(detail, parameter="filter")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        self.skip_ws()
        if self.peek() != char:
            raise _bad(f"Invalid filter provided: expected '{char}' at position {self.pos}.")
        self.pos += 1

    def skip_ws(self) -> None:
        while self.peek() == " ":
            self.pos += 1

    def name(self) -> str:
        self.skip_ws()
        match = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*").match(self.text, self.pos)
        if not match:
            raise _bad(f"Invalid filter provided at position {self.pos}.")
        self.pos = match.end()
        return match.group(0)

    def terms(self) -> list[Term]:
        out: list[Term] = []
        while True:
            op = self.name()
            self.expect("(")
            if op == "and":
                out.extend(self.terms())
                self.expect(")")
            else:
                if op not in OPERATORS:
                    raise _bad(f"Unknown filter operation '{op}'.")
                fld = self.name()
                self.expect(",")
                value = self.value()
                self.expect(")")
                out.append(Term(op, fld, value))
            self.skip_ws()
            if self.peek() == ",":
                self.pos += 1
                continue
            return out

    def value(self) -> Any:
        self.skip_ws()
        char = self.peek()
        if char == "[":
            self.pos += 1
            items: list[Any] = []
            self.skip_ws()
            if self.peek() == "]":
                self.pos += 1
                return items
            while True:
                items.append(self.value())
                self.skip_ws()
                if self.peek() == ",":
                    self.pos += 1
                    continue
                self.expect("]")
                return items
        if char in ("'", '"'):
            end = self.text.find(char, self.pos + 1)
            if end < 0:
                raise _bad("Unterminated string in filter.")
            raw = self.text[self.pos + 1 : end]
            self.pos = end + 1
            return raw
        match = re.compile(r"[^,()\[\]]+").match(self.text, self.pos)
        if not match:
            raise _bad(f"Invalid filter value at position {self.pos}.")
        self.pos = match.end()
        return _bare(match.group(0).strip())


def _bare(token: str) -> Any:
    if token in ("true", "false"):
        return token == "true"
    if token == "null":
        return None
    try:
        return parse_datetime(token)
    except ValueError:
        pass
    try:
        return float(token) if "." in token else int(token)
    except ValueError:
        raise _bad(f"Invalid filter value '{token}': strings must be quoted.") from None


def parse_datetime(token: str) -> datetime:
    """ISO 8601; a form-decoded '+' (a space) in the offset is taken as '+'."""
    token = token.replace(" ", "+")
    if token.endswith("Z"):
        token = token[:-1] + "+00:00"
    if "T" not in token and len(token) != 10:
        raise ValueError(token)
    value = datetime.fromisoformat(token)
    if value.tzinfo is None:
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value


def parse_filter(text: str | None) -> list[Term]:
    """All terms of the filter (AND); empty without one."""
    if not text:
        return []
    parser = _Parser(text)
    terms = parser.terms()
    parser.skip_ws()
    if parser.pos != len(text):
        raise _bad(f"Invalid filter provided: unexpected text at position {parser.pos}.")
    return terms


def check_allowed(terms: list[Term], allowed: dict[str, set[str]]) -> None:
    """Reject fields or operators the endpoint does not support, naming them."""
    for term in terms:
        ops = allowed.get(term.field)
        if ops is None:
            raise _bad(f"'{term.field}' is not a valid field for this filter.")
        if term.op not in ops:
            raise _bad(f"'{term.op}' is not a valid operator for '{term.field}'.")


def values_of(term: Term) -> list[Any]:
    """The term's value as a list (``any``/list ``equals``) or a one-item list."""
    return list(term.value) if isinstance(term.value, list) else [term.value]
