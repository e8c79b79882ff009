"""The sandbox's own speed, so we know it is never the bottleneck of the pipeline's benches.

    python -m bench.sandbox_speed [--requests 3000] [--threads 4] [--profiles 10000]

Starts ``contact-sync sandbox`` (rate limits off) in its own process and measures:
get_profiles requests a second (raw HTTP, one and several keep-alive clients; the official
SDK, one client), a bulk import of ``--profiles`` rows from POST to ``complete``, and reading
the job's profiles back (100 a page).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import orjson
from klaviyo_api import KlaviyoAPI

from sandbox.server import free_port

KEY = "bench-key"
HEADERS = {
    "Authorization": f"Klaviyo-API-Key {KEY}",
    "revision": "2026-10-15",
    "content-type": "application/vnd.api+json",
}


def _start() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    exe = os.path.join(os.path.dirname(sys.executable), "contact-sync")
    proc = subprocess.Popen(
        [exe, "sandbox", "--port", str(port), "--keys", KEY, "--rate-limits", "off"],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/__sandbox/calls", timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the sandbox did not start")


def _import(url: str, n: int) -> tuple[str, float, float]:
    rows = [
        {"type": "profile", "attributes": {"email": f"bench{i}@example.com", "first_name": "B"}}
        for i in range(n)
    ]
    body = orjson.dumps(
        {"data": {"type": "profile-bulk-import-job", "attributes": {"profiles": {"data": rows}}}}
    )
    with httpx.Client(base_url=url, headers=HEADERS, timeout=60) as client:
        start = time.perf_counter()
        job = client.post("/api/profile-bulk-import-jobs", content=body).json()["data"]["id"]
        posted = time.perf_counter() - start
        while True:
            status = client.get(f"/api/profile-bulk-import-jobs/{job}").json()["data"]
            if status["attributes"]["status"] == "complete":
                return job, posted, time.perf_counter() - start
            time.sleep(0.005)


def _read_job(url: str, job: str) -> tuple[int, float]:
    start = time.perf_counter()
    count = 0
    with httpx.Client(base_url=url, headers=HEADERS, timeout=60) as client:
        link: str | None = f"/api/profile-bulk-import-jobs/{job}/profiles?page%5Bsize%5D=100"
        while link:
            page = client.get(link).json()
            count += len(page["data"])
            link = page["links"].get("next")
    return count, time.perf_counter() - start


def _get_profiles(url: str, requests: int, seed: int) -> None:
    with httpx.Client(base_url=url, headers=HEADERS) as client:
        for i in range(requests):
            email = f"bench{(seed * 7919 + i) % 10000}@example.com"
            client.get("/api/profiles", params={"filter": f'equals(email,"{email}")'})


def _rate(url: str, requests: int, threads: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda t: _get_profiles(url, requests // threads, t), range(threads)))
    return requests / (time.perf_counter() - start)


def _sdk_rate(url: str, requests: int) -> float:
    klaviyo = KlaviyoAPI(KEY, max_delay=2, max_retries=3, test_host=url)
    start = time.perf_counter()
    for i in range(requests):
        klaviyo.Profiles.get_profiles(filter=f'equals(email,"bench{i % 10000}@example.com")')
    return requests / (time.perf_counter() - start)


def main() -> None:
    """Run the measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--profiles", type=int, default=10_000)
    args = parser.parse_args()
    proc, url = _start()
    try:
        job, posted, complete = _import(url, args.profiles)
        print(
            f"bulk import of {args.profiles:,} profiles: POST answered in {posted:.2f} s, "
            f"complete {complete:.2f} s after the POST began"
        )
        count, read = _read_job(url, job)
        print(f"job profiles read back: {count:,} in {read:.2f} s ({count / read:,.0f} profiles/s)")
        print(
            "get_profiles (equals email), raw HTTP, 1 client: "
            f"{_rate(url, args.requests, 1):,.0f} req/s"
        )
        print(
            f"get_profiles, raw HTTP, {args.threads} clients: "
            f"{_rate(url, args.requests, args.threads):,.0f} req/s"
        )
        print(
            f"get_profiles, official SDK, 1 client: {_sdk_rate(url, args.requests // 3):,.0f} req/s"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
