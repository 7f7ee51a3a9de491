"""kill -9 of servers and workers during concurrent writes and updates, cycle after cycle: every
write a server acknowledged is there at the end, and every accepted update is applied exactly once
(its memories carry its id as provenance, and there is one of each).

Two deployments on one SQLite database, each as replicas behind a load balancer run it: servers
with their in-process worker (each cycle kills the serving one), and servers with
``MEMVAULT_WORKER=false`` next to two ``memvault worker`` processes (cycles kill a server and a
worker in turn). A killed process is replaced by a standby that was already starting, so a cycle
costs about one process start; jobs of a killed worker are taken over when their lease
(``MEMVAULT_JOB_LEASE_SECONDS``, 2 s here) runs out. Kills are aimed at moments when an update is
in progress, and the test checks that some updates were indeed taken over.

The short tier (50 cycles, half in each deployment) runs in `make test`; `make soak` runs
``MEMVAULT_SOAK_CYCLES`` (1,000) the same way.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.server import LiveServer, LiveWorker

pytestmark = pytest.mark.slow

# Read at import: the autouse fixture clears MEMVAULT_* variables before each test runs.
SHORT_CYCLES = int(os.environ.get("MEMVAULT_SHORT_CYCLES", "50"))
SOAK_CYCLES = int(os.environ.get("MEMVAULT_SOAK_CYCLES", "0"))

ENV = {"MEMVAULT_JOB_LEASE_SECONDS": "2", "MEMVAULT_EMBEDDING_THREADS": "1"}
SERVER_SLOTS = 3  # one serving, two starting or standing by
SCOPES = ["a", "b", "c"]
DONE = ("completed", "failed", "superseded")


@dataclass
class Acknowledged:
    memories: list[str] = field(default_factory=list)
    updates: list[str] = field(default_factory=list)


class Cluster:
    """Server replicas (and standalone workers) on one data directory; ``endpoint`` is where the
    load balancer sends requests now."""

    def __init__(self, tmp_path: Path, *, standalone_workers: bool) -> None:
        data = tmp_path / "data"
        env = ENV | ({"MEMVAULT_WORKER": "false"} if standalone_workers else {})
        self.servers = [LiveServer(data, env=env, preload=True,
                                   log_path=tmp_path / f"server-{i}.log")
                        for i in range(SERVER_SLOTS)]
        self.workers = [LiveWorker(data, env=ENV, preload=True,
                                   log_path=tmp_path / f"worker-{i}.log")
                        for i in range(2 if standalone_workers else 0)]
        self.endpoint = self.servers[0].project_endpoint
        self.kills = Counter[str]()

    def start(self) -> None:
        for process in [*self.servers, *self.workers]:
            process.launch()
        self.servers[0].wait_ready()

    def prepare(self, kind: str) -> None:
        """Wait until the next kill of ``kind`` can happen at once: the standby that will take
        over is serving (server), or the worker to be killed is running (worker)."""
        (self.servers[1] if kind == "server" else self.workers[0]).wait_ready()

    def kill(self, kind: str) -> None:
        """Kill the serving replica (the next standby serves) or the older worker (the other one
        goes on); the killed process starts again as the last standby."""
        if kind == "server":
            victim = self.servers[0]
            victim.kill()
            self.endpoint = self.servers[1].project_endpoint
            self.servers = [*self.servers[1:], victim.launch()]
        else:
            victim = self.workers[0]
            victim.kill()
            self.workers = [*self.workers[1:], victim.launch()]
        self.kills[kind] += 1

    def stop(self) -> None:
        for process in [*self.servers, *self.workers]:
            process.stop()


@pytest.fixture(params=[False, True], ids=["serve", "serve+worker"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path, standalone_workers=request.param)
    try:
        yield cluster
    finally:
        cluster.stop()


def writer(cluster: Cluster, name: str, stop: threading.Event, acked: Acknowledged) -> None:
    """Create memories and send updates, through whichever replica serves, until told to stop;
    record what was acknowledged. A request cut off by a kill is retried by nobody: its write may
    or may not be there, and is not counted."""
    n = 0
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            n += 1
            endpoint = cluster.endpoint
            try:
                if n % 4 == 0:
                    response = client.post(f"{endpoint}/memory_stores/s:update_memories", json={
                        "scope": name, "update_delay": 0, "items": [
                            {"type": "message", "role": "user",
                             "content": f"I keep {name} {n} bees"}]})
                    if response.status_code == 202:
                        acked.updates.append(response.json()["update_id"])
                else:
                    response = client.post(f"{endpoint}/memory_stores/s/items", json={
                        "scope": name, "content": f"{name} note {n}"})
                    if response.status_code == 200:
                        acked.memories.append(response.json()["memory_id"])
            except httpx.TransportError:
                while cluster.endpoint == endpoint and not stop.is_set():
                    time.sleep(0.01)
            time.sleep(0.05)


def wait_for_update_in_progress(client: httpx.Client, cluster: Cluster,
                                acked: Acknowledged, timeout: float = 1.0) -> bool:
    """True once one of the newest accepted updates is in progress (kill now), False after
    ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for update_id in acked.updates[-3:]:
            try:
                body = client.get(f"{cluster.endpoint}/memory_stores/s/updates/{update_id}")
            except httpx.TransportError:
                return False
            if body.status_code == 200 and body.json()["status"] == "in_progress":
                return True
        time.sleep(0.02)
    return False


def all_memories(client: httpx.Client, endpoint: str, scope: str) -> list[dict]:
    memories: list[dict] = []
    params: dict[str, object] = {"limit": 100, "order": "asc"}
    for _ in range(10_000):
        page = client.post(f"{endpoint}/memory_stores/s/items:list", params=params,
                           json={"scope": scope})
        page.raise_for_status()
        memories += page.json()["data"]
        if not page.json()["has_more"]:
            return memories
        params["after"] = page.json()["last_id"]
    raise AssertionError("the listing never ended")


def run_cycles(cluster: Cluster, cycles: int) -> None:
    cluster.start()
    acked = Acknowledged()
    stop = threading.Event()
    threads = [threading.Thread(target=writer, args=(cluster, scope, stop, acked))
               for scope in SCOPES]
    aimed = 0
    with httpx.Client(timeout=30) as client:
        client.post(f"{cluster.endpoint}/memory_stores", json={"name": "s"}).raise_for_status()
        for thread in threads:
            thread.start()
        try:
            for cycle in range(cycles):
                target = len(acked.memories) + 5 + cycle % 7  # a different moment each cycle
                deadline = time.monotonic() + 30
                while len(acked.memories) < target:
                    assert time.monotonic() < deadline, "writes stopped being acknowledged"
                    time.sleep(0.005)
                kind = "worker" if cluster.workers and cycle % 2 else "server"
                cluster.prepare(kind)
                aimed += wait_for_update_in_progress(client, cluster, acked)
                cluster.kill(kind)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        cluster.servers[0].wait_ready()
        taken_over = check(client, cluster.endpoint, acked)
    print(f"{cycles} cycles: kills {dict(cluster.kills)}, {aimed} while an update ran;"
          f" {len(acked.memories)} writes and {len(acked.updates)} updates acknowledged,"
          f" {taken_over} updates taken over")
    if cycles >= 10:  # each aimed kill is likely, not sure, to catch its update mid-way
        assert taken_over, "no kill hit an update in progress: the test did not test takeovers"


def check(client: httpx.Client, endpoint: str, acked: Acknowledged) -> int:
    """Nothing acknowledged is lost, every accepted update finishes, and none is applied twice.
    Returns how many updates were claimed more than once (taken over from a killed worker)."""
    present = {m["memory_id"] for scope in SCOPES for m in all_memories(client, endpoint, scope)}
    lost = [memory_id for memory_id in acked.memories if memory_id not in present]
    assert not lost, f"{len(lost)} of {len(acked.memories)} acknowledged writes lost: {lost[:5]}"

    deadline = time.monotonic() + 120
    results: dict[str, dict] = {}
    for update_id in acked.updates:
        while True:
            body = client.get(f"{endpoint}/memory_stores/s/updates/{update_id}").json()
            if body["status"] in DONE:
                break
            assert time.monotonic() < deadline, body
            time.sleep(0.05)
        assert body["status"] in ("completed", "superseded"), body
        results[update_id] = body
    memories = [m for scope in SCOPES for m in all_memories(client, endpoint, scope)]
    made_by = Counter(m["memvault"]["created_by"] for m in memories)
    contents = Counter((m["scope"], m["content"]) for m in memories)
    # A completed update's memories are those its result reports, once each: an update run again
    # after a crash would add its facts a second time.
    for update_id, body in results.items():
        operations = (body.get("result") or {}).get("memory_operations") or []
        assert made_by[update_id] <= len(operations), (update_id, made_by[update_id], body)
    twice = [key for key, seen in contents.items() if seen > 1]
    assert not twice, f"stored twice: {twice[:5]}"
    return sum(body["memvault"]["attempts"] > 1 for body in results.values())


def test_kill_9_cycles_lose_no_write_and_apply_updates_once(cluster: Cluster) -> None:
    run_cycles(cluster, SHORT_CYCLES // 2)


@pytest.mark.soak
def test_soak_kill_9_cycles(cluster: Cluster) -> None:
    if SOAK_CYCLES <= 0:
        pytest.skip("set MEMVAULT_SOAK_CYCLES (make soak) to run the long tier")
    run_cycles(cluster, SOAK_CYCLES // 2)
