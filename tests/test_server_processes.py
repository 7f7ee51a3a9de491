"""`memvault serve --processes 2`: two processes answer on one port from the one SQLite file, and a
memory written through either is found by the searches each of them answers afterwards (each
keeps its own vector cache and reloads a scope the other wrote); `/metrics`, whichever process
answers it, counts the requests of both; and with a Redis, both count rate limits in one
window."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from memvault import __version__
from memvault.testing import cpu_seconds
from tests.api.test_metrics import scrape, value
from tests.support.redis import local_redis
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


def started(server: LiveServer) -> list[int]:
    """The server's two app processes, once both have opened the database."""
    assert server.process is not None
    deadline = time.monotonic() + 60
    while len(processes := app_processes(server.process.pid)) < 2:
        assert time.monotonic() < deadline, "two server processes did not start"
        time.sleep(0.2)
    return processes


def test_two_server_processes_share_one_database(tmp_path: Path) -> None:
    # Started afresh, not from the preloaded forkserver: its children may not have children.
    with LiveServer(tmp_path / "data", args=("--processes", "2"), preload=False) as server:
        processes = started(server)
        deadline = time.monotonic() + 60
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


def test_metrics_of_either_process_count_the_requests_of_both(tmp_path: Path) -> None:
    with LiveServer(tmp_path / "data", args=("--processes", "2"), preload=False) as server:
        processes = started(server)
        shared = {
            Path(entry.split("=", 1)[1])
            for pid in processes
            for entry in Path(f"/proc/{pid}/environ").read_text().split("\0")
            if entry.startswith("PROMETHEUS_MULTIPROC_DIR=")
        }
        [directory] = shared  # one, the same for both
        assert directory.is_dir()
        endpoint = server.project_endpoint
        httpx.post(f"{endpoint}/memory_stores", json={"name": "m"}).raise_for_status()
        search = f"{endpoint}/memory_stores/m:search_memories"
        before = {pid: cpu_seconds(pid) for pid in processes}
        sent = 0
        deadline = time.monotonic() + 120
        # Searches on new connections until both processes have answered some (~15 ms of CPU
        # each), so that neither process alone saw them all.
        while not all(cpu_seconds(pid) - before[pid] > 0.1 for pid in processes):
            assert time.monotonic() < deadline, "one process answered every search"
            response = httpx.post(search, json={"scope": "u", "items": f"question {sent}"},
                                  headers={"Connection": "close"})
            response.raise_for_status()
            sent += 1
        route = "/api/projects/{project}/memory_stores/{name}:search_memories"
        for _ in range(6):  # new connections again: scrapes reach either process
            samples = scrape(server.url, Connection="close")
            assert value(samples, "memvault_http_requests_total", method="POST", route=route,
                         status="200") == sent
            assert value(samples, "memvault_http_request_duration_seconds_count", method="POST",
                         route=route) == sent
            assert value(samples, "memvault_build_info", version=__version__) == 1
            assert value(samples, "memvault_searches_in_flight") == 0
    assert not directory.exists()  # removed when the server stops


def test_two_processes_count_a_rate_limit_in_one_redis(tmp_path: Path) -> None:
    limit = 8
    env = {"MEMVAULT_RATE_LIMIT_PER_SCOPE": f"{limit}/minute",
           "MEMVAULT_RATE_LIMIT_REDIS_URL": local_redis(), "MEMVAULT_WORKER": "false"}
    with LiveServer(tmp_path / "data", args=("--processes", "2"), env=env,
                    preload=False) as server:
        started(server)
        endpoint = server.project_endpoint
        httpx.post(f"{endpoint}/memory_stores", json={"name": "r"}).raise_for_status()
        scope = f"s-{uuid.uuid4().hex}"  # a key no earlier run has counted: Redis keeps windows

        def get(_: int) -> int:
            return httpx.get(f"{endpoint}/memory_stores/r/items:list", params={"scope": scope},
                             headers={"Connection": "close"}, timeout=60).status_code

        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(get, range(64)))
    assert statuses.count(200) == limit and statuses.count(429) == 64 - limit
