"""Errors of the Databricks face, in the Databricks shape: ``{"error_code", "message"}``.

Registered for every path under :data:`PREFIX` (``app.state.error_renderers``), so what the
handlers raise, what the app-wide key check raises and what routing refuses all come out in
this shape. Codes are those ``databricks-sdk`` maps to its exception classes
(``databricks/sdk/errors/platform.py``): a missing store is ``RESOURCE_DOES_NOT_EXIST``, a
missing entry ``NOT_FOUND``, a lost compare-and-set ``ABORTED``.
"""

from __future__ import annotations

from typing import Any

from memvault.errors import (
    Conflict,
    InvalidRequest,
    MemvaultError,
    MethodNotAllowed,
    NotFound,
    StoreNotFound,
    VersionConflict,
)

PREFIX = "/api/2.1/unity-catalog"

_BY_STATUS = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "RESOURCE_CONFLICT",
    429: "RESOURCE_EXHAUSTED",
    501: "NOT_IMPLEMENTED",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
    507: "RESOURCE_EXHAUSTED",
}


def error_code(error: MemvaultError) -> str:
    """The Databricks ``error_code`` of ``error``."""
    if isinstance(error, StoreNotFound):
        return "RESOURCE_DOES_NOT_EXIST"
    if type(error) is NotFound:  # raised by routing only: no such endpoint
        return "ENDPOINT_NOT_FOUND"
    if isinstance(error, MethodNotAllowed):
        return "METHOD_NOT_ALLOWED"
    if isinstance(error, InvalidRequest):
        return "INVALID_PARAMETER_VALUE"
    if isinstance(error, VersionConflict):
        return "ABORTED"
    if isinstance(error, Conflict):
        return "ABORTED" if error.code == "lease_lost" else "ALREADY_EXISTS"
    code = _BY_STATUS.get(error.status_code)
    if code is None:
        code = "INTERNAL_ERROR" if error.status_code >= 500 else "BAD_REQUEST"
    return code


def databricks_error_body(error: MemvaultError, req_id: str) -> dict[str, Any]:
    """``{"error_code", "message"}`` (the request id travels in the ``x-request-id`` header)."""
    return {"error_code": error_code(error), "message": error.message}
