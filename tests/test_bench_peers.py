"""The peer benchmark's Mem0 side (bench/mem0_side.py) and its section, at tiny sizes.

Needs the `bench` extra (`make bench` installs mem0ai); skipped without it.
"""

from __future__ import annotations

import importlib.util

import pytest

from bench import mem0_side, peers
from bench.corpus import memories
from memvault.providers.registry import shared_local_embedder

# Not pytest.importorskip: importing mem0 reads MEM0_TELEMETRY and MEM0_DIR once, so the first
# import must be mem0_side.import_mem0's, which sets them.
if importlib.util.find_spec("mem0") is None:
    pytest.skip("mem0ai is in the `bench` extra (make bench)", allow_module_level=True)
mem0_side.import_mem0()

pytestmark = pytest.mark.slow


def test_mem0_finds_what_it_was_given_with_our_embedder(tmp_path):
    with mem0_side.Mem0Side(tmp_path / "mem0") as mem0:
        assert isinstance(mem0.memory.embedding_model, mem0_side.embedding_class())
        coffee = mem0.add("Prefers dark roast coffee in the morning", "user_1")
        mem0.add("Plays tennis on Saturdays", "user_1")
        mem0.add("Prefers green tea", "user_2")

        hits = mem0.search("What coffee do I like?", "user_1", limit=10)
        assert hits[0]["id"] == coffee
        assert {hit["user_id"] for hit in hits} == {"user_1"}
        # The vector it stored is our model's, unit length as Qdrant keeps cosine vectors.
        stored = mem0.memory.vector_store.get(coffee)
        expected = shared_local_embedder().embed(["Prefers dark roast coffee in the morning"])[0]
        assert stored.payload["data"] == "Prefers dark roast coffee in the morning"
        assert hits[0]["score"] == pytest.approx(
            float(expected @ shared_local_embedder().embed(["What coffee do I like?"])[0]),
            abs=1e-4)

    import mem0.memory.telemetry as telemetry

    assert telemetry.MEM0_TELEMETRY is False
    assert mem0_side.outbound_connections() == []


def test_seeded_points_look_like_added_ones(tmp_path):
    texts = memories(50, seed=3)
    with mem0_side.Mem0Side(tmp_path / "mem0") as mem0:
        added = mem0.memory.vector_store.get(mem0.add("Likes hiking in winter", "user_1"))
        mem0.seed("user_1", texts, shared_local_embedder().embed(texts), chunk=20)
        hits = mem0.search(texts[7], "user_1", limit=3)
        assert hits[0]["memory"] == texts[7]
        seeded = mem0.memory.vector_store.get(hits[0]["id"])
        assert seeded.payload.keys() == added.payload.keys()
        storage = mem0._qdrant_storage()  # durability as Mem0 left it
        assert storage.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert storage.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_section_renders_at_tiny_sizes():
    plan = peers.Plan(sizes=[30, 60], distinct=40, searches=5, mem0_search_seconds=0,
                      sequential_adds=5, concurrent_adds=16, window=0.5, updates=2)
    section = peers.run(plan=plan)
    assert section.startswith("## Peers: memvault and Mem0 OSS")
    assert "| 60 | p50 |" in section
    assert "non-loopback connections or name lookups attempted during the run: 0." in section
    assert "update_memories end to end" in section
