"""``/v1/accounts/{account}/preview``: the count for the saved or proposed filters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from producers.account_api.deps import AccountName, ServicesDep
from shared.account_service.models import PreviewCounts
from shared.account_service.preview import preview_counts

router = APIRouter(tags=["preview"])

CSV = "comma-separated; '*' or empty = all; left out = the saved value"


@router.get("/v1/accounts/{account}/preview", response_model=PreviewCounts,
            summary="How many contacts match (unsubscribed included), are excluded, would "
            "be sent")
def preview(
    account: AccountName, svc: ServicesDep,
    contact_roles: Annotated[str | None, Query(description=f"Roles, {CSV}.",
                                               examples=["Decision Maker,Buyer"])] = None,
    company_types: Annotated[str | None, Query(description=f"Company types, {CSV}.",
                                               examples=["Customer"])] = None,
    max_bulk_export: Annotated[int | None, Query(ge=0, description="Cap; 0 = none.",
                                                 examples=[1000])] = None,
) -> PreviewCounts:
    given = {"contact_roles": contact_roles, "company_types": company_types,
             "max_bulk_export": max_bulk_export}
    proposed: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    return preview_counts(svc.redis, svc.settings, account, proposed)
