"""The preview SDK (azure-ai-projects 2.0.0b3, ``client.memory_stores``, api-version
2025-11-15-preview, no ``Foundry-Features``) against a live ``memvault serve``.

2.0.0b3 cannot share an environment with the current SDK, so the flow runs in
``<repo>/.venv-sdk-b3`` (built on first use, see ``conftest.ensure_preview_venv``) as the script
``preview_flow.py``, which asserts each step and prints a JSON summary checked here.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.sdk.conftest import PREVIEW_SDK_VERSION, require_preview_python
from tests.support.venvs import VenvError
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

FLOW = Path(__file__).with_name("preview_flow.py")
PROFILE = [
    "Prefers dark roast coffee, usually in the morning",
    "Has a golden retriever named Max",
    "Is allergic to peanuts",
]


def seed(endpoint: str, store: str, scope: str) -> None:
    """This SDK cannot write single memories, so the test writes them over plain HTTP."""
    with httpx.Client(base_url=endpoint, timeout=30) as http:
        response = http.post("/memory_stores", json={"name": store})
        assert response.status_code == 200, response.text
        for content in PROFILE:
            response = http.post(f"/memory_stores/{store}/items",
                                 json={"scope": scope, "content": content, "kind": "user_profile"})
            assert response.status_code == 200, response.text
        response = http.post(f"/memory_stores/{store}/items",
                             json={"scope": scope, "content": "Talked about Oslo",
                                   "kind": "chat_summary"})
        assert response.status_code == 200, response.text


def test_preview_sdk_flow(live_server: LiveServer, preview_venv: Path | VenvError) -> None:
    preview_python = require_preview_python(preview_venv)
    endpoint = f"{live_server.url}/api/projects/preview-sdk"
    seed(endpoint, "seeded", "user_1")
    env = {key: value for key, value in os.environ.items() if not key.startswith("AZURE_")}
    done = subprocess.run(
        [str(preview_python), str(FLOW), "--endpoint", endpoint, "--seeded-store", "seeded",
         "--scope", "user_1"],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert done.returncode == 0, (
        f"preview flow failed ({done.returncode}):\n{done.stderr[-6000:]}\n{done.stdout[-2000:]}"
        f"\nserver log:\n{live_server.log()[-3000:]}"
    )
    summary = json.loads(done.stdout.strip().splitlines()[-1])

    assert summary["sdk_version"] == PREVIEW_SDK_VERSION
    assert summary["api_versions"] == ["2025-11-15-preview"]
    assert summary["foundry_features_sent"] is False
    stores = ["preview-a", "preview-b", "preview-c", "seeded"]
    assert sorted(summary["listed"]) == stores  # limit=1: each store exactly once
    assert len(stores) <= summary["list_requests"] <= len(stores) + 1  # and the pager stopped
    assert sorted(summary["search"]["static"]) == sorted(PROFILE)
    assert summary["search"]["coffee"] == [PROFILE[0]]
    assert summary["search"]["chained"][0] == PROFILE[2]
    assert summary["search"]["empty_scope_memories"] == []
    assert summary["errors"] == {
        "missing_store": ["ResourceNotFoundError", 404],
        "duplicate_store": ["ResourceExistsError", 409],
        "empty_scope": ["HttpResponseError", 400],
    }
    assert summary["after_delete"] == {"scope_memories": [],
                                       "stores": ["preview-a", "preview-b", "seeded"]}
