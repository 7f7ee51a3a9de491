"""Admission control for searches: at most MEMVAULT_MAX_CONCURRENT_SEARCHES in flight, the next
ones wait first come first served, and one that gets no slot within
MEMVAULT_SEARCH_QUEUE_TIMEOUT_MS is refused with 503 + Retry-After before doing any work.

The gate alone, then live servers whose searches are held in flight by their embedding endpoint
(a scripted OpenAI-compatible server that answers only when the test lets it): which searches
are admitted is decided by events, never by how long anything takes.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from memvault.api.admission import AdmissionGate
from memvault.errors import Overloaded, ServiceUnavailable
from memvault.settings import Settings
from tests.api.test_metrics import scrape, value
from tests.support.openai_server import (
    RecordedRequest,
    ScriptedOpenAIServer,
    embeddings_response,
    fake_vector,
)
from tests.support.server import LiveServer

# -- the gate --------------------------------------------------------------------------------


async def settle(condition: Callable[[], bool]) -> None:
    """Let the other tasks run until ``condition`` holds (a few loop turns at most)."""
    for _ in range(50):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the tasks did not get there")


async def test_timeout_zero_refuses_at_once_when_every_slot_is_busy() -> None:
    gate = AdmissionGate(2, 64, 0)
    await gate.acquire()
    await gate.acquire()
    with pytest.raises(Overloaded) as refused:
        await gate.acquire()
    error = refused.value
    assert isinstance(error, ServiceUnavailable)
    assert (error.status_code, error.code, error.retry_after) == (503, "overloaded", 1)
    assert "capacity of 2 concurrent searches" in error.message
    assert (gate.in_flight, gate.queued) == (2, 0)  # the refusal held nothing
    gate.release()
    await gate.acquire()  # a freed slot admits again
    assert gate.in_flight == 2


async def test_waiters_are_admitted_first_come_first_served() -> None:
    gate = AdmissionGate(1, 64, 60)
    await gate.acquire()
    order: list[int] = []

    async def search(number: int) -> None:
        async with gate.admit():
            order.append(number)

    waiting = []
    for number in range(5):
        waiting.append(asyncio.create_task(search(number)))
        await settle(lambda: gate.queued == len(waiting))
    gate.release()  # the slot goes to waiter 0, so it is not free ...
    late = asyncio.create_task(search(99))  # ... and a newcomer queues behind the others
    await asyncio.gather(*waiting, late)
    assert order == [0, 1, 2, 3, 4, 99]
    assert (gate.in_flight, gate.queued) == (0, 0)


async def test_a_full_line_refuses_newcomers_at_once() -> None:
    gate = AdmissionGate(1, 2, 60)
    await gate.acquire()
    waiting = [asyncio.create_task(gate.acquire()) for _ in range(2)]
    await settle(lambda: gate.queued == 2)
    with pytest.raises(Overloaded) as refused:
        await gate.acquire()  # a third in line would be one too many
    assert "2 more already wait" in refused.value.message
    assert (gate.in_flight, gate.queued) == (1, 2)
    gate.release()  # the first waiter gets the slot: the line has room for one again
    await waiting[0]
    third = asyncio.create_task(gate.acquire())
    await settle(lambda: gate.queued == 2)
    for _ in range(2):
        gate.release()
    await asyncio.gather(waiting[1], third)
    gate.release()
    assert (gate.in_flight, gate.queued) == (0, 0)


async def test_a_waiter_that_times_out_is_refused_and_holds_nothing() -> None:
    gate = AdmissionGate(1, 64, 0.01)
    await gate.acquire()  # held for the whole test: the waiter cannot be admitted
    with pytest.raises(Overloaded) as refused:
        await gate.acquire()
    assert refused.value.retry_after == 1 and "within 10 ms" in refused.value.message
    assert (gate.in_flight, gate.queued) == (1, 0)
    gate.release()
    assert gate.in_flight == 0  # the refused waiter took no slot with it


async def test_a_cancelled_waiter_frees_nothing_it_did_not_hold() -> None:
    gate = AdmissionGate(1, 64, 60)
    await gate.acquire()
    admitted = asyncio.Event()

    async def search() -> None:
        async with gate.admit():
            admitted.set()

    first = asyncio.create_task(search())
    second = asyncio.create_task(search())
    await settle(lambda: gate.queued == 2)
    first.cancel()  # its client went away while it waited
    with pytest.raises(asyncio.CancelledError):
        await first
    assert (gate.in_flight, gate.queued) == (1, 1)  # the holder's slot is still held
    assert not admitted.is_set()
    gate.release()
    await second
    assert (gate.in_flight, gate.queued) == (0, 0)


async def test_a_waiter_cancelled_as_the_slot_reaches_it_passes_the_slot_on() -> None:
    gate = AdmissionGate(1, 64, 60)
    await gate.acquire()
    first = asyncio.create_task(gate.acquire())
    second = asyncio.create_task(gate.acquire())
    await settle(lambda: gate.queued == 2)
    gate.release()  # hands the slot to the first waiter ...
    first.cancel()  # ... which is cancelled before it could run
    with pytest.raises(asyncio.CancelledError):
        await first
    await settle(second.done)  # got the slot the first one was handed
    await second
    assert gate.in_flight == 1
    gate.release()
    assert (gate.in_flight, gate.queued) == (0, 0)


def test_the_default_is_twice_the_cores_and_zero_wait_is_allowed() -> None:
    settings = Settings(search_queue_timeout_ms=0)
    assert settings.resolved_max_concurrent_searches >= 2
    assert settings.resolved_max_concurrent_searches % 2 == 0
    assert Settings(max_concurrent_searches=3).resolved_max_concurrent_searches == 3


# -- live servers ----------------------------------------------------------------------------

FOUNDRY = "/api/projects/default"
STORE = "notes"
ENTRIES = f"/api/2.1/unity-catalog/memory-stores/main.default.{STORE}/entries"
TEA, WORK = "Likes green tea", "Works at Contoso"
TEA_ENTRY = ("/memories/drinks.md", "Drinks", "Green tea, no sugar")
WORK_ENTRY = ("/memories/work.md", "Work", "Engineer at Contoso")
BURST = 6


class Valve:
    """The embeddings endpoint's default answer, held while the valve is shut: a search that
    reaches its query's embedding then stays in flight, holding its slot, until the test opens
    the valve.

    A text's vector is the sum of its distinct words' (lower case) vectors, so a query with a
    memory's words ranks that memory first while being a new text: the server's embedding cache
    has not seen it, and the search reaches the endpoint."""

    def __init__(self, llm: ScriptedOpenAIServer) -> None:
        self._llm = llm
        self._open = threading.Event()
        self._open.set()
        self.holding = threading.Event()

    def __call__(self, request: RecordedRequest) -> dict[str, Any]:
        if not self._open.is_set():
            self.holding.set()
            self._open.wait(120)
        inputs = request.json["input"]
        texts = [inputs] if isinstance(inputs, str) else inputs
        return embeddings_response([words_vector(text) for text in texts],
                                   request.json["model"], request)

    @contextmanager
    def shut(self) -> Iterator[Valve]:
        self.holding.clear()
        self._open.clear()
        try:
            yield self
        finally:
            self._open.set()


def words_vector(text: str, dimension: int = 64) -> list[float]:
    words = sorted(set(re.findall(r"\w+", text.lower()))) or [text]
    return [sum(parts) for parts in zip(*(fake_vector(word, dimension) for word in words))]


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer(embedding_dimension=64) as server:
        yield server


@pytest.fixture(scope="module")
def valve(llm: ScriptedOpenAIServer) -> Valve:
    held = Valve(llm)
    llm.set_default("embeddings", held)
    return held


def serve(llm: ScriptedOpenAIServer, data: Path, **gate: str) -> LiveServer:
    """One search slot, ``gate`` settings; stores embed with the scripted endpoint's
    ``text-embedding-3-small``."""
    env = {"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "sk-test",
           "MEMVAULT_EXTRACTOR": "offline", "MEMVAULT_MAX_CONCURRENT_SEARCHES": "1",
           **{f"MEMVAULT_{name.upper()}": value for name, value in gate.items()}}
    server = LiveServer(data, env=env).start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            created = client.post(f"{FOUNDRY}/memory_stores", json={
                "name": STORE, "definition": {"embedding_model": "text-embedding-3-small"}})
            assert created.status_code == 200, created.text
            assert created.json()["definition"]["embedding_model"] == "text-embedding-3-small"
            for content in (TEA, WORK):
                added = client.post(f"{FOUNDRY}/memory_stores/{STORE}/items", json={
                    "scope": "alice", "content": content, "kind": "user_profile"})
                assert added.status_code == 200, added.text
            for path, description, contents in (TEA_ENTRY, WORK_ENTRY):
                put = client.post(ENTRIES, params={"scope": "alice"}, json={
                    "path": path, "description": description, "contents": contents})
                assert put.status_code == 200, put.text
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="module")
def shedding(llm: ScriptedOpenAIServer, valve: Valve, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[LiveServer]:
    """Refuses a search as soon as the one slot is busy: no line (the default timeout)."""
    server = serve(llm, tmp_path_factory.mktemp("shedding") / "data", max_queued_searches="0")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def queueing(llm: ScriptedOpenAIServer, valve: Valve, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[LiveServer]:
    """Waits up to a minute for the one slot: nothing here is refused."""
    server = serve(llm, tmp_path_factory.mktemp("queueing") / "data",
                   search_queue_timeout_ms="60000")
    yield server
    server.stop()


def search_memories(server: LiveServer, query: str) -> httpx.Response:
    return httpx.post(f"{server.project_endpoint}/memory_stores/{STORE}:search_memories",
                      json={"scope": "alice", "items": query}, timeout=60)


def search_entries(server: LiveServer, query: str) -> httpx.Response:
    return httpx.post(f"{server.url}{ENTRIES}:search", params={"scope": "alice"},
                      json={"query": query}, timeout=60)


def top_memory(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["memories"][0]["memory_item"]["content"]


def top_entry(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["results"][0]["memory_entry"]["path"]


def retry_after(response: httpx.Response) -> int:
    seconds = int(response.headers["retry-after"])
    assert seconds >= 1
    return seconds


@contextmanager
def one_search_held(valve: Valve, pool: ThreadPoolExecutor, call: Callable[[], httpx.Response]
                    ) -> Iterator[Future[httpx.Response]]:
    """``call`` in flight, holding the one slot at its query's embedding, until the block ends
    (the valve opens whatever happens in it)."""
    with valve.shut():
        held = pool.submit(call)
        assert valve.holding.wait(60), "the first search never reached its embedding"
        yield held


@pytest.mark.slow
def test_past_the_slot_searches_of_both_faces_are_refused_with_503_and_retry_after(
    shedding: LiveServer, valve: Valve, llm: ScriptedOpenAIServer
) -> None:
    before = scrape(shedding.url)
    with ThreadPoolExecutor(1 + 2 * BURST) as pool:
        with one_search_held(valve, pool, lambda: search_memories(shedding, "green tea?")) as held:
            embeddings_before = len(llm.requests_to("embeddings"))
            burst = [pool.submit(search_memories, shedding, f"question {n}?")
                     for n in range(BURST)]
            burst += [pool.submit(search_entries, shedding, f"entry question {n}?")
                      for n in range(BURST)]
            done, pending = wait(burst, timeout=60)
            assert not pending, "a search past the slot was not refused"
            assert not held.done()  # it held the slot all along
            embeddings_after = len(llm.requests_to("embeddings"))
        responses = [future.result() for future in burst]  # no timeouts, no connection errors
        admitted = held.result()

    assert top_memory(admitted) == TEA
    foundry, databricks = responses[:BURST], responses[BURST:]
    assert [r.status_code for r in responses] == [503] * (2 * BURST), [r.text for r in responses]
    for response in foundry:
        assert retry_after(response) == 1
        error = response.json()["error"]
        assert (error["code"], error["type"]) == ("overloaded", "server_error")
        assert "capacity of 1 concurrent searches" in error["message"]
        assert error["additionalInfo"]["request_id"] == response.headers["x-request-id"]
    for response in databricks:
        assert retry_after(response) == 1
        assert response.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
        assert "capacity of 1 concurrent searches" in response.json()["message"]
    # Refused before any work: not one of them asked for an embedding.
    assert embeddings_after == embeddings_before

    # After the burst, searches of both faces are admitted again, with the right results.
    assert top_memory(search_memories(shedding, "works at Contoso?")) == WORK
    assert top_entry(search_entries(shedding, "drinks: green tea, no sugar?")) == TEA_ENTRY[0]

    after = scrape(shedding.url)
    assert value(after, "memvault_searches_shed_total") - value(
        before, "memvault_searches_shed_total") == 2 * BURST
    assert value(after, "memvault_searches_in_flight") == 0
    assert value(after, "memvault_searches_queued") == 0


@pytest.mark.slow
def test_an_entries_search_holding_the_slot_refuses_a_memory_search(
    shedding: LiveServer, valve: Valve
) -> None:
    with ThreadPoolExecutor(2) as pool:
        query = "work: engineer at Contoso?"
        with one_search_held(valve, pool, lambda: search_entries(shedding, query)) as held:
            refused = search_memories(shedding, "anything new?")
            assert not held.done()
        admitted = held.result()
    assert refused.status_code == 503 and retry_after(refused) == 1
    assert refused.json()["error"]["code"] == "overloaded"
    assert top_entry(admitted) == WORK_ENTRY[0]


@pytest.mark.slow
def test_within_the_queue_timeout_a_search_waits_for_the_slot_instead(
    queueing: LiveServer, valve: Valve, llm: ScriptedOpenAIServer
) -> None:
    with ThreadPoolExecutor(2) as pool:
        with one_search_held(valve, pool, lambda: search_memories(queueing, "green tea?")) as held:
            embeddings_before = len(llm.requests_to("embeddings"))
            waiting = pool.submit(search_memories, queueing, "works at Contoso?")
            samples = wait_for_metric(queueing, "memvault_searches_queued", 1)
            assert value(samples, "memvault_searches_in_flight") == 1
            assert not waiting.done() and not held.done()
            # The waiting search has done nothing yet.
            assert len(llm.requests_to("embeddings")) == embeddings_before
        assert top_memory(held.result()) == TEA
        assert top_memory(waiting.result()) == WORK
    samples = scrape(queueing.url)
    assert value(samples, "memvault_searches_queued") == 0
    assert value(samples, "memvault_searches_in_flight") == 0
    assert value(samples, "memvault_searches_shed_total") == 0


def wait_for_metric(server: LiveServer, name: str, expected: float) -> dict:
    """The server's samples once ``name`` reads ``expected`` (polled: the request it counts
    is on its way)."""
    deadline = time.monotonic() + 60
    while True:
        samples = scrape(server.url)
        if value(samples, name) == expected:
            return samples
        assert time.monotonic() < deadline, f"{name} never reached {expected}"
        time.sleep(0.02)
