"""Every error path of the OpenAI-compatible face (both prefixes): the right status, OpenAI's
body ``{"error": {"message", "type", "param", "code"}}`` and nothing else, and no change."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from memvault.api.app import create_app
from memvault.storage.agents import open_agent_store
from tests.support.agents import make_agent, new_conversation
from tests.conftest import FOUNDRY, make_settings
from tests.support.chat import ScriptedGenerator

BASES = [f"{FOUNDRY}/openai/v1", f"{FOUNDRY}/openai"]
AGENT = {"agent_reference": {"name": "coffee-bot", "type": "agent_reference"}}
LONG = "x" * 200_001

# (method, path under the base, body or raw bytes, headers, status, code); {c} is a conversation.
CASES = [
    # a query parameter given twice
    ("GET", "/conversations/{c}/items?after=a&after=b", None, {}, 400, "invalid_request"),
    # responses
    ("POST", "/responses", b"{not json", {}, 400, "invalid_request"),
    ("POST", "/responses", b"[1]", {}, 400, "invalid_request"),
    ("POST", "/responses", {"input": "Hi"}, {}, 400, "invalid_request"),
    ("POST", "/responses", {"input": 5, **AGENT}, {}, 400, "invalid_request"),
    ("POST", "/responses", {"input": "Hi", "agent_reference": {"version": "1"}}, {}, 400,
     "invalid_request"),
    ("POST", "/responses", {"input": "Hi", "agent_reference": {"name": "bad_name"}}, {}, 400,
     "invalid_request"),
    ("POST", "/responses", {"input": "Hi", "agent_reference": {"name": "nobody"}}, {}, 404,
     "not_found"),
    ("POST", "/responses", {"input": "Hi", "agent_reference": {"name": "coffee-bot",
                                                               "version": "9"}}, {}, 404,
     "not_found"),
    ("POST", "/responses", {"input": "Hi", "agent_reference": {"name": "coffee-bot",
                                                               "version": "one"}}, {}, 404,
     "not_found"),
    ("POST", "/responses", {"input": "Hi", "agent_reference": {"name": "coffee-bot"},
                            "agent": {"name": "other-bot"}}, {}, 400, "invalid_request"),
    ("POST", "/responses", {"input": "Hi", "conversation": "conv_missing", **AGENT}, {}, 404,
     "not_found"),
    ("POST", "/responses", {"input": "Hi", "previous_response_id": "resp_missing", **AGENT}, {},
     404, "not_found"),
    ("POST", "/responses", {"input": "Hi", "conversation": "{c}",
                            "previous_response_id": "resp_x", **AGENT}, {}, 400,
     "invalid_request"),
    ("POST", "/responses", {"input": "", **AGENT}, {}, 400, "invalid_request"),
    ("POST", "/responses", {"input": [], **AGENT}, {}, 400, "invalid_request"),
    ("POST", "/responses", {"input": [{"role": "robot", "content": "x"}], **AGENT}, {}, 400,
     "invalid_request"),
    ("POST", "/responses", {"input": [{"type": "function_call_output", "output": "x"}], **AGENT},
     {}, 400, "invalid_request"),
    ("POST", "/responses", {"input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": "http://x"}]}], **AGENT}, {}, 400, "invalid_request"),
    ("POST", "/responses", {"input": LONG, **AGENT}, {}, 400, "invalid_request"),
    ("POST", "/responses", {"input": "a\x00b", **AGENT}, {}, 400, "invalid_request"),
    ("POST", "/responses", {"input": "Hi", "tools": [{"type": "web_search"}], **AGENT}, {}, 400,
     "invalid_request"),
    ("POST", "/responses", {"input": "Hi", "temperature": 5, **AGENT}, {}, 400,
     "invalid_request"),
    ("POST", "/responses", {"input": "Hi", **AGENT}, {"x-memory-user-id": ""}, 400,
     "invalid_request"),
    ("POST", "/responses", {"input": "Hi", **AGENT}, {"x-memory-user-id": "u" * 3000}, 400,
     "invalid_request"),
    ("POST", "/responses", {"input": "Hi", "agent_reference": {"name": "orphan-bot"}}, {}, 404,
     "not_found"),
    ("GET", "/responses/resp_missing", None, {}, 404, "not_found"),
    ("DELETE", "/responses/resp_missing", None, {}, 404, "not_found"),
    ("GET", "/responses/resp_missing/input_items", None, {}, 404, "not_found"),
    # conversations
    ("POST", "/conversations", {"items": "nope"}, {}, 400, "invalid_request"),
    ("POST", "/conversations", {"items": [{"role": "user", "content": "x"}] * 21}, {}, 400,
     "invalid_request"),
    ("POST", "/conversations", {"metadata": {"k": 1}}, {}, 400, "invalid_request"),
    ("GET", "/conversations/conv_missing", None, {}, 404, "not_found"),
    ("POST", "/conversations/conv_missing", {"metadata": {}}, {}, 404, "not_found"),
    ("POST", "/conversations/{c}", {}, {}, 400, "invalid_request"),
    ("DELETE", "/conversations/conv_missing", None, {}, 404, "not_found"),
    ("POST", "/conversations/conv_missing/items", {"items": [{"role": "user", "content": "x"}]},
     {}, 404, "not_found"),
    ("POST", "/conversations/{c}/items", {"items": []}, {}, 400, "invalid_request"),
    ("POST", "/conversations/{c}/items", {}, {}, 400, "invalid_request"),
    ("POST", "/conversations/{c}/items", {"items": [{"role": "user", "content": 7}]}, {}, 400,
     "invalid_request"),
    ("GET", "/conversations/conv_missing/items", None, {}, 404, "not_found"),
    ("GET", "/conversations/{c}/items?limit=0", None, {}, 400, "invalid_request"),
    ("GET", "/conversations/{c}/items?limit=101", None, {}, 400, "invalid_request"),
    ("GET", "/conversations/{c}/items?order=up", None, {}, 400, "invalid_request"),
    ("GET", "/conversations/{c}/items/msg_missing", None, {}, 404, "not_found"),
    ("DELETE", "/conversations/{c}/items/msg_missing", None, {}, 404, "not_found"),
    # methods
    ("PUT", "/responses", {"input": "Hi"}, {}, 405, "method_not_allowed"),
]


@pytest.fixture
async def ready(app: FastAPI, client: httpx.AsyncClient) -> str:
    app.state.agents.generator = ScriptedGenerator()
    await make_agent(client, scope="u1")
    await make_agent(client, "orphan-bot", store="doomed", scope="u1")
    await client.delete(f"{FOUNDRY}/memory_stores/doomed")
    return await new_conversation(client, items=[{"role": "user", "content": "kept"}])


async def _snapshot(client: httpx.AsyncClient, conversation: str) -> tuple:
    items = (await client.get(f"{BASES[0]}/conversations/{conversation}/items")).json()["data"]
    agents = (await client.get(f"{FOUNDRY}/agents")).json()["data"]
    return [item["id"] for item in items], [a["versions"]["latest"]["id"] for a in agents]


def assert_openai_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert error["type"] in ("invalid_request_error", "authentication_error", "server_error")


@pytest.mark.parametrize("base", BASES)
async def test_every_error_path_has_openais_shape_and_changes_nothing(
    client: httpx.AsyncClient, ready: str, base: str
) -> None:
    before = await _snapshot(client, ready)
    for method, path, body, headers, status, code in CASES:
        url = base + path.replace("{c}", ready)
        kwargs: dict = {"headers": headers}
        if isinstance(body, bytes):
            kwargs |= {"content": body, "headers": {**headers, "content-type": "application/json"}}
        elif body is not None:
            kwargs["json"] = _fill(body, ready)
        response = await client.request(method, url, **kwargs)
        try:
            assert_openai_error(response, status, code)
        except AssertionError as exc:
            raise AssertionError(f"{method} {path} {body!r:.100}: {exc}") from None
    assert await _snapshot(client, ready) == before


def _fill(body: dict, conversation: str) -> dict:
    return {key: (conversation if value == "{c}" else value) for key, value in body.items()}


async def test_a_missing_key_is_refused_in_openais_shape(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path / "data", api_keys="secret"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for base in BASES:
                response = await client.post(f"{base}/conversations", json={})
                assert_openai_error(response, 401, "unauthorized")
                assert response.headers["www-authenticate"] == "Bearer"
                wrong = await client.post(f"{base}/responses", json={"input": "Hi"},
                                          headers={"Authorization": "Bearer nope"})
                assert_openai_error(wrong, 401, "unauthorized")


async def test_unknown_paths_and_methods_under_the_face_too(client: httpx.AsyncClient) -> None:
    for base in BASES:
        assert_openai_error(await client.get(f"{base}/nowhere"), 404, "not_found")
        assert_openai_error(await client.delete(f"{base}/conversations"), 405,
                            "method_not_allowed")
    assert_openai_error(await client.get(f"{BASES[0]}/responses/r/x/y"), 404, "not_found")


async def test_a_method_no_route_has_is_refused_in_openais_shape_with_allow(
    client: httpx.AsyncClient,
) -> None:
    """(Found by schemathesis: TRACE under the face answered in the Foundry shape, and no 405
    said which methods the path has.)"""
    for base in BASES:
        for method in ("TRACE", "PUT"):
            response = await client.request(method, f"{base}/responses/resp_1")
            assert_openai_error(response, 405, "method_not_allowed")
            assert response.headers["allow"] == "DELETE, GET"
        assert_openai_error(await client.request("TRACE", f"{base}/nowhere"), 404, "not_found")


async def test_a_backend_without_an_agent_store_says_so(app: FastAPI,
                                                        client: httpx.AsyncClient) -> None:
    app.state.agents = None  # what a backend without an AgentStore would get
    response = await client.post(f"{BASES[0]}/conversations", json={})
    assert_openai_error(response, 503, "service_unavailable")
    assert "SQLite" in response.json()["error"]["message"]
    foundry = await client.get(f"{FOUNDRY}/agents")
    assert foundry.status_code == 503
    assert foundry.json()["error"]["code"] == "service_unavailable"
    assert open_agent_store(object()) is None
