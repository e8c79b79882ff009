"""The plan's records as a streamed plan leaves them: begun once, moved on by each commit,
its joins found by their own email only -- read back through the one reader."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from shared.state import plan_record as record
from shared.state.plan_record import JoinEntry, PlanProgress, carry_field


@dataclass(frozen=True)
class _Join:
    email: str
    contact_id: str
    first_time: bool = True
    owed: bool = False
    sent_unsubscribed: bool = False


def test_a_plan_nobody_began_reads_as_none_and_a_begun_one_as_its_settings(
        r: redis.Redis) -> None:
    assert record.read_plan(r, "acme", "b1") is None
    assert not record.has_begun(r, "acme", "b1")
    with r.pipeline(transaction=True) as pipe:
        record.begin(pipe, "acme", "b1", list_id="L1", initial=True, list_missing=False,
                     streams=True)
        pipe.execute()
    assert record.read_plan(r, "acme", "b1") == PlanProgress(
        list_id="L1", initial=True, streams=True)
    assert record.has_begun(r, "acme", "b1")
    assert record.committed_cursor(r, "acme", "b1") == 0
    assert not record.is_final(r, "acme", "b1")


def test_a_commit_moves_the_progress_on_and_the_last_one_makes_it_final(
        r: redis.Redis) -> None:
    with r.pipeline(transaction=True) as pipe:
        record.begin(pipe, "acme", "b1", list_id="", initial=False, list_missing=True,
                     streams=False)
        record.write_progress(pipe, "acme", "b1", cursor=5_000, cap_taken=10, chunks=2,
                              carry={carry_field("list", "rows"): b"[1,2]"}, final=False)
        pipe.execute()
    progress = record.read_plan(r, "acme", "b1")
    assert progress is not None
    assert (progress.cursor, progress.cap_taken, progress.chunks) == (5_000, 10, 2)
    assert (progress.list_missing, progress.final) == (True, False)
    assert progress.carried("list", "rows") == "[1,2]"
    assert progress.carried("bare", "rows") is None
    with r.pipeline(transaction=True) as pipe:
        record.write_progress(pipe, "acme", "b1", cursor=6_000, cap_taken=10, chunks=3,
                              carry={}, final=True)
        pipe.execute()
    assert record.is_final(r, "acme", "b1")
    assert record.written_chunks(r, "acme", "b1") == (3, False)
    with r.pipeline(transaction=True) as pipe:
        record.drop_progress(pipe, "acme", "b1")
        pipe.execute()
    assert record.read_plan(r, "acme", "b1") is None


def test_an_emails_joins_are_found_by_that_email_only(r: redis.Redis) -> None:
    with r.pipeline(transaction=True) as pipe:
        record.add_claims(pipe, "acme", "b1", {"ann@example.com": "C1\trow\t"})
        record.add_joins(pipe, "acme", "b1", [
            _Join("ann@example.com", "C2", sent_unsubscribed=True),
            _Join("ann@example.com.au", "C3", first_time=False)])
        record.add_shared_phones(pipe, "acme", "b1", ["+15550100"])
        pipe.execute()
    assert record.claims_of(r, "acme", "b1", ["ann@example.com", "bob@example.com"]) == {
        "ann@example.com": "C1\trow\t"}
    joined, shared = record.late_findings(r, "acme", "b1",
                                          ["ann@example.com", "bob@example.com"],
                                          ["+15550100", "+15550199"])
    assert (joined, shared) == (["ann@example.com"], {"+15550100"})
    assert record.joins_of(r, "acme", "b1", ["ann@example.com"]) == {
        "ann@example.com": [JoinEntry("C2", first_time=True, owed=False,
                                      sent_unsubscribed=True)]}


def test_email_changes_read_back_in_the_order_the_plan_found_them(r: redis.Redis) -> None:
    assert record.email_change_count(r, "acme", "b1") == 0
    with r.pipeline(transaction=True) as pipe:
        record.add_email_changes(pipe, "acme", "b1", [
            b'{"contact_id": "C1", "old_email": "a@example.com", "new_email": "b@example.com"}',
            b'{"contact_id": "C2", "old_email": "c@example.com", "new_email": "d@example.com"}'])
        pipe.execute()
    assert record.email_change_count(r, "acme", "b1") == 2
    assert record.email_change(r, "acme", "b1", 1)["contact_id"] == "C2"
    assert record.email_change(r, "acme", "b1", 2) == {}
