"""The sandbox's own speed next to a trivial baseline server, so its overhead shows.

    .venv/bin/python -m bench.sandbox_speed [--requests 1500] [--profiles 10000] [--rounds 3]

(a) get_profiles (``equals(email,...)``) requests a second through the official SDK, against
the sandbox and against a trivial Starlette/uvicorn endpoint that returns the sandbox's own
answer as fixed bytes (same size, same client). (b) a bulk import of ``--profiles`` rows
from POST to ``complete``, next to building + encoding that payload and POSTing it to a
no-op endpoint. Both servers run the same way (uvicorn in a thread of this process, rate
limits off), so the ratio is the sandbox's overhead. (c) the CPU the sandbox itself spends
per profile on a push bench's chunk (``bench.push_throughput``'s rows, 1 % on a refused
domain, a default list), handlers called in-process with no HTTP and no client: the refused
POST, the accepted POST and its job creating the profiles, the phone-only job, then the same
chunk again updating them; best of ``--rounds`` fresh sandboxes. Run it against another
checkout's sandbox with ``PYTHONPATH=<that checkout> .venv/bin/python bench/sandbox_speed.py``
for a before/after of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import uvicorn
from klaviyo_api import KlaviyoAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.config import SandboxConfig
from sandbox.errors import ApiError
from sandbox.http import Request as SandboxRequest
from sandbox.import_jobs import bulk_import_profiles
from sandbox.server import SandboxServer, free_port
from sandbox.state import SandboxState

KEY = "bench-key"
JSONAPI = "application/vnd.api+json"
HEADERS = {
    "Authorization": f"Klaviyo-API-Key {KEY}",
    "revision": "2026-10-15",
    "content-type": JSONAPI,
}


def _payload(n: int) -> bytes:
    rows = [
        {"type": "profile", "attributes": {"email": f"bench{i}@example.com", "first_name": "B"}}
        for i in range(n)
    ]
    data = {"type": "profile-bulk-import-job", "attributes": {"profiles": {"data": rows}}}
    return orjson.dumps({"data": data})


REFUSED = "refused.example"


def _chunk_rows(n: int, refused_every: int = 100) -> list[dict[str, Any]]:
    """A push chunk's profiles as the planner writes them (no phone: sent apart)."""
    rows = []
    for i in range(n):
        domain = REFUSED if i % refused_every == refused_every // 2 else "example.com"
        attrs = {"email": f"person{i}@{domain}", "first_name": f"First{i}", "last_name": "Lee",
                 "title": "Buyer", "organization": f"Company {i % 500}",
                 "properties": {"region": "North", "tier": i % 3, "crm_contact_id": f"C{i}",
                                "role": "Decision Maker", "company_type": "Customer"}}
        rows.append({"type": "profile", "attributes": attrs})
    return rows


def _job_body(rows: list[dict[str, Any]], list_id: str) -> bytes:
    data = {"type": "profile-bulk-import-job", "attributes": {"profiles": {"data": rows}},
            "relationships": {"lists": {"data": [{"type": "list", "id": list_id}]}}}
    return orjson.dumps({"data": data})


async def _chunk_cpu(n: int) -> dict[str, float]:
    """CPU seconds of each step of a push chunk of ``n`` profiles, twice (create, update)."""
    state = SandboxState(SandboxConfig(keys=(KEY,), rate_limits="off",
                                       refused_email_domains=(REFUSED,)))
    account = state.store.accounts[KEY]
    list_id = account.new_list("bench", "single_opt_in").id
    rows = _chunk_rows(n)
    kept = [row for row in rows if not row["attributes"]["email"].endswith(REFUSED)]
    phones = [{"type": "profile", "attributes": {
        "email": row["attributes"]["email"], "phone_number": f"+447911{i:06d}"}}
        for i, row in enumerate(kept)]
    bodies = (_job_body(rows, list_id), _job_body(kept, list_id), _job_body(phones, list_id))

    def post(body: bytes) -> None:
        req = SandboxRequest("POST", "/api/profile-bulk-import-jobs", {}, {}, {}, body,
                             "http://sandbox", state, account)
        try:
            reply = bulk_import_profiles(req)
        except ApiError as err:
            orjson.dumps(err.body)
        else:
            orjson.dumps(reply.body)

    async def timed(body: bytes) -> tuple[float, float]:
        start = time.process_time()
        post(body)
        posted = time.process_time()
        await asyncio.gather(*state.tasks)
        return posted - start, time.process_time() - posted

    out: dict[str, float] = {}
    for rnd in ("create", "update"):
        out[f"{rnd}: refused POST"] = (await timed(bodies[0]))[0]
        out[f"{rnd}: accepted POST"], out[f"{rnd}: its job"] = await timed(bodies[1])
        out[f"{rnd}: phone-only POST"], out[f"{rnd}: its phone job"] = await timed(bodies[2])
    return out


def chunk_cpu(n: int, rounds: int) -> dict[str, float]:
    """Best of ``rounds`` fresh sandboxes, step by step."""
    runs = [asyncio.run(_chunk_cpu(n)) for _ in range(rounds)]
    return {step: min(run[step] for run in runs) for step in runs[0]}


class Baseline:
    """A trivial server answering fixed bytes: the floor any HTTP server here has."""

    def __init__(self, profiles_answer: bytes, job_answer: bytes) -> None:
        async def profiles(_: Request) -> Response:
            return Response(profiles_answer, media_type=JSONAPI)

        async def bulk(request: Request) -> Response:
            await request.body()
            return Response(job_answer, status_code=202, media_type=JSONAPI)

        app = Starlette(
            routes=[
                Route("/api/profiles", profiles),
                Route("/api/profile-bulk-import-jobs", bulk, methods=["POST"]),
            ]
        )
        self.port = free_port()
        config = uvicorn.Config(
            app,
            port=self.port,
            log_level="warning",
            access_log=False,
            http="httptools",
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Baseline:
        import threading

        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _sdk_rate(url: str, requests: int) -> float:
    klaviyo = KlaviyoAPI(KEY, max_delay=2, max_retries=3, test_host=url)
    call: Callable[[int], Any] = lambda i: klaviyo.Profiles.get_profiles(  # noqa: E731
        filter=f'equals(email,"bench{i % 10000}@example.com")'
    )
    call(0)  # warm up (connection, models)
    start = time.perf_counter()
    for i in range(requests):
        call(i)
    return requests / (time.perf_counter() - start)


def _import_until_complete(url: str, body: bytes) -> float:
    with httpx.Client(base_url=url, headers=HEADERS, timeout=60) as client:
        start = time.perf_counter()
        job = client.post("/api/profile-bulk-import-jobs", content=body).json()["data"]["id"]
        while (
            client.get(f"/api/profile-bulk-import-jobs/{job}").json()["data"]["attributes"][
                "status"
            ]
            != "complete"
        ):
            time.sleep(0.005)
        return time.perf_counter() - start


def _post_only(url: str, n: int) -> tuple[float, float]:
    start = time.perf_counter()
    body = _payload(n)
    encoded = time.perf_counter() - start
    with httpx.Client(base_url=url, headers=HEADERS, timeout=60) as client:
        client.post("/api/profile-bulk-import-jobs", content=body)
    return encoded, time.perf_counter() - start


def main() -> None:
    """Measure, print a table with ratios."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--profiles", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpu-only", action="store_true", help="only (c)")
    args = parser.parse_args()
    steps = chunk_cpu(args.profiles, args.rounds)
    if args.cpu_only:
        _print_cpu(steps, args.profiles, args.rounds)
        return
    with SandboxServer(keys=(KEY,), rate_limits="off") as sandbox:
        seed = _import_until_complete(sandbox.url, _payload(args.profiles))  # data to query
        sample = httpx.get(
            f"{sandbox.url}/api/profiles",
            params={"filter": 'equals(email,"bench1@example.com")'},
            headers=HEADERS,
        ).content
        job = httpx.post(
            f"{sandbox.url}/api/profile-bulk-import-jobs", content=_payload(1), headers=HEADERS
        ).content
        sandbox_rate = _sdk_rate(sandbox.url, args.requests)
        sandbox_import = _import_until_complete(sandbox.url, _payload(args.profiles))
    with Baseline(sample, job) as baseline:
        base_rate = _sdk_rate(baseline.url, args.requests)
        encoded, posted = _post_only(baseline.url, args.profiles)
    rows = [
        (
            "get_profiles via SDK (req/s)",
            f"{sandbox_rate:,.0f}",
            f"{base_rate:,.0f}",
            f"{sandbox_rate / base_rate:.2f} (rate)",
        ),
        (
            f"bulk import {args.profiles:,} rows, POST to complete (s)",
            f"{sandbox_import:.2f}",
            f"{posted:.2f} (encode {encoded:.2f} + POST to no-op)",
            f"{sandbox_import / posted:.2f} (time)",
        ),
    ]
    print(f"{'measure':<46} {'sandbox':>10}  {'baseline':<34} sandbox/baseline")
    for name, ours, base, ratio in rows:
        print(f"{name:<46} {ours:>10}  {base:<34} {ratio}")
    print(f"(that import updated existing profiles; the first, creating them: {seed:.2f} s)")
    print(f"(get_profiles answer: {len(sample)} bytes, served as fixed bytes by the baseline)")
    _print_cpu(steps, args.profiles, args.rounds)


def _print_cpu(steps: dict[str, float], profiles: int, rounds: int) -> None:
    print(f"sandbox CPU of a push chunk of {profiles:,} profiles, in process (best of {rounds}):")
    for step, seconds in steps.items():
        print(f"  {step:<28} {seconds * 1000:8.1f} ms")
    total = sum(steps.values())
    print(f"  {'total (2 chunks)':<28} {total * 1000:8.1f} ms = "
          f"{total / profiles * 1e6 / 2:.1f} us per profile per chunk")


if __name__ == "__main__":
    main()
