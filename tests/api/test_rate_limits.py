"""Rate limits per principal and per scope: exactly N admitted per window, however many
requests arrive at once (in one process, or across processes that count in one Redis); the rest
get 429 with ``Retry-After`` in the face's error shape."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from memvault.api.app import create_app
from memvault.api.limits import Rate, SlidingWindowLimiter
from memvault.errors import RateLimited
from memvault.settings import Settings
from tests.conftest import FOUNDRY, make_settings
from tests.support.redis import local_redis
from tests.support.server import LiveServer, free_port

N = 8


def _retry_after(response: httpx.Response) -> int:
    value = int(response.headers["retry-after"])
    assert value >= 1
    return value


def test_the_window_admits_exactly_n_of_many_concurrent_calls() -> None:
    limiter = SlidingWindowLimiter(Rate(N, 60.0), "principal")

    def call(_: int) -> bool:
        try:
            limiter.admit_now("k")
        except RateLimited as error:
            assert 1 <= error.retry_after <= 60
            return False
        return True

    with ThreadPoolExecutor(64) as pool:
        outcomes = list(pool.map(call, range(3 * N * 8)))
    assert outcomes.count(True) == N


def test_the_window_slides_and_retry_after_says_when() -> None:
    clock = [100.0]
    limiter = SlidingWindowLimiter(Rate(2, 1.0), "scope", clock=lambda: clock[0])
    limiter.admit_now("a")
    clock[0] = 100.4
    limiter.admit_now("a")
    limiter.admit_now("b")  # keys count apart
    with pytest.raises(RateLimited) as refused:
        limiter.admit_now("a")
    assert refused.value.retry_after == 1  # 0.6 s rounds up to a whole second
    clock[0] = 101.0  # the first call has left the window
    limiter.admit_now("a")
    with pytest.raises(RateLimited):
        limiter.admit_now("a")


@pytest.mark.parametrize("bad", ["5/hour", "0/second", "-1/minute", "ten/second", "5"])
def test_a_malformed_rate_is_refused_at_startup(bad: str) -> None:
    with pytest.raises(ValidationError):
        Settings(rate_limit_per_principal=bad)


@pytest.mark.parametrize("bad", ["localhost:6379", "http://127.0.0.1:6379", "6379"])
def test_a_malformed_redis_url_is_refused_at_startup(bad: str) -> None:
    with pytest.raises(ValidationError, match="redis://"):
        Settings(rate_limit_redis_url=bad)


async def test_per_principal_limit_admits_exactly_n_of_3n_concurrent(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", api_keys="k1,k2",
                             rate_limit_per_principal=f"{N}/minute")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            k1 = {"Authorization": "Bearer k1"}
            responses = await asyncio.gather(*(
                client.get(f"{FOUNDRY}/memory_stores", headers=k1) for _ in range(3 * N)
            ))
            statuses = [r.status_code for r in responses]
            assert statuses.count(200) == N and statuses.count(429) == 2 * N
            refused = next(r for r in responses if r.status_code == 429)
            assert 1 <= _retry_after(refused) <= 60
            error = refused.json()["error"]
            assert error["code"] == "rate_limited" and "8 requests per minute" in error["message"]

            # Another principal has its own budget; health checks are never limited.
            other = await client.get(f"{FOUNDRY}/memory_stores", headers={"api-key": "k2"})
            assert other.status_code == 200
            assert (await client.get("/healthz")).status_code == 200


async def test_per_scope_limit_counts_each_scope_across_faces(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", rate_limit_per_scope="3/minute")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            body = {"name": "notes", "definition": {"chat_model": "gpt-4.1",
                                                    "embedding_model": "text-embedding-3-small"}}
            assert (await client.post(f"{FOUNDRY}/memory_stores", json=body)).status_code == 200
            items = f"{FOUNDRY}/memory_stores/notes/items"
            for i in range(3):
                added = await client.post(items, json={"scope": "alice", "content": f"fact {i}",
                                                       "kind": "user_profile"})
                assert added.status_code == 200, added.text
            refused = await client.post(items, json={"scope": "alice", "content": "one more",
                                                     "kind": "user_profile"})
            assert refused.status_code == 429 and _retry_after(refused) >= 1
            assert refused.json()["error"]["code"] == "rate_limited"
            # Refused means not written.
            listed = await client.get(f"{items}:list", params={"scope": "bob"})
            assert listed.status_code == 200 and listed.json()["data"] == []

            # The Databricks face counts the same scope, and answers in its own shape.
            entries = "/api/2.1/unity-catalog/memory-stores/main.default.notes/entries"
            for _ in range(3):
                ok = await client.get(entries, params={"scope": "carol"})
                assert ok.status_code == 200, ok.text
            limited = await client.get(entries, params={"scope": "carol"})
            assert limited.status_code == 429 and _retry_after(limited) >= 1
            assert limited.json()["error_code"] == "RESOURCE_EXHAUSTED"
            again = await client.get(entries, params={"scope": "alice"})
            assert again.status_code == 429


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {"MEMVAULT_API_KEYS": "k1,k2", "MEMVAULT_RATE_LIMIT_PER_PRINCIPAL": f"{N}/minute",
           "MEMVAULT_WORKER": "false"}
    with LiveServer(tmp_path_factory.mktemp("rate-limits") / "data", env=env) as live:
        yield live


def test_live_server_admits_exactly_n_of_64_concurrent(limited_server: LiveServer) -> None:
    def get(_: int) -> httpx.Response:
        with httpx.Client(base_url=limited_server.url, timeout=60,
                          headers={"Authorization": "Bearer k1"}) as http:
            return http.get(f"{FOUNDRY}/memory_stores")

    with ThreadPoolExecutor(64) as pool:
        responses = list(pool.map(get, range(64)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == N and statuses.count(429) == 64 - N
    for response in responses:
        if response.status_code == 429:
            assert 1 <= _retry_after(response) <= 60
            assert response.json()["error"]["code"] == "rate_limited"


@asynccontextmanager
async def clients(settings: Settings, count: int) -> AsyncIterator[list[httpx.AsyncClient]]:
    """``count`` apps built from ``settings``, each on a database of its own with a store
    ``notes``: as many server processes or replicas, each with its own memory."""
    async with AsyncExitStack() as stack:
        found = []
        for i in range(count):
            app = create_app(settings.model_copy(update={
                "data_dir": settings.data_dir / str(i), "database_url": None}))
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://t"))
            created = await client.post(f"{FOUNDRY}/memory_stores", json={"name": "notes"})
            assert created.status_code == 200, created.text
            found.append(client)
        yield found


async def test_processes_counting_in_one_redis_admit_exactly_n_together(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", rate_limit_per_scope=f"{N}/minute",
                             rate_limit_redis_url=local_redis())
    scope = f"s-{uuid.uuid4().hex}"  # a key no earlier run has counted: Redis keeps windows
    async with clients(settings, 2) as (one, two):
        responses = await asyncio.gather(*(
            client.get(f"{FOUNDRY}/memory_stores/notes/items:list", params={"scope": scope})
            for _ in range(3 * N // 2) for client in (one, two)
        ))
        statuses = [r.status_code for r in responses]
        assert statuses.count(200) == N and statuses.count(429) == 2 * N
        refused = next(r for r in responses if r.status_code == 429)
        assert 1 <= _retry_after(refused) <= 60
        assert refused.json()["error"]["code"] == "rate_limited"
        # Another scope has its own window.
        other = await two.get(f"{FOUNDRY}/memory_stores/notes/items:list",
                              params={"scope": f"{scope}-2"})
        assert other.status_code == 200


async def test_without_an_answer_from_redis_each_process_counts_its_own(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path / "data", rate_limit_per_scope=f"{N}/minute",
                             rate_limit_redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with clients(settings, 2) as (one, two):
        with caplog.at_level(logging.WARNING, logger="memvault"):
            for client in (one, two):
                responses = await asyncio.gather(*(
                    client.get(f"{FOUNDRY}/memory_stores/notes/items:list", params={"scope": "u"})
                    for _ in range(2 * N)
                ))
                statuses = [r.status_code for r in responses]
                assert statuses.count(200) == N and statuses.count(429) == N
        warnings = [r for r in caplog.records if "Redis does not answer" in r.getMessage()]
        assert len(warnings) == 2  # once per process, not once per request
