"""API keys: with ``MEMVAULT_API_KEYS`` set, every request but the health check needs one."""

from __future__ import annotations

import hmac

from fastapi import Request

from memvault.errors import Unauthorized
from memvault.models import ANONYMOUS, Principal

OPEN_PATHS = frozenset({"/healthz"})


def presented_key(request: Request) -> str | None:
    """The key from ``Authorization: Bearer <key>`` or ``api-key: <key>``, if any."""
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("api-key") or None


async def require_api_key(request: Request) -> None:
    """App-wide dependency; raises ``Unauthorized`` unless a configured key was presented."""
    keys: list[str] = request.app.state.settings.api_key_list
    if not keys or request.url.path in OPEN_PATHS:
        return
    key = presented_key(request)
    # Compare against every key so the time taken does not tell which one nearly matched.
    matched = False
    for candidate in keys:
        matched |= key is not None and hmac.compare_digest(key.encode(), candidate.encode())
    if not matched:
        raise Unauthorized(
            "Missing or invalid API key: send 'Authorization: Bearer <key>' or 'api-key: <key>'"
        )


def caller(request: Request) -> Principal:
    """The authenticated principal of this request (``ANONYMOUS`` when authentication is off)."""
    return getattr(request.state, "principal", None) or ANONYMOUS
