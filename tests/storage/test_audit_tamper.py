"""Tampering with the audit log behind memvault's back, with raw SQL on a real SQLite file and a
real PostgreSQL database, and ``memvault audit verify`` (a real process) catching it: every edit,
deletion (including of the last row), insertion and reordering names the first bad row."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from memvault.storage import Store
from tests.storage.audit_support import audit_rows, execute, head, insert_sql
from tests.storage.conftest import memory_store, new_memory

MEMVAULT = Path(sys.executable).with_name("memvault")
ROWS = 5


def memvault(*args: str) -> subprocess.CompletedProcess:
    command = [str(MEMVAULT)] if MEMVAULT.exists() else [sys.executable, "-m", "memvault.cli"]
    env = {key: value for key, value in os.environ.items() if not key.startswith("MEMVAULT_")}
    return subprocess.run(
        [*command, *args], env=env, capture_output=True, text=True, timeout=60
    )


async def five_deletions(store: Store) -> None:
    """A log of ROWS rows: alice, bob, ... each deleting one memory."""
    store_id = (await store.create_store(memory_store("notes"))).id
    memories = await store.add_memories(
        store_id, "user-1", [new_memory(f"fact {i}", seed=i) for i in range(ROWS)]
    )
    for memory, actor in zip(memories, ["alice", "bob", "carol", "dave", "erin"], strict=True):
        await store.delete_memory(store_id, "user-1", memory.id, actor=actor)


Rows = list[tuple]


@dataclass(frozen=True)
class Tampering:
    statements: Callable[[Rows], list[str]]
    bad_seq: int | None
    reason: str


def _forged_row_3(rows: Rows) -> list[str]:
    seq, at, _, action, _, prev_hash, _ = rows[2]
    return [
        "DELETE FROM audit_log WHERE seq = 3",
        insert_sql(3, at=at, actor="mallory", action=action, target='{"memory_id":"mem_x"}',
                   prev_hash=prev_hash),
    ]  # fmt: skip


def _appended(rows: Rows) -> list[str]:
    return [insert_sql(6, at=rows[-1][1], actor="mallory", action="memory.delete",
                       target='{"memory_id":"mem_x"}', prev_hash=rows[-1][6])]  # fmt: skip


def _inserted_in_the_middle(rows: Rows) -> list[str]:
    return [
        "UPDATE audit_log SET seq = seq + 100 WHERE seq >= 4",
        "UPDATE audit_log SET seq = seq - 99 WHERE seq >= 100",
        insert_sql(4, at=rows[2][1], actor="mallory", action="memory.delete",
                   target='{"memory_id":"mem_x"}', prev_hash=rows[2][6]),
        f"UPDATE audit_head SET seq = 6, hash = '{rows[-1][6]}'",
    ]  # fmt: skip


TAMPERINGS = {
    "edit the actor": Tampering(
        lambda rows: ["UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"],
        3, "its hash does not match its contents",
    ),
    "edit the target": Tampering(
        lambda rows: ["UPDATE audit_log SET target = '{\"memory_id\":\"mem_x\"}' WHERE seq = 2"],
        2, "its hash does not match its contents",
    ),
    "edit the time": Tampering(
        lambda rows: ["UPDATE audit_log SET at = at - 3600 WHERE seq = 4"],
        4, "its hash does not match its contents",
    ),
    "replace a row with one whose own hash is right": Tampering(
        _forged_row_3, 4, "its prev_hash is not the hash of row 3",
    ),
    "delete a row in the middle": Tampering(
        lambda rows: ["DELETE FROM audit_log WHERE seq = 3"],
        3, "row 3 missing: the log goes from row 2 to row 4",
    ),
    "delete the first row": Tampering(
        lambda rows: ["DELETE FROM audit_log WHERE seq = 1"],
        1, "row 1 missing: the log starts at row 2",
    ),
    "delete the last row": Tampering(
        lambda rows: ["DELETE FROM audit_log WHERE seq = 5"],
        5, "row 5 missing: the chain head says the log ends at row 5, but the last row is 4",
    ),
    "delete every row": Tampering(
        lambda rows: ["DELETE FROM audit_log"], 1, "rows 1-5 missing",
    ),
    "delete the chain head": Tampering(
        lambda rows: ["DELETE FROM audit_head"], None, "the chain head row is missing",
    ),
    "append a row": Tampering(
        _appended, 6, "added without going through the log",
    ),
    "insert a row in the middle": Tampering(
        _inserted_in_the_middle, 5, "its hash does not match its contents",
    ),
    "swap two rows": Tampering(
        lambda rows: [
            "UPDATE audit_log SET seq = 100 WHERE seq = 2",
            "UPDATE audit_log SET seq = 2 WHERE seq = 3",
            "UPDATE audit_log SET seq = 3 WHERE seq = 100",
        ],
        2, "its hash does not match its contents",
    ),
}  # fmt: skip


async def test_an_intact_log_verifies_and_lists(store: Store, database_url: str) -> None:
    await five_deletions(store)
    done = memvault("audit", "verify", "--database-url", database_url)
    assert done.returncode == 0, done.stdout + done.stderr
    [line] = done.stdout.splitlines()
    last_hash = (await head(database_url) or (0, ""))[1]
    assert line == f"audit log intact: {ROWS} rows, head seq {ROWS} hash {last_hash}"

    listed = memvault("audit", "list", "--limit", "2", "--database-url", database_url)
    assert listed.returncode == 0, listed.stderr
    lines = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [(seq, actor, action) for seq, _, actor, action, _ in lines] == [
        ("4", "dave", "memory.delete"), ("5", "erin", "memory.delete")
    ]  # fmt: skip
    assert '"scope": "user-1"' in lines[0][4]


@pytest.mark.parametrize("tampering", list(TAMPERINGS))
async def test_tampering_is_caught_at_the_first_bad_row(
    store: Store, database_url: str, tampering: str
) -> None:
    await five_deletions(store)
    case = TAMPERINGS[tampering]
    await execute(database_url, *case.statements(await audit_rows(database_url)))

    done = memvault("audit", "verify", "--database-url", database_url)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    [line] = done.stdout.splitlines()
    where = "chain head" if case.bad_seq is None else f"row {case.bad_seq}"
    assert line.startswith(f"audit log broken at {where}: "), line
    assert case.reason in line, line


def test_a_missing_database_is_an_error_not_a_verdict(tmp_path: Path) -> None:
    done = memvault("audit", "verify", "--database-url", f"sqlite:///{tmp_path / 'none.db'}")
    assert done.returncode == 2
    assert "no SQLite database at" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "none.db").exists()
