"""``make demo`` (``python -m memvault.demo``) tells its story to the end, offline and with a chat
endpoint."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.chat import chat_completion_stream
from tests.support.openai_server import ScriptedOpenAIServer, chat_completion

pytestmark = pytest.mark.slow


def run_demo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("MEMVAULT_", "OPENAI_", "AZURE_OPENAI_"))}
    return subprocess.run(
        [sys.executable, "-m", "memvault.demo", *args], env={**clean, **(env or {}),
                                                            "COLUMNS": "200"},
        capture_output=True, text=True, timeout=300,
    )


def test_offline_the_echo_responder_shows_the_memory_reaching_the_model() -> None:
    done = run_demo()
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "offline echo responder" in out
    assert "create" in out and "Prefers dark roast coffee" in out
    assert 'You said: "Please order my usual coffee.". Memories in my context: Prefers dark' in out
    assert "done" in out.splitlines()[-1]


def test_with_a_chat_endpoint_the_demo_uses_it() -> None:
    with ScriptedOpenAIServer() as llm:
        llm.enqueue("chat.completions", body=chat_completion("Noted: dark roast."))
        llm.enqueue("chat.completions", raw=chat_completion_stream(["One dark roast, ", "oat milk."]),
                    content_type="text/event-stream")
        llm.enqueue("chat.completions", body=chat_completion("What would you like?"))
        done = run_demo("--model", "my-model",
                        env={"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "test"})
        assert done.returncode == 0, done.stdout + done.stderr
        asked = llm.requests_to("chat.completions")
    assert "One dark roast, oat milk." in done.stdout
    assert "offline echo responder" not in done.stdout
    assert [request.json["model"] for request in asked] == ["my-model"] * 3
    assert "dark roast" in asked[1].json["messages"][0]["content"]
    assert "dark roast" not in str(asked[2].json["messages"])  # the other user
