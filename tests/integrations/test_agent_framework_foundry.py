"""The stock ``FoundryMemoryProvider`` (``agent-framework-foundry``, unchanged) in a real Agent
Framework ``Agent`` against a live memvault: the first session's turn is learned, a second
session gets it as context.

``agent-framework-foundry`` 1.15 (the newest) pins ``azure-ai-projects>=2.2,<2.8`` and memvault's
test extra needs ``azure-ai-projects>=2.10``: pip cannot install both in one environment. So the
agent runs in ``<repo>/.venv-sdk-af-foundry`` (built on first use, reused while it holds that
version) as the script ``agent_framework_foundry_flow.py``; the scripted chat model and memvault
run here.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memvault.client import Client, UpdateHandle
from tests.integrations.conftest import API_KEY
from tests.integrations.test_agent_framework import echo
from tests.support.openai_server import ScriptedOpenAIServer
from tests.support.server import LiveServer
from tests.support.venvs import VenvError, ensure_venv

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
FOUNDRY_VERSION = "1.15.0"
FOUNDRY_VENV = REPO / ".venv-sdk-af-foundry"
FLOW = Path(__file__).with_name("agent_framework_foundry_flow.py")
PROMPT = "## Memories\nConsider the following memories when answering user questions:"


def ensure_foundry_venv(venv: Path = FOUNDRY_VENV, version: str = FOUNDRY_VERSION) -> Path:
    """The python of ``venv``, holding ``agent-framework-foundry==version`` (and what it pins:
    ``azure-ai-projects`` 2.7, ``agent-framework-core``, ``agent-framework-openai``)."""
    return ensure_venv(venv, "agent-framework-foundry", version, module="agent_framework_foundry")


@pytest.fixture(scope="session")
def foundry_venv() -> Path | VenvError:
    """Built once per session; a failure is kept so that the test FAILS with the reason."""
    try:
        return ensure_foundry_venv()
    except VenvError as error:
        return error


@pytest.fixture
def chat_server() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer() as server:
        server.set_default("chat.completions", echo)
        yield server


def test_the_stock_foundry_memory_provider_learns_and_recalls(
        foundry_venv: Path | VenvError, memvault_server: LiveServer, memvault: Client,
        chat_server: ScriptedOpenAIServer, tmp_path: Path) -> None:
    if isinstance(foundry_venv, VenvError):
        pytest.fail(f"cannot build the agent-framework-foundry environment: {foundry_venv}",
                    pytrace=False)
    store = f"af-foundry-{uuid.uuid4().hex[:8]}"
    memvault.create_store(store)

    def turn(message: str, session: Path) -> dict[str, Any]:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("AZURE_", "FOUNDRY_", "OPENAI_"))}
        done = subprocess.run(
            [str(foundry_venv), str(FLOW), "--endpoint", memvault_server.project_endpoint,
             "--token", API_KEY, "--store", store, "--scope", "user_1",
             "--chat-url", chat_server.base_url, "--message", message, "--session", str(session)],
            capture_output=True, text=True, timeout=300, env=env)
        assert done.returncode == 0, (f"the flow failed ({done.returncode}):\n{done.stderr[-6000:]}"
                                      f"\nserver log:\n{memvault_server.log()[-3000:]}")
        return json.loads(done.stdout)

    first_session = tmp_path / "first.json"
    first = turn("I am allergic to peanuts.", first_session)
    assert first["warnings"] == []
    assert first["reply"] == "echo: I am allergic to peanuts."
    # The provider's calls: the static profile, a search with the input, the update.
    calls = [(r["method"], r["url"].split("?")[0].rsplit("/", 1)[1], r["json"])
             for r in first["requests"]]
    assert calls == [
        ("POST", f"{store}:search_memories", {"scope": "user_1"}),
        ("POST", f"{store}:search_memories",
         {"scope": "user_1",
          "items": [{"type": "message", "role": "user", "content": "I am allergic to peanuts."}]}),
        ("POST", f"{store}:update_memories",
         {"scope": "user_1", "update_delay": 0,
          "items": [{"role": "user", "type": "message", "content": "I am allergic to peanuts."},
                    {"role": "assistant", "type": "message",
                     "content": "echo: I am allergic to peanuts."}]}),
    ]

    state = json.loads(first_session.read_text())["state"]["foundry_memory"]
    update = UpdateHandle(memvault, store, memvault.get_update(store, state["previous_update_id"]))
    applied = update.wait(timeout=120)
    assert applied.status == "completed"
    assert [(op.kind, op.memory.content) for op in applied.operations] == [
        ("create", "Is allergic to peanuts")]

    second = turn("What should I cook tonight?", tmp_path / "second.json")
    assert second["warnings"] == []
    first_request, second_request = (request.json["messages"]
                                     for request in chat_server.requests_to("chat.completions"))
    assert not any("Memories" in m["content"] for m in first_request)
    memories = [m["content"] for m in second_request if m["content"].startswith(PROMPT)]
    assert len(memories) == 1 and "Is allergic to peanuts" in memories[0].splitlines()
    assert second_request[-1] == {"role": "user", "content": "What should I cook tonight?"}
