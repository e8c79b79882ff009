"""``POST /v1/accounts/{account}/contacts/{contact_id}/erase``: an erasure (GDPR art. 17) for
a CRM that prefers a call to the ``contact.erased`` webhook event; the same event is stored."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from producers.account_api.deps import AccountName, ServicesDep
from producers.event_stream import append_events
from shared.account_service import erasures as service
from shared.account_service.models import ErasureRequested

router = APIRouter(tags=["erasure"])


@router.post("/v1/accounts/{account}/contacts/{contact_id}/erase", status_code=202,
             response_model=ErasureRequested,
             summary="Erase a contact: its Klaviyo profile, and everything kept of it here")
def erase(account: AccountName, svc: ServicesDep,
          contact_id: Annotated[str, Path(max_length=255, examples=["C-1001"])],
          ) -> ErasureRequested:
    event = service.erasure_event(svc.redis, svc.settings, account, contact_id)
    append_events(svc.redis, [event], "webhook")
    return service.requested(event)
