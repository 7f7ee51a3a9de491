"""Who may do what: the one policy every API face asks before it acts.

The rules (privileges are those of :mod:`memvault.engine.privileges`):

* An admin holds every privilege on everything. The caller when authentication is off
  (``MEMVAULT_AUTH=none``) is ``anonymous``, an admin.
* A store's owner (its creator) holds every privilege on it; anyone else holds what was granted.
* A principal sees (in lists) the stores it owns or holds any privilege on; admins see all.
* A scope-restricted principal (a key made with ``--scope``) may only name its own scope, and may
  not do what spans scopes or the store itself: create, update or delete a store, change grants,
  reach a memory of another scope by its id.
* Schema privileges are looked up on the schema that holds the store's project
  (:func:`memvault.engine.namespaces.schema_full_name`).

The callers check that the store exists first (a missing store is a 404, never a 403), then ask
the policy; the policy raises ``Forbidden`` (403) or returns.

Example::

    policy = AccessPolicy(open_governance_store(store), settings)
    await policy.require(principal, READ_MEMORY_STORE, memory_store)
    policy.require_scope(principal, "user_123")
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from memvault.engine.namespaces import schema_full_name
from memvault.engine.privileges import (
    ALL_STORE_PRIVILEGES,
    MEMORY_STORE,
    PRIVILEGES,
    SCHEMA,
)
from memvault.errors import Forbidden
from memvault.models import MemoryStore, Page, Principal
from memvault.settings import Settings
from memvault.storage.governance import GovernanceStore

ListPage = Callable[..., Awaitable[Page[MemoryStore]]]
"""``list_page(limit=, after=, before=)``: one page of stores in the list's order."""

_CHUNK = 100


class AccessPolicy:
    """The rules above over a :class:`~memvault.storage.governance.GovernanceStore` (None on a
    backend without one: then only admins and owners get anywhere)."""

    def __init__(self, governance: GovernanceStore | None, settings: Settings) -> None:
        self.governance = governance
        self.settings = settings

    # -- memory stores ---------------------------------------------------------------------

    async def store_privileges(self, principal: Principal, store: MemoryStore) -> frozenset[str]:
        """What ``principal`` holds on ``store``."""
        if principal.admin or (store.owner is not None and store.owner == principal.name):
            return ALL_STORE_PRIVILEGES
        if self.governance is None:
            return frozenset()
        return await self.governance.privileges(principal.name, MEMORY_STORE, store.id)

    async def require(self, principal: Principal, privilege: str, store: MemoryStore) -> None:
        """Raises ``Forbidden`` unless ``principal`` holds ``privilege`` on ``store``."""
        if privilege not in PRIVILEGES[MEMORY_STORE]:
            raise ValueError(f"{privilege!r} is no memory store privilege")
        if privilege not in await self.store_privileges(principal, store):
            raise Forbidden(
                f"principal {principal.name!r} does not hold {privilege} on memory store"
                f" {store.name!r}"
            )

    async def can_see(self, principal: Principal, store: MemoryStore) -> bool:
        """Whether ``store`` shows in ``principal``'s lists (owner, admin, any privilege)."""
        return bool(await self.store_privileges(principal, store))

    async def visible_stores(
        self,
        principal: Principal,
        list_page: ListPage,
        *,
        limit: int,
        after: str | None = None,
        before: str | None = None,
    ) -> Page[MemoryStore]:
        """One page of the stores ``principal`` can see, with the paging of
        :mod:`memvault.storage.base` (``after``/``before`` are store ids): pages of every
        store are read (``list_page``) and filtered until ``limit`` visible ones are found."""
        if principal.admin:
            return await list_page(limit=limit, after=after, before=before)
        granted: frozenset[str] = frozenset()
        if self.governance is not None:
            granted = await self.governance.granted_securables(principal.name, MEMORY_STORE)

        def visible(store: MemoryStore) -> bool:
            return store.owner == principal.name or store.id in granted

        backwards = before is not None and after is None
        found: list[MemoryStore] = []
        while True:
            page = await list_page(limit=_CHUNK, after=after, before=before)
            kept = [store for store in page.items if visible(store)]
            found = kept + found if backwards else found + kept
            if len(found) > limit or not page.has_more or not page.items:
                break
            if backwards:
                before = page.items[0].id
            else:
                after = page.items[-1].id
        items = found[-limit:] if backwards else found[:limit]
        return Page(items, has_more=len(found) > limit)

    # -- schemas (projects) ----------------------------------------------------------------

    async def require_on_schema(self, principal: Principal, privilege: str, project: str) -> None:
        """Raises ``Forbidden`` unless ``principal`` holds ``privilege`` on the schema of
        ``project`` (admins hold all)."""
        if privilege not in PRIVILEGES[SCHEMA]:
            raise ValueError(f"{privilege!r} is no schema privilege")
        if principal.admin:
            return
        schema = schema_full_name(project, catalog=self.settings.default_catalog)
        held: frozenset[str] = frozenset()
        if self.governance is not None:
            held = await self.governance.privileges(principal.name, SCHEMA, schema)
        if privilege not in held:
            raise Forbidden(
                f"principal {principal.name!r} does not hold {privilege} on schema {schema!r}"
            )

    # -- admins and scopes -----------------------------------------------------------------

    @staticmethod
    def require_admin(principal: Principal, action: str) -> None:
        """Raises ``Forbidden`` unless ``principal`` is an admin; ``action`` completes "only an
        admin may ..."."""
        if not principal.admin:
            raise Forbidden(f"only an admin may {action}")

    @staticmethod
    def require_scope(principal: Principal, scope: object) -> None:
        """Raises ``Forbidden`` when ``principal`` is restricted to another scope. A missing or
        malformed ``scope`` passes: validation rejects it next, as a 400."""
        if principal.scope is not None and isinstance(scope, str) and scope != principal.scope:
            raise Forbidden(
                f"principal {principal.name!r} is restricted to its own scope; it may not use"
                " another",
                param="scope",
            )

    @staticmethod
    def require_all_scopes(principal: Principal, action: str) -> None:
        """Raises ``Forbidden`` when ``principal`` is restricted to one scope; ``action``
        completes "a key restricted to one scope may not ..."."""
        if principal.scope is not None:
            raise Forbidden(f"a key restricted to one scope may not {action}")

