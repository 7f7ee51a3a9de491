"""Metrics across processes: a server that runs no worker reports the jobs a standalone worker
completed (read from the database), and the worker serves its own model-call counters."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.test_metrics import reply, scrape, value
from tests.support.openai_server import ScriptedOpenAIServer, chat_completion
from tests.support.server import LiveServer, free_port

pytestmark = pytest.mark.slow


def test_a_standalone_workers_jobs_and_tokens_are_visible(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with ScriptedOpenAIServer() as llm:
        models = {"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "sk-test",
                  "MEMVAULT_EXTRACTOR": "llm"}
        llm.enqueue("chat.completions", body=chat_completion("OK", model="gpt-4.1"))  # probe
        with LiveServer(data_dir, env={"MEMVAULT_WORKER": "false", **models}) as server, \
                httpx.Client(base_url=server.project_endpoint, timeout=30) as client:
            client.post("/memory_stores", json={"name": "s", "definition": {
                "chat_model": "gpt-4.1", "embedding_model": "local"}}).raise_for_status()
            update_id = client.post("/memory_stores/s:update_memories", json={
                "scope": "u", "update_delay": 0,
                "items": [{"type": "message", "role": "user", "content": "I speak Estonian"}],
            }).json()["update_id"]
            assert value(scrape(server.url), "memvault_update_jobs", status="queued") == 1

            llm.enqueue("chat.completions", body=reply({"memories": [
                {"kind": "user_profile", "action": "remember", "content": "Speaks Estonian",
                 "topic": "languages", "source_indexes": [0]}]}, 70, 9))
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("MEMVAULT_")}
            env |= {"MEMVAULT_DATA_DIR": str(data_dir), "MEMVAULT_HOST": "127.0.0.1",
                    "MEMVAULT_WORKER_METRICS_PORT": str(port), **models}
            log_path = tmp_path / "worker.log"
            with open(log_path, "wb") as log:
                worker = subprocess.Popen([sys.executable, "-m", "memvault.cli", "worker"],
                                          env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + 60
                while True:
                    state = client.get(f"/memory_stores/s/updates/{update_id}").json()
                    if state["status"] in ("completed", "failed"):
                        break
                    assert worker.poll() is None, log_path.read_text()
                    assert time.monotonic() < deadline, state
                    time.sleep(0.2)
                assert state["status"] == "completed", state

                on_server = scrape(server.url)
                assert value(on_server, "memvault_update_jobs", status="completed") == 1
                assert value(on_server, "memvault_update_jobs", status="queued") == 0

                on_worker = scrape(f"http://127.0.0.1:{port}")
                extraction = {"model": "gpt-4.1", "operation": "extraction"}
                assert value(on_worker, "memvault_llm_tokens_total", direction="input",
                             **extraction) == 70
                assert value(on_worker, "memvault_llm_tokens_total", direction="output",
                             **extraction) == 9
                assert value(on_worker, "memvault_embedding_texts_total",
                             model="all-MiniLM-L6-v2") > 0
            finally:
                worker.terminate()
                assert worker.wait(timeout=30) is not None
