"""Storage faults against a live server: a database at its size cap (``MEMVAULT_SQLITE_MAX_PAGES``)
and a data directory on a real, full filesystem (a small tmpfs) answer writes with 507 in each
face's error shape, keep nothing of the failed write, go on serving reads, and take writes again
once space returns."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

UC = "/api/2.1/unity-catalog"
BIG = "y" * 9_000


def page_count(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA page_count").fetchone()[0]


def fill(client: httpx.Client) -> tuple[list[str], httpx.Response]:
    """Create memories until one is refused; returns the ids created and the refusal."""
    ids = []
    for n in range(2_000):
        response = client.post("/memory_stores/s/items", json={
            "scope": "u", "content": f"filler {n} {BIG}"})
        if response.status_code != 200:
            return ids, response
        ids.append(response.json()["memory_id"])
    raise AssertionError("the database never filled up")


def assert_full_in_foundry_shape(response: httpx.Response) -> None:
    assert response.status_code == 507, response.text
    error = response.json()["error"]
    assert error["code"] == "storage_full"
    assert "full" in error["message"]


def count(client: httpx.Client) -> int:
    return len(client.post("/memory_stores/s/items:list",
                           json={"scope": "u", "limit": 100}).json()["data"])


def test_a_capped_database_refuses_writes_with_507_and_recovers(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with LiveServer(data) as server, httpx.Client(base_url=server.project_endpoint,
                                                  timeout=30) as client:
        client.post("/memory_stores", json={"name": "s"}).raise_for_status()
        client.post("/memory_stores/s/items", json={
            "scope": "u", "content": "the user keeps bees"}).raise_for_status()
    cap = page_count(data / "memvault.db") + 60
    server = LiveServer(data, env={"MEMVAULT_SQLITE_MAX_PAGES": str(cap)}).start()
    try:
        with httpx.Client(base_url=server.project_endpoint, timeout=30) as client:
            ids, refused = fill(client)
            assert_full_in_foundry_shape(refused)
            before = count(client)
            assert before == len(ids) + 1

            # The Databricks face says the same in its own shape.
            with httpx.Client(base_url=server.url, timeout=30) as uc:
                response = uc.post(f"{UC}/memory-stores/main.default.s/entries", json={
                    "scope": "u", "path": "/memories/big.md", "contents": BIG})
                assert response.status_code == 507, response.text
                assert response.json()["error_code"] == "RESOURCE_EXHAUSTED"

            # Nothing of the refused writes was kept; reads go on.
            assert count(client) == before
            found = client.post("/memory_stores/s:search_memories", json={
                "scope": "u", "items": [{"type": "message", "role": "user",
                                         "content": "bees"}]})
            assert found.status_code == 200
            assert any("bees" in m["memory_item"]["content"]
                       for m in found.json()["memories"]), found.json()

            # Space returns when data goes.
            for memory_id in ids[: len(ids) // 2 + 1]:
                client.delete(f"/memory_stores/s/items/{memory_id}").raise_for_status()
            created = client.post("/memory_stores/s/items", json={
                "scope": "u", "content": "the user also keeps goats"})
            assert created.status_code == 200, created.text
    finally:
        server.stop()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs: a filesystem that really fills up (needs root; skipped elsewhere)."""
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mountpoint)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def test_a_full_disk_refuses_writes_with_507_and_recovers(small_disk: Path) -> None:
    with LiveServer(small_disk / "data", log_path=small_disk.parent / "server.log") as server, \
            httpx.Client(base_url=server.project_endpoint, timeout=30) as client:
        client.post("/memory_stores", json={"name": "s"}).raise_for_status()
        client.post("/memory_stores/s/items", json={
            "scope": "u", "content": "the user keeps bees"}).raise_for_status()
        # Leave about 300 KiB free.
        free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
        ballast = small_disk / "ballast"
        ballast.write_bytes(b"\0" * (free - 300 * 1024))

        ids, refused = fill(client)
        assert refused.status_code == 507, refused.text
        assert refused.json()["error"]["code"] == "storage_full"
        before = count(client)
        assert before == len(ids) + 1
        assert client.get("/memory_stores/s").status_code == 200

        ballast.unlink()
        created = client.post("/memory_stores/s/items", json={
            "scope": "u", "content": "the user also keeps goats"})
        assert created.status_code == 200, created.text
        assert count(client) == before + 1
