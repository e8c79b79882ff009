"""The CRM deliveries as the OpenAPI document describes them (``webhooks``): what the sync
POSTs to ``SYNC_CRM_WEBHOOK_URL``, signed with ``X-Sync-Signature`` under
``SYNC_CRM_WEBHOOK_SECRET`` (docs/REVERSE_SYNC.md). The documents themselves are built by
:mod:`workers.reverse.consent_document`; tests hold the two together."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class DeliveredProfile(BaseModel):
    id: str
    """Klaviyo's profile id."""
    email: str | None = None
    phone: str | None = None


class ConsentChanged(BaseModel):
    """A change of consent made in Klaviyo to a contact the sync has sent: once per change,
    never the sync's own subscribe or unsubscribe echoed back, nothing for profiles the CRM
    never sent."""

    model_config = {"json_schema_extra": {"examples": [{
        "id": "1732300000000-0", "type": "consent.changed", "account": "acme",
        "contact_id": "C-1001",
        "profile": {"id": "01GDDKASAP8TKDDA2GRZDSVP4H", "email": "ann@example.com",
                    "phone": "+14155550100"},
        "channel": "email", "consent": "unsubscribed", "reason": "HARD_BOUNCE",
        "occurred_at": "2026-11-20T10:00:00+00:00"}]}}

    id: str = Field(description="Stable across retries: the CRM drops a repeat.")
    type: Literal["consent.changed"]
    account: str
    contact_id: str = Field(description="The CRM's contact id the sync sent this profile for.")
    profile: DeliveredProfile
    channel: Literal["email", "sms"]
    consent: Literal["subscribed", "unsubscribed"]
    reason: (Literal["UNSUBSCRIBE", "HARD_BOUNCE", "SPAM_COMPLAINT", "USER_SUPPRESSED",
                     "INVALID_EMAIL"] | None) = Field(
        default=None, description="Klaviyo's suppression reason (email), or null.")
    occurred_at: str | None = Field(description="Klaviyo's time of the change (ISO 8601).")


def crm_webhooks(components: dict[str, Any]) -> dict[str, Any]:
    """The ``webhooks`` of the OpenAPI document; the schemas go into ``components``."""
    schema = ConsentChanged.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    components["ConsentChanged"] = schema
    return {"consent.changed": {"post": {
        "summary": "A person's consent changed in Klaviyo (POSTed to SYNC_CRM_WEBHOOK_URL)",
        "description": "Signed: X-Sync-Signature t=<unix>,v1=<hex HMAC-SHA256 of '<t>.' + "
                       "body> under SYNC_CRM_WEBHOOK_SECRET. Retried until a 2xx, then "
                       "dead-lettered; one contact's entries arrive in order.",
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ConsentChanged"}}}},
        "responses": {"2XX": {"description": "Accepted: not sent again."}}}}}
