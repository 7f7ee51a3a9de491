"""Several replicas on one PostgreSQL database: two `memvault serve` processes that run no worker
and two `memvault worker` processes, as a load-balanced deployment runs them.

They share nothing but the database: a store created through one replica is there on the other;
an update accepted by one is superseded by a later one accepted by the other (debounce across
replicas); and under 200 concurrent update and search requests spread over both replicas every
update is processed exactly once and no search answer holds another scope's memory.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.postgres import EmbeddedPostgres, postgres_server  # noqa: F401 (fixture)
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

SCOPES = 20
FACTS = [  # one of each per scope: unrelated facts, so consolidation keeps them all
    "I have a dog named {m}",
    "I own a bike called {m}",
    "My favourite colour is {m}",
    "I speak {m}",
    "I collect {m} stamps",
]


@dataclass
class Cluster:
    servers: list[LiveServer]
    workers: list[subprocess.Popen[bytes]]
    logs: list[Path]

    def endpoint(self, i: int) -> str:
        return self.servers[i % len(self.servers)].project_endpoint

    def check_workers(self) -> None:
        for worker, log in zip(self.workers, self.logs, strict=True):
            assert worker.poll() is None, f"worker exited:\n{log.read_text(errors='replace')}"


@pytest.fixture
def cluster(postgres_server: EmbeddedPostgres, tmp_path: Path) -> Iterator[Cluster]:
    with postgres_server.database() as url:
        env = {"MEMVAULT_DATABASE_URL": url, "MEMVAULT_WORKER": "false",
               "MEMVAULT_POSTGRES_POOL_SIZE": "8"}  # fmt: skip
        servers = [LiveServer(tmp_path / f"replica{i}" / "data", env=env) for i in range(2)]
        worker_env = {k: v for k, v in os.environ.items() if not k.startswith("MEMVAULT_")}
        worker_env |= {"MEMVAULT_DATABASE_URL": url, "MEMVAULT_DATA_DIR": str(tmp_path / "w"),
                       "MEMVAULT_POSTGRES_POOL_SIZE": "4"}  # fmt: skip
        workers: list[subprocess.Popen[bytes]] = []
        logs = [tmp_path / f"worker{i}.log" for i in range(2)]
        try:
            for log_path in logs:
                with open(log_path, "wb") as log:
                    workers.append(subprocess.Popen(
                        [sys.executable, "-m", "memvault.cli", "worker"],
                        env=worker_env, stdout=log, stderr=subprocess.STDOUT,
                    ))  # fmt: skip
            with ThreadPoolExecutor(2) as pool:  # the replicas load the model side by side
                list(pool.map(lambda server: server.start(timeout=120), servers))
            yield Cluster(servers, workers, logs)
        finally:
            for server in servers:
                server.stop()
            for worker in workers:
                worker.terminate()
            for worker in workers:
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()


def user(text: str) -> dict:
    return {"type": "message", "role": "user", "content": text}


async def submit(client: httpx.AsyncClient, endpoint: str, scope: str, text: str,
                 delay: int = 0) -> str:  # fmt: skip
    response = await client.post(
        f"{endpoint}/memory_stores/s:update_memories",
        json={"scope": scope, "items": [user(text)], "update_delay": delay},
    )
    assert response.status_code == 202, response.text
    return response.json()["update_id"]


async def state(client: httpx.AsyncClient, endpoint: str, update_id: str) -> dict:
    response = await client.get(f"{endpoint}/memory_stores/s/updates/{update_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def finished(cluster: Cluster, client: httpx.AsyncClient, update_id: str,
                   timeout: float = 120) -> dict:  # fmt: skip
    deadline = time.monotonic() + timeout
    i = 0
    while True:
        body = await state(client, cluster.endpoint(i), update_id)
        if body["status"] in ("completed", "failed", "superseded"):
            return body
        if time.monotonic() > deadline:
            cluster.check_workers()
            raise AssertionError(f"update {update_id} still {body['status']}")
        i += 1
        await asyncio.sleep(0.2)


async def memories(client: httpx.AsyncClient, endpoint: str, scope: str) -> list[dict]:
    """The scope's profile memories (facts; summaries are not what these tests count)."""
    response = await client.post(f"{endpoint}/memory_stores/s/items:list",
                                 params={"limit": 100, "kind": "user_profile"},
                                 json={"scope": scope})  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body["has_more"]
    return body["data"]


async def test_replicas_share_stores_debounce_and_process_each_update_once(
    cluster: Cluster,
) -> None:
    a, b = cluster.endpoint(0), cluster.endpoint(1)
    limits = httpx.Limits(max_connections=40)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        # A store created through one replica is there on the other.
        created = await client.post(f"{a}/memory_stores", json={"name": "s"})
        assert created.status_code == 200, created.text
        seen = await client.get(f"{b}/memory_stores/s")
        assert seen.status_code == 200 and seen.json()["id"] == created.json()["id"]

        # Debounce across replicas: the later update, accepted by the other replica, supersedes
        # the earlier one and processes both messages.
        first = await submit(client, a, "debounce", "I am vegetarian", delay=3)
        second = await submit(client, b, "debounce", "I play chess on Sundays", delay=3)
        assert (await state(client, a, first))["superseded_by"] == second
        assert (await state(client, b, first))["status"] == "superseded"
        done = await finished(cluster, client, second)
        assert done["status"] == "completed", done
        assert done["memvault"]["attempts"] == 1
        stored = " | ".join(m["content"] for m in await memories(client, b, "debounce")).lower()
        assert "vegetarian" in stored and "chess" in stored

        # 200 concurrent requests over both replicas: an update per fact, a search per fact.
        facts = {
            (scope, i): FACTS[i].format(m=marker(scope, i))
            for scope in range(SCOPES) for i in range(len(FACTS))
        }  # fmt: skip
        gate = asyncio.Semaphore(24)
        searches: list[tuple[int, list[dict]]] = []

        async def send(n: int, key: tuple[int, int]) -> tuple[tuple[int, int], str]:
            async with gate:
                return key, await submit(client, cluster.endpoint(n), f"user_{key[0]}",
                                         facts[key])  # fmt: skip

        async def search(n: int, scope: int) -> None:
            async with gate:
                response = await client.post(
                    f"{cluster.endpoint(n)}/memory_stores/s:search_memories",
                    json={"scope": f"user_{scope}",
                          "items": [user("dog bike colour speak stamps")]},
                )  # fmt: skip
                assert response.status_code == 200, response.text
                searches.append((scope, response.json()["memories"]))

        keys = list(facts)
        results = await asyncio.gather(
            *(send(n, key) for n, key in enumerate(keys)),
            *(search(n + 1, scope) for n, (scope, _) in enumerate(keys)),
        )
        sent = dict(result for result in results if result is not None)
        assert len(sent) == len(facts) == 100 and len(searches) == 100

        states = {key: await finished(cluster, client, update_id)
                  for key, update_id in sent.items()}  # fmt: skip
        cluster.check_workers()

    # Every update either completed, once, or was superseded by one that completed.
    completed = {}
    for key, body in states.items():
        assert body["status"] in ("completed", "superseded"), body
        while body["status"] == "superseded":
            body = states_by_id(states)[body["superseded_by"]]
        assert body["status"] == "completed"
        assert body["memvault"]["attempts"] == 1, body  # claimed once, never retried
        completed[key] = body["update_id"]

    # Each fact is stored once, in its own scope, created by the update that processed it.
    async with httpx.AsyncClient(timeout=60) as client:
        for scope in range(SCOPES):
            items = await memories(client, cluster.endpoint(scope), f"user_{scope}")
            for i in range(len(FACTS)):
                holders = [m for m in items if marker(scope, i) in m["content"]]
                assert len(holders) == 1, (marker(scope, i), [m["content"] for m in items])
                assert holders[0]["memvault"]["created_by"] == completed[(scope, i)]
            assert all(scopes_named(m["content"]) == {scope} for m in items)

    # No search answer crossed a scope.
    for scope, found in searches:
        for hit in found:
            item = hit["memory_item"]
            assert item["scope"] == f"user_{scope}"
            assert scopes_named(item["content"]) <= {scope}

    for log in cluster.logs:
        assert "taken over by another worker" not in log.read_text(errors="replace")


def marker(scope: int, i: int) -> str:
    """A word found in one fact only: names its scope and its place."""
    return f"Mk{scope:02d}x{i}"


def scopes_named(text: str) -> set[int]:
    """The scopes whose markers ``text`` holds."""
    return {int(found) for found in re.findall(r"Mk(\d\d)x\d", text)}


def states_by_id(states: dict[tuple[int, int], dict]) -> dict[str, dict]:
    return {body["update_id"]: body for body in states.values()}
