"""The how-to's first path with the official SDKs against a live ``memvault serve``: agents from
``azure-ai-projects`` 2.10, conversations and responses from the ``openai`` client that
``AIProjectClient.get_openai_client()`` builds, and a scripted OpenAI-compatible chat server that
records what the model is asked. Extraction stays offline (``MEMVAULT_EXTRACTOR=offline``)."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
from azure.ai.projects.models import (
    AgentDetails,
    AgentVersionDetails,
    MemorySearchOptions,
    MemorySearchPreviewTool,
    MemoryStoreDefaultDefinition,
    MemoryStoreDefaultOptions,
    PromptAgentDefinition,
)
from azure.core.exceptions import ResourceNotFoundError
from openai.types.responses import (
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseTextDeltaEvent,
)

from tests.sdk.conftest import project_name
from tests.support.azure import project_client
from tests.support.chat import chat_completion_stream
from tests.support.openai_server import ScriptedOpenAIServer, chat_completion
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

STREAM_ORDER = [
    "response.created", "response.in_progress",
    "response.output_item.added", "response.output_item.done",
    "response.output_item.added", "response.content_part.added",
    "response.output_text.delta", "response.output_text.delta",
    "response.output_text.done", "response.content_part.done", "response.output_item.done",
    "response.completed",
]


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer() as server:
        server.set_default("chat.completions", lambda request: chat_completion("Noted!"))
        yield server


@pytest.fixture(scope="module")
def agent_server(llm: ScriptedOpenAIServer, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[LiveServer]:
    env = {"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "test",
           "MEMVAULT_EXTRACTOR": "offline"}
    with LiveServer(tmp_path_factory.mktemp("agents") / "data", env=env) as server:
        yield server


@pytest.fixture
def endpoint(agent_server: LiveServer, request: pytest.FixtureRequest) -> str:
    return f"{agent_server.url}/api/projects/{project_name(request)}"


@pytest.fixture
def project(endpoint: str) -> Iterator[Any]:
    with project_client(endpoint) as client:
        yield client


@pytest.fixture
def openai_client(project: Any) -> Iterator[openai.OpenAI]:
    """``project.get_openai_client()``: base URL ``{endpoint}/openai/v1/``, a bearer token."""
    with project.get_openai_client() as client:
        yield client


def make_store(project: Any, name: str = "my_memory_store") -> None:
    project.beta.memory_stores.create(
        name=name,
        definition=MemoryStoreDefaultDefinition(
            chat_model="gpt-4.1",
            embedding_model="text-embedding-3-small",
            options=MemoryStoreDefaultOptions(user_profile_enabled=True,
                                              chat_summary_enabled=True),
        ),
    )


def make_agent(project: Any, scope: str, name: str = "MyAgent") -> AgentVersionDetails:
    return project.agents.create_version(
        agent_name=name,
        definition=PromptAgentDefinition(
            model="gpt-4.1",
            instructions="You are a helpful assistant that answers general questions",
            tools=[MemorySearchPreviewTool(memory_store_name="my_memory_store", scope=scope,
                                           update_delay=1)],
        ),
    )


def agent_ref(name: str = "MyAgent") -> dict:
    return {"agent_reference": {"name": name, "type": "agent_reference"}}


def wait_for(project: Any, scope: str, needle: str, timeout: float = 30) -> None:
    """Until a search of ``scope`` finds ``needle`` (the update ran ``update_delay`` later)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = project.beta.memory_stores.search_memories(
            name="my_memory_store", scope=scope, items=needle)
        if any(needle in m.memory_item.content.lower() for m in found.memories):
            return
        time.sleep(0.25)
    raise AssertionError(f"{needle!r} was not learned for {scope!r} within {timeout}s")


def asked_last(llm: ScriptedOpenAIServer) -> str:
    return json.dumps(llm.requests_to("chat.completions")[-1].json["messages"])


def test_how_to_the_remembered_fact_reaches_the_model(
    project: Any, openai_client: openai.OpenAI, llm: ScriptedOpenAIServer
) -> None:
    make_store(project)
    agent = make_agent(project, scope="user_123")
    assert isinstance(agent, AgentVersionDetails)
    assert (agent.name, agent.version) == ("MyAgent", "1")

    conversation = openai_client.conversations.create()
    response = openai_client.responses.create(
        input="I prefer dark roast coffee", conversation=conversation.id, extra_body=agent_ref())
    assert response.output_text == "Noted!"
    assert response.status == "completed" and response.usage.total_tokens == 20
    assert [item.type for item in response.output] == ["memory_search_call", "message"]

    wait_for(project, "user_123", "dark roast")
    new_conversation = openai_client.conversations.create()
    response = openai_client.responses.create(
        input="Please order my usual coffee", conversation=new_conversation.id,
        extra_body=agent_ref())
    assert "dark roast" in asked_last(llm)
    assert "Please order my usual coffee" in asked_last(llm)
    results = response.output[0].results  # memory_search_call: kept as an extra field
    assert any("dark roast" in r["memory_item"]["content"].lower() for r in results)
    items = openai_client.conversations.items.list(new_conversation.id, order="asc")
    assert [item.type for item in items] == ["message", "memory_search_call", "message"]


def test_two_users_never_see_each_others_memories(
    project: Any, openai_client: openai.OpenAI, llm: ScriptedOpenAIServer
) -> None:
    make_store(project)
    make_agent(project, scope="{{$userId}}")

    def say(user: str, text: str) -> Any:
        conversation = openai_client.conversations.create()
        return openai_client.responses.create(
            input=text, conversation=conversation.id, extra_body=agent_ref(),
            extra_headers={"x-memory-user-id": user})

    say("alice", "I prefer green tea")
    say("bob", "I prefer black coffee")
    wait_for(project, "alice", "green tea")
    wait_for(project, "bob", "black coffee")
    for user, mine, theirs in (("alice", "green tea", "black coffee"),
                               ("bob", "black coffee", "green tea")):
        response = say(user, "What do I like to drink?")
        asked = asked_last(llm)
        assert mine in asked and theirs not in asked
        call = response.output[0]
        assert call.type == "memory_search_call" and call.memvault["scope"] == user
        assert theirs not in json.dumps(call.results)


def test_streaming_events_parse_with_the_openai_sdk(
    project: Any, openai_client: openai.OpenAI, llm: ScriptedOpenAIServer
) -> None:
    make_store(project)
    make_agent(project, scope="user_123")
    conversation = openai_client.conversations.create()
    llm.enqueue("chat.completions", raw=chat_completion_stream(["Dark roast, ", "coming up."]),
                content_type="text/event-stream")
    with openai_client.responses.create(input="Coffee please", conversation=conversation.id,
                                        extra_body=agent_ref(), stream=True) as stream:
        events = list(stream)
    assert [event.type for event in events] == STREAM_ORDER
    assert isinstance(events[0], ResponseCreatedEvent)
    assert isinstance(events[-1], ResponseCompletedEvent)
    deltas = [e.delta for e in events if isinstance(e, ResponseTextDeltaEvent)]
    assert deltas == ["Dark roast, ", "coming up."]
    final = events[-1].response
    assert final.output_text == "Dark roast, coming up."
    assert final.usage.input_tokens == 12 and final.usage.output_tokens == 3
    assert openai_client.responses.retrieve(final.id).output_text == final.output_text

    # The SDK's stream helper folds the same events into a final response. It insists on a
    # model (with an agent, the agent's model is used), and it warns when it re-serializes a
    # response holding Foundry's memory_search_call, an item type the openai SDK does not know
    # (Foundry's own responses carry the same item).
    llm.enqueue("chat.completions", raw=chat_completion_stream(["Again."]),
                content_type="text/event-stream")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Pydantic serializer warnings", UserWarning)
        with openai_client.responses.stream(model="ignored", input="And again",
                                            conversation=conversation.id,
                                            extra_body=agent_ref()) as helper:
            texts = [e.delta for e in helper if e.type == "response.output_text.delta"]
            assert helper.get_final_response().output_text == "Again." == "".join(texts)
    assert llm.requests_to("chat.completions")[-1].json["model"] == "gpt-4.1"


def test_preview_path_with_the_agent_key(endpoint: str, project: Any,
                                         llm: ScriptedOpenAIServer) -> None:
    make_store(project)
    make_agent(project, scope="user_123")
    with openai.OpenAI(base_url=f"{endpoint}/openai/", api_key="dev-token",
                       default_query={"api-version": "2025-11-15-preview"}) as preview:
        conversation = preview.conversations.create()
        llm.enqueue("chat.completions", body=chat_completion("Preview says hi"))
        response = preview.responses.create(
            input="Hi", conversation=conversation.id,
            extra_body={"agent": {"name": "MyAgent", "type": "agent_reference"}})
    assert response.output_text == "Preview says hi"
    asked = llm.requests_to("chat.completions")[-1]
    assert "general questions" in asked.json["messages"][0]["content"]


def test_without_a_chat_model_responses_fail_clearly(live_server: LiveServer,
                                                      make_client: Callable[..., Any],
                                                      request: pytest.FixtureRequest) -> None:
    project = make_client(f"{live_server.url}/api/projects/{project_name(request)}")
    make_store(project)
    make_agent(project, scope="user_123")
    with project.get_openai_client(max_retries=0) as openai_client:
        conversation = openai_client.conversations.create()
        for stream in (False, True):
            with pytest.raises(openai.BadRequestError) as caught:
                openai_client.responses.create(input="Hi", conversation=conversation.id,
                                               extra_body=agent_ref(), stream=stream)
            assert caught.value.status_code == 400
            assert caught.value.code == "model_not_configured"
            assert "OPENAI_BASE_URL" in caught.value.message
        assert list(openai_client.conversations.items.list(conversation.id)) == []


def test_agents_crud_with_the_sdk(project: Any) -> None:
    make_store(project)
    first = make_agent(project, scope="{{$userId}}", name="crud-agent")
    second = project.agents.create_version(
        agent_name="crud-agent", description="second",
        definition=PromptAgentDefinition(
            model="gpt-4.1", tools=[MemorySearchPreviewTool(
                memory_store_name="my_memory_store", scope="user_1",
                search_options=MemorySearchOptions(max_memories=3))]))
    assert second.version == "2" and second.description == "second"

    agent = project.agents.get("crud-agent")
    assert isinstance(agent, AgentDetails) and agent.name == "crud-agent"
    latest = agent.versions.latest
    assert latest.version == "2"
    assert isinstance(latest.definition, PromptAgentDefinition)
    [tool] = latest.definition.tools
    assert isinstance(tool, MemorySearchPreviewTool)
    assert tool.search_options.max_memories == 3 and tool.scope == "user_1"

    fetched = project.agents.get_version("crud-agent", "1")
    assert fetched.id == first.id == "crud-agent:1"
    assert fetched.definition.tools[0].scope == "{{$userId}}"
    assert fetched.created_at == first.created_at

    make_agent(project, scope="u", name="other-agent")
    assert sorted(a.name for a in project.agents.list(limit=1)) == ["crud-agent", "other-agent"]
    assert [v.version for v in project.agents.list_versions("crud-agent")] == ["2", "1"]

    project.agents.delete_version("crud-agent", "2")
    assert project.agents.get("crud-agent").versions.latest.version == "1"
    deleted = project.agents.delete("crud-agent")
    assert deleted.deleted is True and deleted.name == "crud-agent"
    with pytest.raises(ResourceNotFoundError):
        project.agents.get("crud-agent")
