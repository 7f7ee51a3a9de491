"""`memvault worker` as a process of its own, next to a server that runs no worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.server import LiveServer

pytestmark = pytest.mark.slow


def test_standalone_worker_processes_updates_accepted_by_the_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with LiveServer(data_dir, env={"MEMVAULT_WORKER": "false"}) as server:
        with httpx.Client(base_url=server.project_endpoint, timeout=30) as client:
            client.post("/memory_stores", json={"name": "s"}).raise_for_status()
            update_id = client.post("/memory_stores/s:update_memories", json={
                "scope": "u", "update_delay": 0,
                "items": [{"type": "message", "role": "user", "content": "I speak Estonian"}],
            }).json()["update_id"]
            time.sleep(1.5)
            state = client.get(f"/memory_stores/s/updates/{update_id}").json()
            assert state["status"] == "queued", "the server must not process updates itself"

            env = {k: v for k, v in os.environ.items() if not k.startswith("MEMVAULT_")}
            env["MEMVAULT_DATA_DIR"] = str(data_dir)
            log_path = tmp_path / "worker.log"
            with open(log_path, "wb") as log:
                worker = subprocess.Popen([sys.executable, "-m", "memvault.cli", "worker"],
                                          env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    state = client.get(f"/memory_stores/s/updates/{update_id}").json()
                    if state["status"] == "completed":
                        break
                    assert worker.poll() is None, log_path.read_text()
                    time.sleep(0.2)
                assert state["status"] == "completed", state
                found = client.post("/memory_stores/s:search_memories", json={
                    "scope": "u", "items": "Which languages do I speak?"}).json()
                assert any("Estonian" in m["memory_item"]["content"] for m in found["memories"])
            finally:
                worker.terminate()
                assert worker.wait(timeout=30) is not None
