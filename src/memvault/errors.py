"""The exceptions memvault raises, one tree for every layer.

    MemvaultError                     500 server_error
    ├── InvalidRequest                400 invalid_request
    │   ├── ModelUnavailable          400 model_unavailable
    │   │   └── ModelNotConfigured    400 model_not_configured (no chat endpoint for agents)
    │   └── MethodNotAllowed          405 method_not_allowed
    ├── Unauthorized                  401 unauthorized
    ├── Forbidden                     403 permission_denied (authenticated, not allowed)
    ├── QuotaExceeded                 403 quota_exceeded (memories per scope, scopes per store)
    ├── RateLimited                   429 rate_limited (``retry_after`` seconds)
    ├── NotFound                      404 not_found
    │   ├── StoreNotFound
    │   ├── MemoryNotFound
    │   ├── UpdateNotFound
    │   ├── AgentNotFound             (an agent, or one version of it)
    │   ├── ConversationNotFound
    │   ├── ConversationItemNotFound
    │   ├── ResponseNotFound
    │   ├── EntryNotFound             (a memory entry: no such path in the scope)
    │   └── PrincipalNotFound
    ├── Conflict                      409 conflict
    │   ├── StoreAlreadyExists
    │   ├── AgentAlreadyExists
    │   ├── EntryAlreadyExists        (a memory entry's path is taken in its scope)
    │   ├── PrincipalAlreadyExists
    │   ├── VersionConflict           (a compare-and-set lost the race)
    │   └── LeaseLost                 (a worker no longer holds the job it worked on)
    ├── ExtractionFailed              502 extraction_failed (the chat model failed an update)
    ├── GenerationFailed              502 generation_failed (the chat model failed a response)
    ├── StorageFull                   507 storage_full (disk or MEMVAULT_SQLITE_MAX_PAGES full)
    └── ServiceUnavailable            503 service_unavailable
        ├── StorageFailed             503 storage_failed (the database's I/O failed)
        └── Overloaded                503 overloaded (no search slot in time; ``retry_after``)

Each class carries its HTTP status and a stable ``code``; each API face renders them in its own
wire shape (see ``memvault.api``). Storage and engine code raise these and nothing else crosses a
layer boundary.
"""

from __future__ import annotations

from typing import Any


class MemvaultError(Exception):
    status_code: int = 500
    code: str = "server_error"
    error_type: str = "server_error"

    def __init__(self, message: str, *, param: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.details = details


class InvalidRequest(MemvaultError):
    status_code = 400
    code = "invalid_request"
    error_type = "invalid_request_error"


class ModelUnavailable(InvalidRequest):
    code = "model_unavailable"


class ModelNotConfigured(ModelUnavailable):
    """An agent's response needs a chat model and no OpenAI-compatible endpoint is configured.
    A 400, not a 503: retrying does not help until the operator configures one."""

    code = "model_not_configured"


class MethodNotAllowed(InvalidRequest):
    status_code = 405
    code = "method_not_allowed"


class Unauthorized(MemvaultError):
    status_code = 401
    code = "unauthorized"
    error_type = "authentication_error"


class Forbidden(MemvaultError):
    """The caller is authenticated but lacks the privilege (or the scope) the call needs."""

    status_code = 403
    code = "permission_denied"
    error_type = "permission_error"


class QuotaExceeded(MemvaultError):
    """A write would take a scope past ``MEMVAULT_MAX_MEMORIES_PER_SCOPE`` or a store past
    ``MEMVAULT_MAX_SCOPES_PER_STORE``. A 403, not a 429: waiting does not help until memories are
    deleted or the limit raised. ``details`` carries ``limit`` and ``current``."""

    status_code = 403
    code = "quota_exceeded"
    error_type = "permission_error"


class RateLimited(MemvaultError):
    """More requests than the configured rate allows; ``retry_after`` is the whole number of
    seconds (at least 1) after which one more would be admitted."""

    status_code = 429
    code = "rate_limited"
    error_type = "rate_limit_error"

    def __init__(self, message: str, *, retry_after: int, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after = max(1, int(retry_after))


class NotFound(MemvaultError):
    status_code = 404
    code = "not_found"
    error_type = "invalid_request_error"


class StoreNotFound(NotFound):
    pass


class MemoryNotFound(NotFound):
    pass


class UpdateNotFound(NotFound):
    pass


class AgentNotFound(NotFound):
    pass


class ConversationNotFound(NotFound):
    pass


class ConversationItemNotFound(NotFound):
    pass


class ResponseNotFound(NotFound):
    pass


class EntryNotFound(NotFound):
    pass


class PrincipalNotFound(NotFound):
    code = "principal_not_found"


class Conflict(MemvaultError):
    status_code = 409
    code = "conflict"
    error_type = "invalid_request_error"


class StoreAlreadyExists(Conflict):
    pass


class AgentAlreadyExists(Conflict):
    pass


class EntryAlreadyExists(Conflict):
    pass


class PrincipalAlreadyExists(Conflict):
    pass


class VersionConflict(Conflict):
    code = "version_conflict"


class LeaseLost(Conflict):
    code = "lease_lost"


class ExtractionFailed(MemvaultError):
    """The chat model could not extract or consolidate memories: unreachable, timed out, failing
    after bounded retries, refusing, or answering with invalid output twice. ``details`` carries
    ``retryable``: ``True`` for an outage (429, 5xx, timeout, network) that a later attempt may
    not meet, ``False`` for a request the service refused or a reply that made no sense."""

    status_code = 502
    code = "extraction_failed"


class GenerationFailed(MemvaultError):
    """The chat model could not answer an agent's turn: unreachable, timed out or failing after
    bounded retries. ``details`` carries ``retryable`` as for :class:`ExtractionFailed`."""

    status_code = 502
    code = "generation_failed"


class StorageFull(MemvaultError):
    """A write needs space the database cannot have: the disk is full, or the database reached
    its configured cap (``MEMVAULT_SQLITE_MAX_PAGES``). Nothing of the write was kept; reads go
    on, and writes succeed again once space returns."""

    status_code = 507
    code = "storage_full"


class ServiceUnavailable(MemvaultError):
    status_code = 503
    code = "service_unavailable"


class StorageFailed(ServiceUnavailable):
    """The database's I/O failed (a disk error, a file that can no longer be written). Nothing of
    the write was kept; a retry may succeed once the operator has repaired the storage."""

    code = "storage_failed"


class Overloaded(ServiceUnavailable):
    """The process is at its capacity: every slot of its search admission gate
    (``MEMVAULT_MAX_CONCURRENT_SEARCHES``) is busy and its line (``MEMVAULT_MAX_QUEUED_SEARCHES``)
    full, or a search waited ``MEMVAULT_SEARCH_QUEUE_TIMEOUT_MS`` in it. Raised before any work (no database read, no embedding), so nothing changed; ``retry_after``
    is the whole number of seconds (at least 1) to wait, sent as ``Retry-After``."""

    code = "overloaded"

    def __init__(self, message: str, *, retry_after: int, **details: Any) -> None:
        super().__init__(message, **details)
        self.retry_after = max(1, int(retry_after))
