"""``/v1/accounts/{account}/syncs``: history, one sync, sync-now."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from producers.account_api.deps import AccountName, ServicesDep
from shared.account_service import syncs as service
from shared.account_service.models import SyncDetail, SyncRequested, SyncSummary
from shared.state.batch_records import BATCH_ID_PATTERN

router = APIRouter(tags=["syncs"])


@router.get("/v1/accounts/{account}/syncs", response_model=list[SyncSummary],
            summary="Sync history, newest first (the last 100 are kept)")
def history(account: AccountName, svc: ServicesDep,
            limit: Annotated[int, Query(ge=1, le=service.HISTORY_KEPT)] = service.DEFAULT_LIMIT,
            ) -> list[SyncSummary]:
    return service.history(svc.redis, svc.settings, account, limit)


@router.get("/v1/accounts/{account}/syncs/{batch_id}", response_model=SyncDetail,
            summary="One sync: counts, and the contact ids excluded or refused with why")
def detail(account: AccountName, svc: ServicesDep,
           batch_id: Annotated[str, Path(pattern=BATCH_ID_PATTERN,
                                         examples=["20261122T174000-3f9c2a1b"])],
           ) -> SyncDetail:
    return service.detail(svc.redis, svc.settings, account, batch_id)


@router.post("/v1/accounts/{account}/syncs", status_code=202, response_model=SyncRequested,
             summary="Start the account's next batch at the scheduler's next tick")
def sync_now(account: AccountName, svc: ServicesDep) -> SyncRequested:
    return service.sync_now(svc.redis, svc.settings, account)
