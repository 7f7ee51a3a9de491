"""One turn of an agent: the request, what the model is sent, and the response object.

A :class:`Turn` is prepared before any text is generated (agent resolved, memories recalled,
history loaded, messages built), so every refusal happens before a stream starts. The response
object follows the OpenAI Responses API, with the ``memory_search_call`` items before the
assistant's message, and memvault's own fields under ``memvault``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from memvault.engine.agents.items import Item, chat_messages, message_item, message_texts
from memvault.engine.agents.memory import Recall, memory_context
from memvault.engine.llm.generation import TokenUsage
from memvault.storage.agents import AgentVersion


@dataclass(frozen=True)
class ResponseRequest:
    """A ``responses.create`` request as the engine takes it (the API face parses the wire).

    ``agent_version`` None means the latest version. Without an agent, ``model`` is required
    and the turn has no memory but that of its conversation's binding, if any.
    ``memory_store``/``scope`` are what the request named (refused: a conversation is bound
    when it is created).
    """

    input: object = None
    instructions: str | None = None
    model: str | None = None
    agent_name: str | None = None
    agent_version: str | None = None
    conversation_id: str | None = None
    previous_response_id: str | None = None
    store: bool = True
    metadata: dict[str, str] | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    memory_store: object = None
    scope: object = None


@dataclass
class Turn:
    """A prepared turn: everything but the answer."""

    project: str
    id: str
    created_at: int
    model: str
    request: ResponseRequest
    agent: AgentVersion | None
    input_items: list[Item]
    history: list[Item]
    recalls: list[Recall]
    search_items: list[Item]
    messages: list[dict[str, str]]
    options: dict[str, Any]
    message_id: str
    memory_updates: list[dict[str, Any]] = field(default_factory=list)

    @property
    def agent_reference(self) -> dict[str, Any] | None:
        if self.agent is None:
            return None
        return {"type": "agent_reference", "name": self.agent.name,
                "version": str(self.agent.version)}

    @property
    def instructions(self) -> str | None:
        if self.request.instructions is not None:
            return self.request.instructions
        return self.agent.definition.get("instructions") if self.agent else None

    def assistant_item(self, text: str, status: str = "completed") -> Item:
        item = message_item("assistant", text, status=status, id=self.message_id)
        if self.agent_reference is not None:
            item["agent_reference"] = self.agent_reference
        return item

    def body(
        self,
        *,
        status: str,
        output: Sequence[Item],
        usage: TokenUsage | None = None,
        error: dict[str, Any] | None = None,
        completed_at: int | None = None,
    ) -> dict[str, Any]:
        """The response object in state ``status`` (in_progress, completed, failed)."""
        tools = list(self.agent.definition.get("tools") or []) if self.agent else []
        body: dict[str, Any] = {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "completed_at": completed_at,
            "error": error,
            "incomplete_details": None,
            "instructions": self.instructions,
            "max_output_tokens": self.request.max_output_tokens,
            "model": self.model,
            "output": list(output),
            "parallel_tool_calls": True,
            "previous_response_id": self.request.previous_response_id,
            "conversation": (
                {"id": self.request.conversation_id} if self.request.conversation_id else None
            ),
            "reasoning": None,
            "store": self.request.store,
            "temperature": self.options.get("temperature"),
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": tools,
            "top_p": self.options.get("top_p"),
            "truncation": "disabled",
            "usage": usage_json(usage) if usage is not None else None,
            "user": None,
            "metadata": dict(self.request.metadata or {}),
        }
        if self.agent_reference is not None:
            body["agent_reference"] = self.agent_reference
            body["agent"] = self.agent_reference
        body["memvault"] = {"memory_updates": list(self.memory_updates)}
        return body


def usage_json(usage: TokenUsage) -> dict[str, Any]:
    """The Responses ``usage`` object."""
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage.total_tokens,
    }


def build_messages(
    *,
    agent_instructions: str | None,
    request_instructions: str | None,
    recalls: Sequence[Recall],
    history: Sequence[Item],
    input_items: Sequence[Item],
) -> list[dict[str, str]]:
    """The chat-completions messages of a turn: one system message (the agent's instructions,
    the request's, then the memories), the history's messages, the new input."""
    parts = [
        text.strip()
        for text in (agent_instructions, request_instructions, memory_context(recalls, history))
        if text and text.strip()
    ]
    system = [{"role": "system", "content": "\n\n".join(parts)}] if parts else []
    return [*system, *chat_messages(history), *chat_messages(input_items)]


def memory_query(input_items: Sequence[Item], history: Sequence[Item]) -> str:
    """What the turn is about: the new messages' text, else the last two of the history."""
    texts = message_texts(input_items, roles=("user", "assistant"))
    if not texts:
        texts = message_texts(history, roles=("user", "assistant"))[-2:]
    return "\n".join(text for _, text in texts)
