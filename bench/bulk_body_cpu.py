"""CPU of sending one 10,000-profile bulk import job: the SDK's validated
``bulk_import_profiles`` against the unvalidated post (:mod:`shared.klaviyo.bulk_body`),
with the baseline of the same run: ``json.dumps`` of the body and a bare urllib3 POST.

    python -m bench.bulk_body_cpu [--profiles 10000] [--rounds 5]

A no-op HTTP server in a thread of this process answers each POST with a fixed 202 job;
the figures are the calling thread's CPU time (``time.thread_time``), median of the rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import urllib3

from bench.push_throughput import contact
from shared.klaviyo.bulk_body import bulk_import, job_body
from shared.klaviyo.client import build_client

REPLY = json.dumps({"data": {
    "type": "profile-bulk-import-job", "id": "J1", "links": {"self": "http://x/"},
    "attributes": {"status": "queued", "created_at": "2026-01-01T00:00:00+00:00",
                   "total_count": 1, "completed_count": 0, "failed_count": 0}}}).encode()


class _NoOp(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(202)
        self.send_header("Content-Type", "application/vnd.api+json")
        self.send_header("Content-Length", str(len(REPLY)))
        self.end_headers()
        self.wfile.write(REPLY)

    def log_message(self, *args: Any) -> None:
        return


def body_of(count: int) -> dict[str, Any]:
    """A job body as the planner builds it (the push bench's contacts)."""
    payload = []
    for i in range(count):
        c = contact(i)
        payload.append({"type": "profile", "attributes": {
            "email": c.email, "first_name": c.first_name, "last_name": c.last_name,
            "title": c.job_title, "organization": c.company.name if c.company else "",
            "properties": {**c.properties, "crm_contact_id": c.id, "role": c.role,
                           "company_type": "Customer"}}})
    return job_body(payload, "Y6nRLr")


def cpu_of(fn: Callable[[], Any], rounds: int) -> float:
    fn()  # warm-up (imports, validators, connections)
    spent = []
    for _ in range(rounds):
        started = time.thread_time()
        fn()
        spent.append(time.thread_time() - started)
    return statistics.median(spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NoOp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    api = build_client("bench-key", url)
    body = body_of(args.profiles)
    pool = urllib3.PoolManager()
    size = len(json.dumps(body))

    def bare() -> None:
        pool.request("POST", f"{url}/api/profile-bulk-import-jobs/", body=json.dumps(body),
                     headers={"Content-Type": "application/vnd.api+json"})

    sdk = cpu_of(lambda: api.Profiles.bulk_import_profiles(body), args.rounds)
    unvalidated = cpu_of(lambda: bulk_import(api)(body), args.rounds)
    baseline = cpu_of(bare, args.rounds)
    server.shutdown()
    print(f"{args.profiles:,} profiles, {size:,} bytes of JSON; CPU of the calling thread, "
          f"median of {args.rounds}:")
    print(f"  SDK bulk_import_profiles (validated):  {sdk:.3f} s")
    print(f"  unvalidated (shared.klaviyo.bulk_body): {unvalidated:.3f} s "
          f"({sdk / unvalidated:.1f}x less)")
    print(f"  baseline json.dumps + urllib3 POST:     {baseline:.3f} s "
          f"(unvalidated / baseline {unvalidated / baseline:.1f})")


if __name__ == "__main__":
    main()
