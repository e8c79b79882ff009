"""``/metrics`` of ``web`` on its own listener (issue 19, finding 6).

Not on the public port: ``SYNC_METRICS_PORT`` (default 9464, Prometheus exporters'
custom) of ``SYNC_METRICS_HOST`` (default 127.0.0.1, loopback only), as Prometheus users
expect of a service whose metrics name its tenants. A thread of the web process serves it;
scrapes that arrive within :data:`REUSE_SECONDS` of a rendering share it (one rendering at
a time), so that concurrent scrapes cost one. A port already taken (a second uvicorn worker
of the same host) is logged and skipped: the web runs on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import redis

from shared.settings import Settings
from shared.telemetry.exposition import render_metrics

log = logging.getLogger(__name__)

REUSE_SECONDS = 1.0
"""A rendering this recent answers the next scrapes."""


class CachedMetrics:
    """:func:`render_metrics`, at most once per :data:`REUSE_SECONDS`."""

    def __init__(self, client_factory: Callable[[], redis.Redis], account_series: int) -> None:
        self.client_factory = client_factory
        self.account_series = account_series
        self._lock = threading.Lock()
        self._rendered: tuple[float, bytes, str] | None = None

    def render(self) -> tuple[bytes, str]:
        with self._lock:
            now = time.monotonic()
            if self._rendered is None or now - self._rendered[0] > REUSE_SECONDS:
                payload, content_type = render_metrics(
                    client_factory=self.client_factory, account_series=self.account_series)
                self._rendered = (time.monotonic(), payload, content_type)
            return self._rendered[1], self._rendered[2]


class _Handler(BaseHTTPRequestHandler):
    server: MetricsServer

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/metrics":
            self.send_error(404, "only /metrics is served here")
            return
        payload, content_type = self.server.metrics.render()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


class MetricsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], metrics: CachedMetrics) -> None:
        super().__init__(address, _Handler)
        self.metrics = metrics


def start_metrics_server(settings: Settings,
                         client_factory: Callable[[], redis.Redis]) -> MetricsServer | None:
    """The listener of ``settings`` serving in a daemon thread; ``None`` when
    ``SYNC_METRICS_PORT`` is empty or the port is taken."""
    if settings.metrics_port is None:
        return None
    metrics = CachedMetrics(client_factory, settings.metrics_account_series)
    try:
        server = MetricsServer((settings.metrics_host, settings.metrics_port), metrics)
    except OSError as error:
        log.warning("/metrics not served: %s:%d cannot be listened on (%s); set "
                    "SYNC_METRICS_PORT to a free port", settings.metrics_host,
                    settings.metrics_port, error.strerror or type(error).__name__)
        return None
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("/metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)
    return server
