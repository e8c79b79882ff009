"""The bulk import POST through the official SDK, without its pydantic model validation.

``Profiles.bulk_import_profiles`` is wrapped in pydantic's ``validate_call``: a 10,000-
profile dict body is first turned into ``ProfileImportJobCreateQuery`` (30,000 models),
then dumped back into a dict and walked again before ``json.dumps``; that was ~0.4-1.0 s
of a worker's CPU per 10,000 profiles, against ~0.03 s for encoding the same 3.5 MB body
(docs/PERFORMANCE.md, "The bulk import body"). Our body is built from validated parts
(:mod:`workers.chunking`) and Klaviyo checks every row anyway (docs/KLAVIYO.md section 1),
so the SDK's generated method is called as written minus that wrapper: the function
``validate_call`` wraps (``__wrapped__``, kept by ``functools.wraps``) on a ``ProfilesApi``
of the account's own ``ApiClient``. Host, key, revision header, the one-attempt HTTP pool
and dict answers are the client's (:mod:`shared.klaviyo.client`); errors are the SDK's
``ApiException``; the gateway's limiter and error mapping apply as to any call.

The body must be JSON-ready and carry no ``None`` (the model would have dropped them):
the planner's attributes never hold one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from klaviyo_api import KlaviyoAPI
from openapi_client.api.profiles_api import ProfilesApi

_UNVALIDATED: Callable[..., Any] = ProfilesApi.bulk_import_profiles.__wrapped__  # type: ignore[attr-defined]


def bulk_import(api: KlaviyoAPI) -> Callable[[dict[str, Any]], Any]:
    """``body -> answer``: the SDK's ``bulk_import_profiles`` without body validation, for
    :meth:`shared.klaviyo.gateway.Gateway.call`."""
    profiles = ProfilesApi(api.api_client)  # holds the client only: cheap to build

    def post(body: dict[str, Any]) -> Any:
        return _UNVALIDATED(profiles, body)

    return post


def job_body(payload: list[Any], list_id: str) -> dict[str, Any]:
    """The JSON:API body of a bulk import job of ``payload`` (profile resources), with the
    list when ``list_id`` is set."""
    data: dict[str, Any] = {"type": "profile-bulk-import-job",
                            "attributes": {"profiles": {"data": payload}}}
    if list_id:
        data["relationships"] = {"lists": {"data": [{"type": "list", "id": list_id}]}}
    return {"data": data}
