"""``/v1/accounts`` and ``/v1/accounts/{account}``: list, create or replace, change,
read, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from producers.account_api.deps import AccountName, ServicesDep
from shared.account_service import settings as service
from shared.account_service.models import AccountSettings, AccountSummary
from shared.accounts import AccountOptions

router = APIRouter(tags=["accounts"])

EXAMPLE = {"contact_roles": ["Decision Maker", "Buyer"], "company_types": ["Customer"],
           "max_bulk_export": 5000, "default_list_id": None, "interval_seconds": 900,
           "phone_region": "GB"}


def _given(body: AccountOptions) -> dict[str, object]:
    return {name: getattr(body, name) for name in body.model_fields_set}


@router.get("/v1/accounts", response_model=list[AccountSummary],
            summary="A page of accounts: connection, pending contacts, running batch, last "
            "sync (the next page in the Link header)",
            responses={200: {"headers": {"Link": {
                "description": "`<...?cursor=N&limit=L>; rel=\"next\"` while more accounts "
                "follow", "schema": {"type": "string"}}}}})
def list_accounts(
    svc: ServicesDep, response: Response,
    cursor: Annotated[int, Query(ge=0, le=2**63, description=(
        "Where the page starts: 0 (the first page), or the cursor of the previous "
        "page's Link header."))] = 0,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE, description=(
        "About how many accounts per page (default "
        f"{service.DEFAULT_PAGE}).")), ] = service.DEFAULT_PAGE,
) -> list[AccountSummary]:
    found, next_cursor = service.list_accounts(svc.redis, svc.settings, cursor, limit)
    if next_cursor:
        response.headers["Link"] = (f'</v1/accounts?cursor={next_cursor}&limit={limit}>; '
                                    'rel="next"')
    return found


@router.put("/v1/accounts/{account}", response_model=AccountSettings,
            status_code=200, responses={201: {"model": AccountSettings,
                                              "description": "Created."}},
            summary="Create (201) or replace (200) the account's settings",
            openapi_extra={"requestBody": {"content": {"application/json": {
                "example": EXAMPLE}}}})
def put_account(account: AccountName, body: AccountOptions, svc: ServicesDep,
                response: Response) -> AccountSettings:
    found, created = service.put_settings(svc.redis, svc.settings, account, _given(body))
    response.status_code = 201 if created else 200
    return found


@router.patch("/v1/accounts/{account}", response_model=AccountSettings,
              summary="Change only the fields given",
              openapi_extra={"requestBody": {"content": {"application/json": {
                  "example": {"max_bulk_export": 1000}}}}})
def patch_account(account: AccountName, body: AccountOptions,
                  svc: ServicesDep) -> AccountSettings:
    return service.patch_settings(svc.redis, svc.settings, account, _given(body))


@router.get("/v1/accounts/{account}", response_model=AccountSettings,
            summary="The effective settings and the Klaviyo connection")
def get_account(account: AccountName, svc: ServicesDep) -> AccountSettings:
    return service.get_account(svc.redis, svc.settings, account)


@router.delete("/v1/accounts/{account}", status_code=204, response_class=Response,
               summary="Stop syncing the account and forget its state here (its OAuth "
               "grant is revoked at Klaviyo first)")
async def delete_account(account: AccountName, svc: ServicesDep) -> Response:
    await run_in_threadpool(service.delete_account, svc.redis, svc.settings, account)
    return Response(status_code=204)
