"""Privileges, named as Databricks Unity Catalog names them, and the securables they apply to.

=====================  ==================  ==================================================
securable              privilege           lets its holder
=====================  ==================  ==================================================
schema (a project)     CREATE_MEMORY_STORE create memory stores (and agents) in the project
schema                 USE_SCHEMA          nothing more in memvault (accepted for Databricks
                                           scripts: store privileges alone give access)
memory_store           READ_MEMORY_STORE   get the store; read, list and search its memories
                                           and entries; poll its updates
memory_store           WRITE_MEMORY_STORE  create, change and delete memories and entries,
                                           submit updates, delete a scope
memory_store           MANAGE              update and delete the store, read and change its
                                           grants
=====================  ==================  ==================================================

A store's owner (the principal that created it) and admins hold every privilege on it. Either
spelling is accepted, ``"READ MEMORY STORE"`` or ``"READ_MEMORY_STORE"`` (any case); the
underscore form is what memvault returns.
"""

from __future__ import annotations

import re

from memvault.errors import InvalidRequest
from memvault.storage.governance import SecurableType

SCHEMA: SecurableType = "schema"
MEMORY_STORE: SecurableType = "memory_store"

CREATE_MEMORY_STORE = "CREATE_MEMORY_STORE"
USE_SCHEMA = "USE_SCHEMA"
READ_MEMORY_STORE = "READ_MEMORY_STORE"
WRITE_MEMORY_STORE = "WRITE_MEMORY_STORE"
MANAGE = "MANAGE"

PRIVILEGES: dict[SecurableType, tuple[str, ...]] = {
    SCHEMA: (CREATE_MEMORY_STORE, USE_SCHEMA),
    MEMORY_STORE: (READ_MEMORY_STORE, WRITE_MEMORY_STORE, MANAGE),
}
"""The privileges each securable type takes, in the order memvault lists them."""

ALL_STORE_PRIVILEGES = frozenset(PRIVILEGES[MEMORY_STORE])

# Principal names: what a Databricks principal looks like (user@example.com, a service
# principal's id, a group-like name), without spaces or ':' (memvault's own names use ':').
_PRINCIPAL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}\Z")
RESERVED_PRINCIPALS = frozenset({"anonymous"})


def securable_type(value: str) -> SecurableType:
    """``schema`` or ``memory_store`` from a path segment (any case, ``-`` for ``_``).
    Raises ``InvalidRequest``."""
    normalized = value.strip().lower().replace("-", "_")
    if normalized == SCHEMA:
        return SCHEMA
    if normalized == MEMORY_STORE:
        return MEMORY_STORE
    raise InvalidRequest(
        f"securable type {value!r} is not supported: use 'schema' or 'memory_store'",
        param="securable_type",
    )


def normalize_privilege(value: object, on: SecurableType) -> str:
    """The underscore form of ``value``, a privilege valid on ``on``. Raises ``InvalidRequest``
    for anything else (naming the privileges that are valid)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest("a privilege must be a non-empty string", param="privileges")
    name = re.sub(r"[\s_]+", "_", value.strip()).upper()
    if name in PRIVILEGES[on]:
        return name
    valid = ", ".join(PRIVILEGES[on])
    known = any(name in privileges for privileges in PRIVILEGES.values())
    reason = f"is not allowed on a {on}" if known else "is not a privilege"
    raise InvalidRequest(f"{value!r} {reason}; use {valid}", param="privileges")


def validate_principal_name(name: object) -> str:
    """A new principal's name: 1-128 letters, digits, ``.``, ``_``, ``@``, ``+`` or ``-``,
    starting with a letter or digit. Raises ``InvalidRequest``."""
    if not isinstance(name, str) or not _PRINCIPAL_NAME.match(name):
        raise InvalidRequest(
            "a principal's name must be 1-128 letters, digits, '.', '_', '@', '+' or '-',"
            f" starting with a letter or digit; got {str(name)[:80]!r}",
            param="name",
        )
    if name.lower() in RESERVED_PRINCIPALS:
        raise InvalidRequest(f"{name!r} is reserved (the caller when authentication is off)",
                             param="name")
    return name
