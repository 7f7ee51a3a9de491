"""AgentService: agents, conversations and responses, with memory in the loop.

The API faces (the Agents API and the OpenAI-compatible face) are thin layers over this class; it
validates input, keeps state through an :class:`~memvault.storage.agents.AgentStore`, reads and
teaches memory through :class:`~memvault.engine.service.MemoryService`, and generates through a
:class:`~memvault.engine.llm.generation.Generator` (None when no chat endpoint is configured).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from memvault.engine import namespaces, validation
from memvault.engine.access import AccessPolicy
from memvault.engine.agents.binding import (
    FIXED_MESSAGE,
    BoundMemory,
    parse_binding,
    plan_searches,
    store_in_schema,
)
from memvault.engine.agents.definitions import parse_definition, validate_agent_name
from memvault.engine.agents.items import (
    MAX_ITEMS_PER_CALL,
    Item,
    message_texts,
    normalize_input,
)
from memvault.engine.agents.memory import recall, schedule_updates, search_call_item
from memvault.engine.agents.turns import ResponseRequest, Turn, build_messages, memory_query
from memvault.engine.llm.generation import Generator, TextStream, TokenUsage
from memvault.engine.privileges import READ_MEMORY_STORE, WRITE_MEMORY_STORE
from memvault.engine.service import MemoryService
from memvault.errors import (
    AgentNotFound,
    InvalidRequest,
    MemvaultError,
    ModelNotConfigured,
    StoreNotFound,
)
from memvault.models import ANONYMOUS, MemoryStore, Page, Principal, new_id, now
from memvault.settings import Settings
from memvault.storage.agents import (
    Agent,
    AgentStore,
    AgentVersion,
    Conversation,
    ConversationItem,
    ConversationMemory,
    Order,
    StoredResponse,
)

log = logging.getLogger(__name__)

NO_MODEL_MESSAGE = (
    "no chat model is configured for agents: set OPENAI_API_KEY (and OPENAI_BASE_URL for an"
    " OpenAI-compatible server such as Ollama or vLLM), or AZURE_OPENAI_ENDPOINT and"
    " AZURE_OPENAI_API_KEY, and restart memvault"
)


class AgentService:
    """Example::

        agents = AgentService(open_agent_store(store), memory_service, settings,
                              ChatGenerator(make_async_openai_client(settings)))
        await agents.create_agent_version("default", "coffee-bot", {
            "kind": "prompt", "model": "gpt-4.1", "tools": [{"type": "memory_search_preview",
            "memory_store_name": "prefs", "scope": "{{$userId}}", "update_delay": 60}]})
        conversation, _ = await agents.create_conversation("default")
        turn = await agents.start_response("default", ResponseRequest(
            input="I prefer dark roast", agent_name="coffee-bot",
            conversation_id=conversation.id), user_id="user_123")
        response = await agents.respond(turn)
    """

    def __init__(
        self,
        store: AgentStore,
        memory: MemoryService,
        settings: Settings,
        generator: Generator | None = None,
        access: AccessPolicy | None = None,
    ) -> None:
        self.store = store
        self.memory = memory
        self.settings = settings
        self.generator = generator
        self.access = access
        """Who may use which memory (None: everyone may, as with authentication off)."""

    async def aclose(self) -> None:
        if self.generator is not None:
            await self.generator.aclose()
        await self.store.close()

    # -- agents ----------------------------------------------------------------------------

    async def create_agent_version(
        self,
        project: str,
        name: str,
        definition: object,
        *,
        description: object = None,
        metadata: object = None,
        new_agent_only: bool = False,
    ) -> AgentVersion:
        """Validate ``definition`` and append it as the agent's next version (version 1 of a
        new agent). Raises ``InvalidRequest``, ``StoreNotFound`` (a tool names a memory store
        the project lacks) and, with ``new_agent_only``, ``AgentAlreadyExists``."""
        validation.validate_name(project, "project")
        validate_agent_name(name, "name" if new_agent_only else "agent_name")
        kept, agent = parse_definition(definition, self.settings)
        description = validation.validate_description(description)
        metadata = validation.validate_metadata(metadata)
        for index, tool in enumerate(agent.memory_tools):
            try:
                await self.memory.get_store(project, tool.memory_store_name)
            except StoreNotFound:
                raise StoreNotFound(
                    f"memory store {tool.memory_store_name!r} does not exist; create it first",
                    param=f"definition.tools[{index}].memory_store_name",
                ) from None
        return await self.store.create_agent_version(
            project,
            name,
            definition=kept,
            description=description,
            metadata=metadata,
            created_at=now(),
            new_agent_only=new_agent_only,
        )

    async def create_agent(
        self, project: str, name: str, definition: object, **fields: Any
    ) -> Agent:
        """Create a new agent with its version 1. Raises ``AgentAlreadyExists`` and as
        :meth:`create_agent_version`."""
        await self.create_agent_version(project, name, definition, new_agent_only=True, **fields)
        return await self.store.get_agent(project, name)

    async def get_agent(self, project: str, name: str) -> Agent:
        validation.validate_name(project, "project")
        return await self.store.get_agent(project, name)

    async def get_agent_version(self, project: str, name: str, version: str) -> AgentVersion:
        validation.validate_name(project, "project")
        return await self.store.get_agent_version(project, name, _version_number(name, version))

    async def list_agents(
        self,
        project: str,
        *,
        limit: int | None = None,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[Agent]:
        validation.validate_name(project, "project")
        return await self.store.list_agents(
            project, limit=validation.validate_limit(limit), order=order, after=after, before=before
        )

    async def list_agent_versions(
        self,
        project: str,
        name: str,
        *,
        limit: int | None = None,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[AgentVersion]:
        validation.validate_name(project, "project")
        return await self.store.list_agent_versions(
            project, name, limit=validation.validate_limit(limit), order=order, after=after,
            before=before,
        )

    async def delete_agent(self, project: str, name: str) -> None:
        validation.validate_name(project, "project")
        await self.store.delete_agent(project, name)

    async def delete_agent_version(self, project: str, name: str, version: str) -> None:
        validation.validate_name(project, "project")
        await self.store.delete_agent_version(project, name, _version_number(name, version))

    # -- conversations ---------------------------------------------------------------------

    async def create_conversation(
        self,
        project: str,
        *,
        items: object = None,
        metadata: object = None,
        memory_store: object = None,
        scope: object = None,
        principal: Principal = ANONYMOUS,
    ) -> tuple[Conversation, list[ConversationItem]]:
        """A new conversation with up to 20 initial message items, bound to ``memory_store``
        and ``scope`` when they are given (:mod:`memvault.engine.agents.binding`), which
        ``principal`` must be allowed to use (:meth:`authorize_memory`).

        Raises ``InvalidRequest``, ``StoreNotFound`` and ``Forbidden``; then nothing is created.
        """
        validation.validate_name(project, "project")
        created = now()
        memory = None
        binding = parse_binding(memory_store, scope, self.settings)
        if binding is not None:
            name, kind, value = binding
            store_name = validation.validate_name(
                await self._store_name(project, name), "memory_store.name"
            )
            memory = ConversationMemory(store_name, value, kind)
        conversation = Conversation(
            id=new_id("conv"),
            project=project,
            metadata=validation.validate_metadata(metadata),
            created_at=created,
            memory=memory,
        )
        records = _records(normalize_input(items, param="items", limit=MAX_ITEMS_PER_CALL), created)
        bound = await self.conversation_memory(conversation)
        if bound is not None:
            await self.authorize_memory(principal, bound.store, bound.scope, learn=True)
        await self.store.create_conversation(project, conversation, records)
        return conversation, records

    async def conversation_memory(self, conversation: Conversation) -> BoundMemory | None:
        """The store and scope ``conversation`` is bound to, resolved; None when unbound.

        The one place a conversation's memory is resolved, when it is created and for each of
        its responses. Raises ``StoreNotFound`` when the store does not exist (any more).
        """
        memory = conversation.memory
        if memory is None:
            return None
        try:
            store = await self.memory.get_store(conversation.project, memory.memory_store_name)
        except StoreNotFound:
            shown = namespaces.full_name(
                conversation.project, memory.memory_store_name,
                catalog=self.settings.default_catalog,
            ) or memory.memory_store_name
            raise StoreNotFound(
                f"memory store {shown!r}, which the conversation is bound to, does not exist",
                param="memory_store.name",
            ) from None
        return BoundMemory(store, memory.scope, memory.scope_kind)

    async def _store_name(self, project: str, name: str) -> str:
        """The name in ``project`` of the store a binding names: its own name, or a full name."""
        if name.count(".") >= 2:
            try:
                return (await self.memory.get_store(project, name)).name
            except (StoreNotFound, InvalidRequest):
                pass
        return store_in_schema(project, name, catalog=self.settings.default_catalog)

    async def get_conversation(self, project: str, conversation_id: str) -> Conversation:
        validation.validate_name(project, "project")
        return await self.store.get_conversation(project, conversation_id)

    async def locate_conversation(self, conversation_id: str) -> Conversation:
        """The conversation with this id in whichever project holds it (for the Databricks
        face, which names conversations by id alone). Raises ``ConversationNotFound``."""
        return await self.store.locate_conversation(conversation_id)

    async def update_conversation(
        self,
        project: str,
        conversation_id: str,
        *,
        metadata: object,
        memory_store: object = None,
        scope: object = None,
    ) -> Conversation:
        """Replace the metadata. Raises ``InvalidRequest`` when ``memory_store`` or ``scope``
        is given (a binding never changes), ``ConversationNotFound``."""
        validation.validate_name(project, "project")
        if memory_store is not None or scope is not None:
            raise InvalidRequest(
                FIXED_MESSAGE, param="memory_store" if memory_store is not None else "scope"
            )
        return await self.store.update_conversation(
            project, conversation_id, metadata=validation.validate_metadata(metadata)
        )

    async def delete_conversation(self, project: str, conversation_id: str) -> None:
        validation.validate_name(project, "project")
        await self.store.delete_conversation(project, conversation_id)

    async def add_items(
        self, project: str, conversation_id: str, items: object
    ) -> list[ConversationItem]:
        """Append up to 20 message items. Raises ``InvalidRequest``, ``ConversationNotFound``."""
        validation.validate_name(project, "project")
        normalized = normalize_input(items, param="items", limit=MAX_ITEMS_PER_CALL)
        if not normalized:
            raise InvalidRequest("'items' must hold at least one message with text", param="items")
        return await self.store.add_conversation_items(
            project, conversation_id, _records(normalized, now())
        )

    async def list_items(
        self,
        project: str,
        conversation_id: str,
        *,
        limit: int | None = None,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[ConversationItem]:
        validation.validate_name(project, "project")
        return await self.store.list_conversation_items(
            project, conversation_id, limit=validation.validate_limit(limit), order=order,
            after=after, before=before,
        )

    async def get_item(self, project: str, conversation_id: str, item_id: str) -> ConversationItem:
        validation.validate_name(project, "project")
        return await self.store.get_conversation_item(project, conversation_id, item_id)

    async def delete_item(self, project: str, conversation_id: str, item_id: str) -> Conversation:
        validation.validate_name(project, "project")
        await self.store.delete_conversation_item(project, conversation_id, item_id)
        return await self.store.get_conversation(project, conversation_id)

    # -- responses -------------------------------------------------------------------------

    async def start_response(
        self,
        project: str,
        request: ResponseRequest,
        *,
        user_id: str,
        principal: Principal = ANONYMOUS,
    ) -> Turn:
        """Prepare a turn: resolve the agent, load the history, recall memories, build the
        messages. Nothing is generated or stored yet.

        Raises ``InvalidRequest``, ``AgentNotFound``, ``ConversationNotFound``,
        ``ResponseNotFound``, ``StoreNotFound``, ``ModelNotConfigured`` and ``Forbidden`` (for a
        ``principal`` that may not use the memory the turn searches: :meth:`authorize_memory`).
        """
        validation.validate_name(project, "project")
        if request.conversation_id and request.previous_response_id:
            raise InvalidRequest(
                "give 'conversation' or 'previous_response_id', not both", param="conversation"
            )
        if request.memory_store is not None or request.scope is not None:
            raise InvalidRequest(
                "'memory_store' and 'scope' are given when a conversation is created"
                " (conversations.create with extra_body); its responses use them without naming"
                " them again, and they cannot be changed",
                param="memory_store" if request.memory_store is not None else "scope",
            )
        agent_version, agent = None, None
        if request.agent_name is not None:
            validate_agent_name(request.agent_name, "agent_reference.name")
            if request.agent_version is None:
                agent_version = (await self.store.get_agent(project, request.agent_name)).latest
            else:
                agent_version = await self.get_agent_version(
                    project, request.agent_name, request.agent_version
                )
            _, agent = parse_definition(agent_version.definition, self.settings)
            model = agent.model
        elif request.model:
            model = request.model
        else:
            raise InvalidRequest(
                "'agent_reference' (or 'agent', or 'model') is required", param="agent_reference"
            )
        input_items = normalize_input(request.input)
        if self.generator is None:
            raise ModelNotConfigured(NO_MODEL_MESSAGE, param="model")
        history = await self._history(project, request)
        if not input_items and not message_texts(history):
            raise InvalidRequest("'input' must hold a message with text", param="input")
        bound = None
        if request.conversation_id:
            conversation = await self.store.get_conversation(project, request.conversation_id)
            bound = await self.conversation_memory(conversation)
        searches = plan_searches(
            agent.memory_tools if agent is not None else (),
            user_id=user_id,
            bound=bound,
            settings=self.settings,
        )
        recalls = []
        if searches:
            recalls = await recall(
                self.memory,
                project,
                searches,
                query=memory_query(input_items, history),
                history=history,
            )
        for found in recalls:  # before anything found leaves this method
            await self.authorize_memory(principal, found.store, found.scope, learn=found.learn)
        turn = Turn(
            project=project,
            id=new_id("resp"),
            created_at=now(),
            model=model,
            request=request,
            agent=agent_version,
            input_items=input_items,
            history=history,
            recalls=recalls,
            search_items=[],
            messages=build_messages(
                agent_instructions=agent.instructions if agent else None,
                request_instructions=request.instructions,
                recalls=recalls,
                history=history,
                input_items=input_items,
            ),
            options={
                "temperature": _first(request.temperature, agent.temperature if agent else None),
                "top_p": _first(request.top_p, agent.top_p if agent else None),
                "max_completion_tokens": request.max_output_tokens,
            },
            message_id=new_id("msg"),
        )
        turn.search_items = [search_call_item(found, turn.agent_reference) for found in recalls]
        return turn

    async def respond(self, turn: Turn) -> dict[str, Any]:
        """Generate the whole answer, then :meth:`finish`. Raises ``GenerationFailed`` or
        ``ModelUnavailable``; then nothing is stored."""
        generation = await self._generator().complete(turn.model, turn.messages, **turn.options)
        return await self.finish(turn, generation.text, generation.usage)

    async def open_stream(self, turn: Turn) -> TextStream:
        """Start streaming the answer (raises like :meth:`respond`, before any text)."""
        return await self._generator().open_stream(turn.model, turn.messages, **turn.options)

    async def finish(self, turn: Turn, text: str, usage: TokenUsage) -> dict[str, Any]:
        """Record a completed turn and return the response object: the memory updates are
        queued, then the input and output items join the conversation and the response is
        stored, in one transaction."""
        output = [*turn.search_items, turn.assistant_item(text)]
        learn = [*message_texts(turn.input_items, roles=("user",))]
        if learn and text.strip():
            learn.append(("assistant", text))
        turn.memory_updates = await schedule_updates(self.memory, turn.recalls, learn)
        body = turn.body(status="completed", output=output, usage=usage, completed_at=now())
        await self.store.save_response(
            turn.project,
            _stored(turn, body),
            conversation_id=turn.request.conversation_id,
            conversation_items=(
                _records([*turn.input_items, *output], turn.created_at)
                if turn.request.conversation_id else ()
            ),
        )
        return body

    async def fail(self, turn: Turn, error: MemvaultError, text: str = "") -> dict[str, Any]:
        """The response object of a turn whose generation failed midway (stored when asked,
        but the conversation and the memory are left as they were)."""
        output = list(turn.search_items)
        if text:
            output.append(turn.assistant_item(text, status="incomplete"))
        body = turn.body(
            status="failed", output=output, error={"code": error.code, "message": error.message}
        )
        try:
            await self.store.save_response(turn.project, _stored(turn, body))
        except MemvaultError:
            log.exception("could not store failed response %s", turn.id)
        return body

    async def get_response(self, project: str, response_id: str) -> StoredResponse:
        validation.validate_name(project, "project")
        return await self.store.get_response(project, response_id)

    async def delete_response(self, project: str, response_id: str) -> None:
        validation.validate_name(project, "project")
        await self.store.delete_response(project, response_id)

    # -- helpers ---------------------------------------------------------------------------

    async def authorize_conversation(
        self, principal: Principal, conversation: Conversation
    ) -> None:
        """A conversation bound to a memory store and a scope belongs to that memory: reaching it
        needs ``READ_MEMORY_STORE`` on the store, and a scope-restricted principal reaches those
        of its own scope only. An unbound conversation is reached by its (unguessable) id alone.
        Raises ``Forbidden``."""
        if self.access is None or conversation.memory is None:
            return
        self.access.require_scope(principal, conversation.memory.scope)
        try:
            bound = await self.conversation_memory(conversation)
        except StoreNotFound:
            return  # the store is gone: no privilege on it to check
        if bound is not None:
            await self.access.require(principal, READ_MEMORY_STORE, bound.store)

    async def authorize_memory(
        self, principal: Principal, store: MemoryStore, scope: str, *, learn: bool
    ) -> None:
        """A turn reads every store it searches and writes those it learns into: ``principal``
        needs ``READ_MEMORY_STORE`` on each, ``WRITE_MEMORY_STORE`` too where it learns, and a
        scope-restricted principal learns into its own scope only. (A shared scope that an
        agent reads, read only, is named by the agent's definition, not by the caller.)
        Raises ``Forbidden``."""
        if self.access is None:
            return
        await self.access.require(principal, READ_MEMORY_STORE, store)
        if learn:
            await self.access.require(principal, WRITE_MEMORY_STORE, store)
            self.access.require_scope(principal, scope)

    def _generator(self) -> Generator:
        if self.generator is None:
            raise ModelNotConfigured(NO_MODEL_MESSAGE, param="model")
        return self.generator

    async def _history(self, project: str, request: ResponseRequest) -> list[Item]:
        """The items the model sees before the new input: the newest of the conversation, or
        the chain of ``previous_response_id`` (its inputs and outputs), oldest first."""
        limit = self.settings.agent_history_items
        if request.conversation_id:
            page = await self.store.list_conversation_items(
                project, request.conversation_id, limit=limit, order="desc"
            )
            return [item.data for item in reversed(page.items)]
        chain: list[Item] = []
        response_id = request.previous_response_id
        while response_id and len(chain) < limit:
            try:
                previous = await self.store.get_response(project, response_id)
            except MemvaultError:
                if response_id == request.previous_response_id:
                    raise
                break  # an older link was deleted: the chain starts after it
            chain[:0] = [*previous.input_items, *previous.output]
            response_id = previous.previous_response_id
        return chain[-limit:]


def _version_number(name: str, version: str) -> int:
    try:
        number = int(version)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or str(number) != str(version).strip():
        raise AgentNotFound(f"agent {name!r} has no version {version!r}", param="agent_version")
    return number


def _first(*values: float | None) -> float | None:
    return next((value for value in values if value is not None), None)


def _records(items: Sequence[Item], created_at: int) -> list[ConversationItem]:
    return [ConversationItem(id=item["id"], type=item["type"], data=item, created_at=created_at)
            for item in items]


def _stored(turn: Turn, body: dict[str, Any]) -> StoredResponse | None:
    if not turn.request.store:
        return None
    return StoredResponse(
        id=turn.id,
        project=turn.project,
        body=body,
        input_items=tuple(turn.input_items),
        conversation_id=turn.request.conversation_id,
        previous_response_id=turn.request.previous_response_id,
        created_at=turn.created_at,
    )
