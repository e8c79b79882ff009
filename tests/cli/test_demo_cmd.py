"""``contact-sync demo``: the real command end to end, and its checks on a Klaviyo state that
is right, then made wrong (a real sandbox, written and read through the official SDK)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from klaviyo_api import KlaviyoAPI

from cli.demo import expectations, feed, klaviyo_state
from cli.demo.expectations import Expected
from cli.demo.report import RunFacts, compare, verdict
from cli.procfile import PROJECT_ROOT
from sandbox.inspect_client import SandboxClient

COMMAND = str(Path(sys.executable).with_name("contact-sync"))
INTERVAL = 2.0


def table_rows(output: str) -> dict[str, list[str]]:
    """check -> [expected, actual, ok] of the final table."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) == 4 and cells[0] != "check":
            rows[cells[0]] = cells[1:]
    return rows


def test_demo_runs_every_process_and_exits_0_when_klaviyo_holds_what_the_crm_sent() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "KLAVIYO_API_KEY")}
    env.update(WORKER_PROCESSES="1", WORKER_THREADS="4", REDIS_URL="redis://must-not-be-used")
    done = subprocess.run(
        [COMMAND, "demo", "--contacts", "60", "--interval", f"{INTERVAL:g}", "--seed", "3"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=360)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Interval: 2 s between a batch's completion" in output
    assert "embedded redis-server" in output and "embedded sandbox" in output
    rows = table_rows(output)
    assert len(rows) >= 15, output
    assert {check: cells for check, cells in rows.items() if cells[2] != "ok"} == {}
    assert rows["email change applied to the same profile"] == ["1", "1", "ok"]
    assert rows["emails with more than one profile"] == ["0", "0", "ok"]
    # wave 3: unsubscribes and bounces in Klaviyo reached the CRM once each, and stayed
    assert rows["wave 3: consent.changed deliveries (exactly one per change)"] == [
        "10", "10", "ok"]
    assert rows["wave 3: still unsubscribed or bounced after the CRM's older resend"] == [
        "10", "10", "ok"]
    assert "the CRM heard each change once, and kept it" in output
    assert re.search(r"All \d+ checks agree", output)
    # every process was stopped by SIGTERM, none had to be killed
    log_path = re.search(r"output goes to\s+(\S+processes\.log)", output)
    assert log_path, output
    log = Path(log_path.group(1)).read_text()
    shutil.rmtree(Path(log_path.group(1)).parent, ignore_errors=True)
    for name in ("web", "collector", "scheduler", "worker", "sandbox"):
        assert f"{name}.1 stopped (rc=0)" in log, log[-3000:]
    assert "SIGKILL" not in log


def test_the_feed_is_the_same_for_the_same_seed_and_holds_every_case() -> None:
    one, again, other = feed.generate(60, 3), feed.generate(60, 3), feed.generate(60, 4)
    assert one.events == again.events and one.events != other.events
    expected = expectations.compute(one)
    assert expected.contacts == 60
    assert all((expected.excluded_by_filter, expected.invalid_email, expected.out_of_order,
                expected.shared, expected.email_changes, expected.left_filters,
                expected.erased, expected.cleared))
    assert any(p.unsubscribed for p in expected.profiles.values())
    assert expected.preexisting & set(expected.profiles)
    assert expected.preexisting - set(expected.profiles)


def test_the_feed_refuses_fewer_contacts_than_its_cases_need() -> None:
    with pytest.raises(ValueError, match="contacts: at least 40"):
        feed.generate(10)


# --- the checks on a Klaviyo state written by hand -----------------------------------------

def _create(api: KlaviyoAPI, email: str, attributes: dict[str, Any]) -> str:
    answer: Any = api.Profiles.create_profile(
        {"data": {"type": "profile", "attributes": {"email": email, **attributes}}})
    return str(answer["data"]["id"])


def write_expected_state(sandbox: SandboxClient, expected: Expected) -> tuple[
        KlaviyoAPI, str, RunFacts]:
    """Klaviyo as the sync should leave it, written through the SDK; and the run's facts."""
    api = klaviyo_state.client(sandbox.key, sandbox.url)
    list_id = klaviyo_state.create_list(api, "Newsletter")
    facts = RunFacts(interval=INTERVAL)
    for email in sorted(expected.preexisting - set(expected.profiles)):
        facts.preexisting_ids[email] = _create(api, email, {"first_name": "Klaviyo-Only"})
    members, unsubscribed = [], []
    for email, profile in sorted(expected.profiles.items()):
        profile_id = _create(api, email, {
            "first_name": profile.first_name, "last_name": profile.last_name,
            "title": profile.title, "properties": {"crm_contact_id": profile.crm_contact_id}})
        if email in expected.preexisting:
            facts.preexisting_ids[email] = profile_id
        members += [profile_id] if profile.in_list else []
        unsubscribed += [email] if profile.unsubscribed else []
        for change in expected.email_changes:
            if change.new_email == email:
                facts.ids_before_change[change.contact_id] = profile_id
    for cid in expected.left_filters:  # out of the list, the profile kept
        _create(api, f"{cid.lower()}@left.example.com", {"properties": {"crm_contact_id": cid}})
    sandbox.add_members(list_id, members)
    api.Profiles.bulk_unsubscribe_profiles({"data": {
        "type": "profile-subscription-bulk-delete-job", "attributes": {"profiles": {"data": [
            {"type": "profile", "attributes": {"email": email, "subscriptions": {
                "email": {"marketing": {"consent": "UNSUBSCRIBED"}}}}}
            for email in unsubscribed]}}}})
    report = {"excluded_filter": len(expected.excluded_by_filter)
              + len(expected.left_filters),
              "invalid_email": len(expected.invalid_email),
              "left_filters": len(expected.left_filters), "erased": len(expected.erased),
              "cleared_fields": len(expected.cleared)}
    facts.batches = [
        {"status": "completed", "started_at": 100.0, "completed_at": 101.0, "report": report},
        {"status": "completed", "started_at": 101.0 + INTERVAL, "completed_at": 104.0,
         "report": {}}]
    return api, list_id, facts


def test_the_checks_agree_on_the_right_state_and_name_each_row_a_wrong_one_breaks(
        sandbox: SandboxClient) -> None:
    expected = expectations.compute(feed.generate(40, 5))
    api, list_id, facts = write_expected_state(sandbox, expected)
    rows = compare(expected, klaviyo_state.read_state(api, list_id), facts)
    assert [row.check for row in rows if not row.ok] == []
    assert verdict(rows)[0] == 0

    # Klaviyo loses a profile (its email now points elsewhere) and a list member.
    email = next(e for e, p in sorted(expected.profiles.items())
                          if p.in_list and len(p.contact_ids) == 1)
    missing = klaviyo_state.profile_id_of(api, email)
    assert missing is not None
    api.Profiles.update_profile(missing, {"data": {"type": "profile", "id": missing,
                                                   "attributes": {"email": "gone@example.org"}}})
    other = next(klaviyo_state.profile_id_of(api, e) for e, p in sorted(expected.profiles.items())
                 if p.in_list and e != email)
    assert other is not None
    sandbox.remove_members(list_id, [other])

    rows = compare(expected, klaviyo_state.read_state(api, list_id), facts)
    code, message = verdict(rows)
    assert code == 1
    wrong = {row.check.strip() for row in rows if not row.ok}
    assert {"profiles showing the CRM's newest state", "default list members",
            "new profiles, created by the sync"} <= wrong
    for check in wrong:
        assert check in message
    assert "profiles in Klaviyo" not in wrong  # as many profiles as before, one of them wrong


def test_a_batch_started_before_the_interval_or_a_failed_one_is_a_disagreement() -> None:
    expected = expectations.compute(feed.generate(40, 5))
    facts = RunFacts(interval=10, batches=[
        {"status": "completed", "started_at": 0.0, "completed_at": 1.0, "report": {}},
        {"status": "failed", "started_at": 5.0, "completed_at": 6.0, "report": {}}])
    rows = compare(expected, klaviyo_state.KlaviyoState([], set()), facts)
    wrong = {row.check for row in rows if not row.ok}
    assert {"batches completed (none failed)",
            "next batch >= 10 s after the previous completed"} <= wrong
