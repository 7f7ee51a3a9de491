"""Checks on the planned operations of an update, shared by every backend's ``complete_update``.

A backend applies a :class:`~memvault.models.PlannedOperation` in three steps: :func:`check_operation`
(the operation is well formed), its own write, and :func:`gone` for a target memory that vanished
(deleted or expired since the worker read it), which is a lost race and so a ``VersionConflict``:
the worker plans again rather than failing the update.
"""

from __future__ import annotations

from memvault.errors import InvalidRequest, VersionConflict
from memvault.models import PlannedOperation

KINDS = ("create", "update", "delete", "touch")


def check_operation(operation: PlannedOperation) -> str | None:
    """The id of the memory ``operation`` targets (None for a create). Raises ``InvalidRequest``
    for an unknown kind or a missing field."""
    kind = operation.kind
    if kind == "create":
        if operation.new is None:
            raise InvalidRequest("a create operation needs `new`", param="operations")
        return None
    if kind not in KINDS:
        raise InvalidRequest(f"unknown operation kind {kind!r}", param="operations")
    if operation.memory_id is None:
        raise InvalidRequest(f"a {kind} operation needs `memory_id`", param="operations")
    if kind == "update" and (operation.content is None or operation.embedding is None):
        raise InvalidRequest(
            "an update operation needs `content` and `embedding`", param="operations"
        )
    return operation.memory_id


def gone(memory_id: str) -> VersionConflict:
    """The error for a target memory that no longer exists."""
    return VersionConflict(
        f"memory {memory_id!r} is gone (deleted or expired since it was read)",
        param="expected_version",
        current_version=None,
    )
