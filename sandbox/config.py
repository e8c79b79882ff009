"""Start-up configuration of the sandbox (the Klaviyo emulator)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FaultSpec:
    """Share of injected answers for one operation (or ``*`` for all)."""

    status_429: float = 0.0
    status_500: float = 0.0
    status_503: float = 0.0
    latency_ms: int = 0
    drop: float = 0.0
    retry_after: int = 1


@dataclass
class SandboxConfig:
    """Everything the app needs at start-up; the inspection API changes most of it later.

    ``rate_limits`` is ``"on"``, ``"off"`` or a float scale applied to Klaviyo's limits
    (0.1 = ten times smaller). ``job_mode`` is ``"async"`` (a background task completes the
    bulk job after ``job_delay_ms``) or ``"instant"`` (processed before the 202 is sent).
    """

    keys: tuple[str, ...] = ("sandbox-key",)
    rate_limits: str | float = "on"
    faults: dict[str, FaultSpec] = field(default_factory=dict)
    public_url: str | None = None
    job_mode: str = "async"
    job_delay_ms: int = 0
    retry_after_on_429: bool = True
    lowercase_emails: bool = True
    default_opt_in: str = "single_opt_in"
