"""What a route needs: the Redis client and settings of the web process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import redis
from fastapi import Depends, Path, Request

from shared.accounts import ACCOUNT_NAME
from shared.settings import Settings


@dataclass(frozen=True)
class Services:
    redis: redis.Redis
    settings: Settings


def services(request: Request) -> Services:
    found: Services = request.app.state.account_services
    return found


ServicesDep = Annotated[Services, Depends(services)]
AccountName = Annotated[str, Path(
    description="The CRM account: letters, digits, '_', '.', '-', at most 64.",
    pattern=ACCOUNT_NAME.pattern, examples=["acme"])]
