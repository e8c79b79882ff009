"""``GET /v1/accounts/{account}/syncs/next``: the dry run of the account's next sync (200),
or, for a big account, that it is being computed (202 with ``Retry-After``;
:mod:`shared.account_service.next_sync`). Mounted before :mod:`.sync_routes`, whose
``/syncs/{batch_id}`` would otherwise take ``next`` for a batch id."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from producers.account_api.deps import AccountName, ServicesDep
from shared.account_service.models import NextSyncComputing, NextSyncPlan
from shared.account_service.next_sync import next_sync_plan

router = APIRouter(tags=["syncs"])

COMPUTING = {"model": NextSyncComputing, "description": (
    "More pending contacts than SYNC_DRY_RUN_AT_ONCE: the dry run is being computed in the "
    "background; ask again after Retry-After seconds."), "headers": {"Retry-After": {
        "description": "Seconds to wait.", "schema": {"type": "integer"}}}}


@router.get("/v1/accounts/{account}/syncs/next", response_model=NextSyncPlan,
            responses={202: COMPUTING},
            summary="What the next sync would do now: a dry run (nothing written, no "
            "Klaviyo call)")
def next_sync(account: AccountName, svc: ServicesDep) -> NextSyncPlan | Response:
    """Planned in a thread of the server's pool (a plain ``def`` route), never on the
    event loop."""
    found = next_sync_plan(svc.redis, svc.settings, account)
    if isinstance(found, NextSyncComputing):
        return JSONResponse(found.model_dump(mode="json"), 202,
                            headers={"Retry-After": str(found.retry_after)})
    return found
