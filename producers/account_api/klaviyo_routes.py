"""``/v1/accounts/{account}/klaviyo-key`` and ``/v1/accounts/{account}/klaviyo/lists``."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from producers.account_api.deps import AccountName, ServicesDep
from shared.account_service import connection as service
from shared.account_service.connection import KEY_PATTERN
from shared.account_service.models import AccountSettings, KlaviyoList
from shared.account_service.settings import view

router = APIRouter(tags=["klaviyo"])


class KlaviyoKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: str = Field(min_length=1, max_length=200, pattern=KEY_PATTERN,
                         examples=["pk_0123456789abcdef"])
    """The account's Klaviyo private key: tried against Klaviyo once, stored encrypted,
    never shown."""


@router.put("/v1/accounts/{account}/klaviyo-key", response_model=AccountSettings,
            summary="Set the Klaviyo private key (tried against Klaviyo first)")
def put_key(account: AccountName, body: KlaviyoKey, svc: ServicesDep) -> AccountSettings:
    config = service.set_klaviyo_key(svc.redis, svc.settings, account, body.api_key)
    return view(svc.redis, config)


@router.get("/v1/accounts/{account}/klaviyo/lists", response_model=list[KlaviyoList],
            summary="The account's Klaviyo lists, every page (the default-list drop-down)")
def lists(account: AccountName, svc: ServicesDep) -> list[KlaviyoList]:
    return service.klaviyo_lists(svc.redis, svc.settings, account)
