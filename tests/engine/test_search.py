"""Search ranking users rely on: a named month or year prefers that period's memories, and a
question whose answer spans two memories finds both. Real SQLite store, real local model."""

from __future__ import annotations

import calendar
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from memvault.engine.service import MemoryService
from memvault.models import Memory, MemoryKind, MemoryRecord, MemoryStore, new_id
from memvault.providers.registry import EmbeddingProviders
from memvault.settings import Settings
from memvault.storage import open_store
from tests.storage.conftest import database_url  # noqa: F401 (fixture)
from tests.support.postgres import postgres_server  # noqa: F401 (fixture)

SCOPE = "user_1"


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[MemoryService]:
    """On both backends: SQLite asks for a search's two halves in one call after the query is
    embedded, PostgreSQL runs the full-text half beside the embedding."""
    settings = Settings(data_dir=tmp_path)
    backend = await open_store(database_url, settings)
    service = MemoryService(backend, EmbeddingProviders(settings), settings)
    try:
        yield service
    finally:
        await service.embeddings.aclose()
        await backend.close()


async def remember(service: MemoryService, store: MemoryStore,
                   dated: list[tuple[str, str]]) -> dict[str, str]:
    """Memories written on the given days (as an import keeps them); content -> id."""
    vectors = await service.embeddings.embed(store.embedding_model, [text for _, text in dated])
    records = []
    for (day, text), vector in zip(dated, vectors, strict=True):
        ts = calendar.timegm(date.fromisoformat(day).timetuple()) + 12 * 3600
        records.append(MemoryRecord(Memory(
            id=new_id("mem"), store_id=store.id, scope=SCOPE, kind=MemoryKind.CHAT_SUMMARY,
            content=text, created_at=ts, updated_at=ts, embedding=vector,
        )))
    await service.store.import_memories(store.id, records)
    return {record.memory.content: record.memory.id for record in records}


async def ranked(service: MemoryService, store: MemoryStore, query: str) -> list[str]:
    outcome = await service.search(store, SCOPE, query, max_memories=5)
    return [hit.memory.content for hit in outcome.memories]


MAY = "Hiked Mount Si with Jonah, the last mile up is brutal."
SEPTEMBER = "Hiked Mount Si with Jonah again, the last mile up is still brutal."
OTHERS = [
    ("2023-05-20", "Made shakshuka for brunch with friends."),
    ("2023-07-02", "Went camping at Lake Crescent, the water was freezing."),
    ("2023-09-11", "Started learning Spanish on Duolingo."),
    ("2024-01-15", "Hiked Rattlesnake Ledge in the fog."),
]


async def test_a_named_month_ranks_that_months_memory_above_a_near_identical_one(
    service: MemoryService,
) -> None:
    store = await service.create_store("default", "dates")
    await remember(service, store, [("2023-05-14", MAY), ("2023-09-16", SEPTEMBER), *OTHERS])
    for query, first in [
        ("Which mountain did I hike in May 2023?", MAY),
        ("Which mountain did I hike in September 2023?", SEPTEMBER),
        ("Which mountain did I hike in 2023-09?", SEPTEMBER),
        ("Which mountain did I hike in the spring of 2023?", MAY),
    ]:
        found = await ranked(service, store, query)
        assert found[0] == first, query
    # Without a date, both hikes still come before everything else.
    assert set((await ranked(service, store, "Which mountain did I hike?"))[:2]) == {
        MAY, SEPTEMBER}


async def test_a_date_named_in_a_memory_counts_as_well_as_when_it_was_written(
    service: MemoryService,
) -> None:
    store = await service.create_store("default", "named")
    # Both written in March; "June" means the June of the year each was written.
    next_year = "Flying to Lisbon on 12 June for the design conference."
    this_year = "Flying to Lisbon on June 12 for the design conference."
    await remember(service, store, [("2023-03-01", this_year), ("2024-03-01", next_year),
                                    *OTHERS])
    assert (await ranked(service, store, "Where am I going in June 2024?"))[0] == next_year
    assert (await ranked(service, store, "Where am I going in June 2023?"))[0] == this_year


async def test_a_question_spanning_two_memories_finds_both(service: MemoryService) -> None:
    store = await service.create_store("default", "hops")
    recommended = "My coworker Jonah recommended I read The Overstory by Richard Powers."
    moved = "Jonah is moving to Portland in September to be closer to his partner."
    await remember(service, store, [
        ("2023-03-22", recommended),
        ("2023-08-09", moved),
        ("2023-01-15", "My sister Priya lives in Chicago and visits every January."),
        ("2023-02-01", "My manager Claire relocated to Denver for the new office."),
        ("2023-05-18", "Finished The Overstory, the chapter about the chestnut tree made me cry."),
        ("2023-08-09", "Book club picked Tomorrow, and Tomorrow, and Tomorrow for September."),
        ("2023-11-02", "Thinking about which city to live in if I change jobs next year."),
        ("2024-02-14", "My boyfriend Eli works night shifts as a nurse at Harborview."),
        ("2024-05-20", "Eli and I are planning a trip to Mexico City in July."),
        ("2024-09-30", "Our office is moving to a new building downtown."),
    ])  # fmt: skip
    found = await ranked(
        service, store, "Which city does the coworker who recommended The Overstory live in now?"
    )
    assert {recommended, moved} <= set(found[:3])


async def test_int8_query_embeddings_find_what_float32_ones_find(
    service: MemoryService, tmp_path: Path
) -> None:
    """Queries are embedded in int8 by default (a third of the model's CPU per query): the same
    best memory for plain questions as float32 queries, with scores within a few hundredths."""
    store = await service.create_store("default", "int8")
    await remember(service, store, [(day, text) for day, text in OTHERS])
    settings = Settings(data_dir=tmp_path, query_embedding_precision="float32")
    reference = MemoryService(service.store, EmbeddingProviders(settings), settings)
    try:
        for question in ["What did I cook for brunch?", "Which language am I learning?",
                         "Where did I go camping?"]:
            exact = (await reference.search(store, SCOPE, question, max_memories=3)).memories
            quick = (await service.search(store, SCOPE, question, max_memories=3)).memories
            assert quick[0].memory.id == exact[0].memory.id, question
            assert abs(quick[0].score - exact[0].score) < 0.05
        precisions = [getattr(s.embeddings.local_query_embedder(), "precision", None)
                      for s in (service, reference)]
        assert precisions == ["int8", "float32"]
    finally:
        await reference.embeddings.aclose()
