"""Principals written into a server's database before it starts, as `memvault principals
create` makes them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from memvault.api.auth import key_hash, new_key
from memvault.models import now
from memvault.settings import Settings
from memvault.storage import open_store
from memvault.storage.governance import open_governance_store


async def _create(data_dir: Path, principals: dict[str, tuple[bool, str | None]]
                  ) -> dict[str, str]:
    store = await open_store(f"sqlite:///{data_dir / 'memvault.db'}",
                             Settings(vector_cache_mb=64))
    try:
        governance = open_governance_store(store)
        assert governance is not None
        keys = {}
        for name, (admin, scope) in principals.items():
            keys[name] = new_key()
            await governance.create_principal(name, key_hash=key_hash(keys[name]), admin=admin,
                                              scope=scope, created_at=now(), actor="test")
        return keys
    finally:
        await store.close()


def create_principals(data_dir: Path, principals: dict[str, tuple[bool, str | None]]
                      ) -> dict[str, str]:
    """Create ``{name: (admin, scope)}`` in the SQLite database under ``data_dir``; returns
    each name's new API key."""
    return asyncio.run(_create(data_dir, principals))
