"""The bulk import POST through the official SDK, without its pydantic model validation.

``Profiles.bulk_import_profiles`` is wrapped in pydantic's ``validate_call``: a 10,000-
profile dict body is first turned into ``ProfileImportJobCreateQuery`` (30,000 models),
then dumped back into a dict and walked again before ``json.dumps``; that was ~0.4-1.0 s
of a worker's CPU per 10,000 profiles, against ~0.03 s for encoding the same 3.5 MB body
(docs/PERFORMANCE.md, "The bulk import body"). Our body is built from validated parts
(:mod:`workers.push.plan.chunking`) and Klaviyo checks every row anyway (docs/KLAVIYO.md section 1),
so the SDK's generated method is called as written minus that wrapper: the function
``validate_call`` wraps (``__wrapped__``, kept by ``functools.wraps``) on a ``ProfilesApi``
of the account's own ``ApiClient``. Host, key, revision header, the one-attempt HTTP pool
and dict answers are the client's (:mod:`shared.klaviyo.client`); errors are the SDK's
``ApiException``; the gateway's limiter and error mapping apply as to any call.

The body must be JSON-ready and carry no ``None`` (the model would have dropped them):
the planner's attributes never hold one.

The client's ``sanitize_for_serialization`` then walks the body once more, node by node in
Python, to turn models and dates into JSON types: on a body that holds only JSON types it
returns an equal copy, at ~0.6 s of CPU per 10,000 profiles on a 2-core machine (a third of
a chunk's submit). The body is therefore marked :class:`ReadyBody` and posted through a
shallow copy of the account's ``ApiClient`` (same configuration, headers and HTTP pool)
whose sanitizer hands a ``ReadyBody`` back as it is; everything else it sanitizes as the SDK
does.

Last, the SDK's REST client encodes a JSON body with the standard library's ``json.dumps``
(ASCII escapes, ``", "`` separators): ~75 ms per 10,000 profiles, and a body larger than the
compact JSON the chunks are cut by (:func:`workers.push.plan.chunking.split` counts orjson's bytes
against Klaviyo's size limit). The copy's REST client (:class:`_CompactBodies`) encodes a
``ReadyBody`` with orjson -- the same JSON value, compact, UTF-8 -- and sends it as the
SDK's own JSON branch would (same pool, headers, preload and answer type); any other
request goes through the SDK's client unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import orjson
import urllib3
from klaviyo_api import KlaviyoAPI
from openapi_client.api.profiles_api import ProfilesApi
from openapi_client.api_client import ApiClient
from openapi_client.exceptions import ApiException
from openapi_client.rest import RESTClientObject, RESTResponse

_UNVALIDATED: Callable[..., Any] = ProfilesApi.bulk_import_profiles.__wrapped__  # type: ignore[attr-defined]


def bulk_import(api: KlaviyoAPI) -> Callable[[dict[str, Any]], Any]:
    """``body -> answer``: the SDK's ``bulk_import_profiles`` without body validation, for
    :meth:`shared.klaviyo.gateway.Gateway.call`."""
    profiles = ProfilesApi(_trusting(api.api_client))  # holds the client only: cheap

    def post(body: dict[str, Any]) -> Any:
        return _UNVALIDATED(profiles, body)

    return post


class ReadyBody(dict[str, Any]):
    """A request body built of JSON types only (what :func:`job_body` returns)."""


def _trusting(client: ApiClient) -> ApiClient:
    """``client`` (a shallow copy: the same configuration and pool) that posts a
    :class:`ReadyBody` without walking it again."""
    clone = copy.copy(client)
    sanitize: Callable[[Any], Any] = client.sanitize_for_serialization

    def sanitize_unless_ready(obj: Any) -> Any:
        return obj if type(obj) is ReadyBody else sanitize(obj)

    clone.sanitize_for_serialization = sanitize_unless_ready  # type: ignore[method-assign]
    clone.rest_client = _CompactBodies(client.rest_client)  # type: ignore[assignment]
    return clone


class _CompactBodies:
    """The account's REST client, except that a :class:`ReadyBody` is encoded by orjson."""

    def __init__(self, rest: RESTClientObject) -> None:
        self._rest = rest

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rest, name)

    def request(self, method: str, url: str, headers: dict[str, str] | None = None,
                body: Any = None, post_params: Any = None,
                _request_timeout: Any = None) -> RESTResponse:
        if type(body) is not ReadyBody or post_params or _request_timeout is not None:
            sent: RESTResponse = self._rest.request(  # type: ignore[no-untyped-call]
                method, url, headers=headers, body=body, post_params=post_params,
                _request_timeout=_request_timeout)
            return sent
        try:  # as RESTClientObject.request's JSON branch, with the body already encoded
            answer = self._rest.pool_manager.request(
                method.upper(), url, body=orjson.dumps(body), timeout=None,
                headers=headers or {}, preload_content=False)
        except urllib3.exceptions.SSLError as error:
            raise ApiException(status=0, reason=f"{type(error).__name__}\n{error}") from None
        return RESTResponse(answer)


def job_body(payload: list[Any], list_id: str) -> ReadyBody:
    """The JSON:API body of a bulk import job of ``payload`` (profile resources), with the
    list when ``list_id`` is set."""
    data: dict[str, Any] = {"type": "profile-bulk-import-job",
                            "attributes": {"profiles": {"data": payload}}}
    if list_id:
        data["relationships"] = {"lists": {"data": [{"type": "list", "id": list_id}]}}
    return ReadyBody(data=data)
