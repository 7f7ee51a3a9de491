"""Export and import of a memory store as JSON Lines.

The format (``version`` 1), one JSON object per line:

* The header: ``{"format": "memvault-export", "version": 1, "exported_at", "memvault_version",
  "scope", "embeddings", "store": {project, name, description, metadata, chat_model,
  requested_embedding_model, embedding_model, embedding_dimension, options, created_at,
  updated_at}}``. ``scope`` is the one scope exported, or null for the whole store.
* One line per memory: ``{"type": "memory", "id", "scope", "kind", "content", "status",
  "version", "created_at", "updated_at", "expires_at", "created_by", "updated_by", "source",
  "history": [{"version", "content", "changed_at", "changed_by"}], "embedding"}``, in
  ``(scope, id)`` order. ``embedding`` is null, or (``--with-embeddings``)
  ``{"model", "dimension", "encoding": "base64-f32le", "data"}``: the little-endian float32
  vector, base64-encoded.
* One line per memory entry (the Databricks face's notes), after the memories, in
  ``(scope, path)`` order: ``{"type": "entry", "id", "scope", "path", "description",
  "contents", "version", "created_at", "updated_at", "created_by", "updated_by",
  "history": [{"version", "description", "contents", "changed_at", "changed_by"}],
  "embedding"}``; the embedding is of :func:`memvault.models.entry_text`.
* The trailer: ``{"type": "end", "memories": N, "entries": M}``. A file without it was cut
  short.

Import creates the store from the header when the target does not exist, keeps each memory's
id, timestamps, version, provenance and history, and reuses an embedding only when its model and
dimension are the target store's; otherwise (or when absent) it embeds the content again, in
batches. Memories are written in chunks of one transaction each, so an interrupted import leaves
whole memories only, and running it again finishes it: a memory whose id the target store
already holds is skipped (``on_conflict="skip"``), and so is an entry whose path its scope
already has. ``on_conflict="new-ids"`` gives every imported memory a new id instead, for a
second copy beside the first (entries, identified by path, are still skipped).
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from memvault import __version__
from memvault.engine import validation
from memvault.engine.service import MemoryService
from memvault.engine.updates import OFFLINE_CHAT_MODEL
from memvault.errors import InvalidRequest, NotFound
from memvault.models import (
    EntryRecord,
    EntryRevision,
    Memory,
    MemoryEntry,
    MemoryKind,
    MemoryRecord,
    MemoryRevision,
    MemoryStatus,
    MemoryStore,
    StoreOptions,
    entry_text,
    new_id,
    now,
)
from memvault.settings import Settings
from memvault.storage.base import Store

FORMAT = "memvault-export"
FORMAT_VERSION = 1
EMBEDDING_ENCODING = "base64-f32le"
EXPORT_PAGE_SIZE = 500
IMPORT_CHUNK_SIZE = 256

OnConflict = Literal["skip", "new-ids"]
Progress = Callable[[int], None]
"""Called with how many more memories (or lines) were done."""


class TransferError(InvalidRequest):
    """A file that is not a memvault export, or a line of it that cannot be imported."""


@dataclass(frozen=True)
class ExportSummary:
    memories: int
    entries: int = 0


@dataclass(frozen=True)
class ImportSummary:
    store: MemoryStore
    created_store: bool
    imported: int
    skipped: int
    """Memories whose id the target store already held."""
    expired: int
    """Memories whose expiry passed since the export (not imported)."""
    embedded: int
    """Memories embedded again (no embedding in the file, or another model's)."""
    renamed: int
    """Memories imported under a new id."""
    entries: int = 0
    """Memory entries imported."""
    entries_skipped: int = 0
    """Memory entries whose path their scope already had."""
    complete: bool = True
    """The file ended with its trailer (False: the export was cut short)."""


# -- export -----------------------------------------------------------------------------------


def header(store: MemoryStore, *, scope: str | None, embeddings: bool) -> dict[str, Any]:
    """The first line of an export of ``store``."""
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "exported_at": now(),
        "memvault_version": __version__,
        "scope": scope,
        "embeddings": embeddings,
        "store": {
            "project": store.project,
            "name": store.name,
            "description": store.description,
            "metadata": dict(store.metadata),
            "chat_model": store.chat_model,
            "requested_embedding_model": store.requested_embedding_model,
            "embedding_model": store.embedding_model,
            "embedding_dimension": store.embedding_dimension,
            "options": dataclasses.asdict(store.options),
            "created_at": store.created_at,
            "updated_at": store.updated_at,
        },
    }


def memory_line(record: MemoryRecord, store: MemoryStore, *, embeddings: bool) -> dict[str, Any]:
    """One memory as a line of the export."""
    memory = record.memory
    embedding = _embedding_json(memory.embedding, store) if embeddings else None
    return {
        "type": "memory",
        "id": memory.id,
        "scope": memory.scope,
        "kind": memory.kind.value,
        "content": memory.content,
        "status": memory.status.value,
        "version": memory.version,
        "created_at": memory.created_at,
        "updated_at": memory.updated_at,
        "expires_at": memory.expires_at,
        "created_by": memory.created_by,
        "updated_by": memory.updated_by,
        "source": list(memory.source),
        "history": [
            {"version": r.version, "content": r.content, "changed_at": r.changed_at,
             "changed_by": r.changed_by}
            for r in record.history
        ],  # fmt: skip
        "embedding": embedding,
    }


def entry_line(record: EntryRecord, store: MemoryStore, *, embeddings: bool) -> dict[str, Any]:
    """One memory entry as a line of the export."""
    entry = record.entry
    return {
        "type": "entry",
        "id": entry.id,
        "scope": entry.scope,
        "path": entry.path,
        "description": entry.description,
        "contents": entry.contents,
        "version": entry.version,
        "created_at": entry.created_at,
        "updated_at": entry.updated_at,
        "created_by": entry.created_by,
        "updated_by": entry.updated_by,
        "history": [
            {"version": r.version, "description": r.description, "contents": r.contents,
             "changed_at": r.changed_at, "changed_by": r.changed_by}
            for r in record.history
        ],  # fmt: skip
        "embedding": _embedding_json(entry.embedding, store) if embeddings else None,
    }


def _embedding_json(vector: np.ndarray | None, store: MemoryStore) -> dict[str, Any] | None:
    if vector is None:
        return None
    vector = np.asarray(vector, dtype="<f4")
    return {
        "model": store.embedding_model,
        "dimension": int(vector.shape[0]),
        "encoding": EMBEDDING_ENCODING,
        "data": base64.b64encode(vector.tobytes()).decode("ascii"),
    }


def dumps(line: dict[str, Any]) -> str:
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"


async def export_store(
    store: Store,
    memory_store: MemoryStore,
    write: Callable[[str], object],
    *,
    scope: str | None = None,
    embeddings: bool = False,
    progress: Progress | None = None,
    page_size: int = EXPORT_PAGE_SIZE,
) -> ExportSummary:
    """Write ``memory_store`` (or one ``scope`` of it) to ``write`` as JSON Lines.

    Example::

        with open("backup.jsonl", "w") as out:
            await export_store(store, await store.get_store("default", "notes"), out.write)
    """
    write(dumps(header(memory_store, scope=scope, embeddings=embeddings)))
    count = 0
    after: tuple[str, str] | None = None
    while True:
        page = await store.export_memories(
            memory_store.id, limit=page_size, after=after, scope=scope
        )
        for record in page.items:
            write(dumps(memory_line(record, memory_store, embeddings=embeddings)))
        count += len(page.items)
        if progress is not None and page.items:
            progress(len(page.items))
        if not page.has_more or not page.items:
            break
        last = page.items[-1].memory
        after = (last.scope, last.id)
    entries = 0
    after = None
    while True:
        entry_page = await store.export_entries(
            memory_store.id, limit=page_size, after=after, scope=scope
        )
        for entry_record in entry_page.items:
            write(dumps(entry_line(entry_record, memory_store, embeddings=embeddings)))
        entries += len(entry_page.items)
        if progress is not None and entry_page.items:
            progress(len(entry_page.items))
        if not entry_page.has_more or not entry_page.items:
            break
        last_entry = entry_page.items[-1].entry
        after = (last_entry.scope, last_entry.path)
    write(dumps({"type": "end", "memories": count, "entries": entries}))
    return ExportSummary(memories=count, entries=entries)


# -- import -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportHeader:
    store: dict[str, Any]
    scope: str | None


@dataclass(frozen=True)
class _Parsed:
    record: MemoryRecord
    embedding_model: str | None


@dataclass(frozen=True)
class _ParsedEntry:
    record: EntryRecord
    embedding_model: str | None


def read_header(line: str) -> ExportHeader:
    """The first line of a file. Raises ``TransferError`` unless it is a header memvault reads."""
    data = _json(line, 1)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TransferError("line 1: not a memvault export (no memvault-export header)")
    if data.get("version") != FORMAT_VERSION:
        raise TransferError(
            f"line 1: export format version {data.get('version')!r}; this memvault reads"
            f" version {FORMAT_VERSION} (a newer memvault wrote this file?)"
        )
    store = data.get("store")
    if not isinstance(store, dict) or not isinstance(store.get("name"), str):
        raise TransferError("line 1: the header has no store definition")
    return ExportHeader(store=store, scope=data.get("scope"))


def _json(line: str, number: int) -> Any:
    try:
        return json.loads(line)
    except ValueError as exc:
        raise TransferError(f"line {number}: not valid JSON ({exc})") from None


def parse_memory(data: dict[str, Any], number: int, settings: Settings) -> _Parsed:
    """One memory line as a record (``store_id`` left empty). Raises ``TransferError``."""
    try:
        scope = validation.validate_scope(data.get("scope"), settings)
        content = validation.validate_content(data.get("content"), settings)
        kind = MemoryKind(data["kind"])
        status = MemoryStatus(data.get("status", "active"))
        version = int(data.get("version", 1))
        created_at, updated_at = int(data["created_at"]), int(data["updated_at"])
        expires_at = None if data.get("expires_at") is None else int(data["expires_at"])
        history = tuple(
            MemoryRevision(
                memory_id=str(data["id"]), version=int(r["version"]), content=str(r["content"]),
                changed_at=int(r["changed_at"]), changed_by=r.get("changed_by"),
            )
            for r in data.get("history") or ()
        )  # fmt: skip
        source = tuple(dict(entry) for entry in data.get("source") or ())
        memory_id = str(data["id"])
        embedding, model = _embedding(data.get("embedding"))
    except InvalidRequest as exc:
        raise TransferError(f"line {number}: {exc.message}") from None
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise TransferError(f"line {number}: not a memory of this format ({exc!r})") from None
    memory = Memory(
        id=memory_id, store_id="", scope=scope, kind=kind, content=content,
        created_at=created_at, updated_at=updated_at, version=version, status=status,
        expires_at=expires_at, created_by=data.get("created_by"),
        updated_by=data.get("updated_by"), source=source, embedding=embedding,
    )  # fmt: skip
    return _Parsed(MemoryRecord(memory, history), model)


def parse_entry(data: dict[str, Any], number: int, settings: Settings) -> _ParsedEntry:
    """One entry line as a record (``store_id`` left empty). Raises ``TransferError``."""
    from memvault.engine.entries import MAX_DESCRIPTION_CHARS, validate_path, validate_text

    try:
        scope = validation.validate_scope(data.get("scope"), settings)
        path = validate_path(data.get("path"))
        description = validate_text(data.get("description"), "description",
                                    MAX_DESCRIPTION_CHARS)
        contents = validate_text(data.get("contents"), "contents", settings.max_content_chars)
        history = tuple(
            EntryRevision(
                path=path, version=int(r["version"]), description=str(r.get("description") or ""),
                contents=str(r.get("contents") or ""), changed_at=int(r["changed_at"]),
                changed_by=r.get("changed_by"),
            )
            for r in data.get("history") or ()
        )  # fmt: skip
        entry = MemoryEntry(
            id=str(data["id"]), store_id="", scope=scope, path=path, description=description,
            contents=contents, created_at=int(data["created_at"]),
            updated_at=int(data["updated_at"]), version=int(data.get("version", 1)),
            created_by=data.get("created_by"), updated_by=data.get("updated_by"),
        )  # fmt: skip
        embedding, model = _embedding(data.get("embedding"))
    except InvalidRequest as exc:
        raise TransferError(f"line {number}: {exc.message}") from None
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise TransferError(f"line {number}: not an entry of this format ({exc!r})") from None
    return _ParsedEntry(EntryRecord(dataclasses.replace(entry, embedding=embedding), history),
                        model)


def _embedding(value: Any) -> tuple[np.ndarray | None, str | None]:
    if value is None:
        return None, None
    if value.get("encoding", EMBEDDING_ENCODING) != EMBEDDING_ENCODING:
        raise ValueError(f"unknown embedding encoding {value.get('encoding')!r}")
    vector = np.frombuffer(base64.b64decode(value["data"], validate=True), dtype="<f4")
    if vector.shape != (int(value["dimension"]),):
        raise ValueError("the embedding's length is not its dimension")
    return vector, str(value["model"])


async def target_store(
    service: MemoryService, header: ExportHeader, *, project: str | None, name: str | None
) -> tuple[MemoryStore, bool]:
    """The store to import into, created from the header's definition when it does not exist
    (``(store, created)``)."""
    definition = header.store
    project = project or definition.get("project") or "default"
    name = name or definition["name"]
    try:
        return await service.get_store(project, name), False
    except NotFound:
        pass
    options = definition.get("options") or {}
    known = {field.name for field in dataclasses.fields(StoreOptions)}
    chat_model = definition.get("chat_model")
    created = await service.create_store(
        project,
        name,
        chat_model=None if chat_model == OFFLINE_CHAT_MODEL else chat_model,
        embedding_model=definition.get("requested_embedding_model")
        or definition.get("embedding_model"),
        options=StoreOptions(**{k: v for k, v in options.items() if k in known}),
        description=definition.get("description"),
        metadata=definition.get("metadata") or None,
    )
    return created, True


async def import_lines(
    service: MemoryService,
    lines: Iterable[str],
    *,
    project: str | None = None,
    store_name: str | None = None,
    on_conflict: OnConflict = "skip",
    progress: Progress | None = None,
    chunk_size: int = IMPORT_CHUNK_SIZE,
) -> ImportSummary:
    """Import an export (its lines, header first) through ``service`` (a ``MemoryService``).

    Raises ``TransferError`` for a file memvault cannot read (naming the line); memories of the
    chunks before that line stay imported. Example::

        with open("backup.jsonl") as lines:
            summary = await import_lines(service, lines, store_name="notes_copy")
    """
    if on_conflict not in ("skip", "new-ids"):
        raise InvalidRequest("on_conflict must be 'skip' or 'new-ids'", param="on_conflict")
    numbered = _numbered(lines)
    first = next(numbered, None)
    if first is None:
        raise TransferError("the file is empty")
    head = read_header(first[1])
    store, created = await target_store(service, head, project=project, name=store_name)
    counts = dict(imported=0, skipped=0, expired=0, embedded=0, renamed=0, entries=0,
                  entries_skipped=0)  # fmt: skip
    complete = False
    chunk: list[_Parsed] = []
    entry_chunk: list[_ParsedEntry] = []

    async def flush() -> None:
        if chunk:
            await _import_chunk(service, store, chunk, on_conflict, counts)
            if progress is not None:
                progress(len(chunk))
            chunk.clear()
        if entry_chunk:
            await _import_entries(service, store, entry_chunk, counts)
            if progress is not None:
                progress(len(entry_chunk))
            entry_chunk.clear()

    for number, line in numbered:
        data = _json(line, number)
        kind = data.get("type") if isinstance(data, dict) else None
        if complete:
            raise TransferError(f"line {number}: content after the end of the export")
        if kind == "end":
            complete = True
            continue
        if kind == "memory":
            chunk.append(parse_memory(data, number, service.settings))
        elif kind == "entry":
            entry_chunk.append(parse_entry(data, number, service.settings))
        else:
            raise TransferError(f"line {number}: unknown line type {kind!r}")
        if len(chunk) + len(entry_chunk) >= chunk_size:
            await flush()
    await flush()
    return ImportSummary(store=store, created_store=created, complete=complete, **counts)


def _numbered(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield number, line


async def _import_chunk(
    service: MemoryService,
    store: MemoryStore,
    chunk: list[_Parsed],
    on_conflict: OnConflict,
    counts: dict[str, int],
) -> None:
    """Embed what needs it, then write the chunk in one transaction."""
    ts = now()
    live = [p for p in chunk if p.record.memory.expires_at is None
            or p.record.memory.expires_at > ts]  # fmt: skip
    counts["expired"] += len(chunk) - len(live)
    stale = [
        i for i, p in enumerate(live)
        if p.record.memory.embedding is None
        or p.embedding_model != store.embedding_model
        or p.record.memory.embedding.shape != (store.embedding_dimension,)
    ]  # fmt: skip
    vectors = {}
    if stale:
        texts = [live[i].record.memory.content for i in stale]
        embedded = await service.embeddings.embed(store.embedding_model, texts)
        vectors = dict(zip(stale, embedded, strict=True))
        counts["embedded"] += len(stale)
    records = []
    for i, parsed in enumerate(live):
        memory = parsed.record.memory
        changes: dict[str, Any] = {"store_id": store.id}
        if i in vectors:
            changes["embedding"] = vectors[i]
        if on_conflict == "new-ids":
            changes["id"] = new_id("mem")
        memory = dataclasses.replace(memory, **changes)
        history = tuple(dataclasses.replace(r, memory_id=memory.id) for r in parsed.record.history)
        records.append(MemoryRecord(memory, history))
    inserted = await service.store.import_memories(store.id, records)
    wanted = {record.memory.id for record in records}
    counts["imported"] += len(inserted)
    counts["skipped"] += len(records) - len(inserted)
    counts["renamed"] += sum(1 for memory in inserted if memory.id not in wanted)
    if on_conflict == "new-ids":
        counts["renamed"] += len(inserted)


async def _import_entries(
    service: MemoryService, store: MemoryStore, chunk: list[_ParsedEntry], counts: dict[str, int]
) -> None:
    """Embed the entries that need it, then write the chunk in one transaction."""
    stale = [
        i for i, p in enumerate(chunk)
        if p.record.entry.embedding is None
        or p.embedding_model != store.embedding_model
        or p.record.entry.embedding.shape != (store.embedding_dimension,)
    ]  # fmt: skip
    vectors = {}
    if stale:
        texts = [entry_text(e.path, e.description, e.contents)
                 for e in (chunk[i].record.entry for i in stale)]  # fmt: skip
        vectors = dict(zip(stale, await service.embeddings.embed(store.embedding_model, texts),
                           strict=True))
        counts["embedded"] += len(stale)
    records = []
    for i, parsed in enumerate(chunk):
        changes: dict[str, Any] = {"store_id": store.id}
        if i in vectors:
            changes["embedding"] = vectors[i]
        records.append(EntryRecord(dataclasses.replace(parsed.record.entry, **changes),
                                   parsed.record.history))
    inserted = await service.store.import_entries(store.id, records)
    counts["entries"] += len(inserted)
    counts["entries_skipped"] += len(records) - len(inserted)
