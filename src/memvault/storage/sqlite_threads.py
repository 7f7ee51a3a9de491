"""SQLite connections for an asyncio program: one writer thread, a pool of reader threads.

Writes go through a queue to a single thread that owns the only write connection (as datasette
does), so SQLite's one-writer rule never turns into ``database is locked`` inside this process.
The writer *group-commits*: it takes the task at the head of the queue plus whatever else is
already waiting (up to ``max_batch``) and runs them in one ``BEGIN IMMEDIATE`` transaction, each in
its own ``SAVEPOINT``. A task that raises is rolled back to its savepoint and its caller gets the
exception; the others commit. Some errors (a full disk, failing I/O) make SQLite roll back the
whole transaction, and a ``COMMIT`` can fail too: then each task of the batch runs again alone, so
one failing write never fails nor loses the others. Every caller is answered only after ``COMMIT``
returned, so a returned write is durable (per ``synchronous``), and one fsync is shared by the
whole batch.

Reads run on a small thread pool; each thread has its own ``query_only`` connection. In WAL mode
readers never block the writer nor each other.

A program that exits without ``close()`` neither hangs nor loses a write: at interpreter exit the
writer finishes what is queued, commits and closes its connection.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import queue
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from memvault.errors import (
    InvalidRequest,
    MemvaultError,
    ServiceUnavailable,
    StorageFailed,
    StorageFull,
)

T = TypeVar("T")

log = logging.getLogger(__name__)

_STOP = object()


class WriteContext:
    """What a write function gets: the connection (inside a transaction and a savepoint) and
    :meth:`on_commit` to run code once the transaction has committed."""

    __slots__ = ("conn", "_callbacks")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._callbacks: list[Callable[[], None]] = []

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the writer thread after COMMIT, before any caller is answered.
        Dropped if this task is rolled back."""
        self._callbacks.append(callback)


@dataclass
class _WriteTask:
    fn: Callable[[WriteContext], Any]
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)


@dataclass
class WriterStats:
    transactions: int = 0
    tasks: int = 0


def translate_error(exc: BaseException) -> BaseException:
    """``exc`` as a memvault error: nothing from ``sqlite3`` leaves the storage layer."""
    if isinstance(exc, UnicodeEncodeError):
        # A lone surrogate (JSON allows "\ud800") cannot be stored as UTF-8.
        invalid = InvalidRequest(f"text is not valid Unicode: {exc.reason}")
        invalid.__cause__ = exc
        return invalid
    if not isinstance(exc, sqlite3.Error):
        return exc
    message = str(exc)
    name = getattr(exc, "sqlite_errorname", None) or ""
    error: MemvaultError
    if name == "SQLITE_FULL":
        error = StorageFull(
            "the database is full (no disk space, or its size cap); nothing was written"
        )
    elif name.startswith(
        ("SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_CORRUPT")
    ):  # FTS5 reports a read that failed with EIO as SQLITE_CORRUPT
        error = StorageFailed(f"the database's storage failed ({message}); nothing was written")
    elif is_busy(exc):
        error = ServiceUnavailable(
            "the database is busy (another process holds its write lock); retry"
        )
    else:
        error = MemvaultError(f"storage error: {message}")
    error.__cause__ = exc
    return error


def is_busy(exc: BaseException) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED (any extended code): another connection holds a lock that
    this call needed; trying again later may succeed."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    return isinstance(exc, sqlite3.OperationalError) and code in (
        sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED,
    )


class SQLiteDatabase:
    """The connections of one SQLite file.

    ``setup`` runs once on the write connection before any task (migrations).
    ``max_batch=1`` turns group commit off: one transaction per write (the benchmark's baseline).
    ``max_pages`` caps the database's size (``PRAGMA max_page_count``, set on the write connection
    after ``setup``); 0 leaves it uncapped.
    ``start_timeout`` is how long :meth:`start` waits for a database that other processes keep
    busy (each statement already waits ``busy_timeout_ms``) before it gives up.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "FULL",
        busy_timeout_ms: int = 5_000,
        readers: int = 4,
        max_batch: int = 64,
        max_pages: int = 0,
        setup: Callable[[sqlite3.Connection], Any] | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        if synchronous.upper() not in {"FULL", "NORMAL", "EXTRA"}:
            raise ValueError(f"synchronous must be FULL, NORMAL or EXTRA, not {synchronous!r}")
        self.path = Path(path)
        self.synchronous = synchronous.upper()
        self.busy_timeout_ms = busy_timeout_ms
        self.max_batch = max(1, max_batch)
        self.max_pages = max(0, max_pages)
        self.start_timeout = start_timeout
        self.stats = WriterStats()
        self._readers = readers
        self._setup = setup
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._read_conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        ref = weakref.ref(self)

        def exit_hook() -> None:  # holds the database weakly: it may be collected unclosed
            database = ref()
            if database is not None:
                database._close_at_exit()

        self._exit_hook = exit_hook

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the writer (running ``setup``) and the reader pool."""
        if self._writer is not None:
            raise RuntimeError("SQLiteDatabase.start() called twice")
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        # A daemon, so that a database nobody closed does not keep the interpreter alive; the
        # exit hook still lets it finish its queue (daemon threads are frozen after atexit).
        self._writer = threading.Thread(
            target=self._run_writer, args=(ready,), name=f"memvault-write:{self.path.name}",
            daemon=True,
        )
        self._writer.start()
        atexit.register(self._exit_hook)
        try:
            await asyncio.wrap_future(ready)
        except BaseException as exc:
            self._begin_close()
            await asyncio.to_thread(self._writer.join)
            error = translate_error(exc)
            if error is exc:
                raise
            raise error from exc
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self._readers,
            thread_name_prefix=f"memvault-read:{self.path.name}",
            initializer=self._open_reader,
        )

    async def close(self) -> None:
        """Finish queued writes and running reads, then close every connection. Idempotent."""
        if self._begin_close():
            await asyncio.to_thread(self._shutdown)

    def _begin_close(self) -> bool:
        """Refuse new calls and tell the writer to stop once its queue is done; False when
        the database was already closing."""
        with self._lock:
            if self._closed:
                return False
            self._closed = True
            self._queue.put(_STOP)
        atexit.unregister(self._exit_hook)
        return True

    def _close_at_exit(self) -> None:
        """At interpreter exit, unless closed: the writer finishes its queue and closes."""
        if self._begin_close() and self._writer is not None:
            self._writer.join()

    def _shutdown(self) -> None:
        if self._writer is not None:
            self._writer.join()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        for conn in self._read_conns:
            conn.close()
        self._read_conns.clear()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        return conn

    # -- writes ----------------------------------------------------------------------------

    async def write(self, fn: Callable[[WriteContext], T]) -> T:
        """Run ``fn`` in a write transaction; return its result once committed."""
        task = _WriteTask(fn)
        with self._lock:
            if self._closed or self._writer is None:
                raise ServiceUnavailable("the store is closed (or was never opened)")
            self._queue.put(task)
        return await asyncio.wrap_future(task.future)

    def _run_writer(self, ready: concurrent.futures.Future[None]) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:
            ready.set_exception(exc)
            return
        try:
            try:
                self._prepare(conn)
            except BaseException as exc:
                ready.set_exception(exc)
                return
            ready.set_result(None)
            stopping = False
            while not stopping:
                item = self._queue.get()
                if item is _STOP:
                    break
                batch = [item]
                while len(batch) < self.max_batch:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stopping = True
                        break
                    batch.append(item)
                self._run_batch(conn, batch)
        finally:
            conn.close()

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """Set the write connection up and run ``setup``, trying again while the database is
        busy, until ``start_timeout``.

        A process starting beside others can find the database busy for longer than
        ``busy_timeout``, or be answered SQLITE_BUSY without SQLite waiting at all (seen when
        several processes start on a new file, which each turns to WAL mode; SQLite also answers
        so while another connection recovers the WAL after a crash:
        https://sqlite.org/wal.html#sometimes_queries_return_sqlite_busy_in_wal_mode). A
        server or worker should wait for that, not exit. ``setup`` must be safe to run again
        after it failed (migrations are: each runs in its own transaction).
        """
        deadline = time.monotonic() + self.start_timeout
        delay = 0.05
        while True:
            started = time.monotonic()
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute(f"PRAGMA synchronous = {self.synchronous}")
                conn.execute("PRAGMA foreign_keys = ON")
                if self._setup is not None:
                    self._setup(conn)
                if self.max_pages:
                    conn.execute(f"PRAGMA max_page_count = {int(self.max_pages)}")
                return
            except sqlite3.Error as exc:  # setup rolls back what it began
                if not is_busy(exc) or self._closed or time.monotonic() + delay > deadline:
                    raise
                log.warning(
                    "%s is busy (%s after %.2f s); trying again in %.2f s",
                    self.path.name, getattr(exc, "sqlite_errorname", exc),
                    time.monotonic() - started, delay,
                )
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_WriteTask]) -> None:
        # Once marked running, a task can no longer be cancelled by its caller.
        tasks = [task for task in batch if task.future.set_running_or_notify_cancel()]
        if tasks and not self._run_tasks(conn, tasks):
            for task in tasks:
                self._run_tasks(conn, [task])

    def _run_tasks(self, conn: sqlite3.Connection, tasks: list[_WriteTask]) -> bool:
        """Run ``tasks`` in one transaction and answer their callers. Returns False, answering
        nobody, when several tasks were lost together (the transaction rolled back as a whole, or
        its COMMIT failed): the caller then runs each again alone."""
        done: list[tuple[_WriteTask, Any, list[Callable[[], None]]]] = []
        failed: list[tuple[_WriteTask, BaseException]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for task in tasks:
                context = WriteContext(conn)
                conn.execute("SAVEPOINT task")
                try:
                    result = task.fn(context)
                except Exception as exc:
                    # Some errors (disk full, I/O) make SQLite roll back the whole transaction:
                    # the tasks before this one are lost too, and each runs again alone.
                    if not conn.in_transaction:
                        raise
                    conn.execute("ROLLBACK TO task")
                    conn.execute("RELEASE task")
                    failed.append((task, exc))
                else:
                    conn.execute("RELEASE task")
                    done.append((task, result, context._callbacks))
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    log.exception("ROLLBACK failed")
            if len(tasks) > 1:
                return False
            tasks[0].future.set_exception(translate_error(exc))
            return True
        self.stats.transactions += 1
        self.stats.tasks += len(tasks)
        for _, _, callbacks in done:
            for callback in callbacks:
                try:
                    callback()
                except Exception:
                    log.exception("after-commit callback failed")
        for task, result, _ in done:
            task.future.set_result(result)
        for task, exc in failed:
            task.future.set_exception(translate_error(exc))
        return True

    # -- reads -----------------------------------------------------------------------------

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` with a read-only connection on a reader thread."""
        if self._closed or self._pool is None:
            raise ServiceUnavailable("the store is closed (or was never opened)")
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self._pool, self._run_read, fn)
        except RuntimeError as exc:  # the pool shut down since the check above
            raise ServiceUnavailable("the store is closed") from exc
        return await future

    def _open_reader(self) -> None:
        conn = self._connect()
        conn.execute("PRAGMA query_only = 1")
        self._local.conn = conn
        with self._lock:
            self._read_conns.append(conn)

    def _run_read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection = self._local.conn
        try:
            return fn(conn)
        except (sqlite3.Error, UnicodeEncodeError) as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise translate_error(exc) from exc

