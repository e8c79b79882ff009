"""Check requests to and answers from the sandbox against Klaviyo's OpenAPI slices.

``OpenAPIContractMiddleware`` wraps any ASGI app. For each request under ``/api/`` it finds
the operation (path template + method, Klaviyo's trailing-slash form too), checks the
request (required query params and their enums/bounds, the ``revision`` header, the JSON
body against the requestBody schema) and the answer (a status declared for the operation,
the body against that status's schema) and records every violation in a
``ContractViolations`` collector. Validation uses ``jsonschema`` on the spec's own schemas:
OpenAPI 3.0's ``nullable`` becomes ``type: [..., "null"]``, nothing else is added (the
slices have no ``additionalProperties: false``, so unknown fields are allowed, as in the
spec). ``format`` is not asserted (jsonschema's default, as Klaviyo's spec uses it as a hint).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from jsonschema import Draft7Validator

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SLICES = ("profiles.json", "lists.json", "data_privacy.json")
JSON_TYPES = ("application/vnd.api+json", "application/json")


def slices_dir() -> Path:
    """Where the slices live: ``$KLAVIYO_OPENAPI_DIR``, or the copy kept beside this
    module (``klaviyo_openapi/``, MIT licence, see its README)."""
    env = os.environ.get("KLAVIYO_OPENAPI_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent / "klaviyo_openapi"


def slices_present(directory: Path | None = None) -> bool:
    """True when every slice is there."""
    base = directory or slices_dir()
    return all((base / name).is_file() for name in SLICES)


def _nullable_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: ``nullable: true`` lets ``null`` through."""
    if isinstance(node, list):
        return [_nullable_to_jsonschema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _nullable_to_jsonschema(value) for key, value in node.items()}
    if out.pop("nullable", False):
        if "type" in out:
            kind = out["type"]
            out["type"] = [*kind, "null"] if isinstance(kind, list) else [kind, "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        for combinator in ("oneOf", "anyOf"):
            if combinator in out:
                out[combinator] = [*out[combinator], {"type": "null"}]
        if "allOf" in out or "$ref" in out:
            out = {"anyOf": [{"type": "null"}, out]}
    return out


@dataclass(frozen=True)
class Violation:
    """One way an exchange broke the contract."""

    operation: str
    direction: str  # "request" or "response"
    message: str

    def __str__(self) -> str:
        return f"{self.operation} {self.direction}: {self.message}"


@dataclass
class ContractViolations:
    """Thread-safe collector; the fixture drains it after each test."""

    _items: list[Violation] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    checked: int = 0

    def add(self, violation: Violation) -> None:
        with self._lock:
            self._items.append(violation)

    def count_checked(self) -> None:
        with self._lock:
            self.checked += 1

    def drain(self) -> list[Violation]:
        """Return and forget everything recorded so far."""
        with self._lock:
            items, self._items = self._items, []
            return items


@dataclass
class Operation:
    """One path + method of the spec, with compiled validators."""

    operation_id: str
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: dict[str, Any]
    contract: OpenAPIContract

    @cached_property
    def parameters(self) -> list[dict[str, Any]]:
        return [self.contract.deref(p) for p in self.spec.get("parameters", [])]

    @cached_property
    def request_validator(self) -> Draft7Validator | None:
        body = self.spec.get("requestBody")
        if body is None:
            return None
        content = self.contract.deref(body).get("content", {})
        for kind in JSON_TYPES:
            if kind in content and "schema" in content[kind]:
                return self.contract.validator(content[kind]["schema"])
        return None

    def response_spec(self, status: int) -> dict[str, Any] | None:
        responses: dict[str, Any] = self.spec["responses"]
        found = responses.get(str(status)) or responses.get(f"{status // 100}XX")
        return None if found is None else self.contract.deref(found)

    def response_validator(self, status: int) -> Draft7Validator | None:
        key = (self.operation_id, status)
        if key not in self.contract.response_validators:
            spec = self.response_spec(status) or {}
            content = spec.get("content", {})
            validator = None
            for kind in JSON_TYPES:
                if kind in content and "schema" in content[kind]:
                    validator = self.contract.validator(content[kind]["schema"])
                    break
            self.contract.response_validators[key] = validator
        return self.contract.response_validators[key]


def _errors(validator: Draft7Validator, document: Any) -> Iterator[str]:
    for error in validator.iter_errors(document):
        where = "/" + "/".join(str(part) for part in error.absolute_path)
        yield f"{where}: {error.message[:300]}"


class OpenAPIContract:
    """The slices loaded once; finds operations and checks requests and answers."""

    def __init__(self, directory: Path | None = None) -> None:
        base = directory or slices_dir()
        components: dict[str, dict[str, Any]] = {}
        self.operations: list[Operation] = []
        for name in SLICES:
            doc = json.loads((base / name).read_text())
            for section, entries in doc.get("components", {}).items():
                components.setdefault(section, {}).update(entries)
            for template, item in doc["paths"].items():
                for method, spec in item.items():
                    if method in ("parameters", "summary", "description"):
                        continue
                    regex = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
                    self.operations.append(
                        Operation(
                            operation_id=spec.get("operationId", f"{method} {template}"),
                            method=method.upper(),
                            template=template,
                            pattern=re.compile(f"^{regex}/?$"),
                            spec=spec,
                            contract=self,
                        )
                    )
        # Literal paths before templated ones (/api/profile-import vs /api/profiles/{id}).
        self.operations.sort(key=lambda op: op.template.count("{"))
        self.components = components
        self._root = {"components": _nullable_to_jsonschema(components)}
        self.response_validators: dict[tuple[str, int], Draft7Validator | None] = {}

    def deref(self, node: dict[str, Any]) -> dict[str, Any]:
        """Follow a local ``$ref`` (``#/components/...``) on an OpenAPI object."""
        while "$ref" in node:
            _, section, name = node["$ref"].removeprefix("#/").split("/", 2)
            node = self.components[section][name]
        return node

    def validator(self, schema: dict[str, Any]) -> Draft7Validator:
        """A validator for ``schema`` whose ``$ref``s resolve in the slices' components."""
        return Draft7Validator({**self._root, **_nullable_to_jsonschema(schema)})

    def find(self, method: str, path: str) -> Operation | None:
        """The operation for a method and a path (trailing slash allowed)."""
        for op in self.operations:
            if op.method == method and op.pattern.match(path):
                return op
        return None

    def check_request(
        self, op: Operation, query: str, headers: dict[str, str], body: bytes
    ) -> list[str]:
        """Messages for what is wrong with a request (empty when it is fine)."""
        problems: list[str] = []
        params = dict(parse_qsl(query, keep_blank_values=True))
        for param in op.parameters:
            where, name = param["in"], param["name"]
            value = params.get(name) if where == "query" else headers.get(name.lower())
            if where not in ("query", "header"):
                continue
            if value is None:
                if param.get("required"):
                    problems.append(f"{where} parameter {name!r} is required")
                continue
            schema = param.get("schema", {})
            problems.extend(_check_param(name, value, schema))
        if op.request_validator is not None:
            if not body:
                if self.deref(op.spec["requestBody"]).get("required"):
                    problems.append("request body is required")
            else:
                try:
                    document = json.loads(body)
                except ValueError:
                    problems.append("request body is not JSON")
                else:
                    problems.extend(f"body {m}" for m in _errors(op.request_validator, document))
        return problems

    def check_response(
        self, op: Operation, status: int, content_type: str, body: bytes
    ) -> list[str]:
        """Messages for what is wrong with an answer (empty when it is fine)."""
        spec = op.response_spec(status)
        if spec is None:
            declared = ", ".join(op.spec["responses"])
            return [f"status {status} is not declared (declared: {declared})"]
        if "content" not in spec:
            return (
                [f"status {status} has no body in the spec, got {len(body)} bytes"] if body else []
            )
        validator = op.response_validator(status)
        if validator is None:
            return []
        if content_type.split(";")[0].strip() not in JSON_TYPES:
            return [f"content-type {content_type!r} is not JSON:API"]
        try:
            document = json.loads(body)
        except ValueError:
            return [f"status {status} body is not JSON"]
        return [f"status {status} body {m}" for m in _errors(validator, document)]


def _check_param(name: str, value: str, schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items", {})
        allowed = items.get("enum")
        if allowed is not None:
            bad = [v for v in value.split(",") if v not in allowed]
            if bad:
                return [f"query parameter {name!r}: {bad} not in {allowed}"]
        return []
    if kind == "integer":
        try:
            number = int(value)
        except ValueError:
            return [f"parameter {name!r}={value!r} is not an integer"]
        low, high = schema.get("minimum"), schema.get("maximum")
        if (low is not None and number < low) or (high is not None and number > high):
            return [f"parameter {name!r}={number} outside [{low}, {high}]"]
        return []
    if "enum" in schema and value not in schema["enum"]:
        return [f"parameter {name!r}={value!r} not in {schema['enum']}"]
    return []


class OpenAPIContractMiddleware:
    """ASGI layer: pass everything through, check ``/api/`` exchanges on the way."""

    def __init__(
        self,
        app: ASGIApp,
        contract: OpenAPIContract | None = None,
        violations: ContractViolations | None = None,
        check_requests: bool = True,
    ) -> None:
        self.app = app
        self.contract = contract
        self.violations = violations if violations is not None else ContractViolations()
        self.check_requests = check_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if self.contract is None or scope["type"] != "http" or not path.startswith("/api/"):
            await self.app(scope, receive, send)
            return
        op = self.contract.find(scope["method"], path)
        if op is None:
            await self.app(scope, receive, self._unknown_operation_send(scope, send))
            return
        request_body = bytearray()
        answer: dict[str, Any] = {"status": 0, "type": "", "body": bytearray(), "cdn": False}

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                request_body.extend(message.get("body", b""))
            return message

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                for key, value in message.get("headers", []):
                    if key.lower() == b"content-type":
                        answer["type"] = value.decode("latin-1")
                    if key.lower() == b"cf-mitigated" and value == b"challenge":
                        answer["cdn"] = True
            elif message["type"] == "http.response.body":
                answer["body"].extend(message.get("body", b""))
            await send(message)

        await self.app(scope, recording_receive, recording_send)
        if answer["status"] == 0:
            return  # connection dropped on purpose (fault injection): nothing to check
        if answer["status"] == 403 and answer["cdn"]:
            return  # a CDN challenge page (HTML), not Klaviyo's API answering: outside the spec
        self._record(op, scope, bytes(request_body), answer)

    def _unknown_operation_send(self, scope: Scope, send: Send) -> Send:
        """Outside the spec, only a 404/405 is right; anything 2xx-5xx else is recorded."""

        async def checking_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] not in (404, 405):
                name = f"{scope['method']} {scope['path']}"
                text = f"not an operation of the slices, answered {message['status']}"
                self.violations.add(Violation(name, "response", text))
            await send(message)

        return checking_send

    def _record(self, op: Operation, scope: Scope, body: bytes, answer: dict[str, Any]) -> None:
        assert self.contract is not None
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        # Requests are checked when the official SDK sent them (what our code sends); raw
        # HTTP probes in robustness tests are bad on purpose and only their answers count.
        sent_by_sdk = headers.get("user-agent", "").startswith("klaviyo-api-python")
        if self.check_requests and sent_by_sdk:
            query = scope.get("query_string", b"").decode("latin-1")
            for message in self.contract.check_request(op, query, headers, body):
                self.violations.add(Violation(op.operation_id, "request", message))
        for message in self.contract.check_response(
            op, answer["status"], answer["type"], bytes(answer["body"])
        ):
            self.violations.add(Violation(op.operation_id, "response", message))
        self.violations.count_checked()
