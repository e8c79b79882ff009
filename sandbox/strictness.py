"""The switches that make the sandbox as harsh as Klaviyo (docs/KLAVIYO.md), at run time.

Each starts from ``SandboxConfig``, changes through ``PUT /__sandbox/strictness`` and goes back
to its start-up value on ``POST /__sandbox/reset``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from sandbox.config import SandboxConfig

BULK_VALIDATION = ("sync", "async")


class StrictnessError(ValueError):
    """A bad setting: ``name`` is the offending field."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


@dataclass
class Strictness:
    """``bulk_validation``: ``sync`` (a job with a bad row is refused whole, 400) or
    ``async`` (bad rows become import-errors); ``name_bad_rows``: how many bad rows a refusal
    names (0 = all); ``phone_identity``: a phone number matches a profile; ``one_list_per_job``:
    a job names at most one list; ``opaque_job_ids``: base64-like job ids, not ULIDs."""

    bulk_validation: str = "sync"
    name_bad_rows: int = 0
    phone_identity: bool = True
    one_list_per_job: bool = True
    opaque_job_ids: bool = True
    refused_email_domains: tuple[str, ...] = ()
    """Emails at these domains are refused like invalid ones (an emulator control standing
    for the parts of Klaviyo's address check no client can know in advance)."""

    @classmethod
    def from_config(cls, config: SandboxConfig) -> Strictness:
        """The start-up values."""
        made = cls()
        made.update({f.name: getattr(config, f.name) for f in fields(cls)})
        return made

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply the given settings (the others stay); all checked before any is applied."""
        checked: dict[str, Any] = {}
        known = {f.name for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise StrictnessError(name, f"'{name}' is not a strictness setting.")
            checked[name] = _checked(name, value)
        for name, value in checked.items():
            setattr(self, name, value)

    def describe(self) -> dict[str, Any]:
        """The settings as JSON."""
        return asdict(self)


def _checked(name: str, value: Any) -> Any:
    if name == "bulk_validation":
        if value not in BULK_VALIDATION:
            raise StrictnessError(name, "'bulk_validation' must be 'sync' or 'async'.")
        return value
    if name == "name_bad_rows":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise StrictnessError(name, "'name_bad_rows' must be a non-negative integer.")
        return value
    if name == "refused_email_domains":
        if not isinstance(value, list | tuple) or not all(
                isinstance(item, str) and item.strip() for item in value):
            raise StrictnessError(name, "'refused_email_domains' must be a list of domains.")
        return tuple(item.strip().lower() for item in value)
    if not isinstance(value, bool):
        raise StrictnessError(name, f"'{name}' must be true or false.")
    return value
