"""Whom a response is for: the user that ``{{$userId}}`` scopes stand for.

The ``x-memory-user-id`` header names the user (an application's backend sets it for its signed-in
user; memvault trusts whoever holds an API key to do so). Without it, the user is the principal
of the request: the API key in use, hashed into a stable id, or ``anonymous`` when the server
runs without keys. A key restricted to one scope (``memvault principals create --scope``) is
always that scope's user: a header naming another user is refused (403).
"""

from __future__ import annotations

import hashlib

from fastapi import Request

from memvault.api.auth import caller, presented_key
from memvault.errors import Forbidden, InvalidRequest
from memvault.models import ANONYMOUS as ANONYMOUS_PRINCIPAL

USER_HEADER = "x-memory-user-id"
ANONYMOUS = "anonymous"


def memory_user_id(request: Request) -> str:
    """The user id of ``request``. Raises ``InvalidRequest`` for a blank or oversized header,
    ``Forbidden`` for a header that a scope-restricted key may not send."""
    settings = request.app.state.settings
    header = request.headers.get(USER_HEADER)
    restricted_to = caller(request).scope
    if restricted_to is not None:
        if header is not None and header.strip() != restricted_to:
            raise Forbidden(
                f"this key is restricted to its own scope; '{USER_HEADER}' may only name it",
                param=USER_HEADER,
            )
        return restricted_to
    if header is not None:
        user = header.strip()
        if not user or len(user) > settings.max_scope_chars:
            raise InvalidRequest(
                f"'{USER_HEADER}' must be 1-{settings.max_scope_chars} characters",
                param=USER_HEADER,
            )
        return user
    key = presented_key(request) if caller(request) is not ANONYMOUS_PRINCIPAL else None
    if key is None:
        return ANONYMOUS
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:24]
