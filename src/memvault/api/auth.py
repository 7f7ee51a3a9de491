"""Authentication: which principal a request comes from.

``MEMVAULT_AUTH`` chooses the mode:

* ``keys``: every request but ``/healthz`` needs a key, as ``Authorization: Bearer <key>`` or
  ``api-key: <key>``; anything else is a 401 in the face's error shape. A key is either one of
  ``MEMVAULT_API_KEYS`` (each an admin principal named ``key:`` + 12 hex digits of its SHA-256)
  or the key of a principal made by ``memvault principals create`` (looked up by its SHA-256).
* ``none``: no key is needed and every caller is ``anonymous``, an admin (``memvault serve``
  allows this on a loopback address only).
* unset: ``keys`` as soon as any key exists, that is when ``MEMVAULT_API_KEYS`` is set or the
  database holds a principal (even a revoked one: revoking the last key never opens the server);
  ``none`` until then.

Principals found in the database are cached for ``MEMVAULT_AUTH_CACHE_SECONDS`` (1 s by
default), so a revoked key stops working within that time on every replica.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass

from fastapi import Request

from memvault.errors import Unauthorized
from memvault.models import ANONYMOUS, Principal
from memvault.storage.governance import GovernanceStore, PrincipalRecord

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/healthz"})
MODES = ("keys", "none")
KEY_PREFIX = "mv_"
_CACHE_LIMIT = 10_000

MISSING_KEY = "Missing or invalid API key: send 'Authorization: Bearer <key>' or 'api-key: <key>'"


def key_hash(key: str) -> str:
    """The hex SHA-256 of ``key``: what the database keeps instead of the key."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A new random API key: ``mv_`` and 43 URL-safe characters (256 bits)."""
    import secrets

    return KEY_PREFIX + secrets.token_urlsafe(32)


def presented_key(request: Request) -> str | None:
    """The key from ``Authorization: Bearer <key>`` or ``api-key: <key>``, if any."""
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("api-key") or None


@dataclass
class _Cached:
    record: PrincipalRecord | None
    until: float


class Authenticator:
    """Turns a presented key into a :class:`~memvault.models.Principal`.

    ``mode`` is ``keys``, ``none`` or ``""`` (decide by whether keys exist, see the module
    docstring); ``governance`` is None on a backend without principals.

    Example::

        authenticator = Authenticator("", ["k1"], governance, cache_seconds=1.0)
        principal = await authenticator.authenticate("k1")   # Principal("key:…", admin=True)
    """

    def __init__(
        self,
        mode: str,
        api_keys: list[str],
        governance: GovernanceStore | None,
        *,
        cache_seconds: float = 1.0,
    ) -> None:
        if mode not in ("", *MODES):
            raise ValueError(f"auth mode must be keys, none or empty, not {mode!r}")
        self.mode = mode
        self.governance = governance
        self.cache_seconds = cache_seconds
        self._env_keys = [
            (key_hash(key).encode(), Principal(f"key:{key_hash(key)[:12]}", admin=True))
            for key in api_keys
        ]
        self._cache: dict[str, _Cached] = {}
        self._has_principals = False
        self._checked_principals_at = float("-inf")

    async def required(self) -> bool:
        """Whether requests need a key now."""
        if self.mode:
            return self.mode == "keys"
        if self._env_keys or self._has_principals:
            return True
        if self.governance is None:
            return False
        # Principals are never deleted: once one exists the answer stays True without asking.
        if time.monotonic() - self._checked_principals_at >= self.cache_seconds:
            self._has_principals = await self.governance.has_principals()
            self._checked_principals_at = time.monotonic()
        return self._has_principals

    async def authenticate(self, key: str | None) -> Principal:
        """The principal holding ``key``; ``ANONYMOUS`` when no key is required. Raises
        ``Unauthorized`` for a missing, unknown or revoked key."""
        if not await self.required():
            return ANONYMOUS
        if not key:
            raise Unauthorized(MISSING_KEY)
        digest = key_hash(key)
        # Every configured key is compared, so the time taken does not tell which nearly matched.
        matched: Principal | None = None
        for candidate, principal in self._env_keys:
            if hmac.compare_digest(digest.encode(), candidate):
                matched = principal
        if matched is not None:
            return matched
        record = await self._lookup(digest)
        if record is None or not record.active:
            raise Unauthorized(MISSING_KEY)
        return record.principal

    async def _lookup(self, digest: str) -> PrincipalRecord | None:
        """The principal whose key hashes to ``digest``, cached briefly (misses too)."""
        if self.governance is None:
            return None
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached.until > now:
            return cached.record
        record = await self.governance.principal_by_key_hash(digest)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache = {k: v for k, v in self._cache.items() if v.until > now}
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
        self._cache[digest] = _Cached(record, now + self.cache_seconds)
        return record


async def authenticate(request: Request) -> None:
    """App-wide dependency: sets ``request.state.principal``, or raises ``Unauthorized``."""
    if request.url.path in OPEN_PATHS:
        return
    authenticator: Authenticator = request.app.state.authenticator
    request.state.principal = await authenticator.authenticate(presented_key(request))


def caller(request: Request) -> Principal:
    """The authenticated principal of this request (``ANONYMOUS`` when authentication is off)."""
    return getattr(request.state, "principal", None) or ANONYMOUS
