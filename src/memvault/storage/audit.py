"""The audit log: a hash chain of every deletion, grant change and key creation or revocation.

Each change appends one row to ``audit_log`` *inside the transaction that makes the change*, so
the change and its row commit together or not at all (``migrations/*/…_audit.sql``). A row is::

    seq        1, 2, 3, … with no gaps
    at         integer Unix seconds
    actor      the principal's name, or "system" / "worker" for background work
    action     memory.delete, entry.delete, scope.delete, store.delete, memory.purge,
               grant.change, key.create, key.revoke, …
    target     a JSON object: store id and name, scope, memory id, counts, …
    prev_hash  the previous row's hash (64 zeros before row 1)
    hash       sha256 of canonical_encoding(seq, at, actor, action, target, prev_hash), hex

``audit_head`` holds one row, the last ``seq`` and ``hash``, updated with every append: without
it, deleting the newest rows would leave a chain that is intact as far as it goes.

:func:`verify_chain` (pure) finds the first row that an edit, deletion, insertion or reordering
broke. A plain hash chain catches changes made by anyone who does not recompute every later hash
and the head; whoever can write the database *and* recomputes them can rewrite history. The head
that ``memvault audit verify`` prints, recorded somewhere else, closes that gap.

Appending (:func:`append_audit_sqlite`, :func:`append_audit_postgres`) happens on the caller's
connection, in the caller's open write transaction:

* SQLite: in a write task of :class:`~memvault.storage.sqlite_threads.SQLiteDatabase` (the one
  writer thread and ``BEGIN IMMEDIATE`` already serialise appends).
* PostgreSQL: the append locks the head row until commit, so appends of every replica take turns
  and the chain never forks. Append last in the transaction: the head lock is then the last lock
  taken, and two transactions cannot deadlock over it.

Example::

    def delete(tx: WriteContext) -> None:
        tx.conn.execute("DELETE FROM …")
        append_audit_sqlite(tx.conn, actor="alice", action="memory.delete",
                            target={"store_id": store_id, "scope": scope, "memory_id": mid})
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from memvault.errors import MemvaultError
from memvault.models import Page, now

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "GENESIS_HASH",
    "AuditEntry",
    "ChainHead",
    "ChainVerifier",
    "Verdict",
    "append_audit_postgres",
    "append_audit_sqlite",
    "canonical_encoding",
    "entry_hash",
    "list_audit_postgres",
    "list_audit_sqlite",
    "make_entry",
    "tail_audit_postgres",
    "tail_audit_sqlite",
    "verify_audit_postgres",
    "verify_audit_sqlite",
    "verify_chain",
]

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of row 1, and the head's hash while the log is empty."""

COLUMNS = "seq, at, actor, action, target, prev_hash, hash"
_BATCH = 1_000


# -- rows and hashes (pure) -------------------------------------------------------------------


@dataclass(frozen=True)
class ChainHead:
    """The last row the log should end with (``seq == 0`` while it is empty)."""

    seq: int
    hash: str


@dataclass(frozen=True)
class AuditEntry:
    """One row of the log. ``target`` is the stored JSON object (as text when it does not parse,
    which only tampering causes)."""

    seq: int
    at: int
    actor: str
    action: str
    target: Any
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "at": self.at, "actor": self.actor, "action": self.action,
            "target": self.target, "prev_hash": self.prev_hash, "hash": self.hash,
        }  # fmt: skip


def canonical_encoding(
    seq: Any, at: Any, actor: Any, action: Any, target: Any, prev_hash: Any
) -> bytes:
    """The bytes a row's hash covers: the JSON array ``[seq, at, actor, action, target,
    prev_hash]`` with sorted keys, no whitespace and ASCII escapes, so that the same values always
    give the same bytes (on either backend: PostgreSQL stores ``target`` as jsonb, which reorders
    keys)."""
    return json.dumps(
        [seq, at, actor, action, target, prev_hash],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    ).encode("ascii")


def entry_hash(
    seq: Any, at: Any, actor: Any, action: Any, target: Any, prev_hash: Any
) -> str:
    """sha256 of :func:`canonical_encoding`, in hex."""
    return hashlib.sha256(canonical_encoding(seq, at, actor, action, target, prev_hash)).hexdigest()


def make_entry(
    head: ChainHead, *, at: int, actor: str, action: str, target: Mapping[str, Any]
) -> AuditEntry:
    """The row that follows ``head``. Raises ``ValueError`` for an empty ``actor`` or
    ``action``, or a ``target`` that is not a JSON object of strings, integers, booleans, nulls,
    lists and objects (a float would not survive PostgreSQL's jsonb unchanged)."""
    if not isinstance(actor, str) or not actor:
        raise ValueError(f"audit actor must be a non-empty string, not {actor!r}")
    if not isinstance(action, str) or not action:
        raise ValueError(f"audit action must be a non-empty string, not {action!r}")
    if not isinstance(target, Mapping):
        raise ValueError(f"audit target must be a mapping, not {type(target).__name__}")
    target = dict(target)
    _check_json(target)
    seq = head.seq + 1
    return AuditEntry(
        seq=seq, at=at, actor=actor, action=action, target=target, prev_hash=head.hash,
        hash=entry_hash(seq, at, actor, action, target, head.hash),
    )  # fmt: skip


def _check_json(value: Any) -> None:
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_json(item)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"audit target keys must be strings, not {key!r}")
            _check_json(item)
        return
    raise ValueError(f"audit targets hold JSON values without floats, not {type(value).__name__}")


def _target_json(target: Mapping[str, Any]) -> str:
    """``target`` as stored: JSON with sorted keys."""
    return json.dumps(target, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify_chain` found: ``ok``, or the first bad row (``bad_seq``) and why."""

    ok: bool
    rows: int
    head: ChainHead | None
    bad_seq: int | None = None
    reason: str | None = None

    def summary(self) -> str:
        """One line for a person."""
        if self.ok:
            assert self.head is not None
            if self.head.seq == 0:
                return "audit log intact: empty"
            return (
                f"audit log intact: {self.rows} rows, head seq {self.head.seq}"
                f" hash {self.head.hash}"
            )
        where = f"row {self.bad_seq}" if self.bad_seq is not None else "chain head"
        return f"audit log broken at {where}: {self.reason}"


class ChainVerifier:
    """Checks rows one at a time, in ``seq`` order, so that a long log is never held in memory.

    :meth:`feed` each stored row (the seven columns as the database returns them) until it
    returns False (a problem was found), then :meth:`finish` with the stored head.
    """

    def __init__(self) -> None:
        self.rows = 0
        self._next_seq = 1
        self._prev_hash = GENESIS_HASH
        self._problem: tuple[int | None, str] | None = None

    def feed(self, row: Iterable[Any]) -> bool:
        """Check the next row; False once the chain is broken (stop reading then)."""
        if self._problem is not None:
            return False
        seq, at, actor, action, target, prev_hash, stored_hash = tuple(row)
        expected = self._next_seq
        if not isinstance(seq, int) or isinstance(seq, bool):
            return self._fail(expected, f"its seq is {seq!r}, not an integer (the row was edited)")
        if seq > expected:
            missing = f"row {expected}" if seq == expected + 1 else f"rows {expected}-{seq - 1}"
            jump = f"goes from row {expected - 1} to" if expected > 1 else "starts at"
            return self._fail(expected, f"{missing} missing: the log {jump} row {seq}")
        if seq < expected:
            return self._fail(seq, f"seq {seq} out of place: the log starts at 1")
        if isinstance(target, str | bytes):
            try:
                target = json.loads(target)
            except ValueError:
                return self._fail(seq, "its target is not valid JSON (the row was edited)")
        try:
            recomputed = entry_hash(seq, at, actor, action, target, prev_hash)
        except (TypeError, ValueError):
            recomputed = None
        if recomputed != stored_hash:
            return self._fail(
                seq,
                "its hash does not match its contents (seq, at, actor, action, target or"
                " prev_hash was changed, or rows were reordered)",
            )
        if prev_hash != self._prev_hash:
            return self._fail(
                seq,
                f"its prev_hash is not the hash of row {seq - 1} (a row before it was"
                " replaced, inserted or removed)",
            )
        self.rows += 1
        self._next_seq = seq + 1
        self._prev_hash = stored_hash
        return True

    def _fail(self, seq: int | None, reason: str) -> bool:
        self._problem = (seq, reason)
        return False

    def finish(self, head: ChainHead | None) -> Verdict:
        """The verdict, given the stored head (None when its row is missing)."""
        if self._problem is not None:
            seq, reason = self._problem
            return Verdict(False, self.rows, head, seq, reason)
        last = self._next_seq - 1
        if head is None:
            return Verdict(False, self.rows, None, None, "the chain head row is missing")
        if head.seq > last:
            missing = f"row {last + 1}" if head.seq == last + 1 else f"rows {last + 1}-{head.seq}"
            return Verdict(
                False, self.rows, head, last + 1,
                f"{missing} missing: the chain head says the log ends at row {head.seq}, but the"
                f" last row is {last}",
            )  # fmt: skip
        if head.seq < last:
            return Verdict(
                False, self.rows, head, head.seq + 1,
                f"the chain head says the log ends at row {head.seq}: the rows after it were"
                " added without going through the log",
            )  # fmt: skip
        if head.hash != self._prev_hash:
            return Verdict(
                False, self.rows, head, last if last else None,
                "the chain head's hash is not the hash of the last row",
            )  # fmt: skip
        return Verdict(True, self.rows, head)


def verify_chain(rows: Iterable[Iterable[Any]], head: ChainHead | None) -> Verdict:
    """Check stored ``rows`` (in ``seq`` order, each ``(seq, at, actor, action, target,
    prev_hash, hash)``) against the stored ``head``.

    Example::

        verdict = verify_chain(conn.execute("SELECT … FROM audit_log ORDER BY seq"), head)
        print(verdict.summary())
    """
    verifier = ChainVerifier()
    for row in rows:
        if not verifier.feed(row):
            break
    return verifier.finish(head)


def _entry(row: Any) -> AuditEntry:
    seq, at, actor, action, target, prev_hash, stored_hash = tuple(row)
    if isinstance(target, str):
        try:
            target = json.loads(target)
        except ValueError:
            pass
    return AuditEntry(seq, at, actor, action, target, prev_hash, stored_hash)


def _head(row: Any) -> ChainHead | None:
    return None if row is None else ChainHead(row[0], row[1])


def _chain_head_missing() -> MemvaultError:
    return MemvaultError(
        "the audit log's chain head is missing, so nothing can be recorded (and therefore"
        " nothing deleted); run `memvault audit verify`"
    )


# -- SQLite -------------------------------------------------------------------------------------


def append_audit_sqlite(
    conn: sqlite3.Connection, *, actor: str, action: str, target: Mapping[str, Any]
) -> AuditEntry:
    """Append a row in ``conn``'s open write transaction (a write task's connection); it
    commits or rolls back with the rest of the task. Returns the row.

    Raises ``ValueError`` for a bad actor, action or target (see :func:`make_entry`), and
    ``MemvaultError`` when the chain head is missing.
    """
    head = _head(conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone())
    if head is None:
        raise _chain_head_missing()
    entry = make_entry(head, at=now(), actor=actor, action=action, target=target)
    conn.execute(
        f"INSERT INTO audit_log ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            entry.seq, entry.at, entry.actor, entry.action, _target_json(entry.target),
            entry.prev_hash, entry.hash,
        ),
    )  # fmt: skip
    conn.execute(
        "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (entry.seq, entry.hash)
    )
    return entry


def list_audit_sqlite(conn: sqlite3.Connection, *, after_seq: int, limit: int) -> Page[AuditEntry]:
    """The rows after ``after_seq``, oldest first, at most ``limit``."""
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
        (after_seq, limit + 1),
    ).fetchall()
    return Page([_entry(row) for row in rows[:limit]], has_more=len(rows) > limit)


def tail_audit_sqlite(conn: sqlite3.Connection, *, limit: int) -> list[AuditEntry]:
    """The newest ``limit`` rows, oldest first."""
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT ?", (limit,)
    ).fetchall()
    return [_entry(row) for row in reversed(rows)]


def verify_audit_sqlite(conn: sqlite3.Connection) -> Verdict:
    """Verify the whole log, head and rows read in one snapshot (``conn`` in autocommit mode)."""
    conn.execute("BEGIN")
    try:
        head = _head(conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone())
        verifier = ChainVerifier()
        after: Any = None
        while True:
            if after is None:
                batch = conn.execute(
                    f"SELECT {COLUMNS} FROM audit_log ORDER BY seq LIMIT ?", (_BATCH,)
                ).fetchall()
            else:
                batch = conn.execute(
                    f"SELECT {COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?",
                    (after, _BATCH),
                ).fetchall()
            if not all(verifier.feed(row) for row in batch) or len(batch) < _BATCH:
                break
            after = batch[-1][0]
        return verifier.finish(head)
    finally:
        conn.execute("COMMIT")


# -- PostgreSQL ---------------------------------------------------------------------------------


async def append_audit_postgres(
    conn: psycopg.AsyncConnection[Any], *, actor: str, action: str, target: Mapping[str, Any]
) -> AuditEntry:
    """Append a row in ``conn``'s open transaction; it commits or rolls back with it. The chain
    head stays locked until then, so call this last in the transaction. Returns the row.

    Raises ``ValueError`` for a bad actor, action or target (see :func:`make_entry`), and
    ``MemvaultError`` when the chain head is missing.
    """
    from psycopg.rows import tuple_row

    async with conn.cursor(row_factory=tuple_row) as cursor:
        await cursor.execute("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
        head = _head(await cursor.fetchone())
        if head is None:
            raise _chain_head_missing()
        entry = make_entry(head, at=now(), actor=actor, action=action, target=target)
        await cursor.execute(
            f"INSERT INTO audit_log ({COLUMNS}) VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s)",
            (
                entry.seq, entry.at, entry.actor, entry.action, _target_json(entry.target),
                entry.prev_hash, entry.hash,
            ),
        )  # fmt: skip
        await cursor.execute(
            "UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1", (entry.seq, entry.hash)
        )
    return entry


async def list_audit_postgres(
    conn: psycopg.AsyncConnection[Any], *, after_seq: int, limit: int
) -> Page[AuditEntry]:
    """The rows after ``after_seq``, oldest first, at most ``limit``."""
    rows = await _fetch(
        conn,
        f"SELECT {COLUMNS} FROM audit_log WHERE seq > %s ORDER BY seq LIMIT %s",
        (after_seq, limit + 1),
    )
    return Page([_entry(row) for row in rows[:limit]], has_more=len(rows) > limit)


async def tail_audit_postgres(
    conn: psycopg.AsyncConnection[Any], *, limit: int
) -> list[AuditEntry]:
    """The newest ``limit`` rows, oldest first."""
    rows = await _fetch(
        conn, f"SELECT {COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT %s", (limit,)
    )
    return [_entry(row) for row in reversed(rows)]


async def verify_audit_postgres(conn: psycopg.AsyncConnection[Any]) -> Verdict:
    """Verify the whole log, head and rows read in one snapshot (a REPEATABLE READ, READ ONLY
    transaction; ``conn`` in autocommit mode)."""
    async with conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        [head_row] = await _fetch(conn, "SELECT seq, hash FROM audit_head WHERE id = 1") or [None]
        verifier = ChainVerifier()
        after = None
        while True:
            if after is None:
                batch = await _fetch(
                    conn, f"SELECT {COLUMNS} FROM audit_log ORDER BY seq LIMIT %s", (_BATCH,)
                )
            else:
                batch = await _fetch(
                    conn,
                    f"SELECT {COLUMNS} FROM audit_log WHERE seq > %s ORDER BY seq LIMIT %s",
                    (after, _BATCH),
                )
            if not all(verifier.feed(row) for row in batch) or len(batch) < _BATCH:
                break
            after = batch[-1][0]
        return verifier.finish(_head(head_row))


async def _fetch(conn: psycopg.AsyncConnection[Any], sql: str, params: Any = None) -> list[Any]:
    from psycopg.rows import tuple_row

    async with conn.cursor(row_factory=tuple_row) as cursor:
        await cursor.execute(sql, params)  # type: ignore[arg-type]
        return await cursor.fetchall()
