"""A LangGraph store (``langgraph.store.base.BaseStore``) kept in memvault.

Compile a graph with ``store=MemvaultStore(...)`` and its nodes read and write memvault through
``get_store()`` or their ``store`` argument::

    store = MemvaultStore("http://127.0.0.1:8080", api_key="key1")
    graph = builder.compile(store=store)

    # in a node:
    store.put(("notes", user_id), "coffee", {"text": "Prefers dark roast"})
    store.search(("notes", user_id), query="what coffee do they like?")

**Namespaces.** A namespace is ``(store, scope, *folders)``: the memvault store (in the
client's project), the scope (memvault's isolation boundary: a user id, a team id) and any
folders. An item is the memory *entry* (the Databricks-style face) at
``/memories/<folder>/.../<key>`` in that scope; each label and the key are percent-encoded
into one path segment, so ``/`` and spaces in a key are safe. A store that does not exist is
created on the first put (``create_stores=False`` turns that off).

**Why entries, not memory ids.** LangGraph's items are named by the caller: ``put`` is an upsert
of ``(namespace, key)`` and ``get``/``delete`` go straight to it. Memory ids are made by the
server, so keys would need an index of their own beside memvault's; an entry's path is the
caller's own name for it, unique in its scope, read, replaced and deleted by that name, listed
in path order, and searched by meaning. The folders live in the path, so ``search`` with a
deeper prefix and ``list_namespaces`` see exactly what was put.

**Values.** An item's value is kept as JSON in the entry's ``contents``; its text (the fields
``index`` names, else every string in the value) becomes the entry's one-line ``description``.
memvault embeds every entry (path words, description, contents); ``index=False`` only leaves the
description empty. An entry written through another face whose contents are not a JSON object
reads as ``{"contents": ..., "description": ...}``.

**Limits, by memvault's design.** Nothing crosses a scope: ``search`` needs a prefix of at least
``(store, scope)``, and so does ``list_namespaces`` (a prefix condition naming both), else they
raise ``InvalidNamespaceError``. A search with ``query`` ranks the scope's 50 best entries
(memvault's largest ``top_k``) before the folder prefix, ``filter``, ``offset`` and ``limit``
apply; without a query every entry under the prefix is considered, in path order (folders,
then key: stable, so ``offset`` pages reliably). Labels cannot contain ``.`` (LangGraph's rule),
so a scope with a dot cannot be named in a namespace. TTLs are not
supported (``supports_ttl`` is False): memvault's entries never expire.

Errors other than "not found" are memvault's own (``memvault.errors``): ``Unauthorized``,
``Forbidden``, ``InvalidRequest`` (a value too large, say), ``ServiceUnavailable``.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, unquote

try:
    from langgraph.store.base import (
        BaseStore,
        GetOp,
        InvalidNamespaceError,
        Item,
        ListNamespacesOp,
        MatchCondition,
        Op,
        PutOp,
        Result,
        SearchItem,
        SearchOp,
        get_text_at_path,
        validate_op_namespace,
    )
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(f"memvault's LangGraph store needs langgraph ({exc}):"
                      " pip install 'memvault[langgraph]'") from exc

from memvault.client import AsyncClient, Client, Entry
from memvault.client.calls import Call, Calls
from memvault.client.http import DEFAULT_TIMEOUT, DEFAULT_URL
from memvault.errors import (
    EntryAlreadyExists,
    EntryNotFound,
    MemvaultError,
    StoreAlreadyExists,
    StoreNotFound,
)

__all__ = ["MemvaultStore"]

PATH_PREFIX = "/memories/"
SEARCH_DEPTH = 50
"""memvault's largest ``top_k``: how many entries a semantic search ranks."""
PAGE_SIZE = 1_000
MAX_DESCRIPTION_CHARS = 2_048

T = TypeVar("T")
Step = Call | list[Call]
Program = Generator[Step, Any, T]
"""An operation as a sequence of calls: it yields a call (or a list, sent together) and gets back
the result (or, for a list, each result or the error it raised)."""


# -- namespaces and paths --------------------------------------------------------------------


def _segment(label: str) -> str:
    encoded = quote(label, safe="")
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded


@dataclass(frozen=True)
class _Location:
    store: str
    scope: str
    folders: tuple[str, ...]

    @classmethod
    def of(cls, namespace: tuple[str, ...]) -> _Location | None:
        if len(namespace) < 2:
            return None
        return cls(namespace[0], namespace[1], tuple(namespace[2:]))

    @property
    def directory(self) -> str:
        return PATH_PREFIX + "".join(_segment(folder) + "/" for folder in self.folders)

    def path(self, key: str) -> str:
        return self.directory + _segment(key)

    def namespace(self, path: str) -> tuple[tuple[str, ...], str]:
        """The namespace and key of the entry at ``path`` (an entry of this store and scope)."""
        *folders, key = (unquote(part) for part in path.removeprefix(PATH_PREFIX).split("/"))
        return (self.store, self.scope, *folders), key


def _scoped(namespace: tuple[str, ...], what: str) -> _Location:
    location = _Location.of(namespace)
    if location is None:
        raise InvalidNamespaceError(
            f"memvault {what} within one scope: the namespace must start with (store, scope);"
            f" got {namespace!r}")
    return location


# -- values ----------------------------------------------------------------------------------


def _value(entry: Entry) -> dict[str, Any]:
    try:
        value = json.loads(entry.contents)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return value
    return {"contents": entry.contents, "description": entry.description}


def _description(value: dict[str, Any], index: list[str] | bool | None) -> str:
    if index is False:
        return ""
    texts = ([text for field in index for text in get_text_at_path(value, field)]
             if isinstance(index, list) else list(_strings(value)))
    return " ".join(" ".join(texts).split())[:MAX_DESCRIPTION_CHARS]


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _time(entry: Entry, field: str) -> datetime:
    milliseconds = entry.raw.get(field) or 0
    return datetime.fromtimestamp(milliseconds / 1000, tz=UTC)


def _matches(value: dict[str, Any], filter: dict[str, Any] | None) -> bool:
    return not filter or all(_compare(value.get(key), wanted) for key, wanted in filter.items())


def _compare(actual: Any, wanted: Any) -> bool:
    """LangGraph's filter semantics: equality, nested objects, ``$eq $ne $gt $gte $lt $lte``."""
    if isinstance(wanted, dict):
        if any(key.startswith("$") for key in wanted):
            return all(_operator(actual, op, operand) for op, operand in wanted.items())
        return isinstance(actual, dict) and all(
            _compare(actual.get(key), value) for key, value in wanted.items())
    return actual == wanted


def _operator(actual: Any, op: str, operand: Any) -> bool:
    if op == "$eq":
        return actual == operand
    if op == "$ne":
        return actual != operand
    if op not in ("$gt", "$gte", "$lt", "$lte"):
        raise ValueError(f"Unsupported operator: {op}")
    try:
        left, right = float(actual), float(operand)
    except (TypeError, ValueError):
        return False
    return {"$gt": left > right, "$gte": left >= right, "$lt": left < right,
            "$lte": left <= right}[op]


def _namespace_matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    pairs = (zip(namespace, path, strict=False) if condition.match_type == "prefix"
             else zip(reversed(namespace), reversed(path), strict=False))
    return all(wanted == "*" or label == wanted for label, wanted in pairs)


# -- the operations, as calls ----------------------------------------------------------------


class _Programs:
    """Each LangGraph operation as a :data:`Program`, run by the sync or the async driver."""

    def __init__(self, calls: Calls, create_stores: bool) -> None:
        self.calls = calls
        self.create_stores = create_stores

    def get(self, op: GetOp) -> Program[Item | None]:
        location = _Location.of(op.namespace)
        if location is None:
            return None
        try:
            entry = yield self.calls.get_entry(location.store, scope=location.scope,
                                               path=location.path(op.key))
        except (EntryNotFound, StoreNotFound):
            return None
        return Item(value=_value(entry), key=op.key, namespace=op.namespace,
                    created_at=_time(entry, "created_at"), updated_at=_time(entry, "updated_at"))

    def put(self, op: PutOp, *, may_create_store: bool = True) -> Program[None]:
        location = _scoped(op.namespace, "keeps items")
        path = location.path(op.key)
        if op.value is None:
            try:
                yield self.calls.delete_entry(location.store, scope=location.scope, path=path)
            except (EntryNotFound, StoreNotFound):
                pass
            return None
        value = dict(op.value)
        contents = json.dumps(value, ensure_ascii=False)
        description = _description(value, op.index)
        create = self.calls.create_entry(location.store, scope=location.scope, path=path,
                                         contents=contents, description=description)
        try:
            yield create
        except EntryAlreadyExists:
            yield self.calls.update_entry(location.store, scope=location.scope, path=path,
                                          replace_all=contents, description=description,
                                          str_replace=None, insert=None, insert_line=None)
        except StoreNotFound:
            if not (self.create_stores and may_create_store):
                raise
            try:
                yield self.calls.create_store(location.store, chat_model=None,
                                              embedding_model=None, options=None,
                                              description="Created by memvault's LangGraph store",
                                              metadata=None)
            except StoreAlreadyExists:
                pass
            yield from self.put(op, may_create_store=False)
        return None

    def search(self, op: SearchOp) -> Program[list[SearchItem]]:
        location = _scoped(op.namespace_prefix, "searches")
        directory = location.directory
        found: list[tuple[Entry, float | None]] = []
        try:
            if op.query:
                narrowed = bool(location.folders or op.filter)
                top_k = SEARCH_DEPTH if narrowed else min(SEARCH_DEPTH, op.offset + op.limit)
                if top_k < 1:
                    return []
                hits = yield self.calls.search_entries(location.store, scope=location.scope,
                                                       query=op.query, top_k=top_k)
                found = [(hit.entry, hit.score) for hit in hits
                         if hit.entry.path.startswith(directory)]
            else:
                paths = yield from self._paths(location, directory)
                if not op.filter:
                    paths = paths[op.offset:op.offset + op.limit]
                entries = yield [self.calls.get_entry(location.store, scope=location.scope,
                                                      path=path) for path in paths]
                found = [(entry, None) for entry in entries if isinstance(entry, Entry)]
        except StoreNotFound:
            return []
        items = []
        for entry, score in found:
            value = _value(entry)
            if _matches(value, op.filter):
                namespace, key = location.namespace(entry.path)
                items.append(SearchItem(namespace, key, value, _time(entry, "created_at"),
                                        _time(entry, "updated_at"), score))
        if op.query or op.filter:
            items = items[op.offset:op.offset + op.limit]
        return items

    def _paths(self, location: _Location, directory: str) -> Program[list[str]]:
        """The paths under ``directory``, in order (stable, so offsets page reliably)."""
        summaries = []
        token = None
        while True:
            page = yield self.calls.list_entries(location.store, scope=location.scope,
                                                 page_size=PAGE_SIZE, page_token=token)
            summaries += [s for s in page if s.path.startswith(directory)]
            token = page.next_page_token
            if not token:
                break
        return sorted(s.path for s in summaries)

    def list_namespaces(self, op: ListNamespacesOp) -> Program[list[tuple[str, ...]]]:
        conditions = op.match_conditions or ()
        pinned = next((tuple(c.path[:2]) for c in conditions
                       if c.match_type == "prefix" and len(c.path) >= 2
                       and "*" not in c.path[:2]), None)
        if pinned is None:
            raise InvalidNamespaceError(
                "memvault lists namespaces within one scope: pass a prefix that starts with"
                " (store, scope)")
        location = _Location(pinned[0], pinned[1], ())
        try:
            paths = yield from self._paths(location, PATH_PREFIX)
        except StoreNotFound:
            return []
        namespaces = {location.namespace(path)[0] for path in paths}
        namespaces = {ns for ns in namespaces
                      if all(_namespace_matches(c, ns) for c in conditions)}
        if op.max_depth is not None:
            namespaces = {ns[:op.max_depth] for ns in namespaces}
        return sorted(namespaces)[op.offset:op.offset + op.limit]


def _plan(ops: Iterable[Op]) -> tuple[list[Op], list[int], list[PutOp]]:
    """LangGraph's batch semantics (as its in-memory store): reads see the state before the
    batch's writes; of several puts of one item the last wins."""
    ops = list(ops)
    for op in ops:
        validate_op_namespace(op)
    reads = [i for i, op in enumerate(ops) if not isinstance(op, PutOp)]
    puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
    for op in ops:
        if isinstance(op, PutOp):
            puts.pop((op.namespace, op.key), None)
            puts[(op.namespace, op.key)] = op
    return ops, reads, list(puts.values())


def _program(programs: _Programs, op: Op) -> Program[Any]:
    if isinstance(op, GetOp):
        return programs.get(op)
    if isinstance(op, SearchOp):
        return programs.search(op)
    if isinstance(op, ListNamespacesOp):
        return programs.list_namespaces(op)
    if isinstance(op, PutOp):
        return programs.put(op)
    raise ValueError(f"Unknown operation type: {type(op)}")


def _run(client: Client, program: Program[T]) -> T:
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = program.throw(error) if error is not None else program.send(reply)
        except StopIteration as stop:
            return stop.value
        reply, error = None, None
        if isinstance(step, list):
            reply = [_attempt(client.send, call) for call in step]
        else:
            try:
                reply = client.send(step)
            except MemvaultError as exc:
                error = exc


def _attempt(send: Any, call: Call) -> Any:
    try:
        return send(call)
    except MemvaultError as exc:
        return exc


async def _arun(client: AsyncClient, program: Program[T]) -> T:
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = program.throw(error) if error is not None else program.send(reply)
        except StopIteration as stop:
            return stop.value
        reply, error = None, None
        if isinstance(step, list):
            reply = await asyncio.gather(*(client.send(call) for call in step),
                                         return_exceptions=True)
            for outcome in reply:
                if isinstance(outcome, BaseException) and not isinstance(outcome, MemvaultError):
                    raise outcome
        else:
            try:
                reply = await client.send(step)
            except MemvaultError as exc:
                error = exc


class MemvaultStore(BaseStore):
    """A LangGraph ``BaseStore`` whose items are memvault memory entries (see the module
    docstring for the mapping).

    Args:
        url: The memvault server.
        api_key: Sent as ``Authorization: Bearer <key>``.
        project: The project of the stores the namespaces name.
        catalog: The server's ``MEMVAULT_DEFAULT_CATALOG`` (entries address stores by their
            Unity Catalog name).
        timeout: Seconds for each HTTP request.
        create_stores: Create a namespace's store on the first put into it.
        client: A :class:`~memvault.client.Client` for the sync methods, instead of one made
            from ``url``, ``api_key`` and ``timeout`` (``project`` and ``catalog`` still apply).
        aclient: An :class:`~memvault.client.AsyncClient` for the async methods, likewise;
            without it, one is made per event loop.

    Example::

        from langgraph.graph import StateGraph
        from memvault.integrations.langgraph import MemvaultStore

        with MemvaultStore(api_key="key1") as store:
            graph = builder.compile(store=store)
            graph.invoke({"user": "user_1", "text": "hi"})
    """

    supports_ttl = False

    def __init__(self, url: str = DEFAULT_URL, *, api_key: str | None = None,
                 project: str = "default", catalog: str = "main",
                 timeout: float = DEFAULT_TIMEOUT, create_stores: bool = True,
                 client: Client | None = None, aclient: AsyncClient | None = None) -> None:
        self._options = {"project": project, "api_key": api_key, "timeout": timeout,
                         "catalog": catalog}
        self._url = url
        self._client = client
        self._aclient = aclient
        self._aclients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncClient] = (
            weakref.WeakKeyDictionary())
        self._programs = _Programs(Calls(project, catalog), create_stores)

    @property
    def client(self) -> Client:
        """The sync client (made on first use)."""
        if self._client is None:
            self._client = Client(self._url, **self._options)
        return self._client

    def _async_client(self) -> AsyncClient:
        if self._aclient is not None:
            return self._aclient
        loop = asyncio.get_running_loop()
        if loop not in self._aclients:
            self._aclients[loop] = AsyncClient(self._url, **self._options)
        return self._aclients[loop]

    def __enter__(self) -> MemvaultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> MemvaultStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def close(self) -> None:
        """Close the sync client this store made."""
        if self._client is not None:
            self._client.close()

    async def aclose(self) -> None:
        """Close the clients this store made (the async one of the running loop too)."""
        self.close()
        loop = asyncio.get_running_loop()
        aclient = self._aclients.pop(loop, None)
        if aclient is not None:
            await aclient.aclose()

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run the operations (reads first, then the writes, the last put of an item winning);
        one result per operation, in order."""
        ops, reads, puts = _plan(ops)
        results: list[Result] = [None] * len(ops)
        for index in reads:
            results[index] = _run(self.client, _program(self._programs, ops[index]))
        for op in puts:
            _run(self.client, self._programs.put(op))
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """:meth:`batch`, asynchronously: the reads run concurrently, then the writes."""
        ops, reads, puts = _plan(ops)
        client = self._async_client()
        results: list[Result] = [None] * len(ops)
        found = await asyncio.gather(
            *(_arun(client, _program(self._programs, ops[index])) for index in reads))
        for index, result in zip(reads, found, strict=True):
            results[index] = result
        await asyncio.gather(*(_arun(client, self._programs.put(op)) for op in puts))
        return results
