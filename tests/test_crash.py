"""kill -9 right after updates were accepted: after a restart every accepted update completes
exactly once and each fact is stored once."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

FACTS = {
    "alice": ("I am allergic to shellfish", "shellfish"),
    "bob": ("I play the trumpet", "trumpet"),
    "carol": ("I work as a pilot", "pilot"),
    "dave": ("I have a cat named Mochi", "Mochi"),
    "erin": ("I prefer window seats on flights", "window seats"),
}


def wait_done(client: httpx.Client, update_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/memory_stores/s/updates/{update_id}").json()
        if body["status"] in ("completed", "failed", "superseded"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"{update_id} did not finish: {body}")


def test_accepted_updates_survive_kill_9_and_apply_once(tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "data").start()
    try:
        with httpx.Client(base_url=server.project_endpoint, timeout=30) as client:
            client.post("/memory_stores", json={"name": "s"}).raise_for_status()
            accepted = {}
            for scope, (text, _) in FACTS.items():
                response = client.post("/memory_stores/s:update_memories", json={
                    "scope": scope, "update_delay": 1,
                    "items": [{"type": "message", "role": "user", "content": text}]})
                assert response.status_code == 202
                accepted[scope] = response.json()["update_id"]
        server.kill()  # before any update was due: all of them are only in the queue

        server.start()
        with httpx.Client(base_url=server.project_endpoint, timeout=30) as client:
            for scope, update_id in accepted.items():
                done = wait_done(client, update_id)
                assert done["status"] == "completed", done
                assert len(done["result"]["memory_operations"]) == 1
            # A second restart must not run anything again.
        server.restart()
        with httpx.Client(base_url=server.project_endpoint, timeout=30) as client:
            for scope, (_, needle) in FACTS.items():
                memories = client.post("/memory_stores/s/items:list",
                                       json={"scope": scope}).json()["data"]
                matching = [m for m in memories if needle in m["content"]]
                assert len(matching) == 1, (scope, memories)
                assert matching[0]["memvault"]["created_by"] == accepted[scope]
                assert len(memories) == 1, memories
                assert client.get(f"/memory_stores/s/updates/{accepted[scope]}").json()[
                    "memvault"]["attempts"] == 1
    finally:
        server.stop()
