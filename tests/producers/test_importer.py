"""CRM exports (CSV, JSONL) become import events; bad rows are reported by line and field."""
# ruff: noqa: E501  (the CSV fixture has the long rows of a real export)

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import redis

from producers.importer import ImportFileError, import_file
from shared.events import ContactEvent
from tests.producers.helpers import stream_entries

pytestmark = pytest.mark.usefixtures("test_account")

IMPORTED_AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

CSV = """\
id,email,first_name,last_name,phone,job_title,role,company_id,company_name,company_type,marketing,occurred_at,region
C-1,ann@example.com,Ann,Lee,+447700900123,Buyer,Decision Maker,CO-9,Acme Ltd,Customer,subscribed,2026-11-20T09:00:00Z,North
C-2,not-an-email,Bob,,,,,,,,,,
,nobody@example.com,No,Id,,,,,,,,,
C-4,dee@example.com,Dee,,,,,,,,maybe,,

C-6,"fay@example.com",Fay,"Multi
Line",,,,,,,unsubscribed,not-a-date,
C-7,gus@example.com,Gus,,,,,,,,,,South,extra
C-8,hal@example.com,Hal,,,,,,,,unknown,,
"""


def _events(r: redis.Redis) -> list[tuple[ContactEvent, str]]:
    return [(ContactEvent.model_validate_json(e["event"]), e["origin"])
            for e in stream_entries(r)]


def test_a_csv_export_keeps_good_rows_and_reports_bad_ones_by_line_and_column(
    tmp_path: Path, r: redis.Redis,
) -> None:
    path = tmp_path / "crm-export.csv"
    path.write_text(CSV)
    report = import_file(r, path, "acme", imported_at=IMPORTED_AT)
    assert (report.rows_read, report.imported) == (7, 3)
    assert [(row.line, row.field) for row in report.refused] == [
        (4, "id"), (5, "marketing"), (7, "occurred_at"), (9, "(row)")]
    stored = _events(r)
    assert {origin for _, origin in stored} == {"import"}
    by_id = {event.contact.id: event for event, _ in stored}
    assert sorted(by_id) == ["C-1", "C-2", "C-8"]
    first = by_id["C-1"]
    assert first.event_id == "import-crm-export-2"
    assert first.account_id == "acme" and first.type == "contact.upserted"
    assert first.occurred_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert first.contact.company is not None and first.contact.company.type == "Customer"
    assert first.contact.marketing == "subscribed"
    assert first.contact.properties == {"region": "North"}
    # An invalid email is kept (excluded and counted at sync time, not here).
    assert by_id["C-2"].contact.email == "not-an-email"
    assert by_id["C-2"].contact.last_name is None and by_id["C-2"].contact.company is None
    assert by_id["C-2"].occurred_at.replace(microsecond=0) == IMPORTED_AT


def test_later_lines_of_the_same_contact_get_later_times(tmp_path: Path, r: redis.Redis) -> None:
    path = tmp_path / "dupes.csv"
    path.write_text("id,email\nC-1,old@example.com\nC-1,new@example.com\n")
    import_file(r, path, "acme", imported_at=IMPORTED_AT)
    (older, _), (newer, _) = _events(r)
    assert newer.contact.email == "new@example.com"
    assert newer.occurred_at > older.occurred_at


def test_a_jsonl_export_keeps_good_lines_and_reports_bad_ones(tmp_path: Path, r: redis.Redis) -> None:
    contact = {"id": "C-1", "email": "ann@example.com", "role": "Buyer",
               "company": {"id": "CO-1", "type": "Customer"}, "properties": {"tier": 2}}
    lines = [
        orjson.dumps({**contact, "occurred_at": "2026-11-21T08:00:00Z"}),
        b"{broken",
        orjson.dumps({"email": "no-id@example.com"}),
        b"",
        orjson.dumps(["not", "an", "object"]),
        orjson.dumps({"id": "C-6", "company": {"id": "CO-1", "size": "L"}}),
        orjson.dumps({"id": "C-7", "email": None}),
    ]
    path = tmp_path / "contacts.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = import_file(r, path, "acme", imported_at=IMPORTED_AT)
    assert (report.rows_read, report.imported) == (6, 2)
    assert [(row.line, row.field) for row in report.refused] == [
        (2, "(line)"), (3, "id"), (5, "(line)"), (6, "company.size")]
    assert "not valid UTF-8 JSON" in report.refused[0].message
    assert report.refused[1].message == "Field required"
    stored = _events(r)
    assert [(e.event_id, origin) for e, origin in stored] == [
        ("import-contacts-1", "import"), ("import-contacts-7", "import")]
    assert stored[0][0].contact.properties == {"tier": 2}
    assert stored[0][0].occurred_at == datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def test_rows_are_stored_in_batches_and_progress_is_reported(tmp_path: Path, r: redis.Redis) -> None:
    path = tmp_path / "big.csv"
    path.write_text("id,email\n" + "".join(f"C-{n},p{n}@example.com\n" for n in range(2500)))
    seen: list[int] = []
    report = import_file(r, path, "acme", on_progress=seen.append)
    assert report.imported == 2500 and not report.refused
    assert seen == [1001, 2001, 2501]
    assert r.xlen("sync:events") == 2500


def test_a_line_that_is_not_utf8_is_refused_and_the_rest_kept(tmp_path: Path, r: redis.Redis) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"\xef\xbb\xbfid,first_name\nC-1,Ren\xe9\nC-2,Zoe\n")
    report = import_file(r, path, "acme")
    assert report.imported == 1
    assert [(row.line, row.field) for row in report.refused] == [(2, "(encoding)")]


@pytest.mark.parametrize(("name", "content", "says"), [
    ("no-id.csv", "email,first_name\na@example.com,A\n", "no 'id' column"),
    ("empty.csv", "", "empty"),
    ("dupes.csv", "id,email,Email\n", "duplicate"),
    ("contacts.xlsx", "id\n", "cannot tell the format"),
])
def test_a_file_that_cannot_be_imported_says_why(tmp_path: Path, r: redis.Redis, name: str,
                                                 content: str, says: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ImportFileError, match=says):
        import_file(r, path, "acme")


def test_a_missing_file_says_so(tmp_path: Path, r: redis.Redis) -> None:
    with pytest.raises(ImportFileError, match="cannot read"):
        import_file(r, tmp_path / "absent.csv", "acme")


def test_the_format_option_overrides_the_extension(tmp_path: Path, r: redis.Redis) -> None:
    path = tmp_path / "export.txt"
    path.write_text('{"id": "C-1"}\n')
    assert import_file(r, path, "acme", "jsonl").imported == 1


def test_a_jsonl_line_refuses_what_the_webhook_refuses_in_properties(tmp_path: Path,
                                                                      r: redis.Redis) -> None:
    # orjson would read 2**64 as the float 1.8446744073709552e+19 and let it through.
    lines = [
        b'{"id": "C-1", "properties": {"big": 18446744073709551616}}',
        b'{"id": "C-2", "properties": {"deep": {"ids": [1, -9223372036854775809]}}}',
        b'{"id": "C-3", "properties": {"score": NaN}}',
        b'{"id": "C-4", "properties": {"max": 9223372036854775807, "min": -9223372036854775808}}',
    ]
    path = tmp_path / "contacts.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = import_file(r, path, "acme", imported_at=IMPORTED_AT)
    assert report.imported == 1
    assert [(row.line, row.field) for row in report.refused] == [
        (1, "properties.big"), (2, "properties.deep.ids[1]"), (3, "properties.score")]
    assert all("64-bit" in row.message for row in report.refused[:2])
    assert "NaN and Infinity" in report.refused[2].message
    [(stored, _)] = _events(r)
    assert stored.contact.properties == {"max": 2**63 - 1, "min": -(2**63)}


UNCLOSED = {
    "open to the end": 'id,email,first_name\nC-1,a@example.com,Ann\nC-2,b@example.com,"Bob\n'
                       'C-3,c@example.com,Cy\nC-4,d@example.com,Di\n',
    "closed by a later row's quote": 'id,email,first_name\nC-1,a@example.com,Ann\n'
                                     'C-2,b@example.com,"Bob\nC-3,c@example.com,"Cy"\n'
                                     'C-4,d@example.com,Di\n',
    "closed at a later row's end": 'id,email,first_name\nC-1,a@example.com,Ann\n'
                                   'C-2,b@example.com,"Bob\nC-3,c@example.com,Cy"\n'
                                   'C-4,d@example.com,Di\n',
}


@pytest.mark.parametrize("text", UNCLOSED.values(), ids=UNCLOSED.keys())
def test_a_quote_never_closed_refuses_the_file_naming_its_line_before_storing_anything(
        tmp_path: Path, r: redis.Redis, text: str) -> None:
    path = tmp_path / "export.csv"
    path.write_text(text)
    with pytest.raises(ImportFileError, match=r"^line 3: a quoted value that starts in this "
                                              r"row is not closed properly"):
        import_file(r, path, "acme", imported_at=IMPORTED_AT)
    assert stream_entries(r) == []


def test_a_real_multi_line_value_is_kept(tmp_path: Path, r: redis.Redis) -> None:
    path = tmp_path / "export.csv"
    path.write_text('id,email,notes\nC-1,a@example.com,"met at the fair,\nwants a call, '
                    'soon"\nC-2,b@example.com,\n')
    report = import_file(r, path, "acme", imported_at=IMPORTED_AT)
    assert (report.imported, report.refused) == (2, [])
    first = next(event for event, _ in _events(r) if event.contact.id == "C-1")
    assert first.contact.properties == {"notes": "met at the fair,\nwants a call, soon"}
