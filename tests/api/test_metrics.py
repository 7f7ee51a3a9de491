"""`GET /metrics`: scraped from a live server after real traffic, an update and LLM calls."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from memvault.api.app import create_app
from tests.conftest import FOUNDRY, make_settings
from tests.support.openai_server import ScriptedOpenAIServer, chat_completion
from tests.support.server import LiveServer
from tests.test_cli import clean_env, command

SEARCH = "/api/projects/{project}/memory_stores/{name}:search_memories"
ITEM = "/api/projects/{project}/memory_stores/{name}/items/{memory_id}"


def scrape(url: str, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``url``'s /metrics: ``(name, sorted labels) -> value``."""
    response = httpx.get(f"{url}/metrics", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def reply(payload: dict, prompt_tokens: int, completion_tokens: int) -> dict:
    body = chat_completion(json.dumps(payload), model="gpt-4.1")
    body["usage"] = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                     "total_tokens": prompt_tokens + completion_tokens}
    return body


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def server(llm: ScriptedOpenAIServer, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("metrics") / "data"
    env = {"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "sk-test",
           "MEMVAULT_EXTRACTOR": "llm"}
    with LiveServer(data, env=env) as running:
        yield running


def wait_for_update(client: httpx.Client, store: str, update_id: str) -> dict:
    deadline = time.monotonic() + 60
    while True:
        body = client.get(f"/memory_stores/{store}/updates/{update_id}").json()
        if body["status"] in ("completed", "failed", "superseded"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


@pytest.mark.slow
def test_counters_move_for_the_right_routes_updates_and_model_calls(
    server: LiveServer, llm: ScriptedOpenAIServer
) -> None:
    before = scrape(server.url)
    llm.enqueue("chat.completions", body=chat_completion("OK", model="gpt-4.1"))  # the probe
    with httpx.Client(base_url=server.project_endpoint, timeout=60) as client:
        created = client.post("/memory_stores", json={"name": "metered", "definition": {
            "chat_model": "gpt-4.1", "embedding_model": "text-embedding-3-small"}})
        assert created.status_code == 200, created.text
        assert created.json()["definition"]["embedding_model"] == "text-embedding-3-small"
        for text in ("Likes green tea", "Works at Contoso"):
            added = client.post("/memory_stores/metered/items", json={
                "scope": "u1", "content": text, "kind": "user_profile"})
            assert added.status_code == 200, added.text
        for question in ("tea?", "work?", "hobbies?"):
            found = client.post("/memory_stores/metered:search_memories", json={
                "scope": "u1", "items": question})
            assert found.status_code == 200, found.text
        assert client.get("/memory_stores/metered/items/mem_nope").status_code == 404
        assert httpx.get(f"{server.url}/no/such/path", timeout=10).status_code == 404
        assert httpx.get(f"{server.url}/ui/", timeout=10).status_code == 200

        llm.enqueue("chat.completions", body=reply({"memories": [
            {"kind": "user_profile", "action": "remember", "content": "Plays chess",
             "topic": "chess", "source_indexes": [0]}]}, 100, 20))
        submitted = client.post("/memory_stores/metered:update_memories", json={
            "scope": "u2", "update_delay": 0,
            "items": [{"type": "message", "role": "user", "content": "I play chess"}]})
        assert submitted.status_code == 202, submitted.text
        done = wait_for_update(client, "metered", submitted.json()["update_id"])
        assert done["status"] == "completed", done

    after = scrape(server.url)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("memvault_http_requests_total", method="POST", route=SEARCH, status="200") == 3
    assert moved("memvault_http_request_duration_seconds_count", method="POST",
                 route=SEARCH) == 3
    assert moved("memvault_http_requests_total", method="GET", route=ITEM, status="404") == 1
    assert moved("memvault_http_requests_total", method="GET", route="unmatched",
                 status="404") == 1
    assert moved("memvault_http_requests_total", method="GET", route="/ui", status="200") == 1
    routes = {dict(labels).get("route") for name, labels in after
              if name == "memvault_http_requests_total"}
    assert not any("metered" in route or "mem_nope" in route for route in routes), routes

    assert value(after, "memvault_update_jobs", status="completed") == 1
    assert value(after, "memvault_update_jobs", status="queued") == 0
    assert value(after, "memvault_memories", project="default", store="metered") == 3
    assert value(after, "memvault_database_up") == 1

    remote = {"model": "text-embedding-3-small"}
    assert moved("memvault_embedding_texts_total", **remote) >= 5  # 2 items, 3 queries
    assert moved("memvault_embedding_tokens_total", **remote) > 0
    assert moved("memvault_embedding_duration_seconds_count", **remote) >= 1
    extraction = {"model": "gpt-4.1", "operation": "extraction"}
    assert moved("memvault_llm_requests_total", outcome="ok", **extraction) == 1
    assert moved("memvault_llm_tokens_total", direction="input", **extraction) == 100
    assert moved("memvault_llm_tokens_total", direction="output", **extraction) == 20
    assert moved("memvault_llm_request_duration_seconds_count", **extraction) == 1


@pytest.mark.slow
def test_every_response_carries_a_request_id_and_text_logs_show_it(server: LiveServer) -> None:
    answered = httpx.get(f"{server.url}/healthz", headers={"x-request-id": "probe-42"}, timeout=10)
    assert answered.headers["x-request-id"] == "probe-42"
    fresh = httpx.get(f"{server.project_endpoint}/memory_stores", timeout=10)
    assert len(fresh.headers["x-request-id"]) == 32
    deadline = time.monotonic() + 30
    while "request_id=probe-42" not in server.log():
        assert time.monotonic() < deadline, server.log()[-2000:]
        time.sleep(0.05)
    [line] = [line for line in server.log().splitlines() if "request_id=probe-42" in line]
    assert "INFO memvault.access: GET /healthz 200" in line


# -- who may scrape -----------------------------------------------------------------------------


@pytest.fixture
async def guarded(tmp_path: Path, request: pytest.FixtureRequest
                  ) -> AsyncIterator[httpx.AsyncClient]:
    data = tmp_path / "data"
    viewer = subprocess.run([*command(), "principals", "create", "viewer"], capture_output=True,
                            text=True, env=clean_env(tmp_path, MEMVAULT_DATA_DIR=str(data)))
    assert viewer.returncode == 0, viewer.stderr
    app = create_app(make_settings(data, api_keys="admin-key", metrics_public=request.param))
    app.state.viewer_key = viewer.stdout.strip().splitlines()[-1]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://memvault.test") as c:
            c.headers["x-viewer"] = app.state.viewer_key
            yield c


@pytest.mark.parametrize("guarded", [False], indirect=True)
async def test_metrics_need_an_admin_key_by_default(guarded: httpx.AsyncClient) -> None:
    viewer = guarded.headers.pop("x-viewer")
    anonymous = await guarded.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthorized"
    not_admin = await guarded.get("/metrics", headers={"Authorization": f"Bearer {viewer}"})
    assert not_admin.status_code == 403
    assert "admin" in not_admin.json()["error"]["message"]
    admin = await guarded.get("/metrics", headers={"Authorization": "Bearer admin-key"})
    assert admin.status_code == 200
    assert "memvault_database_up 1.0" in admin.text


@pytest.mark.parametrize("guarded", [True], indirect=True)
async def test_public_metrics_open_only_metrics(guarded: httpx.AsyncClient) -> None:
    guarded.headers.pop("x-viewer")
    assert (await guarded.get("/metrics")).status_code == 200
    assert (await guarded.get(f"{FOUNDRY}/memory_stores")).status_code == 401
