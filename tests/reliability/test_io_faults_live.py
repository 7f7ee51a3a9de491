"""Failing I/O against a live server: libfiu (Debian's ``fiu-utils``) makes the server process's
file writes and syncs, then its file reads too, fail with EIO, as a dying disk does, while it
serves. Writes are refused with 503 ``storage_failed`` in each face's error shape and keep
nothing; reads answer or fail as cleanly (never a 500, never a hang); once I/O works again writes
succeed, an update accepted before the fault is applied once, and every acknowledged write is
there, after a kill -9 and restart too, in a database that passes SQLite's integrity check.

Only file I/O fails (``pread``/``pwrite``/``fsync``, which SQLite uses and sockets do not), so the
server still answers.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

FIU_LIBS = Path("/usr/lib/fiu")
WRITE_FAULTS = ["posix/io/rw/pwrite", "posix/io/rw/pwritev", "posix/io/sync/*"]
READ_FAULTS = ["posix/io/rw/pread", "posix/io/rw/preadv"]
EIO = 5
UC = "/api/2.1/unity-catalog"
CLEAN = {200, 503}  # a read while reads fail: served (from SQLite's cache) or refused, cleanly


class FaultyServer:
    """A LiveServer whose process runs with libfiu preloaded; ``fail``/``heal`` switch failure
    points on and off in the running process through ``fiu-ctrl``."""

    def __init__(self, tmp_path: Path) -> None:
        self.fifo = tmp_path / "fiu"
        self.server = LiveServer(tmp_path / "data", env={
            "LD_PRELOAD": f"{FIU_LIBS}/fiu_run_preload.so {FIU_LIBS}/fiu_posix_preload.so",
            "FIU_CTRL_FIFO": str(self.fifo), "FIU_ENABLE": "",
            "MEMVAULT_JOB_LEASE_SECONDS": "2"},
            preload=False)  # LD_PRELOAD takes effect only in a process exec'd afresh

    def _control(self, commands: list[str]) -> None:
        assert self.server.process is not None
        args = ["fiu-ctrl", "-f", str(self.fifo)]
        for command in commands:
            args += ["-c", command]
        subprocess.run([*args, str(self.server.process.pid)], check=True, timeout=10)

    def fail(self, points: list[str]) -> None:
        self._control([f"enable name={point},failinfo={EIO}" for point in points])

    def heal(self, points: list[str]) -> None:
        self._control([f"disable name={point}" for point in points])


@pytest.fixture
def faulty(tmp_path: Path) -> Iterator[FaultyServer]:
    if shutil.which("fiu-ctrl") is None or not (FIU_LIBS / "fiu_posix_preload.so").exists():
        pytest.skip("libfiu is not installed (apt-get install fiu-utils; `make install-test`)")
    faulty = FaultyServer(tmp_path)
    faulty.server.start()
    try:
        yield faulty
    finally:
        faulty.server.stop()


def assert_storage_failed(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "storage_failed", response.text


def memories(client: httpx.Client) -> dict[str, str]:
    """Every memory of scope ``u``: id -> content."""
    found: dict[str, str] = {}
    params: dict[str, object] = {"limit": 100}
    while True:
        page = client.post("/memory_stores/s/items:list", params=params, json={"scope": "u"})
        page.raise_for_status()
        found |= {m["memory_id"]: m["content"] for m in page.json()["data"]}
        if not page.json()["has_more"]:
            return found
        params["after"] = page.json()["last_id"]


def wait_done(client: httpx.Client, update_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/memory_stores/s/updates/{update_id}").json()
        if body["status"] in ("completed", "failed", "superseded"):
            return body
        assert time.monotonic() < deadline, f"{update_id} did not finish: {body}"
        time.sleep(0.1)


def update(client: httpx.Client, text: str, delay: int = 0) -> httpx.Response:
    return client.post("/memory_stores/s:update_memories", json={
        "scope": "u", "update_delay": delay,
        "items": [{"type": "message", "role": "user", "content": text}]})


def test_failing_io_refuses_writes_cleanly_keeps_nothing_and_recovers(
        faulty: FaultyServer) -> None:
    server = faulty.server
    with httpx.Client(base_url=server.project_endpoint, timeout=10) as client, \
            httpx.Client(base_url=server.url, timeout=10) as uc:
        client.post("/memory_stores", json={"name": "s"}).raise_for_status()
        acked = set()
        for n in range(20):
            created = client.post("/memory_stores/s/items", json={
                "scope": "u", "content": f"the user keeps {n} bees"})
            acked.add(created.raise_for_status().json()["memory_id"])
        before = wait_done(client, update(client, "I play the trumpet").json()["update_id"])
        assert before["status"] == "completed", before
        # Due while the disk fails: the worker cannot claim it until I/O works again.
        pending = update(client, "I work as a pilot", delay=1)
        assert pending.status_code == 202, pending.text
        kept = memories(client)
        victim = next(iter(acked))

        faulty.fail(WRITE_FAULTS)
        for n in range(5):
            assert_storage_failed(client.post("/memory_stores/s/items", json={
                "scope": "u", "content": f"lost goats {n}"}))
        assert_storage_failed(update(client, "I have a cat named Mochi"))
        assert_storage_failed(client.delete(f"/memory_stores/s/items/{victim}"))
        refused = uc.post(f"{UC}/memory-stores/main.default.s/entries", json={
            "scope": "u", "path": "/memories/goats.md", "contents": "lost goats"})
        assert refused.status_code == 503, refused.text
        assert refused.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
        # Reads go on while only writes fail.
        assert memories(client) == kept
        found = client.post("/memory_stores/s:search_memories", json={
            "scope": "u", "items": [{"type": "message", "role": "user", "content": "bees"}]})
        assert found.status_code == 200, found.text
        time.sleep(1.5)  # the pending update falls due; the worker's claims fail meanwhile

        faulty.fail(READ_FAULTS)
        for _ in range(3):
            listed = client.post("/memory_stores/s/items:list", json={"scope": "u"})
            searched = client.post("/memory_stores/s:search_memories", json={
                "scope": "u", "items": [{"type": "message", "role": "user",
                                         "content": "goats"}]})
            got = client.get(f"/memory_stores/s/items/{victim}")
            for response in (listed, searched, got):
                assert response.status_code in CLEAN, response.text
                if response.status_code == 503:
                    assert_storage_failed(response)
            assert_storage_failed(client.post("/memory_stores/s/items", json={
                "scope": "u", "content": "lost cows"}))

        faulty.heal(READ_FAULTS + WRITE_FAULTS)
        created = client.post("/memory_stores/s/items", json={
            "scope": "u", "content": "the user also keeps sheep"})
        assert created.status_code == 200, created.text
        acked.add(created.json()["memory_id"])
        done = wait_done(client, pending.json()["update_id"])
        assert done["status"] == "completed", done
        check_after_fault(client, acked, kept, done)

    server.kill()
    server.start()
    with httpx.Client(base_url=server.project_endpoint, timeout=10) as client:
        check_after_fault(client, acked, kept, done)
    server.stop()
    with sqlite3.connect(server.data_dir / "memvault.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def check_after_fault(client: httpx.Client, acked: set[str], kept: dict[str, str],
                      done: dict) -> None:
    """Every acknowledged memory is there, nothing of a refused write is, and the update that
    fell due during the fault was applied once."""
    now = memories(client)
    assert acked <= set(now), acked - set(now)
    assert set(kept) <= set(now)
    assert not [content for content in now.values() if "lost" in content], now
    created = [memory_id for memory_id, _ in now.items()
               if memory_id not in kept and memory_id not in acked]
    operations = done["result"]["memory_operations"]
    assert len(created) == len(operations) == 1, (created, done)
    assert "pilot" in now[created[0]]
