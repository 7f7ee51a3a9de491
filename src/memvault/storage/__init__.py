"""Storage backends behind one protocol (:class:`~memvault.storage.base.Store`).

:func:`open_store` picks the backend from the database URL:

* ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (the part after
  ``sqlite:///`` is the file's path, as in SQLAlchemy).
"""

from __future__ import annotations

from pathlib import Path

from memvault.errors import InvalidRequest
from memvault.settings import Settings
from memvault.storage.base import Store

__all__ = ["Store", "open_store", "sqlite_path"]


def sqlite_path(url: str) -> Path:
    """The file a ``sqlite:///`` URL names. Raises ``InvalidRequest`` for anything else."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise InvalidRequest(
            f"invalid SQLite URL {url!r}: use sqlite:///relative/path.db or"
            " sqlite:////absolute/path.db",
            param="database_url",
        )
    path = url[len(prefix) :]
    if path == ":memory:" or path.startswith("file:") or "?" in path:
        raise InvalidRequest(
            f"unsupported SQLite URL {url!r}: memvault needs a database file (no :memory:, no"
            " URI parameters)",
            param="database_url",
        )
    return Path(path)


async def open_store(url: str, settings: Settings) -> Store:
    """Open (and migrate) the database at ``url``. Raises ``InvalidRequest`` for a URL no
    backend handles.

    Example::

        store = await open_store(settings.resolved_database_url, settings)
    """
    scheme = url.partition(":")[0].lower()
    if scheme == "sqlite":
        from memvault.storage.sqlite import SQLiteStore

        store = SQLiteStore(sqlite_path(url), settings)
    else:
        raise InvalidRequest(
            f"unsupported database URL {url!r}: memvault supports sqlite:///path/to/file.db",
            param="database_url",
        )
    await store.open()
    return store
