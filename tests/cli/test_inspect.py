"""`memvault stores` and `memvault memories`, run as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import STORE
from tests.test_cli import clean_env, run


def env_for(data: Path) -> dict[str, str]:
    return clean_env(data.parent, MEMVAULT_DATA_DIR=str(data), COLUMNS="250")


def rows(output: str) -> list[list[str]]:
    """The cells of each table row."""
    return [
        [cell.strip() for cell in line.strip("│ ").split("│")]
        for line in output.splitlines()
        if line.startswith("│")
    ]


@pytest.mark.slow
def test_stores_lists_each_store_with_its_memory_count(source_dir: Path) -> None:
    done = run(["stores"], env_for(source_dir))
    assert done.returncode == 0, done.stderr
    [row] = rows(done.stdout)
    name, count, embedding, chat, created, description = row
    assert (name, embedding, chat, description) == (
        STORE, "all-MiniLM-L6-v2 (384)", "gpt-4.1", "what the assistant knows")
    assert int(count) >= 4 and created.startswith("20")
    other = run(["stores", "--project", "elsewhere"], env_for(source_dir))
    assert other.returncode == 0 and "no memory stores in project 'elsewhere'" in other.stdout


@pytest.mark.slow
def test_memories_shows_one_scope_newest_first(source_dir: Path) -> None:
    done = run(["memories", STORE, "--scope", "alice"], env_for(source_dir))
    assert done.returncode == 0, done.stderr
    table = rows(done.stdout)
    contents = [row[2] for row in table]
    assert "Likes jasmine tea" in contents
    assert "Always answer in French" not in contents  # bob's
    [tea] = [row for row in table if row[2] == "Likes jasmine tea"]
    assert tea[1] == "user_profile" and tea[3] == "2" and tea[0].startswith("mem_")
    assert [row[0] for row in table] == sorted((row[0] for row in table), reverse=True)

    procedural = run(["memories", STORE, "-s", "bob/ü%_", "--kind", "procedural"],
                     env_for(source_dir))
    assert procedural.returncode == 0, procedural.stderr
    assert {row[1] for row in rows(procedural.stdout)} == {"procedural"}
    assert "Always answer in French" in procedural.stdout

    quarantined = run(["memories", STORE, "-s", "bob/ü%_", "--status", "quarantined"],
                      env_for(source_dir))
    assert quarantined.returncode == 0
    assert "BrandX" in quarantined.stdout

    one = run(["memories", STORE, "-s", "alice", "--limit", "1"], env_for(source_dir))
    assert len(rows(one.stdout)) == 1 and "more with --limit 2" in one.stdout


def test_memories_of_a_missing_store_is_a_clear_error(tmp_path: Path) -> None:
    done = run(["memories", "nope", "--scope", "u"], env_for(tmp_path / "data"))
    assert done.returncode == 1
    assert "no memory store named 'nope'" in done.stderr and "Traceback" not in done.stderr
