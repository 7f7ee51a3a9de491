"""``memvault.client.AsyncClient`` against a live server: the same operations, awaited."""

from __future__ import annotations

import pytest

from memvault import errors
from memvault.client import AsyncClient, AsyncUpdateHandle, StoreOptions
from tests.support.server import LiveServer, free_port


async def test_stores_memories_and_search(aclient: AsyncClient) -> None:
    store = await aclient.create_store("s", options=StoreOptions(chat_summary_enabled=False))
    assert store.options.chat_summary_enabled is False
    assert (await aclient.get_store("s")).id == store.id
    assert (await aclient.update_store("s", metadata={"k": "v"})).metadata == {"k": "v"}
    assert [s.name for s in await aclient.list_stores()] == ["s"]

    tea = await aclient.create_memory("s", scope="u", content="Likes green tea")
    await aclient.create_memory("s", scope="u", content="Owns a red bicycle")
    changed = await aclient.update_memory("s", tea.memory_id, content="Likes oolong tea")
    assert changed.version == 2 and (await aclient.get_memory("s", tea.memory_id)) == changed
    assert [r.version for r in await aclient.memory_history("s", tea.memory_id)] == [1]
    assert len(await aclient.list_memories("s", scope="u")) == 2

    hits = await aclient.search_memories("s", scope="u", messages="Which tea?", max_memories=1)
    assert [hit.memory.content for hit in hits] == ["Likes oolong tea"]
    assert len(await aclient.search_memories("s", scope="other", messages="Which tea?")) == 0

    await aclient.delete_memory("s", tea.memory_id)
    assert await aclient.delete_scope("s", scope="u") == 1
    await aclient.delete_store("s")
    assert len(await aclient.list_stores()) == 0


async def test_update_memories_can_be_awaited(aclient: AsyncClient) -> None:
    await aclient.create_store("s")
    handle = await aclient.update_memories(
        "s", scope="u", update_delay=0,
        messages=[{"role": "user", "content": "I prefer dark roast coffee"},
                  {"role": "assistant", "content": "Noted!"}],
    )
    assert isinstance(handle, AsyncUpdateHandle)
    result = await handle.wait(timeout=120)
    assert result.status == "completed" and handle.status == "completed"
    assert any("dark roast" in op.memory.content for op in result.operations)
    assert (await aclient.get_update("s", handle.update_id)).operations == result.operations


async def test_a_waiting_update_times_out(aclient: AsyncClient) -> None:
    await aclient.create_store("s")
    handle = await aclient.update_memories("s", scope="u", messages="I like tea",
                                           update_delay=3600)
    with pytest.raises(TimeoutError):
        await handle.wait(timeout=0.2)
    assert (await handle.refresh()).status == "queued"


async def test_errors_are_memvaults_own(aclient: AsyncClient) -> None:
    with pytest.raises(errors.StoreNotFound) as missing:
        await aclient.get_store("absent")
    assert missing.value.status_code == 404 and isinstance(missing.value, errors.NotFound)

    await aclient.create_store("s")
    with pytest.raises(errors.StoreAlreadyExists) as taken:
        await aclient.create_store("s")
    assert taken.value.status_code == 409

    with pytest.raises(errors.InvalidRequest) as invalid:
        await aclient.create_memory("s", scope="u", content="")
    assert invalid.value.status_code == 400 and invalid.value.param == "content"
    with pytest.raises(errors.InvalidRequest):
        await aclient.search_memories("s", scope="u", messages="tea", max_memories=0)

    with pytest.raises(errors.MemoryNotFound):
        await aclient.get_memory("s", "mem_00000000000000000000000000")
    with pytest.raises(errors.UpdateNotFound):
        await aclient.get_update("s", "upd_00000000000000000000000000")

    with pytest.raises(errors.AgentNotFound):
        await aclient.get_agent("nobody")
    definition = {"kind": "prompt", "model": "gpt-4.1"}
    assert (await aclient.create_agent("a", definition=definition)).latest.version == "1"
    with pytest.raises(errors.AgentAlreadyExists):
        await aclient.create_agent("a", definition=definition)
    assert [a.name for a in await aclient.list_agents()] == ["a"]
    await aclient.delete_agent("a")


async def test_unauthorized_and_unreachable(client_server: LiveServer) -> None:
    async with AsyncClient(client_server.url) as anonymous:
        assert await anonymous.health()
        with pytest.raises(errors.Unauthorized):
            await anonymous.list_stores()
    async with AsyncClient(f"http://127.0.0.1:{free_port()}") as nowhere:
        assert not await nowhere.health()
        with pytest.raises(errors.ServiceUnavailable):
            await nowhere.get_store("s")
