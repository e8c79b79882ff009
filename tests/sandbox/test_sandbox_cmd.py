"""``contact-sync sandbox``: keys, faults and limits from the command line; a clean stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import httpx
import pytest

from sandbox.config import FaultSpec
from sandbox.faults import parse_fault

EXE = os.path.join(os.path.dirname(sys.executable), "contact-sync")


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Klaviyo-API-Key {key}", "revision": "2026-10-15"}


def test_the_command_serves_its_keys_with_the_faults_given_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [EXE, "sandbox", "--port", "0", "--keys", "a,b", "--fault", "get_lists=500:1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        found = re.search(r"http://[0-9.]+:\d+", proc.stdout.readline())
        assert found is not None
        url = found.group(0)
        assert (
            httpx.get(f"{url}/api/profiles", headers=_headers("b"), timeout=10).status_code == 200
        )
        assert httpx.get(f"{url}/api/lists", headers=_headers("a"), timeout=10).status_code == 500
        assert (
            httpx.get(f"{url}/api/profiles", headers=_headers("c"), timeout=10).status_code == 401
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_a_bad_fault_option_is_refused_naming_it() -> None:
    done = subprocess.run(
        [EXE, "sandbox", "--fault", "get_lists=404:1"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert "--fault" in done.stderr


def test_fault_specs_read_shares_latency_drop_and_retry_after() -> None:
    operation, spec = parse_fault("*=429:0.5,503:0.25,latency:20,drop:0.1,retry_after:2")
    assert operation == "*"
    assert spec == FaultSpec(
        status_429=0.5, status_503=0.25, latency_ms=20, drop=0.1, retry_after=2
    )


def test_fault_specs_read_cdn_challenges_and_429s_without_retry_after() -> None:
    operation, spec = parse_fault("get_lists=403html:0.2,no_retry_after:1")
    assert (operation, spec) == (
        "get_lists", FaultSpec(status_403_html=0.2, omit_retry_after=1.0)
    )
    assert parse_fault("*=status_403_html:1,omit_retry_after:0.5")[1] == FaultSpec(
        status_403_html=1.0, omit_retry_after=0.5
    )
    with pytest.raises(ValueError, match=r"share in 0\.\.1"):
        parse_fault("*=no_retry_after:2")


def test_the_command_sets_every_switch_at_start_up() -> None:
    proc = subprocess.Popen(
        [EXE, "sandbox", "--port", "0", "--keys", "a,b", "--bulk-validation", "async",
         "--name-bad-rows", "2", "--no-phone-identity", "--many-lists-per-job",
         "--ulid-job-ids", "--job-mode", "instant", "--job-processing-ms", "5",
         "--key-state", "b=no_scope", "--fault", "get_lists=403html:1",
         "--refuse-email-domain", "refused.example", "--access-token-ttl", "5"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        found = re.search(r"http://[0-9.]+:\d+", proc.stdout.readline())
        assert found is not None
        url = found.group(0)
        assert httpx.get(f"{url}/__sandbox/strictness", timeout=10).json() == {
            "bulk_validation": "async",
            "name_bad_rows": 2,
            "phone_identity": False,
            "one_list_per_job": False,
            "opaque_job_ids": False,
            "refused_email_domains": ["refused.example"],
        }
        denied = httpx.get(f"{url}/api/profiles", headers=_headers("b"), timeout=10)
        assert denied.json()["errors"][0]["code"] == "permission_denied"
        challenge = httpx.get(f"{url}/api/lists", headers=_headers("a"), timeout=10)
        assert (challenge.status_code, challenge.headers["cf-mitigated"]) == (403, "challenge")
        assert httpx.get(f"{url}/__sandbox/oauth", timeout=10).json()[
            "access_token_ttl_s"] == 5
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_a_bad_switch_value_is_refused_naming_the_option() -> None:
    for args, hint in (
        (["--bulk-validation", "lenient"], "--bulk-validation"),
        (["--key-state", "a=asleep"], "--key-state"),
    ):
        done = subprocess.run(
            [EXE, "sandbox", *args], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 2
        assert hint in done.stderr


def test_a_taken_port_is_one_error_line_and_exit_2_with_no_banner() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([EXE, "sandbox", "--port", str(port)], capture_output=True,
                              text=True, timeout=60)
    assert done.returncode == 2, done
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"Error: port {port} on 127.0.0.1 is already in use: the sandbox cannot listen there; "
        "stop what uses it or choose another with --port"], done.stderr
    assert "exit code 2" in subprocess.run([EXE, "sandbox", "--help"], capture_output=True,
                                           text=True, timeout=60).stdout
