"""The Databricks wire format: request bodies in, JSON objects out (contract §6.1, §6.2).

Timestamps are milliseconds since the epoch, as Unity Catalog gives them. Empty lists are left
out of a response (``entries``, ``memory_stores``, ``results``), and so is ``next_page_token`` on
the last page, as Databricks' JSON does. Request models allow extra fields (the agent templates
send ``creation_reason`` and ``creation_source``, which memvault accepts and does not keep).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from memvault.api.openapi import PART_PATTERN
from memvault.engine.entries import EntryEdit
from memvault.engine.namespaces import StoreLocation
from memvault.errors import InvalidRequest
from memvault.models import MemoryEntry, MemoryStore, ScoredEntry

STORE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
"""A store's name on this face (:func:`memvault.engine.namespaces.check_store_name`)."""
DEFAULT_STORE_PAGE = 100
MAX_STORE_PAGE = 100


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- requests ------------------------------------------------------------------------------


class DatabricksCreateStoreIn(_Wire):
    model_config = ConfigDict(
        extra="allow", json_schema_extra={"required": ["name", "catalog_name", "schema_name"]}
    )

    name: str | None = Field(None, json_schema_extra={"pattern": STORE_PATTERN})
    catalog_name: str | None = Field(None, json_schema_extra={"pattern": PART_PATTERN})
    schema_name: str | None = Field(None, json_schema_extra={"pattern": PART_PATTERN})
    description: str | None = None
    comment: str | None = None


class DatabricksUpdateStoreIn(_Wire):
    description: str | None = None
    comment: str | None = None
    new_name: str | None = None
    owner: str | None = None


class EntryFieldsIn(_Wire):
    path: str | None = None
    description: str | None = None
    contents: str | None = None


class CreateEntryIn(EntryFieldsIn):
    """The entry's fields at the top level, or under ``memory_entry`` as the Databricks agent
    templates send them; ``scope`` here or in the query string."""

    scope: str | None = None
    memory_entry: EntryFieldsIn | None = None

    def fields(self) -> EntryFieldsIn:
        if self.memory_entry is None:
            return self
        if any(value is not None for value in (self.path, self.description, self.contents)):
            raise InvalidRequest(
                "give the entry's fields either under 'memory_entry' or at the top level, not"
                " both",
                param="memory_entry",
            )
        return self.memory_entry


class StrReplaceIn(_Wire):
    old_str: str
    new_str: str = ""


class InsertIn(_Wire):
    insert_text: str
    insert_line: int | None = Field(None, strict=True)


class ReplaceAllIn(_Wire):
    contents: str


class UpdateEntryIn(_Wire):
    scope: str | None = None
    path: str | None = None
    description: str | None = None
    str_replace: StrReplaceIn | None = None
    insert: InsertIn | None = None
    replace_all: ReplaceAllIn | None = None

    def edit(self) -> EntryEdit:
        return EntryEdit(
            str_replace=(
                None if self.str_replace is None
                else (self.str_replace.old_str, self.str_replace.new_str)
            ),
            insert=None if self.insert is None else (self.insert.insert_text,
                                                     self.insert.insert_line),
            replace_all=None if self.replace_all is None else self.replace_all.contents,
            description=self.description,
        )  # fmt: skip


class SearchEntriesIn(_Wire):
    query: str | None = None
    top_k: int | None = Field(None, strict=True)
    scope: str | None = None


def one_of(what: str, *values: str | None) -> str | None:
    """The value given in the query string and/or the body; both must agree."""
    given = {value for value in values if value is not None}
    if len(given) > 1:
        raise InvalidRequest(
            f"'{what}' is given twice (query string and body) with different values", param=what
        )
    return given.pop() if given else None


def store_description(description: str | None, comment: str | None) -> str | None:
    """A store's description: ``description`` or its Unity Catalog name ``comment``."""
    if description is not None and comment is not None and description != comment:
        raise InvalidRequest(
            "give 'description' or 'comment' (the same field), not two different values",
            param="comment",
        )
    return description if description is not None else comment


# -- page tokens -----------------------------------------------------------------------------


def encode_token(kind: str, value: str) -> str:
    """An opaque page token: the cursor ``value`` of a ``kind`` of list."""
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def decode_token(kind: str, token: str | None) -> str | None:
    """The cursor in ``token`` (None for no token). Raises ``InvalidRequest`` for a token this
    kind of list did not give."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    prefix, colon, value = raw.partition(":")
    if prefix != kind or not colon or not value:
        raise InvalidRequest(
            "'page_token' is not a token this list gave (pass next_page_token as it came)",
            param="page_token",
        )
    return value


def page_size(value: int | None, *, what: str, default: int, maximum: int) -> int:
    """Unity Catalog's rule: absent or 0 is the server's default, more than the maximum is the
    maximum, a negative number is refused."""
    if value is None or value == 0:
        return default
    if value < 0:
        raise InvalidRequest(f"'{what}' must not be negative", param=what)
    return min(value, maximum)


# -- responses -------------------------------------------------------------------------------


def ms(seconds: int) -> int:
    return seconds * 1000


def store_json(store: MemoryStore, location: StoreLocation) -> dict[str, Any]:
    """A memory store as a Unity Catalog securable."""
    return {
        "name": location.name,
        "catalog_name": location.catalog,
        "schema_name": location.schema,
        "full_name": location.full_name,
        "memory_store_id": store.id,
        "description": store.description,
        "comment": store.description,
        "owner": store.owner,
        "created_at": ms(store.created_at),
        "updated_at": ms(store.updated_at),
        "memvault": {"project": store.project, "embedding_model": store.embedding_model},
    }


def entry_json(entry: MemoryEntry) -> dict[str, Any]:
    return {
        "path": entry.path,
        "description": entry.description,
        "contents": entry.contents,
        "has_contents": bool(entry.contents),
        "scope": entry.scope,
        "version": entry.version,
        "created_at": ms(entry.created_at),
        "updated_at": ms(entry.updated_at),
    }


def entry_summary_json(entry: MemoryEntry) -> dict[str, Any]:
    """An entry as a list shows it: no contents."""
    return {
        "path": entry.path,
        "description": entry.description,
        "has_contents": bool(entry.contents),
        "updated_at": ms(entry.updated_at),
    }


def search_json(hits: list[ScoredEntry]) -> dict[str, Any]:
    if not hits:
        return {}
    return {
        "results": [
            {"memory_entry": entry_json(hit.entry), "score": round(hit.score, 6)} for hit in hits
        ]
    }
