"""`memvault export` and `memvault import`, run as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import SCOPES, STORE
from tests.support.postgres import EmbeddedPostgres, postgres_server  # noqa: F401 (fixture)
from tests.support.server import LiveServer
from tests.test_cli import clean_env, command, run


def env_for(data: Path, **extra: str) -> dict[str, str]:
    return clean_env(data.parent, MEMVAULT_DATA_DIR=str(data), COLUMNS="200", **extra)


def export(data: Path, out: Path, *args: str) -> list[dict]:
    done = run(["export", STORE, "-o", str(out), *args], env_for(data), timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    end = lines[-1]
    assert end["type"] == "end" and end["memories"] + end["entries"] == len(lines) - 2
    return lines


def comparable(lines: list[dict]) -> list[dict]:
    """An export without what differs between two exports of equal memories: when each was
    made, and when its store was created."""
    header = {key: value for key, value in lines[0].items() if key != "exported_at"}
    header["store"] = {key: value for key, value in header["store"].items()
                       if key not in ("created_at", "updated_at")}
    return [header, *lines[1:]]


@pytest.mark.slow
@pytest.mark.parametrize("embeddings", [True, False], ids=["with-embeddings", "without"])
def test_export_then_import_into_a_fresh_data_directory(
    source_dir: Path, tmp_path: Path, embeddings: bool
) -> None:
    flags = ["--with-embeddings"] if embeddings else []
    dump = tmp_path / "notes.jsonl"
    exported = export(source_dir, dump, *flags)
    memories = [line for line in exported[1:-1] if line["type"] == "memory"]
    [coffee] = [line for line in exported[1:-1] if line["type"] == "entry"]
    assert (coffee["path"], coffee["contents"], coffee["version"]) == (
        "/memories/coffee.md", "Oat flat white", 2)
    assert [h["contents"] for h in coffee["history"]] == ["Flat white, no sugar"]
    assert {m["scope"] for m in memories} == set(SCOPES)
    assert {m["kind"] for m in memories} >= {"user_profile", "procedural"}
    assert any(m["status"] == "quarantined" for m in memories)
    [tea] = [m for m in memories if m["content"] == "Likes jasmine tea"]
    assert tea["version"] == 2 and [h["content"] for h in tea["history"]] == ["Likes green tea"]
    extracted = [m for m in memories if m["created_by"].startswith("upd_")]
    assert extracted and all(m["source"] for m in extracted)
    assert all((m["embedding"] is not None) == embeddings for m in memories)

    fresh = tmp_path / "fresh" / "data"
    done = run(["import", str(dump)], env_for(fresh), timeout=300)
    assert done.returncode == 0, done.stderr
    summary = " ".join(done.stderr.split())
    assert f"imported {len(memories)} memories into default/{STORE}" in summary
    assert "1 memory entries imported" in summary
    assert ("embedded again" in summary) != embeddings

    # The new directory exports exactly what the old one did: ids, scopes, kinds, contents,
    # statuses, versions, timestamps, provenance, history (and the same vectors).
    again = export(fresh, tmp_path / "again.jsonl", *flags)
    assert comparable(again) == comparable(exported)

    with LiveServer(fresh) as server, httpx.Client(
        base_url=server.project_endpoint, timeout=30
    ) as client:
        store = client.get(f"/memory_stores/{STORE}").json()
        assert store["description"] == "what the assistant knows"
        assert store["metadata"] == {"team": "support"}
        found = client.post(f"/memory_stores/{STORE}:search_memories", json={
            "scope": "alice", "items": [{"type": "message", "role": "user",
                                         "content": "What tea should I make for them?"}],
        })  # fmt: skip
        assert found.status_code == 200, found.text
        contents = [m["memory_item"]["content"] for m in found.json()["memories"]]
        assert contents[0] == "Likes jasmine tea", contents
        other = client.post(f"/memory_stores/{STORE}:search_memories", json={
            "scope": "bob/ü%_", "items": [{"type": "message", "role": "user",
                                           "content": "Which language do I answer in?"}],
        }).json()  # fmt: skip
        found_bob = [m["memory_item"]["content"] for m in other["memories"]]
        assert "Always answer in French" in found_bob
        assert not any("BrandX" in text for text in found_bob)  # still quarantined
        entries = f"{server.url}/api/2.1/unity-catalog/memory-stores/main.default.{STORE}/entries"
        hits = client.post(f"{entries}:search?scope=alice", json={"query": "coffee order"})
        assert hits.status_code == 200, hits.text
        assert hits.json()["results"][0]["memory_entry"]["contents"] == "Oat flat white"


@pytest.mark.slow
def test_importing_into_a_store_that_holds_the_memories(source_dir: Path, tmp_path: Path) -> None:
    dump = tmp_path / "notes.jsonl"
    lines = export(source_dir, dump, "--with-embeddings")
    count = sum(1 for line in lines[1:-1] if line["type"] == "memory")
    target = tmp_path / "target" / "data"

    first = run(["import", str(dump), "--store", "copy", "--project", "team"], env_for(target))
    assert first.returncode == 0, first.stderr
    assert "(created, embedding with all-MiniLM-L6-v2)" in first.stderr

    second = run(["import", str(dump), "--store", "copy", "--project", "team"], env_for(target))
    assert second.returncode == 0, second.stderr
    assert (f"imported 0 memories into team/copy; {count} already there (skipped), 1 memory"
            " entries already there (skipped)") in " ".join(second.stderr.split())

    third = run(["import", str(dump), "--store", "copy", "--project", "team",
                 "--on-conflict", "new-ids"], env_for(target))
    assert third.returncode == 0, third.stderr
    assert f"imported {count} memories" in third.stderr
    done = run(["export", "copy", "--project", "team", "-o", str(tmp_path / "copy.jsonl")],
               env_for(target))
    assert done.returncode == 0, done.stderr
    copies = [json.loads(line) for line in (tmp_path / "copy.jsonl").read_text().splitlines()]
    contents = sorted(m["content"] for m in copies[1:-1] if m["type"] == "memory")
    originals = [json.loads(line) for line in dump.read_text().splitlines()[1:-1]]
    assert contents == sorted([m["content"] for m in originals if m["type"] == "memory"] * 2)
    # Entries are identified by path: the scope's entry is there once.
    assert [m["path"] for m in copies[1:-1] if m["type"] == "entry"] == ["/memories/coffee.md"]


def test_a_file_that_is_not_an_export_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.jsonl"
    bogus.write_text('{"hello": "world"}\n')
    data = tmp_path / "data"
    done = run(["import", str(bogus)], env_for(data))
    assert done.returncode == 1
    assert "line 1: not a memvault export" in done.stderr
    assert "Traceback" not in done.stderr
    listed = run(["stores"], env_for(data))
    assert "no memory stores" in listed.stdout


def test_a_bad_line_names_its_number(tmp_path: Path) -> None:
    lines = [_header(), _memory(0), '{"type": "memory", "scope": "u", "kind": "nonsense"}']
    dump = tmp_path / "bad.jsonl"
    dump.write_text("\n".join(lines) + "\n")
    done = run(["import", str(dump)], env_for(tmp_path / "data"))
    assert done.returncode == 1
    assert "line 3:" in done.stderr and "Traceback" not in done.stderr


def test_exporting_a_missing_store_says_how_to_find_one(tmp_path: Path) -> None:
    done = run(["export", "nope", "-o", str(tmp_path / "x.jsonl")], env_for(tmp_path / "data"))
    assert done.returncode == 1
    assert "no memory store named 'nope' in project 'default'" in done.stderr
    assert "memvault stores" in done.stderr
    assert not (tmp_path / "x.jsonl").exists() and not (tmp_path / "x.jsonl.partial").exists()


def _header() -> str:
    return json.dumps({
        "format": "memvault-export", "version": 1, "exported_at": 0, "scope": None,
        "embeddings": False,
        "store": {"project": "default", "name": "big", "chat_model": "memvault-offline",
                  "requested_embedding_model": "all-MiniLM-L6-v2", "options": {}},
    })  # fmt: skip


def _memory(i: int) -> str:
    base = 1_700_000_000 + i
    return json.dumps({
        "type": "memory", "id": f"mem_{i:026d}", "scope": f"user-{i % 7}",
        "kind": "user_profile", "content": f"Fact number {i}: likes the colour {i * 37 % 101}",
        "status": "active", "version": 3, "created_at": base, "updated_at": base + 2,
        "expires_at": None, "created_by": "api", "updated_by": "api", "source": [],
        "history": [{"version": 1, "content": f"first text {i}", "changed_at": base,
                     "changed_by": "api"},
                    {"version": 2, "content": f"second text {i}", "changed_at": base + 1,
                     "changed_by": "api"}],
        "embedding": None,
    })  # fmt: skip


@pytest.mark.slow
def test_an_interrupted_import_leaves_whole_memories_and_resumes(tmp_path: Path) -> None:
    total = 3_000
    dump = tmp_path / "big.jsonl"
    dump.write_text("\n".join([_header(), *(_memory(i) for i in range(total)),
                               json.dumps({"type": "end", "memories": total})]) + "\n")
    data = tmp_path / "data"
    database = data / "memvault.db"
    process = subprocess.Popen([*command(), "import", str(dump)], env=env_for(data),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if _count(database, "SELECT count(*) FROM memories") > 0:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode in (0, 130), stderr
    if process.returncode == 130:
        assert "run the same command again" in stderr
    imported = _count(database, "SELECT count(*) FROM memories")
    assert imported > 0
    # Whole memories only: every one has both of its earlier texts, and chunks commit whole.
    assert _count(database, "SELECT count(*) FROM memory_history") == 2 * imported
    assert imported % 256 == 0 or imported == total

    done = run(["import", str(dump)], env_for(data), timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{imported} already there (skipped)" in " ".join(done.stderr.split())
    assert _count(database, "SELECT count(*) FROM memories") == total
    assert _count(database, "SELECT count(DISTINCT id) FROM memories") == total
    assert _count(database, "SELECT count(*) FROM memory_history") == 2 * total


def _count(database: Path, sql: str) -> int:
    if not database.exists():
        return 0
    conn = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return int(conn.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # not migrated yet
        return 0
    finally:
        conn.close()


@pytest.mark.slow
def test_moving_a_store_from_sqlite_to_postgresql(
    source_dir: Path, tmp_path: Path, postgres_server: EmbeddedPostgres
) -> None:
    dump = tmp_path / "notes.jsonl"
    exported = export(source_dir, dump, "--with-embeddings")
    with postgres_server.database() as url:
        env = env_for(tmp_path / "unused", MEMVAULT_DATABASE_URL=url)
        done = run(["import", str(dump)], env, timeout=120)
        assert done.returncode == 0, done.stderr
        again = tmp_path / "again.jsonl"
        back = run(["export", STORE, "-o", str(again), "--with-embeddings"], env, timeout=120)
        assert back.returncode == 0, back.stderr
        lines = [json.loads(line) for line in again.read_text(encoding="utf-8").splitlines()]
        assert comparable(lines) == comparable(exported)
