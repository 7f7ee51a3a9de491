"""From an error response to memvault's own exception (``memvault.errors``).

The server renders every error of its tree in the wire shape of the face that was called
(Foundry ``{"error": {"code", "message", "param"}}``, Databricks ``{"error_code", "message"}``);
this reads either back into the same class, so SDK users catch what the server raised:
``StoreNotFound``, ``MemoryNotFound``, ``StoreAlreadyExists``, ``InvalidRequest``... A
connection that fails or times out becomes ``ServiceUnavailable``.
"""

from __future__ import annotations

from typing import Any

from memvault import errors
from memvault.errors import MemvaultError

_BY_STATUS: dict[int, type[MemvaultError]] = {
    400: errors.InvalidRequest,
    401: errors.Unauthorized,
    404: errors.NotFound,
    405: errors.MethodNotAllowed,
    409: errors.Conflict,
    422: errors.InvalidRequest,
    503: errors.ServiceUnavailable,
}

# A 404 names what was missing in ``param``.
_NOT_FOUND_BY_PARAM: dict[str, type[errors.NotFound]] = {
    "name": errors.StoreNotFound,
    "store_id": errors.StoreNotFound,
    "memory_id": errors.MemoryNotFound,
    "update_id": errors.UpdateNotFound,
    "agent_name": errors.AgentNotFound,
    "agent_version": errors.AgentNotFound,
}

# Databricks error codes, for the entries face; a code not here goes by its status.
_DATABRICKS_CODES: dict[str, type[MemvaultError]] = {
    "RESOURCE_DOES_NOT_EXIST": errors.StoreNotFound,
    "NOT_FOUND": errors.NotFound,
    "ALREADY_EXISTS": errors.Conflict,
    "RESOURCE_ALREADY_EXISTS": errors.Conflict,
    "ABORTED": errors.VersionConflict,
}
_UNREFINED = {"ENDPOINT_NOT_FOUND"}
"""Codes that name no resource (routing found no such endpoint)."""


def _subclasses(base: type[MemvaultError]) -> list[type[MemvaultError]]:
    found = []
    for sub in base.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


def _by_code(code: str | None, status: int) -> type[MemvaultError] | None:
    """The class that declares this exact ``code`` itself (``version_conflict``,
    ``extraction_failed``, ...), preferring one whose status matches."""
    if not code:
        return None
    declared = [cls for cls in [MemvaultError, *_subclasses(MemvaultError)]
                if cls.__dict__.get("code") == code]
    for cls in declared:
        if cls.status_code == status:
            return cls
    return declared[0] if declared else None


def _by_status(status: int) -> type[MemvaultError]:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    same = [cls for cls in _subclasses(MemvaultError)
            if cls.status_code == status and MemvaultError in cls.__bases__]
    return same[0] if same else MemvaultError


def error_from_body(
    status: int,
    body: Any,
    *,
    not_found: type[errors.NotFound] = errors.NotFound,
    conflict: type[errors.Conflict] = errors.Conflict,
    request_id: str | None = None,
) -> MemvaultError:
    """The exception for an error response. ``not_found`` and ``conflict`` are what the call
    addresses (``StoreNotFound`` for a store, ...), used when the body does not say more."""
    message, code, param = f"HTTP {status}", None, None
    cls: type[MemvaultError] | None = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        message = str(error.get("message") or message)
        code, param = error.get("code"), error.get("param")
        cls = _by_code(code, status)
    elif isinstance(body, dict) and "error_code" in body:
        message = str(body.get("message") or message)
        code = str(body["error_code"])
        cls = _DATABRICKS_CODES.get(code)
    if cls is None or cls.status_code != status and status in _BY_STATUS:
        cls = _by_status(status)
    if code in _UNREFINED:
        pass
    elif cls is errors.NotFound:
        cls = _NOT_FOUND_BY_PARAM.get(param or "") or (
            errors.StoreNotFound if (param or "").endswith("memory_store_name") else not_found
        )
    elif cls is errors.Conflict:
        cls = conflict
    error = cls(message, param=param, status=status, code=code, request_id=request_id)
    if error.status_code != status:
        error.status_code = status
    return error


def update_failure(update_id: str, error: dict[str, Any] | None) -> MemvaultError:
    """The exception for an update that ended ``failed`` (its ``error`` is ``{code, message}``)."""
    error = error or {}
    code = error.get("code")
    cls = _by_code(code, 502) or errors.ExtractionFailed
    return cls(str(error.get("message") or f"update {update_id} failed"),
               update_id=update_id, code=code)
