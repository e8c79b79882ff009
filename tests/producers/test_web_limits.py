"""What an unauthenticated or slow client can make a real ``contact-sync web`` hold
(issue 11, docs/SECURITY.md "Resource limits of the web"): requests over raw sockets, so
that a request can stay unfinished."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from producers.signature import sign
from tests.security.web_process import web_process

SECRET = "whsec-limits"
EVENTS_PATH = "/v1/contact-events"
WAIT_S = 30.0
"""The most any answer or close is waited for: generous on a shared 2-core machine."""
MEMORY_BOUND_MB = 300
"""The web's peak resident memory under the attacks of the memory test (docs/SECURITY.md)."""


@dataclass
class Web:
    port: int
    pid: int
    log: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=WAIT_S)
        sock.settimeout(WAIT_S)
        return sock

    def rss_mb(self, field: str = "VmRSS") -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
        raise AssertionError(f"no {field} for pid {self.pid}")


@contextmanager
def web(tmp_path: Path, redis_url: str, **limits: str) -> Iterator[Web]:
    env = {"REDIS_URL": redis_url, "SYNC_WEBHOOK_SECRET": SECRET, **limits}
    log = tmp_path / "web.log"
    with web_process(env, log) as (port, process):
        yield Web(port, process.pid, log)


def head(path: str = EVENTS_PATH, *lines: str) -> bytes:
    return "".join([f"POST {path} HTTP/1.1\r\n", "Host: localhost\r\n",
                    *(f"{line}\r\n" for line in lines)]).encode("latin-1")


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the answer on ``sock``, read until the server closes."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    assert data, "the server closed the connection without an answer"
    top, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = top.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in
               (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def signed_body() -> tuple[bytes, str]:
    body = orjson.dumps({"events": []})
    return body, sign(SECRET, body)


@pytest.mark.parametrize(("header", "said"), [
    (None, "missing X-Sync-Signature"),
    ("v1=abc", "malformed X-Sync-Signature"),
    ("an hour old", "stale X-Sync-Signature"),
], ids=["missing", "malformed", "stale"])
def test_a_bad_signature_header_is_refused_with_401_before_the_body_is_sent(
    tmp_path: Path, redis_url: str, header: str | None, said: str,
):
    if header == "an hour old":
        header = f"t={int(time.time()) - 3600},v1={'0' * 64}"
    with web(tmp_path, redis_url) as server, server.connect() as sock:
        lines = ["Content-Length: 5000000", *([f"X-Sync-Signature: {header}"] if header else [])]
        sock.sendall(head(EVENTS_PATH, *lines) + b"\r\n")  # and not one byte of the body
        status, _headers, body = read_answer(sock)
    assert status == 401
    assert said in orjson.loads(body)["detail"]


def test_a_client_still_sending_an_early_refused_body_reads_the_401(tmp_path: Path,
                                                                   redis_url: str):
    with web(tmp_path, redis_url) as server:
        answer = httpx.post(server.url(EVENTS_PATH), content=b"x" * (3 * 1024 * 1024),
                            headers={"X-Sync-Signature": "t=1,v1=" + "0" * 64}, timeout=WAIT_S)
    assert answer.status_code == 401
    assert "stale" in answer.json()["detail"]


def test_headers_over_the_limit_are_refused_with_431(tmp_path: Path, redis_url: str):
    body, signature = signed_body()
    with web(tmp_path, redis_url) as server:
        with server.connect() as sock:
            sock.sendall(head(EVENTS_PATH, f"X-Sync-Signature: {signature}",
                              f"Content-Length: {len(body)}", "X-Pad: " + "a" * 40_000)
                         + b"\r\n" + body)
            status, headers, answer = read_answer(sock)
        assert status == 431
        assert headers["connection"] == "close"
        assert orjson.loads(answer)["detail"] == (
            "request headers over 32768 bytes (SYNC_WEB_MAX_HEADER_BYTES)")
        # The same request with small headers is taken.
        done = httpx.post(server.url(EVENTS_PATH), content=body,
                          headers={"X-Sync-Signature": signature}, timeout=WAIT_S)
        assert done.status_code == 202
        assert "refused a connection from 127.0.0.1:" in server.log.read_text()


def test_a_body_that_does_not_arrive_in_time_is_refused_with_408(tmp_path: Path,
                                                                 redis_url: str):
    body, signature = signed_body()
    with web(tmp_path, redis_url, SYNC_WEB_BODY_TIMEOUT="1") as server, \
            server.connect() as sock:
        sock.sendall(head(EVENTS_PATH, f"X-Sync-Signature: {signature}",
                          f"Content-Length: {len(body)}") + b"\r\n" + body[:3])
        status, _headers, answer = read_answer(sock)
    assert status == 408
    assert orjson.loads(answer)["detail"] == (
        "the request body did not arrive within 1 s (SYNC_WEB_BODY_TIMEOUT); nothing was stored")


def test_an_idle_connection_is_closed_and_an_unfinished_head_gets_408(tmp_path: Path,
                                                                      redis_url: str):
    with web(tmp_path, redis_url, SYNC_WEB_HEADER_TIMEOUT="1") as server:
        with server.connect() as idle:
            assert idle.recv(1) == b""  # closed, without an answer
        with server.connect() as partial:
            partial.sendall(head("/healthz", "X-Slow: 1"))
            status, headers, answer = read_answer(partial)
        assert status == 408
        assert headers["connection"] == "close"
        assert "SYNC_WEB_HEADER_TIMEOUT" in orjson.loads(answer)["detail"]


def test_beyond_the_request_limit_a_request_gets_503_with_retry_after(tmp_path: Path,
                                                                      redis_url: str):
    body, signature = signed_body()
    with web(tmp_path, redis_url, SYNC_WEB_MAX_REQUESTS="2",
             SYNC_WEB_BODY_TIMEOUT="120") as server:
        holders = [server.connect() for _ in range(2)]
        for sock in holders:  # signed, their bodies never finish
            sock.sendall(head(EVENTS_PATH, f"X-Sync-Signature: {signature}",
                              "Content-Length: 1000") + b"\r\n{")
        deadline = time.monotonic() + WAIT_S
        while True:  # until both holders are in progress
            answer = httpx.post(server.url(EVENTS_PATH), content=body,
                                headers={"X-Sync-Signature": signature}, timeout=WAIT_S)
            if answer.status_code == 503 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "5"
        assert answer.json()["detail"] == ("too many requests in progress (at most 2); "
                                           "nothing was stored, retry after Retry-After seconds")
        for sock in holders:
            sock.close()
        deadline = time.monotonic() + WAIT_S
        while answer.status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.05)
            answer = httpx.post(server.url(EVENTS_PATH), content=body,
                                headers={"X-Sync-Signature": signature}, timeout=WAIT_S)
        assert answer.status_code == 202


def test_beyond_the_connection_limit_the_longest_idle_connection_makes_room(tmp_path: Path,
                                                                             redis_url: str):
    with web(tmp_path, redis_url, SYNC_WEB_MAX_CONNECTIONS="3") as server:
        idle = [server.connect() for _ in range(3)]
        time.sleep(0.2)  # so that the first one has waited longest
        with server.connect() as extra:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close"
                          b"\r\n\r\n")
            status, _headers, _answer = read_answer(extra)
        assert status == 200
        assert idle[0].recv(1) == b""  # closed without an answer, to make room
        for sock in idle:
            sock.close()


def test_beyond_the_connection_limit_of_requests_in_progress_a_connection_gets_503(
    tmp_path: Path, redis_url: str,
):
    _body, signature = signed_body()
    with web(tmp_path, redis_url, SYNC_WEB_MAX_CONNECTIONS="3",
             SYNC_WEB_BODY_TIMEOUT="120") as server:
        busy = [server.connect() for _ in range(3)]
        for sock in busy:  # signed heads, their bodies never finish: none can be closed
            sock.sendall(head(EVENTS_PATH, f"X-Sync-Signature: {signature}",
                              "Content-Length: 1000") + b"\r\n{")
        time.sleep(0.5)
        with server.connect() as extra:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            status, headers, answer = read_answer(extra)
        assert status == 503
        assert headers["retry-after"] == "5"
        assert "too many open connections (at most 3)" in orjson.loads(answer)["detail"]
        for sock in busy:
            sock.close()


def _send_until_closed(sock: socket.socket, first: bytes, chunk: bytes, count: int) -> None:
    """Send ``first`` then up to ``count`` ``chunk`` s, never finishing the request; stop when
    the server closes. The socket is left open."""
    try:
        sock.sendall(first)
        for _ in range(count):
            sock.sendall(chunk)
    except OSError:
        pass


def test_web_memory_stays_bounded_under_unfinished_huge_headers_and_unsigned_bodies(
    tmp_path: Path, redis_url: str, capsys: pytest.CaptureFixture[str],
):
    """Before the limits, 20 unfinished 64 MB headers took the web to 1.87 GB and 200
    unsigned never-finished 5 MB bodies to 1.06 GB (issue 11)."""
    with web(tmp_path, redis_url) as server:
        before = server.rss_mb()
        sockets = [server.connect() for _ in range(220)]
        megabyte = b"a" * (1024 * 1024)
        jobs = [(sock, head(EVENTS_PATH, "X-Pad: "), megabyte, 64) for sock in sockets[:20]]
        jobs += [(sock, head(EVENTS_PATH, "Content-Length: 5242880") + b"\r\n",
                  megabyte[:256 * 1024], 19) for sock in sockets[20:]]
        threads = [threading.Thread(target=_send_until_closed, args=job) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads)
        peak = server.rss_mb("VmHWM")
        answers = [read_answer(sock)[0] for sock in sockets]
        for sock in sockets:
            sock.close()
        assert answers == [431] * 20 + [401] * 200
        assert httpx.get(server.url("/healthz"), timeout=WAIT_S).status_code == 200
        body, signature = signed_body()
        assert httpx.post(server.url(EVENTS_PATH), content=body, timeout=WAIT_S,
                          headers={"X-Sync-Signature": signature}).status_code == 202
    with capsys.disabled():
        print(f"\nweb memory: {before:.0f} MB at start, peak {peak:.0f} MB under 20 "
              f"unfinished huge headers and 200 unsigned unfinished bodies")
    assert peak < MEMORY_BOUND_MB
