"""Where a store lives on each API face: Foundry projects and Unity Catalog three-level names.

A store is kept under a *project* key (the Foundry face's ``/api/projects/{project}``); the
Databricks face names it ``catalog.schema.store``. The two meet like this:

* A schema of the default catalog (``MEMVAULT_DEFAULT_CATALOG``, ``main``) is the project of the
  same name: ``main.default.notes`` is ``/api/projects/default/memory_stores/notes``, and a store
  made on the Foundry face in project ``default`` has the full name ``main.default.notes``.
* A schema of any other catalog is the project ``catalog.schema``: ``cat.sch.notes`` is kept
  under project ``cat.sch`` (and reachable on the Foundry face as that project).
* A project that no catalog and schema produce (``a.b.c``, or ``main.default``, which
  ``main.default`` does not map to) has no full name: its stores are not on the Databricks face.

Catalog and schema names are 1-63 letters, digits, ``_`` or ``-``, starting with a letter or
digit, so that ``catalog.schema`` is always a valid project key. A store created on the
Databricks face follows the same rule (no dots); a store made on the Foundry face may have dots
in its name, so a full name is split at its first two dots only.

Example::

    >>> locate("main.default.notes", catalog="main")
    StoreLocation(catalog='main', schema='default', name='notes', project='default')
    >>> full_name("cat.sch", "notes", catalog="main")
    'cat.sch.notes'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from memvault.engine import validation
from memvault.errors import InvalidRequest

DEFAULT_CATALOG = "main"
"""The default of ``MEMVAULT_DEFAULT_CATALOG``."""

_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}\Z")
_STORE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}\Z")


@dataclass(frozen=True)
class StoreLocation:
    """A store's three-level name and the project it is kept under."""

    catalog: str
    schema: str
    name: str
    project: str

    @property
    def full_name(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.name}"


def check_part(value: object, what: str) -> str:
    """A catalog or schema name. Raises ``InvalidRequest`` naming ``what``."""
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"'{what}' must be a non-empty string", param=what)
    if not _PART.match(value):
        raise InvalidRequest(
            f"'{what}' must be 1-63 letters, digits, '_' or '-', starting with a letter or digit"
            f" (no dots); got {value[:80]!r}",
            param=what,
        )
    return value


def check_store_name(value: object, what: str = "name") -> str:
    """The short name of a store created on the Databricks face (no dots)."""
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"'{what}' must be a non-empty string", param=what)
    if not _STORE.match(value):
        raise InvalidRequest(
            f"'{what}' must be 1-128 letters, digits, '_' or '-', starting with a letter or digit"
            f" (no dots); got {value[:80]!r}",
            param=what,
        )
    return value


def configured_catalog() -> str:
    """``MEMVAULT_DEFAULT_CATALOG`` as the environment sets it (for callers without settings)."""
    from memvault.settings import Settings

    return Settings().default_catalog


def project_key(catalog: str, schema: str, *, catalog_default: str | None = None) -> str:
    """The project that holds the stores of ``catalog.schema``."""
    default = catalog_default or configured_catalog()
    check_part(catalog, "catalog_name")
    check_part(schema, "schema_name")
    return schema if catalog == default else f"{catalog}.{schema}"


def catalog_and_schema(project: str, *, catalog: str | None = None) -> tuple[str, str] | None:
    """The catalog and schema of ``project``, or None when it has none (see the module
    docstring). ``catalog`` is the default catalog (default: the configured one)."""
    default = catalog or configured_catalog()
    if _PART.match(project):
        return default, project
    first, dot, second = project.partition(".")
    if dot and _PART.match(first) and _PART.match(second) and first != default:
        return first, second
    return None


def schema_full_name(project: str, *, catalog: str | None = None) -> str:
    """``catalog.schema`` of ``project`` (what schema privileges are granted on); a project
    without one gets ``project:<key>``, which no schema name can equal."""
    located = catalog_and_schema(project, catalog=catalog)
    return f"{located[0]}.{located[1]}" if located else f"project:{project}"


def full_name(project: str, name: str, *, catalog: str | None = None) -> str | None:
    """The three-level name of store ``name`` of ``project``, or None when the project has no
    catalog and schema."""
    located = catalog_and_schema(project, catalog=catalog)
    return f"{located[0]}.{located[1]}.{name}" if located else None


def locate(
    full_name: object, *, catalog: str | None = None, what: str = "full_name"
) -> StoreLocation:
    """The store a full name ``catalog.schema.store`` addresses. Raises ``InvalidRequest``."""
    if not isinstance(full_name, str) or full_name.count(".") < 2:
        raise InvalidRequest(
            f"'{what}' must be a three-level name catalog.schema.store; got {full_name!r:.80}",
            param=what,
        )
    catalog_name, schema_name, name = full_name.split(".", 2)
    project = project_key(catalog_name, schema_name, catalog_default=catalog)
    validation.validate_name(name, what)
    return StoreLocation(catalog_name, schema_name, name, project)


def new_location(
    catalog_name: object, schema_name: object, name: object, *, catalog: str | None = None
) -> StoreLocation:
    """Where a store created on the Databricks face goes. Raises ``InvalidRequest``."""
    catalog_name = check_part(catalog_name, "catalog_name")
    schema_name = check_part(schema_name, "schema_name")
    name = check_store_name(name)
    project = project_key(catalog_name, schema_name, catalog_default=catalog)
    return StoreLocation(catalog_name, schema_name, name, project)


def parse_full_name(name: str, *, catalog: str | None = None) -> tuple[str, str] | None:
    """``(project, store name)`` when ``name`` is a full name (two dots or more), None when it
    is a plain store name. Raises ``InvalidRequest`` for a full name with a bad part."""
    if name.count(".") < 2:
        return None
    located = locate(name, catalog=catalog, what="name")
    return located.project, located.name
