"""``contact-sync sandbox``: keys, faults and limits from the command line; a clean stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import httpx

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
