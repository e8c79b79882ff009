"""``/v1/accounts/{account}/rejected`` and ``.../rejected/replay``."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from producers.account_api.deps import AccountName, ServicesDep
from shared.account_service import rejections as service
from shared.account_service.models import Rejected, Replayed

router = APIRouter(tags=["rejections"])


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_ids: list[str] | None = Field(default=None, max_length=10_000,
                                          examples=[["C-1001", "C-1002"]])
    """The contacts to re-send; left out or ``null``: every rejected contact."""


@router.get("/v1/accounts/{account}/rejected", response_model=list[Rejected],
            summary="Contacts Klaviyo refused: id, Klaviyo's code and detail, when")
def rejected(account: AccountName, svc: ServicesDep) -> list[Rejected]:
    return service.rejected(svc.redis, svc.settings, account)


@router.post("/v1/accounts/{account}/rejected/replay", response_model=Replayed,
             summary="Re-send rejected contacts at the next batch (all, or contact_ids)")
def replay(account: AccountName, svc: ServicesDep,
           body: ReplayRequest | None = None) -> Replayed:
    ids = None if body is None or body.contact_ids is None else list(body.contact_ids)
    return service.replay(svc.redis, svc.settings, account, ids)
