"""``POST /v1/accounts/{account}/resync``: plan every contact of the account again."""

from __future__ import annotations

from fastapi import APIRouter

from producers.account_api.deps import AccountName, ServicesDep
from shared.account_service import resync as service
from shared.account_service.models import Resynced

router = APIRouter(tags=["syncs"])


@router.post("/v1/accounts/{account}/resync", status_code=202, response_model=Resynced,
             summary="Re-send every contact at the next batch (the cap applies), e.g. after "
                     "a new field map")
def resync(account: AccountName, svc: ServicesDep) -> Resynced:
    return service.resync(svc.redis, svc.settings, account)
