"""CRM exports (CSV or JSONL) turned into ``contact.upserted`` events with origin ``import``.

An import is a bulk export: the events carry origin ``import`` and the cap applies to them at
sync time. Each good row becomes one event, appended in batches of :data:`BATCH_SIZE`; a bad
row is reported with its line number and field and stored not at all; the others are kept.
An import for an account that is not configured (:mod:`shared.configured_accounts`) is
refused before the file is read, and nothing of it is stored.

* **CSV**: a header row; the columns :data:`CSV_COLUMNS` fill the contact (``company_*`` its
  company) and any other column goes to ``properties`` (empty cells are left out). Before
  anything is stored the file's quoting is checked (:func:`check_csv_quotes`): a quote that
  is never closed would make the reader take every following line for one value, so such
  a file is refused whole, naming the line, and nothing of it is imported.
* **JSONL** (``.jsonl``/``.ndjson``): one contact object per line, in the webhook's
  ``contact`` shape, with an optional ``occurred_at``. Lines are read by the webhook's JSON
  parser (pydantic's), so a file refuses what a webhook request would: an integer beyond
  64 bits, NaN or Infinity in ``properties`` is named, not rounded into a float or taken
  for broken JSON.

A row without ``occurred_at`` gets the import's start time plus its line number in
microseconds, so when a file holds a contact twice its later line wins (per contact the
newest ``occurred_at`` wins downstream). Event ids are ``import-<file stem>-<line>``.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import redis
from pydantic import TypeAdapter, ValidationError

from producers.event_stream import append_events
from producers.validation import field_path
from shared.configured_accounts import unconfigured
from shared.events import ContactEvent

Format = Literal["csv", "jsonl"]
FORMATS: dict[str, Format] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
BATCH_SIZE = 1000
CONTACT_COLUMNS = ("id", "email", "first_name", "last_name", "phone", "job_title", "role",
                   "marketing")
COMPANY_COLUMNS = {"company_id": "id", "company_name": "name", "company_type": "type"}
CSV_COLUMNS = (*CONTACT_COLUMNS, *COMPANY_COLUMNS, "occurred_at")

_JSON: TypeAdapter[Any] = TypeAdapter(Any)
"""The webhook's JSON reader. Not orjson: it makes floats of integers beyond 64 bits, which
would then pass the models' range check rounded."""


class ImportFileError(Exception):
    """The file cannot be imported at all (missing, unreadable, unknown format, bad header)."""


class ImportInterrupted(Exception):
    """Redis failed during the import; ``report`` says what was stored before."""

    def __init__(self, report: ImportReport, error: redis.RedisError) -> None:
        self.report = report
        super().__init__(f"Redis failed after {report.imported} imported rows "
                         f"({type(error).__name__}); importing the file again is harmless")


@dataclass(frozen=True)
class RefusedRow:
    """A row not imported: its line in the file, the field (CSV column or JSON path), why."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


@dataclass
class ImportReport:
    rows_read: int = 0
    imported: int = 0
    refused: list[RefusedRow] = field(default_factory=list)


Row = tuple[int, ContactEvent | RefusedRow]
"""A row's first line number and its event, or why it was refused."""


def detect_format(path: Path, given: str | None = None) -> Format:
    """``given`` (csv or jsonl) or the format of the file's extension."""
    if given:
        if given.lower() not in ("csv", "jsonl", "ndjson"):
            raise ImportFileError(f"unknown format {given!r}: use csv or jsonl")
        return "csv" if given.lower() == "csv" else "jsonl"
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise ImportFileError(
            f"cannot tell the format of {path.name!r} from its extension; name it .csv, "
            ".jsonl or .ndjson, or pass --format csv|jsonl"
        )
    return found


def count_lines(path: Path) -> int:
    """Lines in the file (for a progress bar's total)."""
    with _open(path) as handle:
        return sum(1 for _ in handle)


def _open(path: Path) -> Any:
    try:
        return path.open("rb")
    except OSError as error:
        raise ImportFileError(f"cannot read {path}: {error.strerror or error}") from None


class _Lines:
    """The file's lines as text, numbered, noting those that are not UTF-8 (decoded with
    replacement characters so the CSV parser keeps its place; their rows are refused)."""

    def __init__(self, raw: Iterable[bytes]) -> None:
        self.raw = raw
        self.number = 0
        self.bad: set[int] = set()

    def __iter__(self) -> Iterator[str]:
        for chunk in self.raw:
            self.number += 1
            if self.number == 1 and chunk.startswith(b"\xef\xbb\xbf"):
                chunk = chunk[3:]  # a byte-order mark (spreadsheet exports)
            try:
                yield chunk.decode("utf-8")
            except UnicodeDecodeError:
                self.bad.add(self.number)
                yield chunk.decode("utf-8", errors="replace")


class EventBuilder:
    """Makes the event of one row; refusals name the row's field."""

    def __init__(self, account: str, stem: str, imported_at: datetime) -> None:
        self.account = account
        self.stem = stem[:200]
        self.imported_at = imported_at

    def build(self, line: int, contact: dict[str, Any], occurred_at: object,
              name_field: Callable[[tuple[int | str, ...]], str]) -> ContactEvent | RefusedRow:
        when = occurred_at if occurred_at not in (None, "") else (
            self.imported_at + timedelta(microseconds=line)).isoformat()
        try:
            return ContactEvent.model_validate({
                "event_id": f"import-{self.stem}-{line}", "account_id": self.account,
                "type": "contact.upserted", "occurred_at": when, "contact": contact,
            })
        except ValidationError as error:
            first = error.errors(include_url=False, include_input=False,
                                 include_context=False)[0]
            loc = tuple(first["loc"])
            where = name_field(loc[1:]) if loc[:1] == ("contact",) else field_path(loc)
            if loc[:1] == ("account_id",):
                where = "--account"
            more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
            return RefusedRow(line, where or "(row)", first["msg"] + more)


def _csv_field(loc: tuple[int | str, ...]) -> str:
    """The CSV column of a contact field's error location."""
    if len(loc) >= 2 and loc[0] == "company":
        return f"company_{loc[1]}"
    if len(loc) >= 2 and loc[0] == "properties":
        return str(loc[1])
    return field_path(loc)


def _quote_error(line: int, reason: str) -> ImportFileError:
    return ImportFileError(
        f"line {line}: a quoted value that starts in this row is not closed properly "
        f"({reason}), so the lines after it would be read as part of that value; nothing "
        f"imported. Close the quote (a quote inside a quoted value is written twice: \"\") "
        f"and import the file again")


def _looks_swallowed(cells: Sequence[str], columns: int) -> bool:
    """True when a line inside a multi-line value looks like a whole row of its own (as
    many commas as the header): a stray quote that closed on a later line, not a real
    multi-line note."""
    if columns < 3:
        return False
    return any(piece.count(",") >= columns - 1
               for cell in cells for piece in cell.split("\n")[1:])


def check_csv_quotes(handle: Iterable[bytes]) -> None:
    """Read the whole CSV once (cells only, nothing validated or stored) and raise
    :class:`ImportFileError` naming the line of a row whose quote is never closed, is
    followed by text before the next comma, or swallows lines that look like rows."""
    reader = csv.reader(_Lines(handle), strict=True)
    columns = 0
    end = 0
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise _quote_error(start, str(error)) from None
        end = reader.line_num
        if not columns:
            columns = len(cells)
        elif end > start and _looks_swallowed(cells, columns):
            raise _quote_error(start, f"lines {start + 1}-{end} read as one value look like "
                                      f"rows of their own")


def read_csv(handle: Iterable[bytes], builder: EventBuilder) -> Iterator[Row]:
    lines = _Lines(handle)
    reader = csv.reader(lines, strict=True)
    header: list[str] | None = None
    end = 0
    for cells in reader:
        start, end = end + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = _check_header(cells)
            continue
        if lines.bad.intersection(range(start, end + 1)):
            yield start, RefusedRow(start, "(encoding)", "the line is not UTF-8 text")
        elif len(cells) > len(header):
            yield start, RefusedRow(start, "(row)", f"{len(cells)} fields but the header has "
                                    f"{len(header)}; quote values that contain commas")
        else:
            yield start, _csv_event(start, dict(zip(header, cells, strict=False)), builder)
    if header is None:
        raise ImportFileError("the CSV file is empty: expected a header row with an 'id' column")


def _check_header(cells: Sequence[str]) -> list[str]:
    names = [cell.strip() for cell in cells]
    normal = [name.lower() if name.lower() in CSV_COLUMNS else name for name in names]
    if "id" not in normal:
        raise ImportFileError(
            f"the CSV header has no 'id' column (found: {', '.join(names[:20])}); expected "
            f"{', '.join(CSV_COLUMNS)} and any other column as a property"
        )
    duplicates = sorted({name for name in normal if normal.count(name) > 1})
    if duplicates or "" in normal:
        raise ImportFileError(f"the CSV header has duplicate or empty column names: "
                              f"{', '.join(repr(d) for d in duplicates) or repr('')}")
    return normal


def _csv_event(line: int, row: dict[str, str], builder: EventBuilder) -> ContactEvent | RefusedRow:
    filled = {name: value for name, value in row.items() if value.strip()}
    contact: dict[str, Any] = {name: filled[name] for name in CONTACT_COLUMNS if name in filled}
    company = {key: filled[name] for name, key in COMPANY_COLUMNS.items() if name in filled}
    if company:
        contact["company"] = company
    properties = {name: value for name, value in filled.items()
                  if name not in CSV_COLUMNS}
    if properties:
        contact["properties"] = properties
    return builder.build(line, contact, filled.get("occurred_at"), _csv_field)


def read_jsonl(handle: Iterable[bytes], builder: EventBuilder) -> Iterator[Row]:
    for line, raw in enumerate(handle, start=1):
        if not raw.strip():
            continue
        try:
            item = _JSON.validate_json(raw)
        except ValidationError as error:
            reason = error.errors(include_url=False, include_input=False)[0]["msg"]
            yield line, RefusedRow(line, "(line)", f"not valid UTF-8 JSON: {reason}")
            continue
        if not isinstance(item, dict):
            yield line, RefusedRow(line, "(line)", "expected a JSON object (one contact)")
            continue
        occurred_at = item.pop("occurred_at", None)
        yield line, builder.build(line, item, occurred_at, field_path)


def read_rows(path: Path, fmt: Format, account: str,
              imported_at: datetime | None = None) -> Iterator[Row]:
    """The rows of the file, each an event or a refusal, in file order."""
    builder = EventBuilder(account, path.stem, imported_at or datetime.now(UTC))
    if fmt == "csv":
        with _open(path) as handle:
            check_csv_quotes(handle)
    with _open(path) as handle:
        reader = read_csv if fmt == "csv" else read_jsonl
        yield from reader(handle, builder)


def _store(client: redis.Redis, events: list[ContactEvent], report: ImportReport) -> None:
    try:
        report.imported += append_events(client, events, "import")
    except redis.RedisError as error:
        raise ImportInterrupted(report, error) from error
    events.clear()


def import_file(
    client: redis.Redis,
    path: Path,
    account: str,
    fmt: str | None = None,
    *,
    batch_size: int = BATCH_SIZE,
    on_progress: Callable[[int], None] | None = None,
    imported_at: datetime | None = None,
) -> ImportReport:
    """Import a CRM export for ``account``; ``on_progress(line)`` after each stored batch.

    Raises :class:`ImportFileError` when the file cannot be read at all or ``account`` is
    not configured, and :class:`ImportInterrupted` when Redis fails midway (earlier batches
    stay stored).
    """
    report = ImportReport()
    try:
        unknown = unconfigured(client, [account])
    except redis.RedisError as error:
        raise ImportInterrupted(report, error) from error
    if unknown:
        raise ImportFileError(
            f"account {account!r} is not configured; nothing imported. Create it first "
            f"('contact-sync accounts add {account} --klaviyo-key ...' or "
            f"PUT /v1/accounts/{account}), then import the file again")
    pending: list[ContactEvent] = []
    line = 0
    for line, outcome in read_rows(path, detect_format(path, fmt), account, imported_at):
        report.rows_read += 1
        if isinstance(outcome, RefusedRow):
            report.refused.append(outcome)
            continue
        pending.append(outcome)
        if len(pending) >= batch_size:
            _store(client, pending, report)
            if on_progress is not None:
                on_progress(line)
    _store(client, pending, report)
    if on_progress is not None:
        on_progress(line)
    return report
