"""Conversations bound to a memory store and a scope, with the official ``openai`` client against a
live ``memvault serve`` (on SQLite and on PostgreSQL) and the scripted chat server: the binding
is given once, Databricks-style, in ``conversations.create(extra_body=...)``; every response of
the conversation then searches that store and scope and learns into it, and an agent's shared
(organization) scope is read alongside it but never written.

Extraction is offline (``MEMVAULT_EXTRACTOR=offline``: it learns "I prefer ..." sentences) and
a bound conversation learns at once (``MEMVAULT_CONVERSATION_UPDATE_DELAY=0``)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.sdk.conftest import project_name
from tests.support.openai_server import ScriptedOpenAIServer, chat_completion
from tests.support.postgres import EmbeddedPostgres, postgres_server  # noqa: F401 (fixture)
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

STORE = "prefs"


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer() as server:
        server.set_default("chat.completions", lambda request: chat_completion("Noted!"))
        yield server


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def live(request: pytest.FixtureRequest, llm: ScriptedOpenAIServer,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "test",
           "MEMVAULT_EXTRACTOR": "offline", "MEMVAULT_CONVERSATION_UPDATE_DELAY": "0"}
    with contextlib.ExitStack() as stack:
        if request.param == "postgres":
            server: EmbeddedPostgres = request.getfixturevalue("postgres_server")
            env["MEMVAULT_DATABASE_URL"] = stack.enter_context(server.database())
        data = tmp_path_factory.mktemp(f"bound-{request.param}") / "data"
        yield stack.enter_context(LiveServer(data, env=env))


class Project:
    """One test's project on the live server: its REST endpoint and an ``openai`` client."""

    def __init__(self, server: LiveServer, name: str) -> None:
        self.name = name
        self.endpoint = f"{server.url}/api/projects/{name}"
        self.http = httpx.Client(base_url=self.endpoint, timeout=30)
        self.openai = openai.OpenAI(base_url=f"{self.endpoint}/openai/v1", api_key="unused",
                                    max_retries=0)

    def close(self) -> None:
        self.http.close()
        self.openai.close()

    def create_store(self, name: str = STORE) -> None:
        response = self.http.post("/memory_stores", json={"name": name, "definition": {
            "chat_model": "gpt-4.1", "embedding_model": "text-embedding-3-small"}})
        assert response.status_code == 200, response.text

    def remember(self, scope: str, content: str) -> None:
        response = self.http.post(f"/memory_stores/{STORE}/items", json={
            "scope": scope, "content": content, "kind": "user_profile"})
        assert response.status_code == 200, response.text

    def memories(self, scope: str) -> list[str]:
        response = self.http.get(f"/memory_stores/{STORE}/items:list",
                                 params={"scope": scope, "limit": 100})
        assert response.status_code == 200, response.text
        return sorted(item["content"] for item in response.json()["data"])

    def make_agent(self, name: str, **tool: Any) -> None:
        definition = {"kind": "prompt", "model": "gpt-4.1", "instructions": "Be helpful.",
                      "tools": [{"type": "memory_search_preview", "memory_store_name": STORE,
                                 **tool}]}
        response = self.http.post(f"/agents/{name}/versions", json={"definition": definition})
        assert response.status_code == 200, response.text

    def learned(self, response: Any) -> None:
        """Until every update the response queued has finished (and none failed)."""
        for update in response.memvault["memory_updates"]:
            url = f"/memory_stores/{update['memory_store_name']}/updates/{update['update_id']}"
            deadline = time.monotonic() + 30
            while (state := self.http.get(url).json())["status"] not in (
                    "completed", "failed", "superseded"):
                assert time.monotonic() < deadline, state
                time.sleep(0.1)
            assert state["status"] != "failed", state


@pytest.fixture
def project(live: LiveServer, request: pytest.FixtureRequest) -> Iterator[Project]:
    # A schema name has at most 63 characters: the project must be one to have a full name.
    digest = hashlib.sha256(project_name(request).encode()).hexdigest()[:16]
    project = Project(live, f"bound-{digest}")
    yield project
    project.close()


def bind(project: Project, scope: str, *, name: str | None = None,
         kind: str = "user") -> Any:
    """``conversations.create`` with the Databricks ``extra_body``; ``name`` defaults to the
    store's full name ``main.<project>.prefs``."""
    return project.openai.conversations.create(extra_body={
        "memory_store": {"name": name or f"main.{project.name}.{STORE}"},
        "scope": {"kind": kind, "value": scope},
    })


def searches(response: Any) -> list[dict[str, Any]]:
    """Each ``memory_search_call`` item: where it searched and what it found."""
    return [
        {**item.memvault, "found": sorted(r["memory_item"]["content"] for r in item.results)}
        for item in response.output if item.type == "memory_search_call"
    ]


def system_prompt(llm: ScriptedOpenAIServer) -> str:
    return llm.requests_to("chat.completions")[-1].json["messages"][0]["content"]


def test_a_bound_conversation_searches_and_learns_its_scope_without_naming_it(
    project: Project, llm: ScriptedOpenAIServer
) -> None:
    project.create_store()
    project.remember("user-1", "Prefers dark roast coffee")
    project.remember("user-2", "Prefers green tea")

    conversation = bind(project, "user-1")
    assert conversation.memory_store == {"name": STORE,
                                         "full_name": f"main.{project.name}.{STORE}"}
    assert conversation.scope == {"kind": "user", "value": "user-1"}
    assert project.openai.conversations.retrieve(conversation.id).scope == conversation.scope

    # A plain model response: no agent, no tool, no scope in the request.
    first = project.openai.responses.create(
        model="gpt-4.1", conversation=conversation.id, input="I prefer oat milk in my coffee")
    assert first.output_text == "Noted!"
    assert searches(first) == [{"memory_store_name": STORE, "scope": "user-1", "role": "personal",
                                "learns": True, "static_memories": 1,
                                "found": ["Prefers dark roast coffee"]}]
    assert "dark roast" in system_prompt(llm) and "green tea" not in system_prompt(llm)
    assert [(u["memory_store_name"], u["scope"]) for u in first.memvault["memory_updates"]] == [
        (STORE, "user-1")]
    project.learned(first)
    assert any("oat milk" in memory for memory in project.memories("user-1"))
    assert project.memories("user-2") == ["Prefers green tea"]

    # The second response finds what the first one taught, in the same scope.
    second = project.openai.responses.create(
        model="gpt-4.1", conversation=conversation.id, input="What milk do I take?")
    [search] = searches(second)
    assert search["scope"] == "user-1" and search["static_memories"] == 0
    assert any("oat milk" in memory for memory in search["found"])
    assert "oat milk" in system_prompt(llm)
    items = project.openai.conversations.items.list(conversation.id, order="asc")
    assert [item.type for item in items] == ["message", "memory_search_call", "message"] * 2


def test_a_personal_and_a_shared_organization_scope_in_one_conversation(
    project: Project, llm: ScriptedOpenAIServer
) -> None:
    project.create_store()
    project.make_agent("travel-desk", scope="org-acme", update_delay=0)
    project.remember("org-acme", "Company policy: economy class on flights under six hours")
    project.remember("user-1", "Prefers aisle seats on flights")
    project.remember("user-2", "Prefers window seats on flights")

    conversation = bind(project, "user-1")
    response = project.openai.responses.create(
        conversation=conversation.id, input="I prefer flying in the morning. Book my flight.",
        extra_body={"agent_reference": {"name": "travel-desk", "type": "agent_reference"}},
        extra_headers={"x-memory-user-id": "user-2"})  # the binding decides, not the header
    assert searches(response) == [
        {"memory_store_name": STORE, "scope": "user-1", "role": "personal", "learns": True,
         "static_memories": 1, "found": ["Prefers aisle seats on flights"]},
        {"memory_store_name": STORE, "scope": "org-acme", "role": "shared", "learns": False,
         "static_memories": 1,
         "found": ["Company policy: economy class on flights under six hours"]},
    ]
    prompt = system_prompt(llm)
    assert "aisle seats" in prompt and "economy class" in prompt and "window" not in prompt
    assert prompt.index("aisle seats") < prompt.index("economy class")  # personal first

    # Only the personal scope learns from the turn; the organization's scope is untouched.
    assert [u["scope"] for u in response.memvault["memory_updates"]] == ["user-1"]
    project.learned(response)
    assert any("morning" in memory for memory in project.memories("user-1"))
    assert project.memories("org-acme") == [
        "Company policy: economy class on flights under six hours"]
    assert project.memories("user-2") == ["Prefers window seats on flights"]


def test_a_userid_tool_on_the_bound_store_is_the_personal_memory(
    project: Project, llm: ScriptedOpenAIServer
) -> None:
    project.create_store()
    project.make_agent("barista", scope="{{$userId}}", update_delay=0,
                       search_options={"max_memories": 1})
    project.remember("user-1", "Prefers dark roast coffee")
    conversation = bind(project, "user-1", name=STORE)  # the short name works too
    response = project.openai.responses.create(
        conversation=conversation.id, input="I prefer a double shot",
        extra_body={"agent_reference": {"name": "barista"}})
    [search] = searches(response)  # one search: {{$userId}} is the binding's scope
    assert (search["scope"], search["role"], search["learns"]) == ("user-1", "personal", True)
    project.learned(response)
    assert any("double shot" in memory for memory in project.memories("user-1"))


def test_the_preview_path_serves_bound_conversations_too(
    project: Project, llm: ScriptedOpenAIServer
) -> None:
    project.create_store()
    project.remember("user-9", "Prefers jasmine tea")
    with openai.OpenAI(base_url=f"{project.endpoint}/openai", api_key="unused",
                       default_query={"api-version": "2025-11-15-preview"}) as preview:
        conversation = preview.conversations.create(extra_body={
            "memory_store": {"name": STORE}, "scope": {"kind": "user_defined",
                                                      "value": "user-9"}})
        assert conversation.scope == {"kind": "user_defined", "value": "user-9"}
        response = preview.responses.create(
            model="gpt-4.1", conversation=conversation.id, input="Tea time?")
    [search] = searches(response)
    assert search["scope"] == "user-9" and search["found"] == ["Prefers jasmine tea"]
    assert "jasmine" in system_prompt(llm)


def test_bad_bindings_are_refused_and_a_binding_never_changes(project: Project) -> None:
    project.create_store()
    client = project.openai

    def refused(error: type[openai.APIStatusError], **extra_body: Any) -> dict[str, Any]:
        with pytest.raises(error) as raised:
            client.conversations.create(extra_body=extra_body)
        return raised.value.body  # type: ignore[return-value]

    missing = refused(openai.NotFoundError, memory_store={"name": "nope"},
                      scope={"kind": "user", "value": "u"})
    assert missing["code"] == "not_found" and f"main.{project.name}.nope" in missing["message"]
    for scope, param in (({"kind": "user"}, "scope.value"), ({"kind": "user", "value": " "},
                         "scope.value"), ({"kind": "User!", "value": "u"}, "scope.kind")):
        body = refused(openai.BadRequestError, memory_store={"name": STORE}, scope=scope)
        assert body["param"] == param, body
    assert refused(openai.BadRequestError, memory_store={"name": STORE})["param"] == "scope"
    assert refused(openai.BadRequestError, scope={"value": "u"})["param"] == "memory_store"
    other = refused(openai.BadRequestError, memory_store={"name": "main.elsewhere.prefs"},
                    scope={"value": "u"})
    assert "main.elsewhere" in other["message"]

    conversation = bind(project, "user-1")
    for change in ({"scope": {"kind": "user", "value": "user-2"}},
                   {"memory_store": {"name": "other"}, "metadata": {}}):
        with pytest.raises(openai.BadRequestError) as raised:
            client.conversations.update(conversation.id, metadata={"k": "v"}, extra_body=change)
        assert "cannot be changed" in raised.value.message
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model="gpt-4.1", conversation=conversation.id, input="Hi",
                                extra_body={"scope": {"kind": "user", "value": "user-2"}})
    assert raised.value.body["param"] == "scope"  # type: ignore[index]
    kept = client.conversations.retrieve(conversation.id)
    assert kept.scope == {"kind": "user", "value": "user-1"} and kept.metadata == {}
    assert list(client.conversations.items.list(conversation.id)) == []

    # A store deleted after the binding: the conversation's next response is a 404.
    assert project.http.delete(f"/memory_stores/{STORE}").status_code == 200
    with pytest.raises(openai.NotFoundError) as raised:
        client.responses.create(model="gpt-4.1", conversation=conversation.id, input="Hi")
    assert raised.value.body["param"] == "memory_store.name"  # type: ignore[index]


def test_the_conversation_object_parses_with_the_sdk(project: Project) -> None:
    project.create_store()
    conversation = bind(project, "user-1")
    raw = project.http.get(f"/openai/v1/conversations/{conversation.id}").json()
    assert json.loads(conversation.model_dump_json()) == raw


# -- the Databricks face: POST /api/2.1/unity-catalog/conversations ---------------------------

CONVERSATIONS = "/api/2.1/unity-catalog/conversations"


def databricks_error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"} and body["error_code"] == code, body
    return body["message"]


def test_a_conversation_made_on_the_databricks_face_is_served_by_responses(
    project: Project, live: LiveServer, llm: ScriptedOpenAIServer
) -> None:
    full_name = f"main.{project.name}.{STORE}"
    with httpx.Client(base_url=live.url, timeout=30) as uc:
        store = uc.post("/api/2.1/unity-catalog/memory-stores", json={
            "name": STORE, "catalog_name": "main", "schema_name": project.name})
        assert store.status_code == 200, store.text
        project.remember("user-123", "Prefers concise answers by email")

        created = uc.post(CONVERSATIONS, json={
            "memory_store": {"name": full_name}, "scope": {"kind": "user", "value": "user-123"},
            "metadata": {"case": "c-1"},
            "items": [{"role": "user", "content": "Hello"}]})
        assert created.status_code == 200, created.text
        conversation = created.json()
        assert conversation["memory_store"] == {"name": full_name}
        assert conversation["scope"] == {"kind": "user", "value": "user-123"}
        assert conversation["metadata"] == {"case": "c-1"}
        cid = conversation["id"]
        assert uc.get(f"{CONVERSATIONS}/{cid}").json() == conversation

        # Responses are made on the project's OpenAI-compatible endpoint, memory not named.
        response = project.openai.responses.create(
            model="gpt-4.1", conversation=cid, input="I prefer replies in bullet points")
        [search] = searches(response)
        assert (search["scope"], search["role"]) == ("user-123", "personal")
        assert search["found"] == ["Prefers concise answers by email"]
        assert [u["scope"] for u in response.memvault["memory_updates"]] == ["user-123"]
        project.learned(response)
        assert any("bullet points" in memory for memory in project.memories("user-123"))

        # The same conversation on both faces: items, metadata, deletion.
        items = uc.get(f"{CONVERSATIONS}/{cid}/items", params={"order": "asc"}).json()
        assert [item["type"] for item in items["data"]] == [
            "message", "message", "memory_search_call", "message"]
        first = items["data"][0]["id"]
        assert uc.get(f"{CONVERSATIONS}/{cid}/items/{first}").json() == items["data"][0]
        added = uc.post(f"{CONVERSATIONS}/{cid}/items",
                        json={"items": [{"role": "user", "content": "More"}]})
        assert added.status_code == 200 and len(added.json()["data"]) == 1
        assert uc.delete(f"{CONVERSATIONS}/{cid}/items/{first}").json()["id"] == cid
        updated = uc.post(f"{CONVERSATIONS}/{cid}", json={"metadata": {"case": "c-2"}})
        assert updated.json()["metadata"] == {"case": "c-2"}
        assert project.openai.conversations.retrieve(cid).metadata == {"case": "c-2"}
        assert uc.delete(f"{CONVERSATIONS}/{cid}").json() == {}
        databricks_error(uc.get(f"{CONVERSATIONS}/{cid}"), 404, "NOT_FOUND")


def test_databricks_conversation_errors_and_a_fixed_binding(
    project: Project, live: LiveServer
) -> None:
    project.create_store()
    full_name = f"main.{project.name}.{STORE}"
    with httpx.Client(base_url=live.url, timeout=30) as uc:
        def create(**body: Any) -> httpx.Response:
            return uc.post(CONVERSATIONS, json=body)

        message = databricks_error(
            create(memory_store={"name": f"main.{project.name}.nope"},
                   scope={"kind": "user", "value": "u"}),
            404, "RESOURCE_DOES_NOT_EXIST")
        assert f"main.{project.name}.nope" in message
        databricks_error(create(scope={"kind": "user", "value": "u"}), 400,
                         "INVALID_PARAMETER_VALUE")
        databricks_error(create(memory_store={"name": STORE}, scope={"value": "u"}), 400,
                         "INVALID_PARAMETER_VALUE")  # not a full name
        for scope in (None, {"kind": "user"}, {"kind": "user", "value": ""}):
            assert "scope" in databricks_error(
                create(memory_store={"name": full_name}, scope=scope), 400,
                "INVALID_PARAMETER_VALUE")
        databricks_error(uc.get(f"{CONVERSATIONS}/conv_missing"), 404, "NOT_FOUND")

        cid = create(memory_store={"name": full_name},
                     scope={"kind": "user_defined", "value": "CUST-002"}).json()["id"]
        refused = uc.post(f"{CONVERSATIONS}/{cid}", json={
            "metadata": {}, "scope": {"kind": "user", "value": "someone-else"}})
        assert "cannot be changed" in databricks_error(refused, 400, "INVALID_PARAMETER_VALUE")
        databricks_error(uc.post(f"{CONVERSATIONS}/{cid}", json={}), 400,
                         "INVALID_PARAMETER_VALUE")
        kept = uc.get(f"{CONVERSATIONS}/{cid}").json()
        assert kept["scope"] == {"kind": "user_defined", "value": "CUST-002"}
        assert kept["metadata"] == {}
