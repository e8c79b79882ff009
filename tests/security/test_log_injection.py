"""Regression (issue 11, item 5): CR/LF in a webhook's ``event_id`` cannot forge log lines.

A real ``contact-sync web`` (text logs) takes a signed event whose id carries CR, LF and an
ANSI escape; every line of its log is then a record of its own (it starts with the date),
and the forged text shows up only escaped, inside the line that quoted it."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import orjson

from producers.signature import sign
from tests.security.web_process import running_web

SECRET = "whsec-log-injection"
FORGED = "evt-1\r\n2026-11-22 10:00:00,000 INFO web producers.intake forged\x1b[2J"
RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")


def test_cr_lf_in_an_event_id_are_escaped_so_each_log_call_stays_one_line(
    redis_url: str, tmp_path: Path, test_account: str,
) -> None:
    log = tmp_path / "web.log"
    body = orjson.dumps({"events": [{
        "event_id": FORGED, "account_id": "acme", "type": "contact.deleted",
        "occurred_at": "2026-11-22T10:00:00Z", "contact": {"id": "C-1"}}]})
    with running_web({"REDIS_URL": redis_url, "SYNC_WEBHOOK_SECRET": SECRET}, log) as port:
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/contact-events", content=body,
                            headers={"X-Sync-Signature": sign(SECRET, body)}, timeout=30)
    assert answer.status_code in (202, 422), answer.text  # stored, or refused naming the id
    lines = log.read_text().splitlines()
    quoting = [line for line in lines if "forged" in line]
    assert quoting, lines
    assert all(r"evt-1\r\n2026-11-22 10:00:00,000 INFO web producers.intake forged\x1b[2J"
               in line for line in quoting), quoting
    assert not any(line.startswith("2026-11-22 10:00:00,000") for line in lines)
    assert all(RECORD.match(line) or line.startswith("    ") for line in lines), lines
    assert "\x1b" not in log.read_text() and "\r" not in log.read_text()
