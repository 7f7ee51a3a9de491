"""`memvault serve --processes 2`: two processes answer on one port from the one SQLite file, and a
memory written through either is found by the searches each of them answers afterwards (each
keeps its own vector cache and reloads a scope the other wrote)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from memvault.testing import cpu_seconds
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow


def app_processes(supervisor: int) -> list[int]:
    """The supervisor's children that opened the database (server processes, not helpers)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    found = []
    for pid in map(int, children):
        try:
            links = [p.readlink().name for p in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        if "memvault.db" in links:
            found.append(pid)
    return found


def test_two_server_processes_share_one_database(tmp_path: Path) -> None:
    # Started afresh, not from the preloaded forkserver: its children may not have children.
    with LiveServer(tmp_path / "data", args=("--processes", "2"), preload=False) as server:
        assert server.process is not None
        deadline = time.monotonic() + 60
        while len(processes := app_processes(server.process.pid)) < 2:
            assert time.monotonic() < deadline, "two server processes did not start"
            time.sleep(0.2)
        endpoint = server.project_endpoint
        httpx.post(f"{endpoint}/memory_stores", json={"name": "w"}).raise_for_status()
        search = f"{endpoint}/memory_stores/w:search_memories"
        body = {"scope": "u", "items": "Which pet do I have?"}

        def ask(_: int) -> list[str]:
            # A new connection each time, so the kernel hands searches to either process.
            response = httpx.post(search, json=body, headers={"Connection": "close"})
            response.raise_for_status()
            return [hit["memory_item"]["content"] for hit in response.json()["memories"]]

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(ask, range(16)))  # both caches now hold the (empty) scope
            added = httpx.post(f"{endpoint}/memory_stores/w/items", json={
                "scope": "u", "content": "I have a cat named Miso", "kind": "user_profile"})
            added.raise_for_status()
            before = {pid: cpu_seconds(pid) for pid in processes}
            served: set[int] = set()
            while served != set(processes):
                assert time.monotonic() < deadline + 60, f"only {served} answered searches"
                for hits in pool.map(ask, range(8)):
                    assert hits == ["I have a cat named Miso"]
                # A process that answered searches spent CPU on them (~15 ms each).
                served = {pid for pid in processes if cpu_seconds(pid) - before[pid] > 0.05}
