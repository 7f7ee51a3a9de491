"""Memory entries: notes an agent reads and edits by path, within one store and scope.

An entry is identified by its ``path`` (``/memories/...``) in its scope and holds a one-line
``description`` and a body, ``contents`` (which may be empty: the description is then the whole
memory). Entries are kept with the scope's memories, so they share its vector and text indexes,
its isolation and its deletion, but no memory operation sees them (see ``storage/base.py``).

* Edits (:class:`EntryEdit`) replace a unique string, insert lines, replace the whole body and/or
  change the description. Each is a compare-and-set on the entry's version: the edit is applied
  to the entry as read, re-embedded, and written only if nobody changed the entry meanwhile
  (else read, applied and embedded again). Within one process, edits of one entry also take
  turns, so they conflict only with other replicas' edits. Every edit keeps the previous
  version as history.
* Search ranks by meaning with a keyword boost: the cosine similarity of the query and the
  entry's embedding, plus up to :data:`KEYWORD_BOOST` for a full-text match: its rank relative
  to the best match (BM25 on SQLite, ``ts_rank_cd`` on PostgreSQL) times the share of the
  query's words it contains, so that one common word shared with the query does not outweigh
  meaning. An entry is embedded and indexed as :func:`memvault.models.entry_text`: its path
  words, description and contents.

Example::

    entries = EntryService(memory_service)
    await entries.create_entry(store, "user-123", "/memories/preferences.md",
                               description="Communication preferences", contents="Email only")
    hits = await entries.search_entries(store, "user-123", "how do they like to be contacted?")
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
import weakref
from dataclasses import dataclass

import numpy as np

from memvault.engine import validation
from memvault.engine.service import MAX_QUERY_CHARS, MemoryService
from memvault.errors import InvalidRequest, VersionConflict
from memvault.models import (
    EntryRevision,
    MemoryEntry,
    MemoryStore,
    NewEntry,
    Page,
    ScoredEntry,
    entry_text,
)
from memvault.storage.fts import query_terms

PATH_PREFIX = "/memories/"
MAX_PATH_CHARS = 1_024
MAX_DESCRIPTION_CHARS = validation.MAX_DESCRIPTION
DEFAULT_TOP_K = 10
MAX_TOP_K = 50
DEFAULT_PAGE_SIZE = 1_000
MAX_PAGE_SIZE = 1_000
KEYWORD_BOOST = 0.3
"""What the best full-text match, holding every word of the query, adds to its cosine
similarity (other matches: in proportion)."""
EDIT_ATTEMPTS = 10
"""Compare-and-set attempts of one edit before it gives up with ``VersionConflict``."""

_SEGMENT_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f]")


@dataclass(frozen=True)
class EntryEdit:
    """One change to an entry: exactly one of ``str_replace`` (``(old, new)``), ``insert``
    (``(text, line)``; line ``None`` appends, 0 puts it first, n after line n) and
    ``replace_all`` (the new contents), and/or a new ``description``."""

    str_replace: tuple[str, str] | None = None
    insert: tuple[str, int | None] | None = None
    replace_all: str | None = None
    description: str | None = None

    def check(self) -> None:
        """Raises ``InvalidRequest`` unless the edit is well formed."""
        operations = [
            name
            for name, value in (
                ("str_replace", self.str_replace), ("insert", self.insert),
                ("replace_all", self.replace_all),
            )
            if value is not None
        ]  # fmt: skip
        if len(operations) > 1:
            raise InvalidRequest(
                f"give at most one of 'str_replace', 'insert' and 'replace_all'; got"
                f" {' and '.join(operations)}",
                param=operations[1],
            )
        if not operations and self.description is None:
            raise InvalidRequest(
                "give one of 'str_replace', 'insert' or 'replace_all', and/or 'description'",
                param="str_replace",
            )
        if self.str_replace is not None and not self.str_replace[0]:
            raise InvalidRequest(
                "'str_replace.old_str' must be a non-empty string", param="str_replace.old_str"
            )
        if self.insert is not None and self.insert[1] is not None and self.insert[1] < 0:
            raise InvalidRequest(
                "'insert.insert_line' must be 0 (the top) or a line number",
                param="insert.insert_line",
            )


def validate_path(path: object) -> str:
    """An entry's path: ``/memories/`` then one or more non-empty segments, none of them ``.``
    or ``..``, without whitespace or control characters, at most :data:`MAX_PATH_CHARS`."""
    if not isinstance(path, str) or not path:
        raise InvalidRequest("'path' must be a non-empty string", param="path")
    if len(path) > MAX_PATH_CHARS:
        raise InvalidRequest(
            f"'path' is {len(path)} characters; the limit is {MAX_PATH_CHARS}", param="path"
        )
    if not path.startswith(PATH_PREFIX) or path == PATH_PREFIX:
        raise InvalidRequest(
            f"'path' must start with {PATH_PREFIX!r} and name an entry under it, such as"
            f" '/memories/preferences.md'; got {path[:80]!r}",
            param="path",
        )
    for segment in path[len(PATH_PREFIX):].split("/"):
        if segment in ("", ".", ".."):
            raise InvalidRequest(
                f"'path' must not contain empty, '.' or '..' segments (nor end with '/'); got"
                f" {path[:80]!r}",
                param="path",
            )
        if _SEGMENT_FORBIDDEN.search(segment) or any(
            unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in segment
        ):
            raise InvalidRequest(
                f"'path' must not contain whitespace or control characters; got {path[:80]!r}",
                param="path",
            )
    return path


def validate_text(value: object, what: str, limit: int) -> str:
    """A description or contents: a string (possibly empty) of at most ``limit`` characters."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRequest(f"'{what}' must be a string", param=what)
    if len(value) > limit:
        raise InvalidRequest(
            f"'{what}' is {len(value)} characters; the limit is {limit}", param=what
        )
    if "\x00" in value:
        raise InvalidRequest(f"'{what}' must not contain NUL characters", param=what)
    return value


def apply_edit(contents: str, edit: EntryEdit) -> str:
    """``contents`` after ``edit`` (its description aside). Raises ``InvalidRequest`` when a
    ``str_replace`` does not match exactly once or an ``insert`` line is past the end."""
    if edit.replace_all is not None:
        return edit.replace_all
    if edit.str_replace is not None:
        old, new = edit.str_replace
        matches = contents.count(old)
        if matches != 1:
            found = "was not found in" if matches == 0 else f"matches {matches} times in"
            raise InvalidRequest(
                f"'str_replace.old_str' {found} the entry's contents; it must match exactly"
                " once (include more of the surrounding text to make it unique)",
                param="str_replace.old_str",
                matches=matches,
            )
        return contents.replace(old, new, 1)
    if edit.insert is not None:
        text, line = edit.insert
        trailing = contents.endswith("\n")
        body = contents[:-1] if trailing else contents
        lines = body.split("\n") if body else []
        if line is None:
            line = len(lines)
        if line > len(lines):
            raise InvalidRequest(
                f"'insert.insert_line' is {line}, but the contents have {len(lines)} lines",
                param="insert.insert_line",
            )
        added = text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
        return "\n".join([*lines[:line], *added, *lines[line:]]) + ("\n" if trailing else "")
    return contents


class EntryService:
    """Entry operations over a :class:`MemoryService`: its store, embedding models and
    settings. Every call takes the store and the scope; nothing reaches across scopes."""

    def __init__(self, service: MemoryService) -> None:
        self.service = service
        self.store = service.store
        self.settings = service.settings
        self._edit_locks: weakref.WeakValueDictionary[tuple[str, str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def _edit_lock(self, store_id: str, scope: str, path: str) -> asyncio.Lock:
        """The lock edits of one entry take turns on in this process (kept while in use)."""
        key = (store_id, scope, path)
        lock = self._edit_locks.get(key)
        if lock is None:
            lock = self._edit_locks[key] = asyncio.Lock()
        return lock

    def _scope(self, scope: object) -> str:
        return validation.validate_scope(scope, self.settings)

    async def _embed(
        self, store: MemoryStore, path: str, description: str, contents: str
    ) -> np.ndarray:
        [vector] = await self.service.embeddings.embed(
            store.embedding_model, [entry_text(path, description, contents)]
        )
        return vector

    async def create_entry(
        self,
        store: MemoryStore,
        scope: object,
        path: object,
        *,
        description: object = None,
        contents: object = None,
        created_by: str = "api",
    ) -> MemoryEntry:
        """Create an entry at ``path``. Raises ``InvalidRequest`` (bad scope, path, description
        or contents) and ``EntryAlreadyExists``."""
        scope = self._scope(scope)
        path = validate_path(path)
        description = validate_text(description, "description", MAX_DESCRIPTION_CHARS)
        contents = validate_text(contents, "contents", self.settings.max_content_chars)
        embedding = await self._embed(store, path, description, contents)
        return await self.store.create_entry(
            store.id, scope,
            NewEntry(path=path, description=description, contents=contents,
                     embedding=embedding, created_by=created_by),
        )  # fmt: skip

    async def get_entry(self, store: MemoryStore, scope: object, path: object) -> MemoryEntry:
        """Raises ``InvalidRequest`` and ``EntryNotFound``."""
        return await self.store.get_entry(store.id, self._scope(scope), validate_path(path))

    async def list_entries(
        self,
        store: MemoryStore,
        scope: object,
        *,
        limit: int | None = None,
        after: str | None = None,
    ) -> Page[MemoryEntry]:
        """One page of the scope's entries by path: ``limit`` (default and at most
        :data:`MAX_PAGE_SIZE`; 0 is the default) after the path ``after``."""
        scope = self._scope(scope)
        if limit is not None and limit < 0:
            raise InvalidRequest("'page_size' must not be negative", param="page_size")
        limit = min(limit or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        return await self.store.list_entries(store.id, scope, limit=limit, after=after)

    async def update_entry(
        self,
        store: MemoryStore,
        scope: object,
        path: object,
        edit: EntryEdit,
        *,
        updated_by: str = "api",
    ) -> MemoryEntry:
        """Apply ``edit`` to the entry at ``path`` (see :class:`EntryEdit`), compare-and-set on
        its version. Raises ``InvalidRequest``, ``EntryNotFound`` and, when the entry kept
        changing under it, ``VersionConflict``."""
        scope = self._scope(scope)
        path = validate_path(path)
        edit.check()
        description = None
        if edit.description is not None:
            description = validate_text(edit.description, "description", MAX_DESCRIPTION_CHARS)
        async with self._edit_lock(store.id, scope, path):
            return await self._edit(store, scope, path, edit, description, updated_by)

    async def _edit(
        self,
        store: MemoryStore,
        scope: str,
        path: str,
        edit: EntryEdit,
        description: str | None,
        updated_by: str,
    ) -> MemoryEntry:
        for _ in range(EDIT_ATTEMPTS):
            current = await self.store.get_entry(store.id, scope, path)
            contents = validate_text(
                apply_edit(current.contents, edit), "contents", self.settings.max_content_chars
            )
            new_description = current.description if description is None else description
            if (new_description, contents) == (current.description, current.contents):
                return current
            embedding = await self._embed(store, path, new_description, contents)
            try:
                return await self.store.update_entry(
                    store.id, scope, path, description=new_description, contents=contents,
                    embedding=embedding, updated_by=updated_by, expected_version=current.version,
                )  # fmt: skip
            except VersionConflict:
                continue
        raise VersionConflict(
            f"the entry at {path!r} changed {EDIT_ATTEMPTS} times while this edit was applied;"
            " try again",
            param="path",
        )

    async def delete_entry(
        self, store: MemoryStore, scope: object, path: object, *, actor: str = "system"
    ) -> MemoryEntry:
        """Delete the entry at ``path``; audited as ``entry.delete`` by ``actor``. Raises
        ``InvalidRequest`` and ``EntryNotFound``."""
        return await self.store.delete_entry(
            store.id, self._scope(scope), validate_path(path), actor=actor
        )

    async def entry_history(
        self, store: MemoryStore, scope: object, path: object
    ) -> list[EntryRevision]:
        return await self.store.entry_history(store.id, self._scope(scope), validate_path(path))

    async def search_entries(
        self, store: MemoryStore, scope: object, query: object, *, top_k: int | None = None
    ) -> list[ScoredEntry]:
        """The scope's entries most relevant to ``query``, best first, at most ``top_k``
        (default :data:`DEFAULT_TOP_K`, at most :data:`MAX_TOP_K`); ``score`` is the cosine
        similarity plus the keyword boost. Raises ``InvalidRequest``."""
        scope = self._scope(scope)
        if not isinstance(query, str) or not query.strip():
            raise InvalidRequest("'query' must be a non-empty string", param="query")
        if "\x00" in query:
            raise InvalidRequest("'query' must not contain NUL characters", param="query")
        if top_k is None:
            top_k = DEFAULT_TOP_K
        if not 1 <= top_k <= MAX_TOP_K:
            raise InvalidRequest(
                f"'top_k' must be between 1 and {MAX_TOP_K}; got {top_k}", param="top_k"
            )
        query = query.strip()[-MAX_QUERY_CHARS:]
        vector = await self.service.embeddings.embed_query(store.embedding_model, query)
        vector = np.asarray(vector, dtype=np.float32)
        found = await self.store.search_entry_candidates(
            store.id, scope, text=query, embedding=vector, limit=max(top_k * 3, 30)
        )
        return rank_entries(found.by_vector, found.by_text, vector, query, top_k)


def rank_entries(
    by_vector: list[ScoredEntry],
    by_text: list[ScoredEntry],
    vector: np.ndarray,
    query: str,
    limit: int,
) -> list[ScoredEntry]:
    """Semantic ranking with a keyword boost (see the module docstring); best first, ties by
    path. A text match the vector half did not return gets its cosine from its embedding."""
    entries = {hit.entry.id: hit.entry for hit in by_vector}
    semantic = {hit.entry.id: hit.score for hit in by_vector}
    best_text = max((hit.score for hit in by_text), default=0.0)
    terms = query_terms(query)
    boost: dict[str, float] = {}
    for hit in by_text:
        entry = hit.entry
        entries.setdefault(entry.id, entry)
        if entry.id not in semantic and entry.embedding is not None:
            semantic[entry.id] = float(np.dot(vector, entry.embedding))
        if best_text > 0 and terms:
            text = entry_text(entry.path, entry.description, entry.contents)
            boost[entry.id] = KEYWORD_BOOST * hit.score / best_text * _matched_share(terms, text)
    scored = [
        ScoredEntry(entry, semantic.get(entry_id, 0.0) + boost.get(entry_id, 0.0))
        for entry_id, entry in entries.items()
    ]
    scored.sort(key=lambda hit: (-hit.score, hit.entry.path))
    return scored[:limit]


def _matched_share(terms: list[str], text: str) -> float:
    """The share of ``terms`` found among the words of ``text``: equal, or one a prefix of the
    other of at least four letters (a crude stand-in for the indexes' stemming)."""
    words = {word.casefold() for word in re.findall(r"\w+", text)}

    def found(term: str) -> bool:
        return term in words or any(
            min(len(term), len(word)) >= 4 and (word.startswith(term) or term.startswith(word))
            for word in words
        )

    return sum(1 for term in terms if found(term)) / len(terms)
