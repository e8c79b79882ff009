"""Run the sandbox in a background thread (tests, the demo) or in the foreground (the CLI)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import uvicorn

from sandbox.app import DROP_KEY, ASGIApp, Receive, SandboxApp, Scope, Send, create_app
from sandbox.config import FaultSpec, SandboxConfig
from sandbox.oauth_grants import DEFAULT_REDIRECT_URIS


def _with_connection_closer(app: ASGIApp) -> ASGIApp:
    """Outermost layer: note how to close the raw connection, for the ``drop`` fault.

    It sits outside any user middleware, so wrapped ``send`` callables do not hide uvicorn's
    transport from the app.
    """

    async def wrapper(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if transport is not None:
                scope[DROP_KEY] = transport.close
        await app(scope, receive, send)

    return wrapper


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class SandboxServer:
    """The Klaviyo sandbox on a free port (``port=0``), served by uvicorn in a thread.

    ``middleware`` wraps the ASGI app, outermost last (e.g. an OpenAPI-validating layer).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        keys: Sequence[str] = ("sandbox-key",),
        rate_limits: str | float = "on",
        middleware: Sequence[Callable[[ASGIApp], ASGIApp]] = (),
        *,
        faults: dict[str, FaultSpec] | None = None,
        public_url: str | None = None,
        job_mode: str = "async",
        job_delay_ms: int = 0,
        job_processing_ms: int = 0,
        bulk_validation: str = "sync",
        name_bad_rows: int = 0,
        phone_identity: bool = True,
        one_list_per_job: bool = True,
        opaque_job_ids: bool = True,
        key_states: dict[str, str] | None = None,
        refused_email_domains: Sequence[str] = (),
        access_token_ttl_s: float = 3600.0,
        oauth_redirect_uris: Sequence[str] | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.config = SandboxConfig(
            keys=tuple(keys),
            rate_limits=rate_limits,
            faults=dict(faults or {}),
            public_url=public_url,
            job_mode=job_mode,
            job_delay_ms=job_delay_ms,
            job_processing_ms=job_processing_ms,
            bulk_validation=bulk_validation,
            name_bad_rows=name_bad_rows,
            phone_identity=phone_identity,
            one_list_per_job=one_list_per_job,
            opaque_job_ids=opaque_job_ids,
            key_states=dict(key_states or {}),
            refused_email_domains=tuple(d.strip().lower() for d in refused_email_domains),
            access_token_ttl_s=access_token_ttl_s,
            oauth_redirect_uris=DEFAULT_REDIRECT_URIS if oauth_redirect_uris is None
            else tuple(oauth_redirect_uris),
        )
        self.app: SandboxApp = create_app(self.config)
        wrapped: ASGIApp = self.app
        for layer in middleware:
            wrapped = layer(wrapped)
        self.asgi: ASGIApp = _with_connection_closer(wrapped)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` with no trailing slash (the SDK's ``test_host``)."""
        return f"http://{self.host}:{self.port}"

    def _uvicorn_config(self) -> uvicorn.Config:
        return uvicorn.Config(
            self.asgi,
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            http="httptools",
            loop="asyncio",
            lifespan="off",
            timeout_keep_alive=30,
        )

    def start(self, timeout: float = 10.0) -> SandboxServer:
        """Serve in a daemon thread; returns once the port accepts connections."""
        self._server = uvicorn.Server(self._uvicorn_config())
        self._server.config.install_signal_handlers = False  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._run, name=f"sandbox:{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox did not start on {self.url}")
            time.sleep(0.01)
        return self

    def _run(self) -> None:
        assert self._server is not None
        asyncio.run(self._server.serve())

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted (the ``contact-sync sandbox`` command)."""
        server = uvicorn.Server(self._uvicorn_config())
        server.run()

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SandboxServer({self.url})"


def run_in_foreground(**kwargs: Any) -> None:
    """Convenience for scripts: build and serve until Ctrl-C."""
    SandboxServer(**kwargs).serve_forever()
