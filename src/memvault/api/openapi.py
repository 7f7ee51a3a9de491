"""The OpenAPI document (``/openapi.json``): what each operation answers, errors included.

Every face documents its own error body (:class:`FoundryError`, :class:`OpenAIError`,
:class:`DatabricksError`) under every error status an operation can answer. Routes say so through
their face's :class:`Face`::

    @router.get("/memory_stores/{name}", **FOUNDRY.read(StoreOut))
    @router.post("/memory_stores", **FOUNDRY.write(StoreOut))

which documents the success body (and keeps the handler's plain dict unvalidated at run time:
``response_model=None``) and the face's errors: ``READ_ERRORS`` for any operation,
``WRITE_ERRORS`` for those that change something. :func:`install_openapi` then finishes the
document: no 422 (memvault answers invalid input with a 400 in the face's shape, never with
FastAPI's 422) and the two ways to present an API key.

Documentation-only constraints (``pattern``, ``maxLength``, ...) on parameters describe what
the engine's validation (:mod:`memvault.engine.validation`) accepts; they go in the schema with
:func:`documented`, so that the engine stays the one place that enforces them, with its own
messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import FastAPI, Path
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

# -- error bodies ----------------------------------------------------------------------------


class FoundryErrorDetail(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str
    param: str | None
    type: str = Field(examples=["invalid_request_error"])
    details: list[Any]
    additionalInfo: dict[str, Any]  # noqa: N815 - the wire name


class FoundryError(BaseModel):
    """The Foundry face's error (also the Agents API's, the admin API's and ``/metrics``'s)."""

    error: FoundryErrorDetail


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(examples=["invalid_request_error"])
    param: str | None
    code: str | None = Field(examples=["not_found"])


class OpenAIError(BaseModel):
    """The OpenAI-compatible face's error."""

    error: OpenAIErrorDetail


class DatabricksError(BaseModel):
    """The Databricks face's error."""

    error_code: str = Field(examples=["RESOURCE_DOES_NOT_EXIST"])
    message: str


# -- statuses --------------------------------------------------------------------------------

DESCRIPTIONS = {
    400: "Invalid request: a parameter or the body is malformed or out of range",
    401: "Missing or invalid API key",
    403: "The caller lacks the privilege or the scope the operation needs, or a quota is full",
    404: "The store, memory, entry, agent, conversation or response does not exist",
    409: "A name or path is taken, or a concurrent change won",
    429: "Rate limited: retry after the Retry-After header's seconds",
    502: "The configured chat model failed",
    503: "Storage (or this feature on this storage backend) is unavailable, or the server is"
         " at its search capacity (`Retry-After`)",
    507: "Storage is full",
}
READ_ERRORS = (400, 401, 403, 404, 429, 503)
WRITE_ERRORS = (*READ_ERRORS, 409, 507)


class Deleted(BaseModel):
    """``{}``: what a Databricks delete answers."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Face:
    """An API face's way of documenting its operations, with its error body."""

    error: type[BaseModel]

    def errors(self, statuses: Iterable[int]) -> dict[int | str, dict[str, Any]]:
        return {
            status: {"model": self.error, "description": DESCRIPTIONS[status]}
            for status in sorted(set(statuses))
        }

    def read(self, model: Any, *, status: int = 200, also: Iterable[int] = (),
             content: dict[str, Any] | None = None) -> dict[str, Any]:
        """Route keyword arguments: ``model`` at ``status``, and the errors of a read."""
        return self._route(model, status, (*READ_ERRORS, *also), content)

    def write(self, model: Any, *, status: int = 200, also: Iterable[int] = (),
              content: dict[str, Any] | None = None) -> dict[str, Any]:
        """Route keyword arguments: ``model`` at ``status``, and the errors of a write."""
        return self._route(model, status, (*WRITE_ERRORS, *also), content)

    def _route(self, model: Any, status: int, errors: Iterable[int],
               content: dict[str, Any] | None) -> dict[str, Any]:
        success: dict[str, Any] = {"model": model, "description": "Success"}
        if content:
            success["content"] = content
        return {
            "response_model": None,
            "status_code": status,
            "responses": {status: success, **self.errors(errors)},
        }


FOUNDRY = Face(FoundryError)
OPENAI = Face(OpenAIError)
DATABRICKS = Face(DatabricksError)


def documented(**schema: Any) -> dict[str, Any]:
    """``Path``/``Query`` keyword arguments that put ``schema`` (``pattern``, ``maxLength``,
    ``minimum``, ...) in the document without FastAPI enforcing it."""
    return {"json_schema_extra": schema}


_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
_PART = r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}"
NONBLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"
"""A string with a character other than white space, and no NUL."""

AGENT_NAME_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
"""An agent's name (:func:`memvault.engine.agents.definitions.validate_agent_name`)."""
PART_PATTERN = f"^{_PART}$"
"""A catalog or schema name (:func:`memvault.engine.namespaces.check_part`)."""
NAME = documented(pattern=f"^{_NAME}$")
"""A project, store or agent name (:func:`memvault.engine.validation.validate_name`)."""
FULL_NAME = documented(pattern=f"^{_PART}\\.{_PART}\\.{_NAME}$")
"""A store's ``catalog.schema.store`` (:func:`memvault.engine.namespaces.locate`)."""
SCOPE = documented(pattern=NONBLANK, maxLength=2048)
"""A scope (:func:`memvault.engine.validation.validate_scope`, at the default
``MEMVAULT_MAX_SCOPE_CHARS``)."""
PAGE_LIMIT = documented(minimum=1, maximum=100)
"""``limit`` of the Foundry and OpenAI lists (:func:`memvault.engine.validation.validate_limit`)."""

ProjectName = Annotated[str, Path(**NAME)]
StoreName = Annotated[str, Path(**NAME)]
AgentName = Annotated[str, Path(**documented(pattern=AGENT_NAME_PATTERN))]
FullName = Annotated[str, Path(**FULL_NAME)]


# -- the document ----------------------------------------------------------------------------

SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "An API key: `Authorization: Bearer <key>`"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "api-key",
               "description": "An API key: `api-key: <key>`"},
}
OPEN_OPERATIONS = {("/healthz", "get")}


def install_openapi(app: FastAPI) -> None:
    """Serve the finished document at ``/openapi.json`` (built once, on first use)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = finish(get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes,
            ))  # fmt: skip
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def finish(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` without FastAPI's 422 responses, with JSON errors everywhere and with the API
    key schemes."""
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.get("responses", {})
            responses.pop("422", None)
            for status, response in responses.items():
                content = response.get("content", {})
                if status[0] in "45" and content and "application/json" not in content:
                    # A route answering text (/metrics) still answers its errors in JSON.
                    response["content"] = {"application/json": next(iter(content.values()))}
            if (path, method) in OPEN_OPERATIONS:
                operation["security"] = []
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    document["security"] = [{"bearer": []}, {"apiKey": []}]
    return document
