"""Quotas: the most memories one scope may hold and the most scopes one store may have.

``MEMVAULT_MAX_MEMORIES_PER_SCOPE`` and ``MEMVAULT_MAX_SCOPES_PER_STORE`` (0: unlimited, the
default). Every row of a scope counts, memories and entries alike, whatever their status; a
scope counts while it holds a row. Each backend checks inside the write transaction that inserts,
so two writers cannot both take the last slot: SQLite has one writer at a time; PostgreSQL locks
the scope's row (memories per scope) and the store (a new scope) first. A write past a quota
raises ``QuotaExceeded`` (403 ``quota_exceeded``) and changes nothing; an update whose memories
would pass it fails with that code and is not retried.
"""

from __future__ import annotations

from dataclasses import dataclass

from memvault.errors import QuotaExceeded
from memvault.settings import Settings


@dataclass(frozen=True)
class Quotas:
    memories_per_scope: int = 0
    scopes_per_store: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Quotas:
        return cls(settings.max_memories_per_scope, settings.max_scopes_per_store)

    @property
    def limited(self) -> bool:
        return bool(self.memories_per_scope or self.scopes_per_store)

    def check_scope(self, scope: str, held: int) -> None:
        """One more row in ``scope``, which holds ``held``. Raises ``QuotaExceeded``."""
        if self.memories_per_scope and held >= self.memories_per_scope:
            raise QuotaExceeded(
                f"quota exceeded: scope {scope!r} holds {held} memories, the most allowed"
                f" (MEMVAULT_MAX_MEMORIES_PER_SCOPE={self.memories_per_scope})",
                param="scope", limit=self.memories_per_scope, current=held,
            )  # fmt: skip

    def check_new_scope(self, scope: str, others: int) -> None:
        """A first row in ``scope``, in a store with ``others`` other scopes."""
        if self.scopes_per_store and others >= self.scopes_per_store:
            raise QuotaExceeded(
                f"quota exceeded: the store holds {others} scopes, the most allowed"
                f" (MEMVAULT_MAX_SCOPES_PER_STORE={self.scopes_per_store}); scope {scope!r}"
                " would be one more",
                param="scope", limit=self.scopes_per_store, current=others,
            )  # fmt: skip


NO_QUOTAS = Quotas()
