"""``memvault mcp`` driven by the official MCP client, over stdio and streamable HTTP, against a
live memvault server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from mcp import Client as McpClient
from mcp import StdioServerParameters

from memvault import errors
from memvault.client import Client
from tests.integrations.conftest import API_KEY
from tests.support.server import LiveServer, free_port

pytestmark = pytest.mark.slow

TOOLS = {"search_memories", "add_memory", "update_memory", "delete_memory", "list_memories"}


def mcp_args(server: LiveServer, store: str, scope: str, *extra: str) -> list[str]:
    return ["-m", "memvault.cli", "mcp", "--store", store, "--scope", scope,
            "--url", server.url, "--api-key", API_KEY, *extra]


def stdio(server: LiveServer, store: str, scope: str, url: str | None = None) -> McpClient:
    args = mcp_args(server, store, scope)
    if url is not None:
        args[args.index(server.url)] = url
    return McpClient(StdioServerParameters(command=sys.executable, args=args))


def text_of(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


async def call(client: McpClient, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    return result.structured_content


async def exercise(client: McpClient, memvault: Client, store: str, scope: str) -> None:
    """The tools a user relies on, checked against what memvault holds."""
    listed = await client.list_tools()
    assert {tool.name for tool in listed.tools} == TOOLS

    other = memvault.create_memory(store, scope="someone-else", content="Likes green tea")
    added = await call(client, "add_memory", content="Prefers window seats on long flights")
    kept = memvault.get_memory(store, added["memory_id"])
    assert (kept.scope, kept.content, kept.kind) == (
        scope, "Prefers window seats on long flights", "user_profile")
    await call(client, "add_memory", content="Discussed a trip to Lisbon", kind="chat_summary")

    found = await call(client, "search_memories", query="Where do I like to sit on a plane?")
    assert found["memories"][0]["memory_id"] == added["memory_id"]
    assert found["memories"][0]["score"] > 0
    assert other.memory_id not in {m["memory_id"] for m in found["memories"]}
    profile = await call(client, "search_memories")
    assert [m["content"] for m in profile["memories"]] == ["Prefers window seats on long flights"]
    summaries = await call(client, "list_memories", kind="chat_summary")
    assert [m["content"] for m in summaries["memories"]] == ["Discussed a trip to Lisbon"]

    updated = await call(client, "update_memory", memory_id=added["memory_id"],
                         content="Prefers aisle seats on long flights")
    assert updated["content"] == "Prefers aisle seats on long flights"
    assert memvault.get_memory(store, added["memory_id"]).version == 2

    # Another scope's memory is out of reach: a tool error, and the memory is untouched.
    for tool, arguments in (("update_memory", {"content": "hacked"}), ("delete_memory", {})):
        refused = await client.call_tool(tool, {"memory_id": other.memory_id, **arguments})
        assert refused.is_error and "MemoryNotFound" in text_of(refused)
    assert memvault.get_memory(store, other.memory_id).content == "Likes green tea"

    deleted = await call(client, "delete_memory", memory_id=added["memory_id"])
    assert deleted == {"memory_id": added["memory_id"], "deleted": True}
    with pytest.raises(errors.MemoryNotFound):
        memvault.get_memory(store, added["memory_id"])

    # Errors are tool errors; the server keeps serving.
    missing = await client.call_tool("delete_memory", {"memory_id": added["memory_id"]})
    assert missing.is_error and "MemoryNotFound" in text_of(missing)
    invalid = await client.call_tool("add_memory", {"content": "   "})
    assert invalid.is_error and "InvalidRequest" in text_of(invalid)
    assert len((await call(client, "list_memories"))["memories"]) == 1


async def test_stdio(memvault_server: LiveServer, memvault: Client) -> None:
    async with stdio(memvault_server, "mcp-stdio", "user_1") as client:
        await exercise(client, memvault, "mcp-stdio", "user_1")


@pytest.fixture
def mcp_http(memvault_server: LiveServer, tmp_path: Any) -> Iterator[str]:
    port = free_port()
    log = open(tmp_path / "mcp.log", "wb")  # noqa: SIM115 - the child writes to it
    process = subprocess.Popen(
        [sys.executable, *mcp_args(memvault_server, "mcp-http", "user_1", "--http",
                                   "--port", str(port))],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "mcp.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "mcp.log").read_text()
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


async def test_streamable_http(mcp_http: str, memvault: Client) -> None:
    async with McpClient(mcp_http) as client:
        await exercise(client, memvault, "mcp-http", "user_1")


async def test_an_unreachable_memvault_is_a_tool_error(memvault_server: LiveServer) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    async with stdio(memvault_server, "s", "u", url=nowhere) as client:
        for _ in range(2):
            result = await client.call_tool("search_memories", {"query": "anything"})
            assert result.is_error and "could not reach memvault" in text_of(result)


def test_http_refuses_a_public_address() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "memvault.cli", "mcp", "--store", "s", "--scope", "u", "--http",
         "--host", "0.0.0.0"], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "loopback" in done.stderr
