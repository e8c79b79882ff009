"""What a client without a token can make a real ``contact-sync web`` hold through the
account API (issue 19, finding 3; docs/SECURITY.md threat 13): raw sockets, so that a
request can stay unfinished."""

from __future__ import annotations

import select
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from producers.request_guard import BODY_LIMIT
from tests.producers.test_web_limits import (
    EVENTS_PATH,
    MEMORY_BOUND_MB,
    WAIT_S,
    Web,
    read_answer,
    signed_body,
    web,
)

TOKEN = "api-token-guard"
STRANGERS = 520
"""Slow unauthenticated sockets: more than SYNC_WEB_MAX_CONNECTIONS (512), as in issue 19."""
WEBHOOK_BOUND_S = 2.0
"""The longest a signed webhook POST may take while the strangers trickle."""


def request_head(method: str, path: str, *lines: str) -> bytes:
    return "".join([f"{method} {path} HTTP/1.1\r\n", "Host: localhost\r\n",
                    *(f"{line}\r\n" for line in lines)]).encode("latin-1")


def post_signed(server: Web) -> tuple[int, float]:
    body, signature = signed_body()
    started = time.monotonic()
    answer = httpx.post(server.url(EVENTS_PATH), content=body, timeout=WAIT_S,
                        headers={"X-Sync-Signature": signature})
    return answer.status_code, time.monotonic() - started


class Tricklers:
    """``count`` sockets sending ``PATCH /v1/accounts/x`` a byte at a time without a valid
    token: half still in their head, half past it (wrong bearer, a 1 MB body announced);
    a socket the server closes is opened again, so the pressure stays."""

    def __init__(self, server: Web, count: int) -> None:
        self.server = server
        self.sockets: list[socket.socket | None] = [None] * count
        self.stop = threading.Event()
        self.reopened = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, index: int) -> socket.socket | None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
            if index % 2:
                sock.sendall(request_head("PATCH", "/v1/accounts/x"))
            else:
                sock.sendall(request_head("PATCH", "/v1/accounts/x",
                                          "Authorization: Bearer wrong",
                                          "Content-Type: application/json",
                                          "Content-Length: 1000000") + b"\r\n{")
            return sock
        except OSError:
            return None

    def _run(self) -> None:
        while not self.stop.is_set():
            for index, sock in enumerate(self.sockets):
                if sock is None:
                    self.sockets[index] = self._open(index)
                    self.reopened += 1
                    continue
                try:
                    sock.sendall(b"a" if index % 2 == 0 else b"X")
                except OSError:
                    sock.close()
                    self.sockets[index] = None
            self.stop.wait(0.5)

    def __enter__(self) -> Tricklers:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=WAIT_S)
        for sock in self.sockets:
            if sock is not None:
                sock.close()


def test_the_signed_webhook_keeps_answering_202_while_520_strangers_trickle_patches(
    tmp_path: Path, redis_url: str, capsys: pytest.CaptureFixture[str],
):
    """Before the guard, 520 such sockets got the signed webhook 503 "too many open
    connections" for 105 s (issue 19)."""
    with web(tmp_path, redis_url, SYNC_API_TOKENS=TOKEN) as server:
        usual = [post_signed(server) for _ in range(10)]
        assert {status for status, _ in usual} == {202}
        with Tricklers(server, STRANGERS) as strangers:
            time.sleep(3)  # every stranger connected and trickling
            during = []
            for _ in range(24):  # 18 s: past the header timeout (10 s) and the drain (5 s)
                during.append(post_signed(server))
                time.sleep(0.75)
            reopened = strangers.reopened
    usual_s = statistics.median(took for _, took in usual)
    worst_s = max(took for _, took in during)
    with capsys.disabled():
        print(f"\nsigned webhook: usual {usual_s * 1000:.0f} ms; under {STRANGERS} trickling "
              f"strangers ({reopened} connections opened) median "
              f"{statistics.median(t for _, t in during) * 1000:.0f} ms, worst "
              f"{worst_s * 1000:.0f} ms")
    assert [status for status, _ in during] == [202] * len(during)
    assert worst_s < WEBHOOK_BOUND_S


def _send_until_answered(sock: socket.socket, first: bytes, chunk: bytes, count: int,
                         answers: list[int]) -> None:
    """Send ``first`` then up to ``count`` ``chunk`` s, stopping as soon as an answer can be
    read (or the server closes); the answer's status goes to ``answers``."""
    try:
        sock.sendall(first)
        for _ in range(count):
            if select.select([sock], [], [], 0)[0]:
                break
            sock.sendall(chunk)
    except OSError:
        pass
    try:
        answers.append(read_answer(sock)[0])
    except (AssertionError, OSError):
        answers.append(0)


def test_web_memory_stays_bounded_under_six_100_mb_puts_with_a_wrong_bearer(
    tmp_path: Path, redis_url: str, capsys: pytest.CaptureFixture[str],
):
    """Before the guard, six such PUTs took web from 412 MB to 1.16 GB before their 401s
    (issue 19)."""
    megabyte = b"a" * (1024 * 1024)
    with web(tmp_path, redis_url, SYNC_API_TOKENS=TOKEN) as server:
        before = server.rss_mb()
        sockets = [server.connect() for _ in range(6)]
        answers: list[int] = []
        first = request_head("PUT", "/v1/accounts/x", "Authorization: Bearer wrong",
                             "Content-Type: application/json",
                             f"Content-Length: {100 * len(megabyte)}") + b"\r\n"
        threads = [threading.Thread(target=_send_until_answered,
                                    args=(sock, first, megabyte, 100, answers))
                   for sock in sockets]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        peak = server.rss_mb("VmHWM")
        for sock in sockets:
            sock.close()
        assert httpx.get(server.url("/healthz"), timeout=WAIT_S).status_code == 200
    with capsys.disabled():
        print(f"\nweb memory: {before:.0f} MB at start, peak {peak:.0f} MB under six 100 MB "
              "PUTs with a wrong bearer")
    assert answers == [401] * 6
    assert peak < MEMORY_BOUND_MB


def test_an_account_request_without_a_token_is_refused_before_its_body_is_sent(
    tmp_path: Path, redis_url: str,
):
    with web(tmp_path, redis_url, SYNC_API_TOKENS=TOKEN) as server, \
            server.connect() as sock:
        sock.sendall(request_head("PUT", "/v1/accounts/x", "Content-Length: 100000000")
                     + b"\r\n")  # and not one byte of the body
        status, headers, body = read_answer(sock)
    assert status == 401
    assert headers["content-type"] == "application/problem+json"
    assert headers["www-authenticate"] == "Bearer"
    assert orjson.loads(body)["detail"] == (
        "missing bearer token: send 'Authorization: Bearer <token>'")


def test_an_account_body_over_the_route_limit_is_refused_with_413_naming_it(
    tmp_path: Path, redis_url: str,
):
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    big = b'{"contact_roles": ["' + b"r" * BODY_LIMIT + b'"]}'

    def streamed() -> Iterator[bytes]:
        yield big  # no Content-Length: refused while streaming

    with web(tmp_path, redis_url, SYNC_API_TOKENS=TOKEN) as server:
        declared = httpx.put(server.url("/v1/accounts/big"), content=big, headers=auth,
                             timeout=WAIT_S)
        chunked = httpx.put(server.url("/v1/accounts/big"), content=streamed(),
                            headers=auth, timeout=WAIT_S)
        missing = httpx.get(server.url("/v1/accounts/big"), headers=auth, timeout=WAIT_S)
    for answer in (declared, chunked):
        assert answer.status_code == 413
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"] == (
            f"the request body is over {BODY_LIMIT} bytes, the most this route takes; "
            "nothing was changed")
    assert missing.status_code == 404  # nothing stored


def test_a_body_to_a_route_that_takes_none_is_refused_unread(tmp_path: Path,
                                                             redis_url: str):
    with web(tmp_path, redis_url, SYNC_API_TOKENS=TOKEN) as server, \
            server.connect() as sock:
        sock.sendall(request_head("POST", "/healthz", "Content-Length: 50000") + b"\r\n")
        status, _headers, body = read_answer(sock)
    assert status == 413
    assert "over 0 bytes" in orjson.loads(body)["detail"]


def test_an_account_body_that_does_not_arrive_in_time_is_refused_with_408(
    tmp_path: Path, redis_url: str,
):
    with web(tmp_path, redis_url, SYNC_API_TOKENS=TOKEN, SYNC_WEB_BODY_TIMEOUT="1") as server, \
            server.connect() as sock:
        sock.sendall(request_head("PATCH", "/v1/accounts/x", f"Authorization: Bearer {TOKEN}",
                                  "Content-Type: application/json", "Content-Length: 100")
                     + b"\r\n{")
        status, headers, body = read_answer(sock)
    assert status == 408
    assert headers["content-type"] == "application/problem+json"
    assert "SYNC_WEB_BODY_TIMEOUT" in orjson.loads(body)["detail"]
