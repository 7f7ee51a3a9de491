"""``docs/SKILL.md``, the coding-agent skill: its front matter is what skill loaders read, and
every Python block in it runs as written.

A block runs when the line before its fence is ``<!-- run: <id> -->``. Each runs as a script
(in this process, as ``python block.py`` would run it) against one live memvault server, with the configuration the skill tells projects to
use (``MEMVAULT_URL``, ``MEMVAULT_API_KEY``) in the environment; the chat model the blocks call
(directly, or through memvault) is the scripted OpenAI-compatible server, which echoes the user.
A block that defines ``test_*`` functions (the skill's own verification test) has them called.
"""

from __future__ import annotations

import io
import re
import runpy
import secrets
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml

from memvault.client import Client
from tests.support.openai_server import RecordedRequest, ScriptedOpenAIServer, chat_completion
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SKILL = ROOT / "docs" / "SKILL.md"
API_KEY = "mv_skill_" + secrets.token_hex(8)
STORE, USER = "assistant", "user-123"
SEEDED = "Is vegetarian"
"""A memory of ``USER`` seeded before the blocks run: the blocks that recall must find it."""

FENCE = re.compile(r"^```(\S*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
RUN_MARKER = re.compile(r"<!-- run: ([a-z0-9-]+) -->\n\Z")


def python_blocks() -> list[tuple[str | None, str]]:
    """Every ```python block of the skill: ``(run id or None, code)``, in order."""
    text = SKILL.read_text()
    blocks = []
    for match in FENCE.finditer(text):
        if match.group(1) != "python":
            continue
        marker = RUN_MARKER.search(text, 0, match.start())
        blocks.append((marker.group(1) if marker else None, match.group(2)))
    return blocks


RUNNABLE = {run_id: code for run_id, code in python_blocks() if run_id}


def test_front_matter_names_the_skill_and_says_when_to_use_it() -> None:
    match = re.match(r"\A---\n(.*?)\n---\n", SKILL.read_text(), re.S)
    assert match, "SKILL.md must start with YAML front matter between --- lines"
    meta = yaml.safe_load(match.group(1))
    # The Agent Skills rules: a lowercase, hyphenated name; a description of at most 1024
    # characters that says what the skill does and when to use it.
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", meta["name"]) and len(meta["name"]) <= 64
    description = meta["description"]
    assert isinstance(description, str) and 0 < len(description) <= 1024
    assert "Use when" in description and "memvault" in description


def test_every_python_block_runs() -> None:
    unmarked = [code.splitlines()[0] for run_id, code in python_blocks() if run_id is None]
    assert not unmarked, f"Python blocks without a run marker (untested): {unmarked}"
    ids = [run_id for run_id, _ in python_blocks()]
    assert len(ids) == len(set(ids)), f"duplicate run ids: {ids}"
    assert {"setup", "agent-framework", "langgraph", "client", "verify"} <= set(RUNNABLE)


def test_readme_links_the_skill() -> None:
    assert "(docs/SKILL.md)" in (ROOT / "README.md").read_text()


# -- running the blocks ------------------------------------------------------------------------


def echo(request: RecordedRequest) -> dict[str, Any]:
    last = [m for m in request.json["messages"] if m["role"] == "user"][-1]["content"]
    return chat_completion(f"echo: {last}")


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer() as server:
        server.set_default("chat.completions", echo)
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory,
           llm: ScriptedOpenAIServer) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("skill") / "data"
    env = {"MEMVAULT_API_KEYS": API_KEY, "OPENAI_BASE_URL": llm.base_url,
           "OPENAI_API_KEY": "scripted", "MEMVAULT_EXTRACTOR": "offline"}
    with LiveServer(data, env=env) as live:
        yield live


@pytest.fixture
def configured(server: LiveServer, llm: ScriptedOpenAIServer,
               monkeypatch: pytest.MonkeyPatch) -> LiveServer:
    """The environment a project following the skill has: memvault's URL and key, and the chat
    model's (here the scripted server)."""
    monkeypatch.setenv("MEMVAULT_URL", server.url)
    monkeypatch.setenv("MEMVAULT_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", llm.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "scripted")
    return server


@pytest.fixture
def memvault(configured: LiveServer, tmp_path: Path) -> Iterator[Client]:
    """The store made by the skill's setup block, with one memory of ``USER`` in it."""
    with Client(configured.url, api_key=API_KEY) as client:
        if not [store for store in client.list_stores(limit=100) if store.name == STORE]:
            run("setup", tmp_path)
            client.create_memory(STORE, scope=USER, content=SEEDED)
        yield client


def run(run_id: str, tmp_path: Path) -> str:
    """Runs one block as ``__main__`` and returns what it printed."""
    script = tmp_path / f"{run_id}.py"
    script.write_text(RUNNABLE[run_id])
    printed = io.StringIO()
    with redirect_stdout(printed):
        namespace = runpy.run_path(str(script), run_name="__main__")
        for name, value in namespace.items():
            if name.startswith("test_") and callable(value):
                value()
    return printed.getvalue()


def chats_since(llm: ScriptedOpenAIServer, seen: int) -> list[str]:
    """The text of each chat request made since ``seen`` requests, messages joined."""
    requests = llm.requests_to("chat.completions")[seen:]
    return ["\n".join(str(m["content"]) for m in r.json["messages"]) for r in requests]


def test_setup_creates_the_store_once_and_may_run_again(memvault: Client, tmp_path: Path) -> None:
    run("setup", tmp_path)
    store = memvault.get_store(STORE)
    assert store.description == "What the assistant remembers about its users"
    assert "credentials" in (store.options.user_profile_details or "")


def test_client_block_gives_the_model_the_users_memories(
        memvault: Client, llm: ScriptedOpenAIServer, tmp_path: Path) -> None:
    seen = len(llm.requests_to("chat.completions"))
    printed = run("client", tmp_path)
    assert "echo: Any dinner ideas for tonight?" in printed
    [chat] = chats_since(llm, seen)
    assert f"- {SEEDED}" in chat


def test_agent_framework_block_adds_memory_and_history(
        memvault: Client, llm: ScriptedOpenAIServer, tmp_path: Path) -> None:
    seen = len(llm.requests_to("chat.completions"))
    printed = run("agent-framework", tmp_path)
    assert "echo: Any dinner ideas for tonight?" in printed
    [chat] = chats_since(llm, seen)
    assert SEEDED in chat
    history = memvault.list_entries(STORE, scope=f"{USER}/chat")
    assert [e.path for e in history if e.path.startswith("/memories/chat-history/")]


def test_langgraph_block_writes_and_recalls_an_entry(memvault: Client, tmp_path: Path) -> None:
    printed = run("langgraph", tmp_path)
    assert "Is vegetarian" in printed
    assert memvault.get_entry(STORE, scope=USER, path="/memories/facts/diet").contents


def test_responses_block_answers_from_a_bound_conversation(
        memvault: Client, llm: ScriptedOpenAIServer, tmp_path: Path) -> None:
    seen = len(llm.requests_to("chat.completions"))
    printed = run("responses", tmp_path)
    assert "echo: Any dinner ideas for tonight?" in printed
    [chat] = chats_since(llm, seen)
    assert SEEDED in chat


def test_verify_block_passes(memvault: Client, tmp_path: Path) -> None:
    run("verify", tmp_path)
    assert memvault.list_memories(STORE, scope="test-user-1").data
